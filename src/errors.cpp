// The pool's error category and the text of its diagnostics.
#include "lifeguard/errors.hpp"

#include <cstdio>
#include <string>

namespace lifeguard {
namespace {

class pool_category_impl final : public std::error_category {
public:
    const char* name() const noexcept override { return "lifeguard.pool"; }
    std::string message(int ev) const override {
        switch (static_cast<errc>(ev)) {
        case errc::timeout: return "no connection became available within acquire_timeout";
        case errc::pool_closed: return "the pool is closed";
        case errc::pending_limit: return "too many callers are already waiting (max_pending)";
        case errc::deadlock: return "deadlock: this caller holds a connection that other waiters need";
        }
        return "unknown lifeguard pool error";
    }
};

std::string ms(std::chrono::nanoseconds d) {
    return std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(d).count()) + " ms";
}

}  // namespace

const std::error_category& pool_category() noexcept {
    static const pool_category_impl category;
    return category;
}

std::string_view to_string(verdict v) noexcept {
    switch (v) {
    case verdict::exhausted: return "exhausted";
    case verdict::database_unreachable: return "database unreachable";
    case verdict::deadlocked: return "deadlocked";
    case verdict::closed: return "closed";
    case verdict::rejected: return "rejected";
    }
    return "unknown";
}

std::string pool_diagnostics::summary() const {
    std::string s = "pool '" + pool_name + "': ";
    switch (what) {
    case verdict::closed: s += "the pool is closed"; return s;
    case verdict::rejected:
        s += "refused at once: " + std::to_string(stats.pending) + " callers already waiting (max_pending)";
        return s;
    case verdict::deadlocked: s += "deadlocked after " + ms(waited) + ": "; break;
    case verdict::database_unreachable: s += "timed out after " + ms(waited) + ", database unreachable: "; break;
    case verdict::exhausted: s += "timed out after " + ms(waited) + ", pool exhausted: "; break;
    }
    s += std::to_string(stats.active) + "/" + std::to_string(stats.max) + " connections in use, " +
         std::to_string(stats.idle) + " idle, " + std::to_string(stats.pending) + " waiting, " +
         std::to_string(stats.creating) + " being opened";
    if (!last_connect_error.empty()) s += "; last connection error: " + last_connect_error;
    if (what == verdict::exhausted && !holders.empty()) {
        auto oldest = holders.front();
        for (const auto& h : holders)
            if (h.age > oldest.age) oldest = h;
        s += "; longest holder: " + describe_owner(oldest.owner, oldest.owner_label) + " at " + describe_site(oldest.site) +
             " for " + ms(oldest.age);
    }
    return s;
}

std::string pool_diagnostics::to_string() const {
    std::string s = summary();
    s += "\n  acquire at " + describe_site(site) + " by task " + std::to_string(owner);
    if (!holders.empty()) {
        s += "\n  holders (" + std::to_string(holders.size()) + "):";
        for (const auto& h : holders)
            s += "\n    " + describe_owner(h.owner, h.owner_label) + " at " + describe_site(h.site) + ", held " + ms(h.age);
    }
    if (!detail.empty()) s += "\n" + detail;
    return s;
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

std::string describe_owner(owner_id id, std::string_view label) {
    std::string task = "task " + std::to_string(id);
    return label.empty() ? task : std::string(label) + " (" + task + ")";
}

}  // namespace lifeguard
