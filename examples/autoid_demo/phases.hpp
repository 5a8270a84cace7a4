// The demo's phases, for any lifeguard driver (MariaDB and PostgreSQL run the same code):
//   2  no diagnosis: policy ignore, a short acquire_timeout; the HikariCP experience
//   3  lifeguard's deadlock detector with policy fail_fast: the report, in milliseconds
//   4  the pool sized from the detector's snapshot by the poolsize CLI: every login succeeds
//   5  phase 3's undersized pool under deadlock_policy::heal (phase_heal.hpp): every login succeeds
// (Phase 1 is the setup: servers, schema, the scenario.) Each phase prints its story and
// returns its outcome as JSON for --json-summary and the e2e tests.
#pragma once

#include <fmt/format.h>
#include <spdlog/logger.h>
#include <spdlog/sinks/null_sink.h>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <filesystem>
#include <fstream>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "console.hpp"
#include "lifeguard/diagnostics/detector.hpp"
#include "lifeguard/diagnostics/snapshot.hpp"
#include "lifeguard/pool.hpp"
#include "lifeguard/sizing.hpp"
#include "load.hpp"
#include "login_service.hpp"
#include "monitor.hpp"
#include "run_program.hpp"
#include "start_line.hpp"
#include "statements.hpp"

namespace autoid {

using namespace std::chrono_literals;
using json = nlohmann::json;

struct demo_config {
    int logins = 20;
    std::size_t pool_size = 10;
    std::chrono::milliseconds short_timeout{3000};
    std::uint64_t hash_rounds = 0;
    std::size_t cores = 2;
    std::size_t spindles = 1;
    std::string poolsize;                ///< path of the poolsize binary
    std::filesystem::path snapshot_dir;  ///< where the detector's snapshots are written
};

/// One database the demo runs on.
template <class Driver>
struct database {
    std::string key;  ///< "mariadb", "postgres"
    Driver driver;
    statements sql;
    std::string version;
};

/// A phase's outcome: what it printed, as data.
struct phase_outcome {
    json facts;
    std::vector<std::string> surprises;  ///< ways the run did not follow the story

    void expect(bool ok, std::string what) {
        if (!ok) surprises.push_back(std::move(what));
    }
};

// ---------------------------------------------------------------------------- helpers

/// Runs statements on a connection of its own (setup and checks, outside any pool).
template <class Driver, class F>
auto with_connection(database<Driver>& db, F f) {
    auto c = db.driver.connect(std::chrono::steady_clock::now() + 10s);
    struct closer {
        Driver& d;
        typename Driver::connection_type& c;
        ~closer() { d.close(c); }
    } guard{db.driver, c};
    return f(c);
}

template <class Driver>
std::string server_version(database<Driver>& db) {
    return with_connection(db, [&](auto& c) { return exec(c, db.sql.server_version).value(); });
}

template <class Driver>
void create_schema(database<Driver>& db) {
    with_connection(db, [&](auto& c) {
        for (const auto& s : db.sql.create_schema) exec(c, s);
        return 0;
    });
}

template <class Driver>
void drop_schema(database<Driver>& db) {
    with_connection(db, [&](auto& c) {
        for (const auto& s : db.sql.drop_schema) exec(c, s);
        return 0;
    });
}

template <class Driver>
long rows_of_phase(database<Driver>& db, int phase) {
    return with_connection(db, [&](auto& c) {
        return std::stol(exec(c, db.sql.count_phase, params{std::to_string(phase)}).value());
    });
}

/// A service that has been up for a while has its pool filled: open `n` connections now, so
/// that the logins race each other and not the pool's worker. Done before the detector is
/// attached (one owner holding several leases on purpose is not what we want it to see).
template <class Pool>
void warm_up(Pool& pool, std::size_t n) {
    std::vector<typename Pool::lease_type> leases;
    for (std::size_t i = 0; i < n; ++i) leases.push_back(pool.acquire());
}

inline std::string login_name(int phase, int number) {
    return fmt::format("p{}-user{:02}", phase, number);
}

inline std::string error_list(const std::map<std::string, int>& errors) {
    std::string s;
    for (const auto& [kind, count] : errors) s += (s.empty() ? "" : ", ") + fmt::format("{} {}", count, kind);
    return s.empty() ? "none" : s;
}

/// Breaks `text` into lines of at most `width` characters at spaces.
inline std::string wrap(std::string_view text, std::size_t width = 94) {
    std::string out, line;
    std::size_t pos = 0;
    while (pos < text.size()) {
        std::size_t end = text.find(' ', pos);
        if (end == std::string_view::npos) end = text.size();
        const std::string_view word = text.substr(pos, end - pos);
        if (!line.empty() && line.size() + 1 + word.size() > width) {
            out += line + "\n";
            line = "    ";
        }
        if (!line.empty() && line != "    ") line += ' ';
        line += word;
        pos = end + 1;
    }
    return out + line;
}

/// The k6-style block every phase ends with, and its facts.
inline void summarize_load(const load_result& r, phase_outcome& out) {
    const int n = static_cast<int>(r.logins.size());
    say("summary (k6-style)");
    say(fmt::format("requests....: {} logins in {}", n, seconds(r.wall)), 4);
    say(fmt::format("succeeded...: {} ({:.0f}%)   throughput {:.1f} logins/s", r.succeeded(),
                    n ? 100.0 * r.succeeded() / n : 0.0, r.throughput()),
        4);
    say(fmt::format("errors......: {}", error_list(r.errors())), 4);
    say(fmt::format("latency.....: avg {}   p(95) {}   max {}", ms(r.average()), ms(r.percentile(95)),
                    ms(r.max())),
        4);
    for (const auto& l : r.logins)
        if (l.error == "database" || l.error == "other") {
            say(wrap("unexpected error in login " + std::to_string(l.number) + ": " + l.message), 4);
            break;
        }
    json errors = json::object();
    for (const auto& [k, v] : r.errors()) errors[k] = v;
    json verdicts = json::object();
    for (const auto& [k, v] : r.verdicts()) verdicts[k] = v;
    json failed_at = json::object();
    for (const auto& l : r.logins)
        if (!l.ok) failed_at[l.failed_at] = failed_at.value(l.failed_at, 0) + 1;
    out.facts["logins"] = n;
    out.facts["succeeded"] = r.succeeded();
    out.facts["failed"] = r.failed();
    out.facts["errors"] = errors;
    out.facts["verdicts"] = verdicts;
    out.facts["failed_at"] = failed_at;
    out.facts["succeeded_before_first_failure"] = r.succeeded_before_first_failure();
    out.facts["wall_ms"] = std::chrono::duration<double, std::milli>(r.wall).count();
    out.facts["throughput_per_s"] = r.throughput();
    out.facts["avg_ms"] = std::chrono::duration<double, std::milli>(r.average()).count();
    out.facts["p95_ms"] = std::chrono::duration<double, std::milli>(r.percentile(95)).count();
    out.facts["max_ms"] = std::chrono::duration<double, std::milli>(r.max()).count();
}

inline void pool_facts(const lifeguard::pool_options& o, bool detector, phase_outcome& out) {
    out.facts["pool"] = {{"name", o.name},
                         {"max_size", o.max_size},
                         {"min_idle", o.min_idle},
                         {"acquire_timeout_ms", o.acquire_timeout.count()},
                         {"policy", lifeguard::to_string(o.on_deadlock)},
                         {"max_nesting", o.max_nesting},
                         {"max_overflow", o.max_overflow},
                         {"detector", detector}};
}

/// Reports the detector hands its callback, with the time each arrived.
class report_log {
public:
    void add(const lifeguard::diagnostics::report& r) {
        std::lock_guard lock(mutex_);
        entries_.push_back({steady::now(), std::make_shared<lifeguard::diagnostics::report>(r)});
    }
    struct entry {
        steady::time_point at;
        std::shared_ptr<const lifeguard::diagnostics::report> report;
    };
    std::vector<entry> of_kind(lifeguard::diagnostics::report_kind kind) const {
        std::lock_guard lock(mutex_);
        std::vector<entry> out;
        for (const auto& e : entries_)
            if (e.report->kind == kind) out.push_back(e);
        return out;
    }

private:
    mutable std::mutex mutex_;
    std::vector<entry> entries_;
};

/// A detector that reports through a callback only: the demo prints the report itself, once.
/// (In a service it logs through your spdlog logger; see detector_options.)
inline std::shared_ptr<lifeguard::diagnostics::deadlock_detector> make_detector(report_log& log) {
    lifeguard::diagnostics::detector_options o;
    o.logger =
        std::make_shared<spdlog::logger>("autoid.detector", std::make_shared<spdlog::sinks::null_sink_mt>());
    o.on_report = [&log](const lifeguard::diagnostics::report& r) { log.add(r); };
    return std::make_shared<lifeguard::diagnostics::deadlock_detector>(std::move(o));
}

/// Runs the logins of one phase on `pool` behind a start line.
template <class Pool>
load_result run_phase_logins(Pool& pool, const statements& sql, int phase, const demo_config& cfg,
                             load_progress* progress = nullptr,
                             std::shared_ptr<start_line>* line_out = nullptr) {
    const std::size_t n = static_cast<std::size_t>(cfg.logins);
    const std::size_t holders = std::min(n, pool.options().max_size);
    auto line = std::make_shared<start_line>(holders, n - holders);
    pool.add_observer(line);
    if (line_out) *line_out = line;
    login_service<Pool> service(pool, sql, phase, cfg.hash_rounds, [&line] { line->arrive(); });
    return run_logins(
        cfg.logins, [&](int number, login_trace& trace) { service.login(login_name(phase, number), trace); },
        progress);
}

// ---------------------------------------------------------------------------- phase 2

template <class Driver>
phase_outcome phase_without_diagnosis(database<Driver>& db, const demo_config& cfg) {
    phase_outcome out;
    out.facts["phase"] = 2;
    out.facts["title"] = "no diagnosis";
    const auto timeout = cfg.short_timeout;
    const auto validation = std::min<std::chrono::milliseconds>(1s, timeout / 2);  // must stay below it
    heading(fmt::format("Phase 2 · {}: without diagnosis (what a HikariCP user sees)", db.sql.database));
    say(fmt::format(
        "Pool \"app\": max_size {}, deadlock policy ignore, no detector attached. acquire_timeout is\n"
        "shortened to {} ms for the demo (HikariCP's connectionTimeout defaults to 30000 ms).\n"
        "All {} logins start together, as under load: each takes connection #1 and begins its\n"
        "transaction; only when every connection is taken and the rest queue does any ask for #2.",
        cfg.pool_size, timeout.count(), cfg.logins));
    blank();

    lifeguard::pool<Driver> pool(db.driver, {.name = "app",
                                             .max_size = cfg.pool_size,
                                             .min_idle = cfg.pool_size,
                                             .acquire_timeout = timeout,
                                             .validation_timeout = validation,
                                             .on_deadlock = lifeguard::deadlock_policy::ignore});
    warm_up(pool, cfg.pool_size);
    pool_facts(pool.options(), false, out);

    say("the pool's gauges every 0.5 s (hikaricp_connections_active / _idle / _pending):");
    load_progress progress;
    load_result r;
    stats_monitor::peaks peaks;
    {
        stats_monitor monitor(pool.view(), progress, 500ms);
        r = run_phase_logins(pool, db.sql, 2, cfg, &progress);
        monitor.stop();
        peaks = monitor.peak();
    }
    say(fmt::format("pending {} = {} logins waiting for connection #1 + {} holders waiting for connection #2",
                    peaks.pending,
                    cfg.logins - static_cast<int>(std::min<std::size_t>(cfg.pool_size, cfg.logins)),
                    std::min<std::size_t>(cfg.pool_size, cfg.logins)));
    blank();

    const login_result* first_timeout = nullptr;
    for (const auto& l : r.logins)
        if (l.error == "timeout" && (!first_timeout || l.finished < first_timeout->finished))
            first_timeout = &l;
    const int queued_failed = static_cast<int>(std::ranges::count_if(
        r.logins, [](const auto& l) { return !l.ok && l.failed_at == "connection #1"; }));
    if (first_timeout) {
        const auto& d = *first_timeout->diagnostics;
        say(fmt::format(
            "Nothing completes: every connection is held by a login that waits for another one. After\n"
            "{} the waits time out. A HikariCP user gets {} SQLTransientConnectionExceptions:",
            seconds(first_timeout->finished - r.started), r.errors()["timeout"]));
        say(fmt::format("HikariPool-1 - Connection is not available, request timed out after {}ms "
                        "(total={}, active={}, idle={}, waiting={})",
                        std::chrono::duration_cast<std::chrono::milliseconds>(d.waited).count(),
                        d.stats.total, d.stats.active, d.stats.idle, d.stats.pending),
            4);
        say("lifeguard without its detector says it with the pool's numbers, but cannot say why:");
        say(wrap(first_timeout->message), 4);
        say(fmt::format(
            "The {} logins that never got a connection timed out, and {} holder(s) waiting for a 2nd; the\n"
            "connections those gave back let the other {} finish, late. Logins done before the first\n"
            "timeout: {}.",
            queued_failed, r.failed() - queued_failed, r.succeeded(), r.succeeded_before_first_failure()));
    } else {
        say("unexpected: no login timed out");
    }
    blank();
    out.facts["rows_inserted"] = rows_of_phase(db, 2);
    out.facts["peak"] = {{"active", peaks.active}, {"idle", peaks.idle}, {"pending", peaks.pending}};
    out.facts["failed_waiting_for_first_connection"] = queued_failed;
    summarize_load(r, out);

    const int expected_queued =
        cfg.logins - static_cast<int>(std::min<std::size_t>(cfg.pool_size, cfg.logins));
    out.expect(r.errors()["timeout"] == r.failed() && r.failed() > 0, "phase 2: every failure is a timeout");
    out.expect(queued_failed == expected_queued, "phase 2: the logins without a connection all time out");
    out.expect(r.succeeded_before_first_failure() == 0, "phase 2: nothing completes before the timeout");
    out.expect(!r.verdicts().contains("deadlocked"), "phase 2: no verdict 'deadlocked' without the detector");
    return out;
}

// ---------------------------------------------------------------------------- phase 3

/// `report_printed`: the full report is printed once per run (the second database's tells the
/// same story); set once it was.
template <class Driver>
phase_outcome phase_with_detector(database<Driver>& db, const demo_config& cfg,
                                  std::filesystem::path& snapshot_file, bool& report_printed) {
    using lifeguard::diagnostics::report_kind;
    phase_outcome out;
    out.facts["phase"] = 3;
    out.facts["title"] = "detector, fail_fast";
    heading(fmt::format("Phase 3 · {}: the same logins with lifeguard's deadlock detector", db.sql.database));
    say(fmt::format(
        "Pool \"app\": max_size {}, deadlock policy fail_fast, acquire_timeout back to 30000 ms: the\n"
        "detector does not wait for a timeout. All {} logins start together, as under load.",
        cfg.pool_size, cfg.logins));

    report_log reports;
    auto detector = make_detector(reports);
    load_result r;
    std::shared_ptr<start_line> line;
    {
        lifeguard::pool<Driver> pool(db.driver, {.name = "app",
                                                 .max_size = cfg.pool_size,
                                                 .min_idle = cfg.pool_size,
                                                 .on_deadlock = lifeguard::deadlock_policy::fail_fast});
        warm_up(pool, cfg.pool_size);
        pool.add_observer(detector);
        pool_facts(pool.options(), true, out);
        r = run_phase_logins(pool, db.sql, 3, cfg, nullptr, &line);
    }

    const auto knots = reports.of_kind(report_kind::deadlock);
    const auto nested = reports.of_kind(report_kind::nested_acquisition);
    json deadlock = {{"reports", knots.size()}, {"failed_tasks", detector->stats().failed_tasks}};
    if (!knots.empty()) {
        const auto& first = knots.front();
        const auto& rep = *first.report;
        // The knot closed when the last of its members asked for its second connection.
        steady::time_point closed{};
        for (const auto& l : r.logins)
            if (l.trace.second_asked && l.trace.second_asked_at <= first.at)
                closed = std::max(closed, l.trace.second_asked_at);
        const auto detection = first.at - closed;
        blank();
        if (!report_printed) {
            say(fmt::format("The detector's report ({} after the last member asked for connection #2):",
                            ms(detection)));
            quote(rep.to_string());
            report_printed = true;
        } else {
            say(fmt::format(
                "The detector's report ({} after the last member asked for connection #2), as above:",
                ms(detection)));
            quote(rep.headline());
        }
        blank();

        std::string victim;
        for (const auto& m : rep.members)
            if (m.owner == rep.victim) victim = m.label;
        const auto& p = rep.pools.front();
        say(fmt::format(
            "Knot: {} logins hold all {} connections and each waits for a 2nd; {} more wait behind them.\n"
            "Sizing from what it saw: Tn = {} tasks at once, Cm = {} connections per task:\n"
            "safe size Tn x (Cm - 1) + 1 = {}.",
            rep.members.size(), p.stats.max, rep.behind.size(), p.observed_tasks, p.connections_per_task,
            p.safe_size));
        say(fmt::format(
            "fail_fast threw deadlock_error into {} ({} after the knot closed); its\n"
            "transaction rolled back and its connection went to the next login in the queue, which then\n"
            "asked for its 2nd connection too: the knot re-formed {} more time(s), each found and broken\n"
            "the same way.",
            victim.empty() ? "one member" : "\"" + victim + "\"", ms(detection), knots.size() - 1));
        if (!nested.empty())
            say(wrap("It had also flagged the pattern itself: " + nested.front().report->headline() + "."));
        deadlock["first_report"] = {{"members", rep.members.size()},
                                    {"behind", rep.behind.size()},
                                    {"tasks_named", rep.members.size() + rep.behind.size()},
                                    {"pool_max_size", p.stats.max},
                                    {"observed_tasks", p.observed_tasks},
                                    {"connections_per_task", p.connections_per_task},
                                    {"safe_size", p.safe_size},
                                    {"victim", victim}};
        deadlock["detection_ms"] = std::chrono::duration<double, std::milli>(detection).count();
        out.expect(rep.members.size() == std::min<std::size_t>(cfg.pool_size, cfg.logins),
                   "phase 3: the knot's members are the logins holding the connections");
        out.expect(p.connections_per_task == 2, "phase 3: Cm = 2");
        out.expect(p.observed_tasks == static_cast<std::uint64_t>(cfg.logins), "phase 3: Tn = the logins");
    } else {
        say("unexpected: the detector reported no deadlock");
    }
    out.facts["deadlock"] = deadlock;
    const long rows = rows_of_phase(db, 3);
    out.facts["rows_inserted"] = rows;
    say(
        fmt::format("Outcome: {} logins succeeded, {} failed fast with deadlock_error, none hung;\n"
                    "{} has {} new rows (the failed logins rolled back and left nothing behind).",
                    r.succeeded(), r.failed(), db.sql.users_table, rows));
    blank();
    summarize_load(r, out);

    // What poolsize will read.
    snapshot_file = cfg.snapshot_dir / fmt::format("autoid-snapshot-{}.json", db.key);
    lifeguard::diagnostics::write_snapshot(detector->snapshot(), snapshot_file);
    out.facts["snapshot"] = snapshot_file.string();

    out.expect(!knots.empty(), "phase 3: the detector reports the deadlock");
    out.expect(r.errors()["deadlock"] == r.failed() && r.failed() > 0,
               "phase 3: the failures are deadlock_errors");
    out.expect(r.succeeded() > 0, "phase 3: breaking the knot lets the other logins finish");
    out.expect(rows == r.succeeded(), "phase 3: failed logins leave no rows");
    return out;
}

// ---------------------------------------------------------------------------- phase 4

template <class Driver>
phase_outcome phase_sized(database<Driver>& db, const demo_config& cfg,
                          const std::filesystem::path& snapshot_file) {
    using lifeguard::diagnostics::report_kind;
    phase_outcome out;
    out.facts["phase"] = 4;
    out.facts["title"] = "sized by poolsize";
    heading(fmt::format("Phase 4 · {}: size the pool from what the detector measured", db.sql.database));

    // 1. What the detector measured, from its snapshot file.
    json snap;
    {
        std::ifstream in(snapshot_file);
        snap = json::parse(in);
    }
    const auto& pool_snap = snap.at("pools").at(0);
    const auto tn = pool_snap.at("observed_tasks").get<std::size_t>();
    const auto cm = pool_snap.at("observed_connections_per_task").get<std::size_t>();
    say(fmt::format("The detector's snapshot ({}):", snapshot_file.string()));
    say(fmt::format("pool \"{}\": observed Tn = {} tasks, Cm = {} connections per task, safe size {}",
                    pool_snap.at("name").get<std::string>(), tn, cm, pool_snap.value("safe_size", 0)),
        4);

    // 2. The recommendation, from the real poolsize CLI.
    const std::vector<std::string> args = {"--snapshot", snapshot_file.string(),
                                           "--cores",    std::to_string(cfg.cores),
                                           "--spindles", std::to_string(cfg.spindles)};
    blank();
    say(fmt::format("$ poolsize --snapshot {} --cores {} --spindles {}", snapshot_file.string(), cfg.cores,
                    cfg.spindles));
    const auto text = run_program(cfg.poolsize, args);
    std::string shown = text.out;
    while (!shown.empty() && shown.back() == '\n') shown.pop_back();
    quote(shown.empty() ? text.err : shown);
    auto json_args = args;
    json_args.push_back("--json");
    const auto machine = run_program(cfg.poolsize, json_args);
    json advice;
    std::size_t max_size = 0, min_idle = 0;
    try {
        advice = json::parse(machine.out);
        max_size = advice.at("max_size").get<std::size_t>();
        min_idle = advice.at("min_idle").get<std::size_t>();
    } catch (const std::exception& e) {
        say(wrap(fmt::format("poolsize --json did not give a recommendation (exit {}): {} {}",
                             machine.exit_code, e.what(), machine.err)));
    }
    const auto library = lifeguard::recommend_size(
        {.tasks = tn, .connections_per_task = cm, .cores = cfg.cores, .effective_spindles = cfg.spindles});
    out.facts["sizing"] = {{"poolsize_exit", text.exit_code},
                           {"poolsize_json_exit", machine.exit_code},
                           {"observed_tasks", tn},
                           {"connections_per_task", cm},
                           {"cores", cfg.cores},
                           {"spindles", cfg.spindles},
                           {"max_size", max_size},
                           {"min_idle", min_idle},
                           {"library_max_size", library ? library.value.max_size : 0},
                           {"library_min_idle", library ? library.value.min_idle : 0}};
    out.expect(text.exit_code == 0 && machine.exit_code == 0, "phase 4: poolsize runs");
    out.expect(library && library.value.max_size == max_size && library.value.min_idle == min_idle,
               "phase 4: poolsize and lifeguard::recommend_size() agree");
    if (max_size == 0) return out;
    blank();
    say(fmt::format(
        "max_size {} = Tn x (Cm - 1) + 1 = {} x ({} - 1) + 1: the pool can no longer lock itself.\n"
        "min_idle {} = cores x 2 + spindles = {} x 2 + {}: what the database can keep busy.\n"
        "(--cores {}: this machine runs the database. lifeguard::recommend_size() agrees.)",
        max_size, tn, cm, min_idle, cfg.cores, cfg.spindles, cfg.cores));

    // 3. The rerun.
    blank();
    say(fmt::format(
        "Rerun: the same {} logins, pool max_size {}, min_idle {}, detector attached (fail_fast).",
        cfg.logins, max_size, min_idle));
    report_log reports;
    auto detector = make_detector(reports);
    load_result r;
    {
        lifeguard::pool<Driver> pool(db.driver, {.name = "app",
                                                 .max_size = max_size,
                                                 .min_idle = min_idle,
                                                 .on_deadlock = lifeguard::deadlock_policy::fail_fast});
        warm_up(pool, min_idle);
        pool.add_observer(detector);
        pool_facts(pool.options(), true, out);
        r = run_phase_logins(pool, db.sql, 4, cfg);
        const auto st = pool.stats();
        say(fmt::format(
            "The pool grew from {} ready connections to {} while the logins nested; {} deadlocks.", min_idle,
            st.total, st.deadlocks));
    }
    for (const auto& p : detector->snapshot().pools)
        say(fmt::format(
            "The detector still sees the nesting (Tn = {}, Cm = {}): safe size {} <= max_size {}.",
            p.observed_tasks, p.observed_connections_per_task, p.safe_size, p.max_size));
    const long rows = rows_of_phase(db, 4);
    out.facts["rows_inserted"] = rows;
    out.facts["detector"] = {{"deadlocks", detector->stats().deadlocks}};
    say(fmt::format("Outcome: {} of {} logins succeeded; {} has {} new rows.", r.succeeded(), cfg.logins,
                    db.sql.users_table, rows));
    blank();
    summarize_load(r, out);
    out.expect(r.succeeded() == cfg.logins, "phase 4: every login succeeds");
    out.expect(detector->stats().deadlocks == 0, "phase 4: no deadlock");
    out.expect(rows == cfg.logins, "phase 4: every login inserted its user");
    return out;
}

}  // namespace autoid
