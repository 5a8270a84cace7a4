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

std::string site_text(const std::source_location& s) {
    if (s.line() == 0) return "(unknown site)";
    std::string file = s.file_name();
    if (auto slash = file.find_last_of('/'); slash != std::string::npos) file.erase(0, slash + 1);
    std::string fn = s.function_name();
    // "void f(int)" → "f"
    if (auto paren = fn.find('('); paren != std::string::npos) fn.erase(paren);
    if (auto space = fn.find_last_of(' '); space != std::string::npos) fn.erase(0, space + 1);
    return file + ":" + std::to_string(s.line()) + (fn.empty() ? "" : " " + fn + "()");
}

std::string owner_text(owner_id id, const std::string& label) {
    return label.empty() ? "task " + std::to_string(id) : label + " (task " + std::to_string(id) + ")";
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
        s += "; longest holder: " + owner_text(oldest.owner, oldest.owner_label) + " at " + site_text(oldest.site) +
             " for " + ms(oldest.age);
    }
    return s;
}

std::string pool_diagnostics::to_string() const {
    std::string s = summary();
    s += "\n  acquire at " + site_text(site) + " by task " + std::to_string(owner);
    if (!holders.empty()) {
        s += "\n  holders (" + std::to_string(holders.size()) + "):";
        for (const auto& h : holders)
            s += "\n    " + owner_text(h.owner, h.owner_label) + " at " + site_text(h.site) + ", held " + ms(h.age);
    }
    if (!detail.empty()) s += "\n" + detail;
    return s;
}

std::string describe_site(const std::source_location& site) { return site_text(site); }

}  // namespace lifeguard
