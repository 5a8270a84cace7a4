// Phase 5 of the demo: the same undersized pool (phase 3's) under deadlock_policy::heal. The
// knot forms once, is reported, and is untied by lending one member an emergency connection
// beyond max_size; the detector teaches the pool the claim Cm = 2 it saw, and admission keeps
// the knot from forming again. Every login succeeds on 10 connections (+1 for a moment).
#pragma once

#include "phases.hpp"

namespace autoid {

/// Watches the pool's open connections (total + emergency) for the most seen at once.
class total_watch final : public lifeguard::pool_observer {
public:
    std::size_t peak() const noexcept { return peak_.load(); }

    void on_attach(lifeguard::pool_view& pool) override { note(pool); }
    void on_acquired(lifeguard::pool_view& pool, const lifeguard::lease_info&, std::chrono::nanoseconds) override {
        note(pool);
    }
    void on_connection_created(lifeguard::pool_view& pool, std::chrono::nanoseconds) override { note(pool); }

private:
    void note(lifeguard::pool_view& pool) noexcept {
        const auto st = pool.stats();
        const std::size_t open = st.total + st.emergency;
        auto seen = peak_.load();
        while (open > seen && !peak_.compare_exchange_weak(seen, open)) {
        }
    }
    std::atomic<std::size_t> peak_{0};
};

/// `sized_throughput`: phase 4's logins per second on this database (0 when it did not run).
template <class Driver>
phase_outcome phase_healed(database<Driver>& db, const demo_config& cfg, double sized_throughput,
                           bool& report_printed) {
    using lifeguard::diagnostics::report_kind;
    phase_outcome out;
    out.facts["phase"] = 5;
    out.facts["title"] = "undersized, heal";
    heading(fmt::format("Phase 5 · {}: the undersized pool heals its own deadlock", db.sql.database));
    say(fmt::format(
        "Pool \"app\": max_size {} again (phase 3's), deadlock policy heal, max_overflow 1, detector\n"
        "attached; max_nesting is not declared, so the pool does not know yet that a login takes 2.\n"
        "All {} logins start together, as in phase 3.",
        cfg.pool_size, cfg.logins));

    report_log reports;
    auto detector = make_detector(reports);
    auto watch = std::make_shared<total_watch>();
    load_result r;
    lifeguard::pool_stats st;
    lifeguard::pool_options options;
    {
        lifeguard::pool<Driver> pool(db.driver, {.name = "app",
                                                 .max_size = cfg.pool_size,
                                                 .min_idle = cfg.pool_size,
                                                 .on_deadlock = lifeguard::deadlock_policy::heal,
                                                 .max_overflow = 1});
        warm_up(pool, cfg.pool_size);
        pool.add_observer(detector);
        pool.add_observer(watch);
        options = pool.options();
        pool_facts(options, true, out);
        r = run_phase_logins(pool, db.sql, 5, cfg);
        st = pool.stats();
    }

    const auto knots = reports.of_kind(report_kind::deadlock);
    json deadlock = {{"reports", knots.size()},
                     {"healed_tasks", detector->stats().healed_tasks},
                     {"failed_tasks", detector->stats().failed_tasks}};
    blank();
    if (!knots.empty()) {
        const auto& rep = *knots.front().report;
        const auto& p = rep.pools.front();
        say("The knot formed once, exactly as in phase 3, and the detector reported it:");
        if (!report_printed) {
            quote(rep.to_string());
            report_printed = true;
        } else {
            quote(rep.headline());
        }
        std::string lent_to;
        for (const auto& m : rep.members)
            if (m.owner == rep.lent_to) lent_to = m.label;
        blank();
        say(wrap(fmt::format(
            "What it did: {}", rep.action)));
        deadlock["first_report"] = {{"members", rep.members.size()},
                                    {"connections_per_task", p.connections_per_task},
                                    {"observed_tasks", p.observed_tasks},
                                    {"safe_size", p.safe_size},
                                    {"lent_to", lent_to},
                                    {"action", rep.action}};
        out.expect(p.safe_size == static_cast<std::uint64_t>(cfg.logins) + 1,
                   "phase 5: the report names the safe size Tn x (Cm - 1) + 1");
        out.expect(!lent_to.empty(), "phase 5: the report names the member lent an emergency connection");
    } else {
        say("unexpected: the detector reported no deadlock");
    }
    out.facts["deadlock"] = deadlock;
    out.facts["pool_after"] = {{"claim", st.claim},
                               {"emergency_lent", st.emergency_lent},
                               {"emergency_failed", st.emergency_failed},
                               {"peak_open", watch->peak()}};
    say(fmt::format(
        "The emergency connection was used {} time(s) ({} could not be opened); afterwards the pool\n"
        "admitted requests for a claim of {} connections per login: a login that held one was served\n"
        "its 2nd before a new login got its 1st, so the knot never re-formed ({} knot(s) in all). At\n"
        "most {} connections were open at once: max_size {} + max_overflow {}.",
        st.emergency_lent, st.emergency_failed, st.claim, knots.size(), watch->peak(), options.max_size,
        options.max_overflow));
    const long rows = rows_of_phase(db, 5);
    out.facts["rows_inserted"] = rows;
    say(fmt::format("Outcome: {} of {} logins succeeded, {} failed, none hung; {} has {} new rows.",
                    r.succeeded(), cfg.logins, r.failed(), db.sql.users_table, rows));
    if (sized_throughput > 0)
        say(fmt::format(
            "Throughput {:.1f} logins/s on {} connections, beside {:.1f} logins/s on phase 4's sized pool\n"
            "({:.2f}x). heal keeps an undersized pool serving; the report still says to size it.",
            r.throughput(), options.max_size, sized_throughput, r.throughput() / sized_throughput));
    out.facts["throughput_vs_sized"] = sized_throughput > 0 ? r.throughput() / sized_throughput : 0.0;
    blank();
    summarize_load(r, out);

    out.expect(!knots.empty(), "phase 5: the detector reports the knot");
    out.expect(r.succeeded() == cfg.logins && r.failed() == 0, "phase 5: every login succeeds");
    out.expect(st.emergency_lent >= 1 && st.emergency_failed == 0,
               "phase 5: the knot is untied by an emergency connection");
    out.expect(st.claim == 2, "phase 5: the pool learned the claim Cm = 2");
    out.expect(watch->peak() <= options.max_size + options.max_overflow,
               "phase 5: never more than max_size + max_overflow connections");
    out.expect(rows == cfg.logins, "phase 5: every login inserted its user");
    return out;
}

}  // namespace autoid
