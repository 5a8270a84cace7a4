// autoid_demo: the Hibernate AUTO-id pool deadlock, reproduced on a real MariaDB (and the same
// scenario on PostgreSQL), then diagnosed by lifeguard and fixed by sizing. README command one
// runs it through scripts/demo.sh, which installs, builds and starts throwaway servers.
//
//   autoid_demo [--db mariadb|postgres|both] [--phases 2,3,4,5] [--pg-phases 3,4,5]
//               [--json-summary FILE] [--snapshot-dir DIR] [--poolsize PATH] ...
//
// The servers come from the environment scripts/db/with-servers.sh exports:
// LIFEGUARD_MYSQL_URL / _USER / _PASSWORD / _SCHEMA and LIFEGUARD_PG_CONNINFO. The password is
// only ever read from the environment and never printed.
//
// Exit status: 0 when every phase ended as the story says, 1 when one did not (the output says
// how), 2 for bad usage or a missing server.
#include <fmt/format.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "console.hpp"
#include "lifeguard/mysql.hpp"
#include "lifeguard/postgres.hpp"
#include "phase_heal.hpp"
#include "phases.hpp"

#ifndef LIFEGUARD_DEMO_POOLSIZE
#define LIFEGUARD_DEMO_POOLSIZE "poolsize"
#endif

namespace {

using namespace autoid;

std::optional<std::string> env(const char* name) {
    const char* v = std::getenv(name);
    if (!v || !*v) return std::nullopt;
    return std::string(v);
}

std::set<int> parse_phases(const std::string& text, const std::string& option) {
    std::set<int> out;
    std::stringstream in(text);
    std::string item;
    while (std::getline(in, item, ',')) {
        if (item == "2" || item == "3" || item == "4" || item == "5")
            out.insert(std::stoi(item));
        else if (!item.empty())
            throw CLI::ValidationError(option, "phases are 2, 3, 4 and 5 (comma-separated), got '" + item + "'");
    }
    if (out.contains(4) && !out.contains(3))
        throw CLI::ValidationError(option, "phase 4 sizes the pool from phase 3's snapshot: include phase 3");
    return out;
}

/// Password hashing stand-in rounds worth about `target` of CPU on this machine.
std::uint64_t calibrate_hash(std::chrono::microseconds target) {
    std::uint64_t rounds = 200'000;
    volatile char sink = 0;
    for (int i = 0; i < 3; ++i) {
        const auto t0 = steady::now();
        sink = hash_password("calibration", rounds)[0];
        const auto took = std::chrono::duration_cast<std::chrono::nanoseconds>(steady::now() - t0).count();
        rounds = std::max<std::uint64_t>(
            1000, static_cast<std::uint64_t>(static_cast<double>(rounds) * target.count() * 1000.0 /
                                             static_cast<double>(std::max<long long>(took, 1))));
    }
    (void)sink;
    return rounds;
}

/// "10.11.6-MariaDB-0+deb12u1" -> "10.11.6"; "15.8 (Debian 15.8-0+deb12u1)" -> "15.8".
std::string short_version(const std::string& v) {
    const auto end = v.find_first_not_of("0123456789.");
    return v.substr(0, end);
}

struct summary_row {
    std::string database;
    json facts;
};

template <class Driver>
json run_database(database<Driver>& db, const std::set<int>& phases, const demo_config& cfg, bool keep_tables,
                  bool& report_printed, std::vector<summary_row>& rows, std::vector<std::string>& surprises) {
    json result = {{"key", db.key}, {"name", db.sql.database}, {"target", db.driver.describe()}};
    json phase_list = json::array();
    try {
        create_schema(db);
        result["server_version"] = db.version;
        std::filesystem::path snapshot;
        auto record = [&](phase_outcome o) {
            for (auto& s : o.surprises) surprises.push_back(db.sql.database + ": " + s);
            o.facts["surprises"] = o.surprises;
            rows.push_back({db.sql.database, o.facts});
            phase_list.push_back(std::move(o.facts));
        };
        if (phases.contains(2)) record(phase_without_diagnosis(db, cfg));
        if (phases.contains(3)) record(phase_with_detector(db, cfg, snapshot, report_printed));
        double sized_throughput = 0;
        if (phases.contains(4)) {
            auto sized = phase_sized(db, cfg, snapshot);
            sized_throughput = sized.facts.value("throughput_per_s", 0.0);
            record(std::move(sized));
        }
        if (phases.contains(5)) record(phase_healed(db, cfg, sized_throughput, report_printed));
        if (!keep_tables) drop_schema(db);
    } catch (const std::exception& e) {
        say(wrap(fmt::format("{} failed: {}", db.sql.database, e.what())));
        surprises.push_back(db.sql.database + ": " + e.what());
        result["error"] = e.what();
    }
    result["phases"] = std::move(phase_list);
    return result;
}

void print_summary(const std::vector<summary_row>& rows) {
    heading("Summary (k6-style, one row per phase)");
    table t({{"database", 10, true},
             {"phase", 22, true},
             {"pool", 4},
             {"logins", 6},
             {"ok", 3},
             {"failed", 6},
             {"logins/s", 8},
             {"p95", 9},
             {"errors", 16, true}});
    t.header();
    for (const auto& r : rows) {
        const auto& f = r.facts;
        std::map<std::string, int> errors;
        const json errors_json = f.value("errors", json::object());
        for (const auto& [k, v] : errors_json.items()) errors[k] = v.get<int>();
        t.row({r.database, fmt::format("{} {}", f.value("phase", 0), f.value("title", "")),
               std::to_string(f.contains("pool") ? f["pool"].value("max_size", 0) : 0),
               std::to_string(f.value("logins", 0)), std::to_string(f.value("succeeded", 0)),
               std::to_string(f.value("failed", 0)), fmt::format("{:.1f}", f.value("throughput_per_s", 0.0)),
               ms(std::chrono::nanoseconds(static_cast<long long>(f.value("p95_ms", 0.0) * 1e6))),
               error_list(errors)});
    }
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"lifeguard AUTO-ID demo: the Hibernate table-generator pool deadlock on real databases"};
    std::string which = "both";
    std::string phases_text = "2,3,4,5";
    std::string pg_phases_text = "3,4,5";
    demo_config cfg;
    long long timeout_ms = cfg.short_timeout.count();
    std::string json_summary;
    std::string table_prefix;
    std::string snapshot_dir = std::filesystem::temp_directory_path().string();
    bool keep_tables = false;
    cfg.cores = std::max(1u, std::thread::hardware_concurrency());
    cfg.poolsize = LIFEGUARD_DEMO_POOLSIZE;
    app.add_option("--db", which, "which databases")->check(CLI::IsMember({"mariadb", "postgres", "both"}));
    app.add_option("--phases", phases_text, "MariaDB phases (2 no diagnosis, 3 detector, 4 sized, 5 heal)");
    app.add_option("--pg-phases", pg_phases_text, "PostgreSQL phases");
    app.add_option("--logins", cfg.logins, "concurrent logins")->check(CLI::Range(2, 200));
    app.add_option("--pool-size", cfg.pool_size, "pool max_size in phases 2 and 3")
        ->check(CLI::Range(1, 100));
    app.add_option("--timeout-ms", timeout_ms, "phase 2's shortened acquire_timeout")
        ->check(CLI::Range(500, 60000));
    app.add_option("--cores", cfg.cores,
                   "the database server's cores, for poolsize (default: this machine's)")
        ->check(CLI::Range(1, 4096));
    app.add_option("--spindles", cfg.spindles, "the database server's effective spindles, for poolsize");
    app.add_option("--poolsize", cfg.poolsize, "the poolsize binary")->capture_default_str();
    app.add_option("--snapshot-dir", snapshot_dir, "where the detector's snapshots are written")
        ->capture_default_str();
    app.add_option("--json-summary", json_summary, "also write the outcome of every phase as JSON to FILE");
    app.add_option("--table-prefix", table_prefix, "prefix of the demo's table names (letters, digits, _)");
    app.add_flag("--keep-tables", keep_tables, "leave the demo's tables in place at the end");
    std::set<int> phases, pg_phases;
    try {
        app.parse(argc, argv);
        phases = parse_phases(phases_text, "--phases");
        pg_phases = parse_phases(pg_phases_text, "--pg-phases");
        cfg.short_timeout = std::chrono::milliseconds(timeout_ms);
        cfg.snapshot_dir = snapshot_dir;
        (void)mysql_statements(table_prefix);
    } catch (const CLI::ParseError& e) {
        return app.exit(e) == 0 ? 0 : 2;
    } catch (const std::exception& e) {
        std::cerr << "autoid_demo: " << e.what() << "\n";
        return 2;
    }
    const bool want_mysql = which != "postgres" && !phases.empty();
    const bool want_pg = which != "mariadb" && !pg_phases.empty();
    if ((want_mysql && phases.contains(4)) || (want_pg && pg_phases.contains(4))) {
        if (::access(cfg.poolsize.c_str(), X_OK) != 0) {
            std::cerr << "autoid_demo: the poolsize CLI is not at " << cfg.poolsize
                      << " (build it: ninja poolsize; or pass --poolsize PATH)\n";
            return 2;
        }
    }

    // The servers, from the environment (never the password on the command line).
    std::optional<database<lifeguard::mysql_driver>> mysql;
    std::optional<database<lifeguard::postgres_driver>> pg;
    try {
        if (want_mysql) {
            const auto url = env("LIFEGUARD_MYSQL_URL");
            if (!url) {
                std::cerr
                    << "autoid_demo: LIFEGUARD_MYSQL_URL is not set: run scripts/demo.sh, or run this under "
                       "scripts/db/with-servers.sh (or pass --db postgres)\n";
                return 2;
            }
            lifeguard::mysql_options o{.url = *url,
                                       .user = env("LIFEGUARD_MYSQL_USER").value_or("root"),
                                       .password = env("LIFEGUARD_MYSQL_PASSWORD").value_or(""),
                                       .schema = env("LIFEGUARD_MYSQL_SCHEMA").value_or("")};
            mysql.emplace(database<lifeguard::mysql_driver>{
                "mariadb", lifeguard::mysql_driver(std::move(o)), mysql_statements(table_prefix), {}});
        }
        if (want_pg) {
            const auto conninfo = env("LIFEGUARD_PG_CONNINFO");
            if (!conninfo) {
                std::cerr
                    << "autoid_demo: LIFEGUARD_PG_CONNINFO is not set: run scripts/demo.sh, or run this "
                       "under scripts/db/with-servers.sh (or pass --db mariadb)\n";
                return 2;
            }
            pg.emplace(
                database<lifeguard::postgres_driver>{"postgres",
                                                     lifeguard::postgres_driver({.conninfo = *conninfo}),
                                                     postgres_statements(table_prefix),
                                                     {}});
        }
    } catch (const std::exception& e) {
        std::cerr << "autoid_demo: " << e.what() << "\n";
        return 2;
    }
    // Reach the servers before telling the story (and say clearly when one is not there).
    try {
        if (mysql) mysql->version = server_version(*mysql);
        if (pg) pg->version = server_version(*pg);
    } catch (const std::exception& e) {
        std::cerr << "autoid_demo: cannot reach the database: " << e.what() << "\n";
        return 2;
    }
    // Real logins spend milliseconds hashing passwords. Here it also keeps the logins that
    // never got a connection (their wait started first) timing out before any holder's does.
    cfg.hash_rounds = calibrate_hash(std::chrono::microseconds(5000));

    // Phase 1: the scenario.
    const auto started = steady::now();
    heading("lifeguard · the AUTO-ID deadlock, live");
    say(fmt::format(
        "A login opens a transaction (connection #1). Inside it, Hibernate's GenerationType.AUTO on\n"
        "MySQL/MariaDB falls back to a TABLE id generator, which reads and bumps hibernate_sequences\n"
        "in a transaction of its own, on a *second* connection from the same pool. {} logins at once\n"
        "with a pool of {}: every connection is held by a login that waits for another one.",
        cfg.logins, cfg.pool_size));
    blank();
    table setup({{"", 11, true}, {"", 80, true}}, 2);
    if (mysql) {
        setup.row(
            {"MariaDB", fmt::format("{} at {}", short_version(mysql->version), mysql->driver.describe())});
        setup.row({"", fmt::format("phases {}", phases_text)});
    }
    if (pg) {
        setup.row({"PostgreSQL", fmt::format("{} at {}", short_version(pg->version), pg->driver.describe())});
        setup.row({"", fmt::format("phases {}; the same logins, the id generator seen as a REQUIRES_NEW "
                                   "transaction",
                                   pg_phases_text)});
    }
    setup.row({"each login", "BEGIN; find the account; hash its password (~5 ms of CPU); new id from"});
    setup.row({"", "the table generator (connection #2, own transaction); INSERT; COMMIT"});
    setup.row(
        {"load", fmt::format("{} concurrent logins, one thread each, lifeguard::owner_scope \"login N\"",
                             cfg.logins)});
    const auto names = mysql ? mysql->sql : postgres_statements(table_prefix);
    setup.row({"tables", names.sequences_table + ", " + names.users_table + " (created fresh)"});

    std::vector<summary_row> rows;
    std::vector<std::string> surprises;
    json report = {{"lifeguard_autoid_demo", 1},
                   {"config",
                    {{"logins", cfg.logins},
                     {"pool_size", cfg.pool_size},
                     {"short_timeout_ms", cfg.short_timeout.count()},
                     {"cores", cfg.cores},
                     {"spindles", cfg.spindles}}}};
    json dbs = json::array();
    bool report_printed = false;
    if (mysql) dbs.push_back(run_database(*mysql, phases, cfg, keep_tables, report_printed, rows, surprises));
    if (pg) {
        if (mysql) {
            blank();
            say("Now PostgreSQL, with the nested call seen as what Spring calls PROPAGATION_REQUIRES_NEW: "
                "an\n"
                "independent transaction on a second connection of the same pool. Same code, same pool.");
        }
        dbs.push_back(run_database(*pg, pg_phases, cfg, keep_tables, report_printed, rows, surprises));
    }
    report["databases"] = std::move(dbs);
    report["surprises"] = surprises;
    report["ok"] = surprises.empty();

    print_summary(rows);
    blank();
    say(fmt::format(
        "Without diagnosis the pool hangs until acquire_timeout (30 s by default) and fails opaquely.\n"
        "lifeguard names the deadlock in milliseconds: which logins, which call sites, which pool, and\n"
        "the size that would be safe; poolsize turns the measurement into max_size and min_idle; and\n"
        "under deadlock_policy::heal an undersized pool unties its own knot and serves every request.\n"
        "Other fixes: give the id generator its own pool, or use a SEQUENCE / IDENTITY id strategy.\n"
        "Whole run: {}.",
        seconds(steady::now() - started)));
    if (!surprises.empty()) {
        blank();
        say("This run did not follow the story:");
        for (const auto& s : surprises) say("- " + s, 4);
    }
    if (!json_summary.empty()) {
        std::ofstream out(json_summary);
        out << report.dump(2) << "\n";
        if (!out) {
            std::cerr << "autoid_demo: cannot write " << json_summary << "\n";
            return 2;
        }
    }
    return surprises.empty() ? 0 : 1;
}
