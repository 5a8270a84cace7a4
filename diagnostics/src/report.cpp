// Text rendering of detector reports, and the small formatting helpers they share.
#include "lifeguard/diagnostics/report.hpp"

#include <cstdio>
#include <sstream>
#include <vector>

#include "lifeguard/options.hpp"
#include "lifeguard/sizing.hpp"
#include "quoted.hpp"

namespace lifeguard::diagnostics {
namespace {

std::string duration_text(std::chrono::nanoseconds d) {
    const auto ns = d.count();
    char buf[32];
    if (ns < 1'000'000)
        std::snprintf(buf, sizeof buf, "%lld us", static_cast<long long>(ns / 1000));
    else if (ns < 10'000'000'000)
        std::snprintf(buf, sizeof buf, "%lld ms", static_cast<long long>(ns / 1'000'000));
    else
        std::snprintf(buf, sizeof buf, "%.1f s", static_cast<double>(ns) / 1e9);
    return buf;
}

std::string task_name(const task_report& t) { return describe_owner(t.owner, t.label); }

std::string pool_list(const std::vector<pool_report>& pools) {
    std::string s = pools.size() == 1 ? "pool " : "pools ";
    for (std::size_t i = 0; i < pools.size(); ++i) {
        if (i) s += i + 1 == pools.size() ? " and " : ", ";
        s += in_quotes(pools[i].name);
    }
    return s;
}

void pool_line(std::ostringstream& out, const pool_report& p) {
    const auto& st = p.stats;
    out << "\n  pool " << in_quotes(p.name) << ": max_size " << st.max << ", " << st.total << " open, " << st.active
        << " in use, " << st.idle << " idle, " << st.creating << " being opened, " << st.pending
        << " waiting; acquire_timeout " << duration_text(p.acquire_timeout) << "; "
        << (p.has_room ? "can still serve a waiter" : "cannot grow");
    if (!p.last_connect_error.empty()) out << "; last connection error: " << p.last_connect_error;
}

void task_lines(std::ostringstream& out, const task_report& t) {
    out << "\n  " << task_name(t);
    if (!t.waits_for.empty())
        out << " waits " << duration_text(t.waiting) << " for " << in_quotes(t.waits_for) << " at "
            << describe_site(t.wait_site);
    else
        out << " runs";
    for (const auto& l : t.holds)
        out << "\n      holds " << in_quotes(l.pool) << " for " << duration_text(l.age) << ", acquired at "
            << describe_site(l.site);
    if (t.holds.empty()) out << "\n      holds nothing";
}

void sizing_line(std::ostringstream& out, const pool_report& p) {
    if (p.connections_per_task < 2 || p.observed_tasks == 0) return;
    out << "\n  sizing: " << in_quotes(p.name) << " saw Tn = " << p.observed_tasks
        << " tasks holding or waiting at once, each holding up to Cm = " << p.connections_per_task
        << " connections: it needs Tn x (Cm - 1) + 1 = " << p.safe_size << ", it has " << p.stats.max;
}

}  // namespace

std::string_view to_string(report_kind kind) noexcept {
    switch (kind) {
    case report_kind::deadlock: return "deadlock";
    case report_kind::nested_acquisition: return "nested_acquisition";
    case report_kind::order_inversion: return "order_inversion";
    case report_kind::outage: return "outage";
    }
    return "unknown";
}

std::uint64_t safe_pool_size(std::uint64_t tasks, std::uint64_t depth) noexcept {
    if (tasks == 0 || depth == 0) return 0;
    const auto r = deadlock_free_minimum(static_cast<std::size_t>(tasks), static_cast<std::size_t>(depth));
    return r.ok() ? r.value : std::numeric_limits<std::uint64_t>::max();
}

std::string report::headline() const {
    std::ostringstream out;
    switch (kind) {
    case report_kind::deadlock: {
        std::uint64_t connections = 0;
        for (const auto& p : pools) connections += p.stats.max;
        out << "deadlock: " << members.size() << (members.size() == 1 ? " task holds" : " tasks hold") << " all "
            << connections << " connections of " << pool_list(pools) << " and "
            << (members.size() == 1 ? "waits" : "each waits") << " for one more; nobody can release one";
        break;
    }
    case report_kind::nested_acquisition: {
        if (nested.empty()) break;
        const auto& n = nested.front();
        out << "nested acquisition on pool " << in_quotes(n.pool) << ": " << describe_site(n.inner_site)
            << " acquires while its task holds a connection of the same pool acquired at "
            << describe_site(n.outer_site) << " (Cm = " << n.depth << ", Tn = " << n.tasks << ", safe size "
            << n.safe_size << ", max_size " << n.max_size << ")";
        if (n.safe_size > n.max_size) out << ": this can deadlock";
        break;
    }
    case report_kind::order_inversion: {
        if (cycle.empty()) break;
        const auto& last = cycle.back();
        out << "pool order inversion: acquiring " << in_quotes(last.to) << " at " << describe_site(last.site)
            << " while holding " << in_quotes(last.from) << "; a cycle in the pool-order graph has been observed: ";
        for (const auto& e : cycle) out << in_quotes(e.from) << " -> ";
        out << in_quotes(cycle.front().from);
        break;
    }
    case report_kind::outage: {
        std::size_t waiting = 0;
        for (const auto& p : pools) waiting += p.stats.pending;
        out << "outage: " << pool_list(pools) << " cannot open connections and " << waiting
            << (waiting == 1 ? " task waits" : " tasks wait") << "; this is not a deadlock";
        break;
    }
    }
    return out.str();
}

std::string report::to_string() const {
    std::ostringstream out;
    out << "lifeguard " << headline();
    for (const auto& p : pools) pool_line(out, p);
    switch (kind) {
    case report_kind::deadlock: {
        for (const auto& t : members) task_lines(out, t);
        if (behind.empty()) {
            out << "\n  no other task waits behind them";
        } else {
            out << "\n  " << behind.size() << (behind.size() == 1 ? " more task waits" : " more tasks wait")
                << " behind them, holding none of these connections (first: " << task_name(behind.front());
            if (!behind.front().waits_for.empty())
                out << " for " << in_quotes(behind.front().waits_for) << " at " << describe_site(behind.front().wait_site);
            out << ")";
        }
        for (const auto& n : nested)
            out << "\n  nested acquisition on " << in_quotes(n.pool) << ": " << describe_site(n.inner_site)
                << " while holding " << describe_site(n.outer_site) << " (seen " << n.count
                << (n.count == 1 ? " time)" : " times)");
        for (const auto& p : pools) sizing_line(out, p);
        break;
    }
    case report_kind::nested_acquisition:
        for (const auto& p : pools) sizing_line(out, p);
        break;
    case report_kind::order_inversion:
        for (const auto& e : cycle)
            out << "\n  " << in_quotes(e.to) << " acquired at " << describe_site(e.site) << " while holding "
                << in_quotes(e.from) << " acquired at " << describe_site(e.held_site);
        break;
    case report_kind::outage:
        if (!behind.empty())
            out << "\n  " << behind.size() << (behind.size() == 1 ? " task waits" : " tasks wait")
                << " (first: " << task_name(behind.front()) << " at " << describe_site(behind.front().wait_site)
                << ")";
        break;
    }
    if (!hint.empty()) out << "\n  hint: " << hint;
    if (!action.empty()) out << "\n  action: " << action;
    return out.str();
}

}  // namespace lifeguard::diagnostics
