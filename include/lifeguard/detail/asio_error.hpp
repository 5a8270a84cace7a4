// lifeguard's error codes as Boost.System codes, for asynchronous completions.
//
// Why: Asio 1.18's completion tokens treat a `boost::system::error_code` first argument as the
// operation's error (use_awaitable and use_future throw it), but pass a `std::error_code` through
// as an ordinary value. So async completions carry Boost codes, in a category that mirrors
// lifeguard::pool_category() (same name, same messages); to_std() gives the std code back.
#pragma once

#include <boost/system/error_code.hpp>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <system_error>

#include "lifeguard/errors.hpp"

namespace lifeguard::detail {

// Boost 1.74's error_category has a public non-virtual destructor (categories are never deleted
// through it); deriving from it is what Boost.System asks for.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wnon-virtual-dtor"

/// pool_category() for Boost.System. The fixed id makes categories compare equal across shared
/// libraries, each of which may hold its own copy of the instance.
class boost_pool_category final : public boost::system::error_category {
public:
    constexpr boost_pool_category() noexcept : boost::system::error_category(0x4c49'4645'4755'4152ULL) {}
    const char* name() const noexcept override { return pool_category().name(); }
    std::string message(int ev) const override { return pool_category().message(ev); }
};

inline const boost::system::error_category& boost_pool_category_instance() noexcept {
    static const boost_pool_category instance;
    return instance;
}

/// Any other std category (an observer may fail a waiter with a code of its own).
class boost_foreign_category final : public boost::system::error_category {
public:
    explicit boost_foreign_category(const std::error_category& c) noexcept : std_(&c) {}
    const char* name() const noexcept override { return std_->name(); }
    std::string message(int ev) const override { return std_->message(ev); }
    const std::error_category& std_category() const noexcept { return *std_; }

private:
    const std::error_category* std_;
};

inline const boost::system::error_category& boost_category_for(const std::error_category& c) {
    static std::mutex mutex;
    static std::map<const std::error_category*, std::unique_ptr<boost_foreign_category>> made;
    std::lock_guard lock(mutex);
    auto& slot = made[&c];
    if (!slot) slot = std::make_unique<boost_foreign_category>(c);
    return *slot;
}

#pragma GCC diagnostic pop

inline boost::system::error_code to_boost(const std::error_code& ec) {
    if (!ec) return {};
    const std::error_category& c = ec.category();
    if (c == pool_category()) return {ec.value(), boost_pool_category_instance()};
    if (c == std::generic_category()) return {ec.value(), boost::system::generic_category()};
    if (c == std::system_category()) return {ec.value(), boost::system::system_category()};
    return {ec.value(), boost_category_for(c)};
}

inline std::error_code to_std(const boost::system::error_code& ec) {
    if (!ec) return {};
    if (ec.category() == boost_pool_category_instance()) return {ec.value(), pool_category()};
    if (const auto* f = dynamic_cast<const boost_foreign_category*>(&ec.category()))
        return {ec.value(), f->std_category()};
    return ec;  // Boost.System's own interoperability
}

}  // namespace lifeguard::detail
