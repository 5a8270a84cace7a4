// Text rendering of detector reports, and the small formatting helpers they share.
#include "lifeguard/diagnostics/report.hpp"

#include <cstdio>
#include <sstream>
#include <vector>

#include "lifeguard/options.hpp"
#include "lifeguard/sizing.hpp"

namespace lifeguard::diagnostics {
namespace {

std::string in_quotes(std::string_view s) {
    std::string out;
    out.reserve(s.size() + 2);
    out += '"';
    out += s;
    out += '"';
    return out;
}

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

std::string task_name(const task_report& t) {
    std::string s = "task ";
    s += std::to_string(t.owner);
    if (!t.label.empty()) {
        s += ' ';
        s += in_quotes(t.label);
    }
    return s;
}

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

std::string describe_site(const std::source_location& site) {
    const std::string_view file = site.file_name();
    const std::string_view fn = site.function_name();
    if (file.empty() && fn.empty()) return "unknown site";
    std::string out(file.substr(file.find_last_of('/') == std::string_view::npos ? 0 : file.find_last_of('/') + 1));
    out += ':';
    out += std::to_string(site.line());
    if (fn.empty()) return out;
    // "void app::login(int) [with T = x]" -> "app::login()": name without return type, parameters
    // or template arguments of the signature; keep the text as is if it does not parse.
    std::string_view f = fn.substr(0, fn.find(" [with "));
    int depth = 0;
    std::size_t open = std::string_view::npos;
    for (std::size_t i = 0; i < f.size() && open == std::string_view::npos; ++i) {
        if (f[i] == '<') ++depth;
        else if (f[i] == '>') --depth;
        else if (f[i] == '(' && depth == 0 && i > 0) open = i;
    }
    if (open == std::string_view::npos) {
        out += ' ';
        out += f;
        return out;
    }
    std::size_t start = 0;
    depth = 0;
    for (std::size_t i = open; i-- > 0;) {
        if (f[i] == '>') ++depth;
        else if (f[i] == '<') --depth;
        else if (f[i] == ' ' && depth == 0) {
            start = i + 1;
            break;
        }
    }
    // Keep the last two qualifiers ("repo::save", "Class::method"): enough to find it, short
    // enough to read; anonymous namespaces say nothing.
    const std::string_view name = f.substr(start, open - start);
    std::vector<std::string_view> parts;
    depth = 0;
    std::size_t from = 0;
    for (std::size_t i = 0; i + 1 < name.size(); ++i) {
        if (name[i] == '<') ++depth;
        else if (name[i] == '>') --depth;
        else if (depth == 0 && name[i] == ':' && name[i + 1] == ':') {
            parts.push_back(name.substr(from, i - from));
            from = i + 2;
            ++i;
        }
    }
    parts.push_back(name.substr(from));
    std::erase_if(parts, [](std::string_view p) { return p.empty() || p == "{anonymous}"; });
    out += ' ';
    for (std::size_t i = parts.size() > 2 ? parts.size() - 2 : 0; i < parts.size(); ++i) {
        out += parts[i];
        if (i + 1 < parts.size()) out += "::";
    }
    out += "()";
    return out;
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
