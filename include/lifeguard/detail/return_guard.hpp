// Lets a pool that is being destroyed wait for threads that are in the middle of returning a
// lease to it, without any read-modify-write on the return path: each thread announces, in a
// thread-local word, which pool it is returning to; the dying pool waits until no thread
// announces it. A thread registers its word once, on its first return; the word is constant-
// initialised, so reaching it costs no thread-local initialisation call.
#pragma once

#include <atomic>

namespace lifeguard::detail {

struct return_announcement {
    std::atomic<const void*> pool{nullptr};
};

inline thread_local constinit return_announcement this_thread_returning;
inline thread_local constinit bool this_thread_announces = false;

/// Adds this thread's announcement word to the registry (until the thread exits).
void register_return_announcement() noexcept;

/// Blocks until no thread other than the one owning `except` announces `pool`. Call once no
/// new return can start (no lease of `pool` is out).
void wait_for_returns(const void* pool, const return_announcement* except = nullptr) noexcept;

class return_scope {
public:
    explicit return_scope(const void* pool) noexcept : a_(this_thread_returning) {
        if (!this_thread_announces) [[unlikely]]
            register_return_announcement();
        a_.pool.store(pool, std::memory_order_relaxed);
        std::atomic_signal_fence(std::memory_order_seq_cst);
    }
    ~return_scope() { a_.pool.store(nullptr, std::memory_order_release); }
    return_scope(const return_scope&) = delete;
    return_scope& operator=(const return_scope&) = delete;

private:
    return_announcement& a_;
};

}  // namespace lifeguard::detail
