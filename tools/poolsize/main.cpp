// poolsize: recommends a lifeguard pool's max_size and min_idle from the deadlock-free minimum
// Tn x (Cm - 1) + 1, the throughput size cores x 2 + spindles and the fleet's server budget;
// `--check SIZE` turns it into a CI gate. Exit status: 0 ok, 2 bad usage or unusable input,
// 3 check failed. Users script it: option names, JSON field names and exit codes are an API.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdio>
#include <iostream>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "count.hpp"
#include "plan.hpp"
#include "prometheus_source.hpp"
#include "server_limits.hpp"
#include "snapshot.hpp"
#include "usage_error.hpp"

namespace lifeguard::poolsize {
namespace {

constexpr int exit_ok = 0;
constexpr int exit_usage = 2;
constexpr int exit_check_failed = 3;

// Raw option values: numbers are parsed by parse_count() so that messages name the option and
// say exactly what is wrong (CLI11's own conversion accepts "-1" as a huge unsigned number).
struct arguments {
    std::optional<std::string> tasks;
    std::optional<std::string> connections_per_task;
    std::optional<std::string> cores;
    std::optional<std::string> spindles;
    std::optional<std::string> instances;
    std::optional<std::string> server_max_connections;
    std::optional<std::string> reserved;
    std::optional<std::string> snapshot;
    std::optional<std::string> pool;
    std::optional<std::string> check;
    std::optional<std::string> pg;
    prometheus_query prometheus;  ///< used when prometheus.url is set
    bool json = false;
};

std::optional<std::size_t> count_of(const std::optional<std::string>& text, const char* option,
                                    std::string_view zero_rule) {
    if (!text) return std::nullopt;
    return parse_count(option, *text, zero_rule);
}

// --prometheus: the fleet's observations become one request per pool name, sized for the worst
// instance (a fleet runs one configuration), with instances = the instances Prometheus saw.
void add_fleet(request& req, const std::vector<observed_pool>& fleet, const arguments& args) {
    std::map<std::string, pool_request> by_pool;
    std::set<std::string> instances;
    for (const auto& o : fleet) {
        instances.insert(o.instance);
        auto& r = by_pool[o.pool];
        r.name = o.pool;
        r.tasks = std::max(r.tasks, o.tasks);
        r.connections_per_task = std::max(r.connections_per_task, o.per_task);
        if (o.max_size) r.configured_max_size = std::max(r.configured_max_size.value_or(0), *o.max_size);
    }
    if (req.check && by_pool.size() > 1)
        throw usage_error("--check " + *args.check + ": Prometheus shows " + std::to_string(by_pool.size()) +
                          " pools; --check gates one pool (select one job with --job)");
    req.instances = instances.size();
    req.several = by_pool.size() > 1;
    for (auto& [name, r] : by_pool) req.pools.push_back(std::move(r));
}

request make_request(const arguments& args, std::vector<observed_pool>& fleet) {
    request req;
    // Numbers first: they are cheap to check, and a typo should not wait for a database.
    const auto tasks = count_of(args.tasks, "--tasks", "Tn counts tasks that hold connections at once");
    const auto per_task = count_of(args.connections_per_task, "--connections-per-task",
                                   "a task that uses the pool holds at least one connection");
    const auto cores = count_of(args.cores, "--cores", "the database server has at least one core");
    const auto spindles = count_of(args.spindles, "--spindles", {});
    const auto instances = count_of(args.instances, "--instances", "a fleet has at least one instance");
    const auto server_max = count_of(args.server_max_connections, "--server-max-connections",
                                     "the server must accept connections");
    const auto reserved = count_of(args.reserved, "--reserved", {});
    req.check = count_of(args.check, "--check", "a pool's max_size is at least 1");

    std::string missing;
    if (!tasks && !args.snapshot && args.prometheus.url.empty()) {
        missing += "--tasks N (tasks that may hold connections at once), --snapshot FILE or --prometheus URL";
    }
    if (!cores) {
        missing += std::string(missing.empty() ? "" : "; ") + "--cores N (the database server's cores)";
    }
    if (!missing.empty()) throw usage_error("missing required input: " + missing);

    req.cores = *cores;
    req.spindles = spindles.value_or(0);
    req.instances = instances.value_or(1);

    if (args.snapshot) {
        snapshot snap = read_snapshot(*args.snapshot);
        req.snapshot_path = snap.path;
        std::vector<std::string> names;
        for (const auto& p : snap.pools) names.push_back(p.name);
        const auto list = [&] {
            std::string s;
            for (const auto& n : names) s += (s.empty() ? "" : ", ") + n;
            return s;
        };
        const auto to_request = [](const snapshot_pool& p) {
            return pool_request{p.name, p.observed_tasks, p.observed_connections_per_task, p.max_size,
                                p.nested};
        };
        const auto unobserved = [&](const snapshot_pool& p) {
            return usage_error(
                "--snapshot " + snap.path + ": pool \"" + p.name +
                "\": nothing observed (observed_tasks 0); take the snapshot while the workload runs");
        };
        if (args.pool) {
            const snapshot_pool* chosen = nullptr;
            for (const auto& p : snap.pools) {
                if (p.name == *args.pool) {
                    chosen = &p;
                } else {
                    req.unselected_pools.push_back(p.name);
                }
            }
            if (!chosen)
                throw usage_error("--pool " + *args.pool + ": no such pool in " + snap.path +
                                  " (pools: " + list() + ")");
            if (chosen->observed_tasks == 0) throw unobserved(*chosen);
            req.pools.push_back(to_request(*chosen));
        } else {
            if (req.check && snap.pools.size() > 1) {
                throw usage_error("--check " + *args.check + ": needs --pool NAME, " + snap.path + " has " +
                                  std::to_string(snap.pools.size()) + " pools (" + list() + ")");
            }
            req.several = snap.pools.size() > 1;
            for (const auto& p : snap.pools) {
                if (p.observed_tasks == 0) {
                    if (!req.several) throw unobserved(p);
                    req.skipped_pools.push_back(p.name);
                } else {
                    req.pools.push_back(to_request(p));
                }
            }
            if (req.pools.empty()) {
                throw usage_error("--snapshot " + snap.path + ": nothing observed in any pool (" + list() +
                                  "); take the snapshot while the workload runs");
            }
        }
    } else if (!args.prometheus.url.empty()) {
        fleet = read_prometheus(args.prometheus);
        add_fleet(req, fleet, args);
    } else {
        req.pools.push_back(pool_request{{}, *tasks, per_task.value_or(1), std::nullopt, {}});
    }

    if (server_max) {
        req.server = server_request{*server_max, reserved.value_or(0), reserved.has_value(), std::nullopt};
    } else if (args.pg) {
        pg_limits limits = query_pg_limits(*args.pg);
        req.server = server_request{limits.max_connections, limits.reserved(), true, std::move(limits)};
    }
    return req;
}

// What was read from Prometheus, before the recommendation.
std::string fleet_text(const prometheus_query& q, const std::vector<observed_pool>& fleet) {
    std::string s = "from Prometheus " + q.url + (q.job ? " (job " + *q.job + ")" : std::string()) + ", last " +
                    q.window + ":\n";
    for (const auto& o : fleet) {
        s += "  instance " + o.instance + " pool " + o.pool + ": Tn " + std::to_string(o.tasks) + ", Cm " +
             std::to_string(o.per_task) +
             (o.max_size ? ", max_size " + std::to_string(*o.max_size) : std::string(", max_size unknown")) + "\n";
    }
    return s + "\n";
}

nlohmann::ordered_json fleet_json(const prometheus_query& q, const std::vector<observed_pool>& fleet) {
    nlohmann::ordered_json instances = nlohmann::ordered_json::array();
    for (const auto& o : fleet) {
        nlohmann::ordered_json i = {{"instance", o.instance}, {"pool", o.pool}, {"tasks", o.tasks},
                                    {"connections_per_task", o.per_task}};
        i["max_size"] = o.max_size ? nlohmann::ordered_json(*o.max_size) : nlohmann::ordered_json(nullptr);
        instances.push_back(std::move(i));
    }
    return {{"url", q.url}, {"job", q.job ? nlohmann::ordered_json(*q.job) : nlohmann::ordered_json(nullptr)},
            {"window", q.window}, {"instances", std::move(instances)}};
}

int run(int argc, char** argv) {
    CLI::App app{
        "Recommends a lifeguard pool's max_size and min_idle: at least the deadlock-free minimum\n"
        "Tn x (Cm - 1) + 1, at least the throughput size cores x 2 + spindles, and checks that the\n"
        "fleet (instances x max_size) fits the database server's max_connections minus reserved.",
        "poolsize"};
    app.footer(
        "Exit status: 0 ok, 2 bad usage or unusable input, 3 --check failed.\n"
        "Examples:\n"
        "  poolsize --tasks 50 --connections-per-task 2 --cores 1 --spindles 1\n"
        "  poolsize --snapshot lifeguard-snapshot.json --pool app --cores 4 --instances 3 \\\n"
        "           --server-max-connections 100 --reserved 3 --check 20 --json\n"
        "  poolsize --prometheus http://127.0.0.1:9090 --job shop --metric-prefix hikaricp --cores 4 \\\n"
        "           --server-max-connections 100 --check 21\n"
        "Full documentation: share/lifeguard/doc/poolsize.md under the install prefix");
    arguments args;
    auto* tasks = app.add_option("--tasks", args.tasks,
                                 "Tn: tasks (threads, requests) that may hold connections at once")
                      ->type_name("N");
    auto* per_task = app.add_option("--connections-per-task", args.connections_per_task,
                                    "Cm: most connections one task holds at once (default 1)")
                         ->type_name("N");
    app.add_option("--cores", args.cores, "the database server's physical cores (required)")->type_name("N");
    app.add_option("--spindles", args.spindles,
                   "the database server's effective spindles (default 0: active data set cached)")
        ->type_name("N");
    auto* instances = app.add_option("--instances", args.instances, "service instances sharing the server (default 1)")
        ->type_name("N");
    auto* server_max = app.add_option("--server-max-connections", args.server_max_connections,
                                      "the server's max_connections")
                           ->type_name("N");
    auto* reserved =
        app.add_option("--reserved", args.reserved,
                       "connections pools can never have: superuser/admin/replication (default 0)")
            ->type_name("N");
    auto* snapshot = app.add_option("--snapshot", args.snapshot,
                                    "a lifeguard diagnostics snapshot: use its observed Tn and Cm per pool")
                         ->type_name("FILE");
    auto* pool = app.add_option("--pool", args.pool, "the snapshot's pool to size (default: every pool)")
                     ->type_name("NAME");
    auto* pg = app.add_option("--pg", args.pg,
                              "read max_connections and the reserved slots from a live PostgreSQL (libpq)")
                   ->type_name("CONNINFO");
    app.add_option("--check", args.check,
                   "exit 3 if SIZE is below the deadlock-free minimum or the fleet does not fit the server")
        ->type_name("SIZE");
    auto* prometheus = app.add_option("--prometheus", args.prometheus.url,
                                      "read every instance's observed Tn, Cm and max_size from Prometheus")
                           ->type_name("URL");
    auto* job = app.add_option("--job", args.prometheus.job, "with --prometheus: only this scrape job's series")
                    ->type_name("NAME");
    auto* metric_prefix = app.add_option("--metric-prefix", args.prometheus.prefix,
                                         "with --prometheus: the services' metric prefix (default lifeguard)")
                              ->type_name("PREFIX");
    auto* window = app.add_option("--window", args.prometheus.window,
                                  "with --prometheus: how far back observations count (default 1h)")
                       ->type_name("DURATION");
    app.add_flag("--json", args.json, "print one JSON object instead of text");
    app.set_version_flag("--version", "poolsize " LIFEGUARD_POOLSIZE_VERSION, "print the version and exit");
    reserved->needs(server_max);
    pool->needs(snapshot);
    snapshot->excludes(tasks)->excludes(per_task);
    pg->excludes(server_max)->excludes(reserved);
    prometheus->excludes(snapshot)->excludes(tasks)->excludes(per_task)->excludes(pool)->excludes(instances);
    job->needs(prometheus);
    metric_prefix->needs(prometheus);
    window->needs(prometheus);

    try {
        app.parse(argc, argv);
    } catch (const CLI::Success& e) {
        return app.exit(e);  // --help or --version: prints it on stdout, status 0
    } catch (const CLI::ParseError& e) {
        std::cerr << "poolsize: " << e.what() << "\nRun 'poolsize --help' for usage.\n";
        return exit_usage;
    }

    try {
        std::vector<observed_pool> fleet;
        outcome out = evaluate(make_request(args, fleet));
        if (args.json) {
            if (!fleet.empty()) out.json["prometheus"] = fleet_json(args.prometheus, fleet);
            std::cout << out.json.dump(2) << '\n';
        } else {
            if (!fleet.empty()) std::cout << fleet_text(args.prometheus, fleet);
            std::cout << out.text;
        }
        std::cout.flush();
        if (!out.check_failures.empty()) {
            for (const auto& failure : out.check_failures)
                std::cerr << "poolsize: check failed: " << failure << '\n';
            return exit_check_failed;
        }
        return exit_ok;
    } catch (const usage_error& e) {
        std::cerr << "poolsize: " << e.what() << '\n';
        return exit_usage;
    }
}

}  // namespace
}  // namespace lifeguard::poolsize

int main(int argc, char** argv) {
    return lifeguard::poolsize::run(argc, argv);
}
