#include "knot_watch.hpp"

#include <algorithm>
#include <unordered_set>

#include "lifeguard/diagnostics/deadlock_error.hpp"
#include "report_builder.hpp"

namespace lifeguard::diagnostics::detail {
namespace {

/// find_knot over the live pools: holders and room from the pools, waits from the ledger.
class live_graph {
public:
    live_graph(const pool_registry& pools, const owner_ledger& ledger) : pools_(pools), ledger_(ledger) {}

    bool room(pool_key p) {
        pool_record* rec = pools_.with_key(p);
        if (!rec || rec->policy == deadlock_policy::ignore) return true;  // not watched: assume it may serve
        if (rec->view->has_room()) return true;
        // Connections out but not with a holder (being handed over, validated or closed)
        // will come back: they count as room. (Emergency connections are never room: they are
        // closed when they come back; the lent ones are among the holders.)
        const pool_stats st = rec->view->stats();
        return st.total + st.emergency > holders(p).size();
    }

    const std::vector<owner_id>& holders(pool_key p) {
        auto [it, fresh] = holders_.try_emplace(p);
        if (fresh)
            if (pool_record* rec = pools_.with_key(p))
                for (const auto& h : rec->view->holders()) it->second.push_back(h.owner);
        return it->second;
    }

    /// Empty when `o` runs: it waits nowhere, or one of its threads is not waiting.
    const std::vector<pool_key>& waits(owner_id o) {
        auto [it, fresh] = waits_.try_emplace(o);
        if (!fresh) return it->second;
        std::size_t blocked = 0;  // one wait entry per blocked thread or async acquisition
        ledger_.for_each(o, [&](const ledger_entry& e) {
            if (!e.is_wait()) return false;
            ++blocked;
            if (std::ranges::find(it->second, e.pool) == it->second.end()) it->second.push_back(e.pool);
            return false;
        });
        if (blocked != 0 && blocked < owner_threads(o)) it->second.clear();
        return it->second;
    }

private:
    const pool_registry& pools_;
    const owner_ledger& ledger_;
    std::unordered_map<pool_key, std::vector<owner_id>> holders_;
    std::unordered_map<owner_id, std::vector<pool_key>> waits_;
};

/// True when nothing moved in `pools` between the two readings: then both saw the state of
/// one instant, and a knot in it is real (knots never untie by themselves).
bool unchanged(const pools_reading& a, const pools_reading& b, const std::vector<pool_key>& pools) {
    for (pool_key id : pools) {
        const pool_reading* x = a.find(id);
        const pool_reading* y = b.find(id);
        if (!x || !y) return false;
        if (x->stats.acquired != y->stats.acquired || x->stats.timeouts != y->stats.timeouts ||
            x->stats.created != y->stats.created || x->stats.connect_failures != y->stats.connect_failures ||
            x->has_room || y->has_room || x->stats.total != y->stats.total)
            return false;
        if (!std::ranges::is_permutation(x->holders, y->holders) || x->waiters != y->waiters) return false;
    }
    return true;
}

std::uint64_t knot_key(const std::vector<owner_id>& members, const std::vector<pool_key>& pools) {
    std::uint64_t key = 0x6c6966656775ull;
    for (owner_id o : members) key = mix(key, o);
    for (pool_key p : pools) key = mix(key, p);
    return key;
}

}  // namespace

bool knot_watch::suspects(const pool_registry& pools, owner_id start) const {
    live_graph g(pools, ledger_);
    return find_knot(g, start).has_value();
}

reports_to_emit knot_watch::confirm(const pool_registry& pools, owner_id start, const nested_pairs_on& nested) {
    reports_to_emit out;
    confirmations_.fetch_add(1, std::memory_order_relaxed);
    const std::uint64_t started = untie_epoch();
    const pools_reading first = read_pools(pools);
    wait_state_graph g1(first.state);
    const auto k1 = find_knot(g1, start);
    if (!k1) {
        unconfirmed_.fetch_add(1, std::memory_order_relaxed);
        return out;
    }
    const pools_reading second = read_pools(pools);
    wait_state_graph g2(second.state);
    const auto k2 = find_knot(g2, start);
    if (!k2 || *k1 != *k2 || !unchanged(first, second, k2->pools)) {
        unconfirmed_.fetch_add(1, std::memory_order_relaxed);
        return out;
    }
    act(*k2, second, start, started, nested, out);
    return out;
}

reports_to_emit knot_watch::act_on_all(const pool_registry& pools, const pools_reading& first, std::uint64_t started,
                                       const nested_pairs_on& nested) {
    reports_to_emit out;
    const knot dead1 = find_deadlocked(first.state);
    std::vector<knot> found;
    if (!dead1.owners.empty()) {
        const pools_reading second = read_pools(pools);
        const knot dead2 = find_deadlocked(second.state);
        const auto parts1 = split_knots(first.state, dead1);
        for (const auto& k : split_knots(second.state, dead2)) {
            if (std::ranges::find(parts1, k) == parts1.end() || !unchanged(first, second, k.pools)) continue;
            found.push_back(k);
            act(k, second, 0, started, nested, out);
        }
    }
    std::lock_guard lock(tables_);
    untie_if([&](const std::vector<owner_id>& members) {
        return std::ranges::none_of(found, [&](const knot& k) { return std::ranges::includes(k.owners, members); });
    });
    return out;
}

pools_reading knot_watch::read_pools(const pool_registry& pools) const {
    pools_reading r;
    for (const auto& [id, rec] : pools.by_id) {
        if (rec->policy == deadlock_policy::ignore) continue;
        pool_reading p;
        p.record = rec;
        p.view = rec->view;
        p.stats = rec->view->stats();
        p.has_room = rec->view->has_room();
        for (const auto& h : rec->view->holders()) p.holders.push_back({h.owner, h.site, h.age});
        for (const auto& w : rec->view->waiters())
            p.waiters.push_back({w.owner, std::string(w.owner_label), w.site, w.since, 0, {}});
        p.now = rec->view->now();
        r.pools.push_back(std::move(p));
    }
    if (blocked_.any()) add_enclosing_waits(r);
    // A task with a thread that is not waiting runs (two threads acting for one task).
    std::unordered_map<owner_id, std::size_t> blocked;
    for (const auto& p : r.pools)
        for (const auto& w : p.waiters) ++blocked[w.owner];
    std::unordered_set<owner_id> running;
    for (const auto& [o, n] : blocked)
        if (n < owner_threads(o)) running.insert(o);
    for (const auto& p : r.pools) {
        wait_state::pool_node node{p.record->id, p.has_room || p.stats.total + p.stats.emergency > p.holders.size(), {}};
        for (const auto& h : p.holders) node.holders.push_back(h.owner);
        r.state.pools.push_back(std::move(node));
        for (const auto& w : p.waiters)
            if (!running.contains(w.owner)) r.state.waits.push_back({w.owner, p.record->id});
    }
    return r;
}

/// Adds, for each queued waiter blocked in a nested scope, the enclosing owners as waiting on
/// the same pool "through" it.
void knot_watch::add_enclosing_waits(pools_reading& reading) const {
    for (auto& p : reading.pools) {
        const std::size_t queued = p.waiters.size();
        for (std::size_t i = 0; i < queued; ++i) {
            std::vector<owner_id> enclosing = blocked_.enclosing(p.waiters[i].owner, p.record->id, p.waiters[i].since.count());
            if (enclosing.empty()) continue;
            for (owner_id e : enclosing) {
                const pool_reading::waiter& w = p.waiters[i];
                p.waiters.push_back({e, owner_label(e), w.site, w.since, w.owner, {}});
            }
            p.waiters[i].enclosing = std::move(enclosing);
        }
    }
}

std::uint64_t knot_watch::untie_epoch() const {
    std::lock_guard lock(tables_);
    return untie_epoch_;
}

void knot_watch::resumed(const std::vector<owner_id>& owners) {
    if (active_count_.load(std::memory_order_relaxed) == 0) return;
    // A member that stops waiting unties its knot: it may be reported again if it re-forms.
    std::lock_guard lock(tables_);
    untie_if([&](const std::vector<owner_id>& members) {
        return std::ranges::any_of(owners, [&](owner_id o) { return std::ranges::binary_search(members, o); });
    });
}

std::shared_ptr<const report> knot_watch::take_explanation(owner_id owner) {
    if (owner == 0 || triggers_.explanations_pending() == 0) return nullptr;
    std::lock_guard lock(tables_);
    const auto it = explanations_.find(owner);
    if (it == explanations_.end()) return nullptr;
    std::shared_ptr<const report> rep = std::move(it->second);
    explanations_.erase(it);
    triggers_.explanations_changed(explanations_.size() + 1, explanations_.size());
    return rep;
}

/// Unties the active knots whose members match (tables lock held), remembering when, so that
/// a confirmation that read the pools before that moment does not report or fail it again.
template <class Pred>
void knot_watch::untie_if(Pred&& pred) {
    bool any = false;
    for (auto it = active_.begin(); it != active_.end();) {
        if (!pred(it->second)) {
            ++it;
            continue;
        }
        if (!any) ++untie_epoch_;
        any = true;
        untied_[it->first] = untie_epoch_;
        it = active_.erase(it);
    }
    active_count_.store(active_.size(), std::memory_order_relaxed);
    if (untied_.size() > 1024)
        std::erase_if(untied_, [&](const auto& kv) { return kv.second + 512 < untie_epoch_; });
}

/// A confirmed knot: report it once while it lasts and apply the strongest policy of its pools.
void knot_watch::act(const knot& k, const pools_reading& reading, owner_id prefer, std::uint64_t started,
                     const nested_pairs_on& nested, reports_to_emit& out) {
    wait_state_graph g(reading.state);
    const knot_roles roles = roles_of(g, k);
    if (roles.members.empty()) return;  // only a closed pool can look like this

    deadlock_policy policy = deadlock_policy::ignore;
    for (pool_key p : k.pools)
        if (const pool_reading* pr = reading.find(p); pr && severity(pr->record->policy) > severity(policy))
            policy = pr->record->policy;
    if (policy == deadlock_policy::ignore) return;

    const std::uint64_t key = knot_key(roles.members, k.pools);
    // Everyone waiting on the knot's pools is explained by it.
    std::vector<owner_id> explained;
    for (pool_key p : k.pools)
        if (const pool_reading* pr = reading.find(p))
            for (const auto& w : pr->waiters) explained.push_back(w.owner);
    {
        std::lock_guard lock(tables_);
        if (const auto it = active_.find(key); it != active_.end()) {
            remember_explanation(explained, active_reports_[key]);
            return;
        }
        // Untied since we began reading the pools: what we saw is already over.
        if (const auto it = untied_.find(key); it != untied_.end() && it->second > started) return;
    }

    bool nested_now = false;
    for (pool_key p : k.pools)
        if (const pool_reading* pr = reading.find(p)) {
            const task_tally tally = tally_of(*pr);
            pr->record->usage.observe(tally);
            nested_now = nested_now || tally.depth >= 2;
            // heal learns the claim before anyone is served, so that what the knot's members give
            // back is admitted by it.
            if (policy == deadlock_policy::heal) pr->view->raise_claim(tally.depth);
        }
    report rep = knot_report(k, roles, reading, nested_now, nested(k.pools));
    for (pool_key p : k.pools)
        if (const pool_reading* pr = reading.find(p)) pr->view->count_deadlock();
    {
        // Active before anyone is failed: the victim's unblock may run at once and must find
        // it (and untie it).
        std::lock_guard lock(tables_);
        active_[key] = roles.members;
        active_count_.store(active_.size(), std::memory_order_relaxed);
    }

    rep.action = policy_action(policy, rep);
    // heal lends within one pool; a knot across pools is failed as under fail_fast (a claim on
    // one pool cannot keep a cycle between pools from forming).
    if (policy == deadlock_policy::heal || policy == deadlock_policy::fail_fast)
        untie_through_a_member(rep, roles, reading, k, prefer, policy);

    auto shared = std::make_shared<const report>(std::move(rep));
    {
        std::lock_guard lock(tables_);
        active_reports_[key] = shared;
        std::erase(explained, shared->victim);  // its failure has had (or will get) its own copy
        remember_explanation(explained, shared);
        if (active_reports_.size() > 4 * active_.size() + 64)
            std::erase_if(active_reports_, [&](const auto& kv) { return !active_.contains(kv.first); });
    }
    deadlocks_.fetch_add(1, std::memory_order_relaxed);
    out.push_back({std::move(shared), policy == deadlock_policy::abort ? spdlog::level::critical : spdlog::level::err,
                   policy == deadlock_policy::abort});
}

/// (tables lock held)
void knot_watch::remember_explanation(const std::vector<owner_id>& owners, const std::shared_ptr<const report>& rep) {
    if (!rep) return;
    const std::size_t before = explanations_.size();
    for (owner_id o : owners) explanations_[o] = rep;
    triggers_.explanations_changed(before, explanations_.size());
}

void knot_watch::forget_explanation(owner_id owner) {
    if (triggers_.explanations_pending() == 0) return;
    std::lock_guard lock(tables_);
    forget_explanation_locked(owner);
}

/// (tables lock held)
void knot_watch::forget_explanation_locked(owner_id owner) {
    if (explanations_.erase(owner)) triggers_.explanations_changed(explanations_.size() + 1, explanations_.size());
}

/// Unties the knot through one member that holds a lease: `lend` (heal) lends it an emergency
/// connection, so that it finishes and gives back what it holds; else (fail_fast, or heal when
/// none can be lent) it gets deadlock_error, and unwinding gives them back. The preferred owner
/// (the one whose check found the knot) goes first, then the member that has waited least.
void knot_watch::untie_through_a_member(report& rep, const knot_roles& roles, const pools_reading& reading,
                                        const knot& k, owner_id prefer, deadlock_policy policy) {
    const bool lend = policy == deadlock_policy::heal && k.pools.size() == 1;
    const char* why = lend ? "policy heal: no emergency connection could be lent"
                      : policy == deadlock_policy::heal ? "policy heal: a knot across pools is failed as under fail_fast"
                                                        : "policy fail_fast";
    struct candidate {
        owner_id owner;
        const pool_reading* pool;
        const pool_reading::waiter* wait;
    };
    std::vector<candidate> candidates;
    for (owner_id m : roles.members)
        for (pool_key p : k.pools)
            if (const pool_reading* pr = reading.find(p))
                for (const auto& w : pr->waiters)
                    if (w.owner == m) candidates.push_back({m, pr, &w});
    // Lending, the member holding most goes first: it is the closest to finishing, and one that
    // already has an emergency connection then gets the next (Cm - 1 of them finish any task).
    auto holds = [](const candidate& c) {
        return std::ranges::count_if(c.pool->holders, [&](const pool_reading::holder& h) {
            return h.owner == c.owner || std::ranges::find(c.wait->enclosing, h.owner) != c.wait->enclosing.end();
        });
    };
    std::ranges::sort(candidates, [&](const candidate& a, const candidate& b) {
        if (lend && holds(a) != holds(b)) return holds(a) > holds(b);
        if ((a.owner == prefer) != (b.owner == prefer)) return a.owner == prefer;
        return (a.pool->now - a.wait->since) < (b.pool->now - b.wait->since);
    });
    for (const auto& c : candidates) {
        // A member waiting through a nested scope's call is failed by failing that call.
        const owner_id target = c.wait->through != 0 ? c.wait->through : c.owner;
        const std::string& pool = c.pool->record->name;
        report failed = rep;
        failed.victim = target;
        failed.action = victim_action(rep, target, c.owner, pool, c.wait->site, why);
        auto shared = std::make_shared<const report>(failed);
        auto d = std::make_shared<pool_diagnostics>(victim_diagnostics(*c.pool, *c.wait, target, *shared));
        auto ex = std::make_exception_ptr(deadlock_error(std::move(d), shared));
        {
            // Before the victim wakes: the explanation of its failure is looked up then.
            std::lock_guard lock(tables_);
            remember_explanation({target}, shared);
        }
        pool_view& view = *c.pool->view;
        const auto outcome = lend ? view.heal_waiter(target, make_error_code(errc::deadlock), std::move(ex))
                                  : (view.fail_waiter(target, make_error_code(errc::deadlock), std::move(ex))
                                         ? pool_view::heal_outcome::failed
                                         : pool_view::heal_outcome::not_waiting);
        if (outcome == pool_view::heal_outcome::lending) {
            rep.lent_to = target;
            rep.action = healing_action(rep, target, c.owner, pool, c.wait->site, view.options(), view.stats().claim);
            healed_tasks_.fetch_add(1, std::memory_order_relaxed);
            return;
        }
        if (outcome == pool_view::heal_outcome::failed) {
            rep = std::move(failed);
            failed_tasks_.fetch_add(1, std::memory_order_relaxed);
            return;
        }
        std::lock_guard lock(tables_);
        forget_explanation_locked(target);
    }
}

}  // namespace lifeguard::diagnostics::detail
