// Debug check behind observer.hpp's promise that hooks never run while the pool holds its
// mutex: does this thread hold `m`? A hook run under the lock deadlocks the moment it calls
// back into the pool, and a slow one (a log sink) stalls every waiter.
//
// std::mutex cannot say who holds it, but glibc records the holder's thread id in the mutex
// (pthread_mutex_t::__data.__owner: set by lock and by a condition variable's re-lock, cleared
// by unlock), so the answer costs one load and needs no bookkeeping at the lock sites. Where
// that is not available the answer is "no" (no check).
#pragma once

#include <mutex>

#if defined(__GLIBC__)
#include <pthread.h>
#include <unistd.h>
#endif

namespace lifeguard::detail {

/// True when the calling thread holds `m` (glibc); false elsewhere. For assertions only: the
/// load is relaxed, exact for the calling thread's own lock, a snapshot for anyone else's.
inline bool held_by_this_thread(std::mutex& m) noexcept {
#if defined(__GLIBC__)
    static thread_local const int self = static_cast<int>(gettid());
    return __atomic_load_n(&m.native_handle()->__data.__owner, __ATOMIC_RELAXED) == self;
#else
    (void)m;
    return false;
#endif
}

/// Whether held_by_this_thread() can tell (tests skip what it cannot check).
inline constexpr bool lock_check_available =
#if defined(__GLIBC__)
    true;
#else
    false;
#endif

}  // namespace lifeguard::detail
