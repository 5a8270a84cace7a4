#include "report_builder.hpp"

#include <algorithm>

#include "quoted.hpp"

namespace lifeguard::diagnostics::detail {
namespace {

std::string knot_hint(const report& rep, bool nested, bool across) {
    std::string hint;
    if (nested) {
        for (const auto& p : rep.pools) {
            if (p.connections_per_task < 2) continue;
            hint += in_quotes(p.name) + " needs at least Tn x (Cm - 1) + 1 = " + std::to_string(p.observed_tasks) +
                    " x " + std::to_string(p.connections_per_task - 1) + " + 1 = " + std::to_string(p.safe_size) +
                    " connections (max_size is " + std::to_string(p.stats.max) + "); ";
        }
        hint += "or give the nested work its own pool, or do not acquire a second connection while holding one "
                "(e.g. an id generator that needs its own transaction)";
    }
    if (across) {
        if (!hint.empty()) hint += "; ";
        std::vector<std::pair<std::uint64_t, std::string>> pools;
        for (const auto& p : rep.pools) pools.emplace_back(p.id, p.name);
        hint += one_order_hint(std::move(pools));
    }
    if (!hint.empty()) hint += "; ";
    hint += "one more connection in any of these pools would untie this knot, but only a safe size or a code "
            "change keeps it from forming again";
    return hint;
}

}  // namespace

pool_report pool_summary(const pool_record& rec, const pool_stats& stats, bool has_room) {
    pool_report r;
    r.id = rec.id;
    r.name = rec.name;
    r.stats = stats;
    r.acquire_timeout = rec.acquire_timeout;
    r.policy = rec.policy;
    r.has_room = has_room;
    r.observed_tasks = rec.usage.tasks();
    r.connections_per_task = rec.usage.depth();
    r.safe_size = r.connections_per_task >= 2 ? safe_pool_size(r.observed_tasks, r.connections_per_task) : 0;
    return r;
}

pool_report pool_summary(const pool_reading& pool) { return pool_summary(*pool.record, pool.stats, pool.has_room); }

task_report task_in(owner_id owner, const pools_reading& reading, const std::vector<pool_key>& knot_pools) {
    task_report tr;
    tr.owner = owner;
    const pool_reading::waiter* wait = nullptr;
    const pool_reading* wait_pool = nullptr;
    for (const auto& p : reading.pools) {
        for (const auto& h : p.holders)
            if (h.owner == owner) tr.holds.push_back({p.record->name, h.site, h.age});
        for (const auto& w : p.waiters) {
            if (w.owner != owner) continue;
            if (tr.label.empty()) tr.label = w.label;
            const bool in_knot = std::ranges::binary_search(knot_pools, p.record->id);
            if (!wait || (in_knot && !std::ranges::binary_search(knot_pools, wait_pool->record->id))) {
                wait = &w;
                wait_pool = &p;
            }
        }
    }
    if (wait) {
        tr.waits_for = wait_pool->record->name;
        tr.wait_site = wait->site;
        tr.waiting = std::max(nanoseconds(0), wait_pool->now - wait->since);
    }
    return tr;
}

report knot_report(const knot& k, const knot_roles& roles, const pools_reading& reading, bool nested_now,
                   std::vector<nested_report> nested) {
    report rep;
    rep.kind = report_kind::deadlock;
    for (pool_key p : k.pools)
        if (const pool_reading* pr = reading.find(p)) rep.pools.push_back(pool_summary(*pr));
    bool across = false;
    for (owner_id m : roles.members) {
        task_report tr = task_in(m, reading, k.pools);
        for (const auto& l : tr.holds)
            if (!tr.waits_for.empty() && l.pool != tr.waits_for) across = true;
        rep.members.push_back(std::move(tr));
    }
    // Behind: everyone waiting on the knot's pools without holding any of their leases.
    for (pool_key p : k.pools)
        if (const pool_reading* pr = reading.find(p))
            for (const auto& w : pr->waiters)
                if (!std::ranges::binary_search(roles.members, w.owner) &&
                    std::ranges::none_of(rep.behind, [&](const task_report& b) { return b.owner == w.owner; }))
                    rep.behind.push_back(task_in(w.owner, reading, k.pools));
    rep.nested = std::move(nested);
    rep.hint = knot_hint(rep, nested_now, across);
    return rep;
}

std::string policy_action(deadlock_policy policy, const report& rep) {
    switch (policy) {
    case deadlock_policy::report: {
        std::chrono::milliseconds timeout{0};
        for (const auto& p : rep.pools) timeout = std::max(timeout, p.acquire_timeout);
        return "reported (policy report): the tasks keep waiting until their acquire_timeout (" +
               duration_text(timeout) + ")";
    }
    case deadlock_policy::heal: return "heal: no member could be lent a connection (they stopped waiting)";
    case deadlock_policy::fail_fast: return "fail_fast: no member could be failed (they stopped waiting)";
    case deadlock_policy::abort: return "aborting the process (policy abort)";
    case deadlock_policy::ignore: break;
    }
    return {};
}

namespace {
/// A task as the report names it: its owner_scope label when the report lists one ("login 1
/// (task 9)"), else "task 9".
std::string task_named(const report& rep, owner_id id) {
    for (const auto* list : {&rep.members, &rep.behind})
        for (const auto& t : *list)
            if (t.owner == id) return describe_owner(id, t.label);
    return describe_owner(id, {});
}

/// "task 7 (waiting for 'ids' at users::save(), inside task 3)"
std::string member_waiting(const report& rep, owner_id target, owner_id member, const std::string& pool,
                           const std::source_location& site) {
    return task_named(rep, target) + " (waiting for " + in_quotes(pool) + " at " + describe_site(site) +
           (target != member ? ", inside " + task_named(rep, member) : std::string()) + ")";
}
}  // namespace

std::string victim_action(const report& rep, owner_id target, owner_id member, const std::string& pool,
                          const std::source_location& site, std::string_view why) {
    return "failed " + member_waiting(rep, target, member, pool, site) + " with deadlock_error (" + std::string(why) +
           "); the leases it holds go back as it unwinds";
}

std::string healing_action(const report& rep, owner_id target, owner_id member, const std::string& pool,
                           const std::source_location& site, const pool_options& options, std::uint64_t claim) {
    return "healed (policy heal): lent " + member_waiting(rep, target, member, pool, site) +
           " an emergency connection beyond max_size " + std::to_string(options.max_size) + " (max_overflow " +
           std::to_string(options.max_overflow) + "), closed when it comes back; nobody was failed. " + in_quotes(pool) +
           " now admits requests for a claim of " + std::to_string(claim) +
           " connections per task, so this knot cannot form again; it is undersized (see the safe size)";
}

pool_diagnostics victim_diagnostics(const pool_reading& pool, const pool_reading::waiter& wait, owner_id target,
                                    const report& rep) {
    pool_diagnostics d;
    d.pool_name = pool.record->name;
    d.code = make_error_code(errc::deadlock);
    d.what = verdict::deadlocked;
    d.stats = pool.stats;
    d.waited = pool.now - wait.since;
    for (const auto& h : pool.holders) d.holders.push_back({h.owner, {}, h.site, h.age});
    d.site = wait.site;
    d.owner = target;
    d.detail = rep.to_string();
    return d;
}

report nested_acquisition_report(const pool_report& pool, const nested_report& n) {
    report rep;
    rep.kind = report_kind::nested_acquisition;
    rep.pools.push_back(pool);
    rep.nested.push_back(n);
    if (is_unsafe(n)) {
        rep.hint = in_quotes(pool.name) + " has max_size " + std::to_string(n.max_size) + " but " + std::to_string(n.tasks) +
                   " tasks doing this at once need Tn x (Cm - 1) + 1 = " + std::to_string(n.safe_size) +
                   ": make the pool at least that big, give the nested work its own pool, or do not acquire "
                   "while holding";
    } else {
        const std::uint64_t most = n.depth >= 2 ? (n.max_size - 1) / (n.depth - 1) : 0;
        rep.hint = "safe for the " + std::to_string(n.tasks) + " tasks seen at once so far: with max_size " +
                   std::to_string(n.max_size) + " it can deadlock once more than " + std::to_string(most) +
                   " tasks do this at once";
    }
    rep.action = "reported once for this pair of call sites";
    return rep;
}

report order_inversion_report(const std::vector<edge_record>& cycle, std::vector<pool_report> pools) {
    report rep;
    rep.kind = report_kind::order_inversion;
    for (const auto& e : cycle) rep.cycle.push_back({e.from_name, e.to_name, e.held_site, e.site});
    rep.pools = std::move(pools);
    std::vector<std::pair<std::uint64_t, std::string>> order;
    for (const auto& e : cycle) order.emplace_back(e.from, e.from_name);
    rep.hint = one_order_hint(std::move(order)) + "; two tasks taking these paths at once can deadlock";
    rep.action = "reported once for this cycle";
    return rep;
}

report outage_report(pool_report pool, std::vector<task_report> waiting) {
    report rep;
    rep.kind = report_kind::outage;
    rep.pools.push_back(std::move(pool));
    rep.behind = std::move(waiting);
    rep.hint = "the database does not accept connections (see the error); waiters fail after acquire_timeout unless "
               "it comes back. Check the server, the network and the credentials; more connections will not help";
    rep.action = "reported once until a connection opens again";
    return rep;
}

std::string one_order_hint(std::vector<std::pair<std::uint64_t, std::string>> pools) {
    std::ranges::sort(pools);
    pools.erase(std::unique(pools.begin(), pools.end()), pools.end());
    std::string hint = "acquire pools in one order everywhere";
    if (pools.size() >= 2) hint += " (e.g. always " + in_quotes(pools[0].second) + " before " + in_quotes(pools[1].second) + ")";
    return hint + ", or return one connection before acquiring from another pool";
}

}  // namespace lifeguard::diagnostics::detail
