// A lease: the move-only RAII handle to one borrowed connection. Destroying it (or calling
// release()) gives the connection back; invalidate() makes the pool close it instead of lending
// it again. A lease may be moved to another thread; it keeps the owner that acquired it.
#pragma once

#include <chrono>
#include <source_location>
#include <utility>

#include "lifeguard/owner.hpp"

namespace lifeguard {

template <class Pool>
class basic_lease {
public:
    using pool_type = Pool;
    using connection_type = typename Pool::connection_type;

    basic_lease() noexcept = default;
    basic_lease(basic_lease&& other) noexcept
        : core_(std::exchange(other.core_, nullptr)),
          slot_(std::exchange(other.slot_, nullptr)),
          invalid_(other.invalid_) {}
    basic_lease& operator=(basic_lease&& other) noexcept {
        if (this != &other) {
            release();
            core_ = std::exchange(other.core_, nullptr);
            slot_ = std::exchange(other.slot_, nullptr);
            invalid_ = other.invalid_;
        }
        return *this;
    }
    basic_lease(const basic_lease&) = delete;
    basic_lease& operator=(const basic_lease&) = delete;
    ~basic_lease() { release(); }

    explicit operator bool() const noexcept { return slot_ != nullptr; }

    /// The connection. Precondition: the lease holds one.
    connection_type& operator*() const noexcept { return *slot_->connection; }
    connection_type* operator->() const noexcept { return &*slot_->connection; }
    connection_type& get() const noexcept { return *slot_->connection; }

    /// Marks the connection broken: it is closed instead of being lent again.
    void invalidate() noexcept { invalid_ = true; }
    bool invalidated() const noexcept { return invalid_; }

    /// Gives the connection back now. Thread-safety: the lease is not shared; any thread may
    /// release it. Never throws.
    void release() noexcept {
        if (slot_) {
            auto* core = std::exchange(core_, nullptr);
            auto* slot = std::exchange(slot_, nullptr);
            core->release(*slot, invalid_);
            invalid_ = false;
        }
    }

    /// Who acquired it (a task id; see owner.hpp).
    owner_id owner() const noexcept { return slot_ ? slot_->owner.load(std::memory_order_relaxed) : 0; }
    /// Where it was acquired.
    std::source_location site() const noexcept {
        return slot_ ? slot_->site.load(std::memory_order_relaxed) : std::source_location{};
    }
    /// When it was acquired, on the pool's clock (coarse: within a few milliseconds).
    std::chrono::nanoseconds acquired_at() const noexcept {
        return std::chrono::nanoseconds(slot_ ? slot_->acquired_at.load(std::memory_order_relaxed) : 0);
    }

private:
    friend Pool;
    using core_type = typename Pool::core_type;
    using slot_type = typename core_type::slot_type;

    basic_lease(core_type* core, slot_type* slot) noexcept : core_(core), slot_(slot) {}

    core_type* core_ = nullptr;
    slot_type* slot_ = nullptr;
    bool invalid_ = false;
};

}  // namespace lifeguard
