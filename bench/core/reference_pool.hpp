// The best-case design the core benchmark measures lifeguard against (issue 15, "Speed"): the
// least a fixed-size pool can do for a borrow and a return, so its ns/op is the floor, not a
// peer anyone ships. No timeout, no validation, no metrics, no fairness.
//
//   - one cache-line-aligned slot per connection, holding its state (free / used) and the
//     connection, so two threads using two connections never share a line;
//   - borrow: compare-and-swap free -> used, starting at the slot this thread last got (its
//     own return usually left it free) and scanning onward, wrapping once;
//   - return: one release store of `free` (a plain store on x86), then one load of the
//     parked-borrower count: the kernel is entered only when that count is not zero;
//   - a borrower that finds every slot used rescans a few times, then parks on a futex (Linux;
//     std::atomic::wait elsewhere) until a returner wakes it, then scans again.
//
// Why no wakeup is lost (the returner may skip the kernel, so this must hold):
//
//   Returner R:  (r1) slot.state.store(free, release)   (rf) light fence
//                (r2) if (parked_.load() != 0) wake
//   Borrower B:  (b1) parked_.fetch_add(1, seq_cst)      (bf) heavy fence, once per borrow
//                (b2) gen = wakeups_.load(acquire)       (b3) scan again
//                (b4) futex_wait(wakeups_, gen), then back to b2
//   Waking is   (w1) wakeups_.fetch_add(1, release)      (w2) futex_wake(wakeups_, 1)
//
//   r1 then r2 is a store then a load of another variable, which the CPU may reorder (the load
//   can be answered before the store leaves the store buffer): without a store-load fence, R
//   could read "nobody parked" while B, having registered, scans and still sees the slot used.
//   A full fence there costs as much as a second CAS (an mfence or xchg, ~5 ns here: it doubles
//   the borrow+return). So the fences are asymmetric: the returner's (rf) is only a compiler
//   barrier and the borrower's (bf) is membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED), which
//   returns only after every thread of this process running on another CPU has executed a full
//   memory barrier (threads not running have passed one in the context switch). The borrower
//   pays a few microseconds, once, on a path that is about to sleep in the kernel anyway.
//
//   Take R's barrier point: the instant its CPU ran the barrier bf forced on it (or was switched
//   out). Both r1 and r2 are on the same side of it (rf stops the compiler from moving r2 above
//   r1, and the barrier itself stops the CPU). If they are before it, r1 is visible to all when
//   bf returns, so b3 (after bf) reads `free` or a later write (a CAS by another borrower C,
//   which then holds the slot and will return it with its own r1/r2, after bf: the next case).
//   If they are after it, b1 was visible before bf started (the syscall is a full barrier for B),
//   so r2 reads B's increment (B takes it back only once it holds a slot) and R wakes. This is
//   the classic store-load pairing with the fence split in two: as if rf and bf were both
//   seq_cst fences. Where membarrier is unavailable (other OS, old kernel, seccomp), both rf and
//   bf are std::atomic_thread_fence(seq_cst) and the same argument holds by the standard's fence
//   rules (the slow, always-correct form).
//
//   One bf per borrow is enough: after it, every return that did not see B's registration has
//   made its `free` visible to B's every later scan. R's wake cannot slip in between B's b3 and
//   b4 either: if b2 read a value from before w1, futex_wait sees wakeups_ changed and returns at
//   once (the kernel compares and sleeps atomically); if b2 read w1's value, it synchronises with
//   w1, r1 happens before b3, and b3 finds the slot free (or taken by a borrower who will return
//   it, as above).
//
//   A woken borrower stays counted in parked_ while it scans again and, if it loses the slot to
//   a borrower that was not parked, while it parks again; so every later return sees it. Every
//   return made while someone is parked wakes one, so a free slot never sits unseen while a
//   borrower sleeps. The stress check (reference_pool_check.hpp) is the executable side of this.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <utility>
#include <vector>

#if defined(__linux__)
#include <linux/futex.h>
#include <linux/membarrier.h>
#include <sys/syscall.h>
#include <unistd.h>
#endif

namespace lifeguard_bench {

namespace reference_detail {

// Fixed rather than std::hardware_destructive_interference_size, which GCC warns may change
// between compiler flags; 64 bytes is the line of every x86-64 and most ARM64 cores.
inline constexpr std::size_t cache_line = 64;

// Park / wake on a 32-bit word: the kernel re-checks `*word == expected` before sleeping.
inline void park_while_equal(std::atomic<std::uint32_t>& word, std::uint32_t expected) noexcept {
#if defined(__linux__)
    static_assert(sizeof(std::atomic<std::uint32_t>) == sizeof(std::uint32_t)
                  && std::atomic<std::uint32_t>::is_always_lock_free);
    // EINTR, EAGAIN (the word already changed) and spurious returns all mean "scan again".
    syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(&word), FUTEX_WAIT_PRIVATE, expected, nullptr,
            nullptr, 0);
#else
    word.wait(expected, std::memory_order_acquire);
#endif
}

inline void wake_one(std::atomic<std::uint32_t>& word) noexcept {
#if defined(__linux__)
    syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(&word), FUTEX_WAKE_PRIVATE, 1, nullptr, nullptr, 0);
#else
    word.notify_one();
#endif
}

// Interleave: called where another thread's step matters most (between seeing a slot free and
// taking it; between the last scan and parking). The benchmark's is a no-op the compiler
// removes; the stress check (reference_pool_check.hpp) yields there, so that races a broken
// pool would lose in a window of a few instructions show up in a short run.
struct no_interleave {
    static void point() noexcept {}
};

// Whether membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED) works here; asks (and registers this
// process for it) once.
inline bool asymmetric_fences_available() noexcept {
#if defined(__linux__)
    static const bool available = [] {
        const long commands = syscall(SYS_membarrier, MEMBARRIER_CMD_QUERY, 0, 0);
        return commands >= 0 && (commands & MEMBARRIER_CMD_PRIVATE_EXPEDITED) != 0
               && syscall(SYS_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0, 0) == 0;
    }();
    return available;
#else
    return false;
#endif
}

// The borrower's side of the fence pair (bf in the header comment).
inline void heavy_fence(bool asymmetric) noexcept {
    std::atomic_thread_fence(std::memory_order_seq_cst);
#if defined(__linux__)
    if (asymmetric) syscall(SYS_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0);
#else
    (void)asymmetric;
#endif
}

// The returner's side (rf): a compiler barrier when the borrower's side is membarrier.
inline void light_fence(bool asymmetric) noexcept {
    if (asymmetric)
        std::atomic_signal_fence(std::memory_order_seq_cst);
    else
        std::atomic_thread_fence(std::memory_order_seq_cst);
}

// Between two rescans of an exhausted pool: tells the CPU this is a spin.
inline void spin_pause() noexcept {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

// Which fence pair a pool uses: the asymmetric one when this process may (the fast return),
// or the symmetric seq_cst fences everywhere (so the stress check can run that form too).
enum class fences { asymmetric_if_available, symmetric };

// Spreads threads' first scans over the slots, so N threads do not all start at slot 0.
inline std::atomic<std::size_t> next_first_hint{0};

}  // namespace reference_detail

template <class Connection, class Interleave = reference_detail::no_interleave>
class reference_pool {
public:
    // Move-only RAII lease: gives the slot back when it goes out of scope.
    class lease {
    public:
        lease(reference_pool& pool, std::size_t index) noexcept : pool_(&pool), index_(index) {}
        lease(lease&& other) noexcept : pool_(std::exchange(other.pool_, nullptr)), index_(other.index_) {}
        lease& operator=(lease&&) = delete;
        ~lease() {
            if (pool_ != nullptr) pool_->give_back(index_);
        }

        Connection& operator*() noexcept { return pool_->slots_[index_].connection; }

    private:
        reference_pool* pool_;
        std::size_t index_;
    };

    // Takes ownership of the connections; at least one is needed (a pool of none could only
    // park forever).
    explicit reference_pool(std::vector<Connection> connections,
                            reference_detail::fences fence_pair = reference_detail::fences::asymmetric_if_available)
        : size_(connections.size()),
          asymmetric_fences_(fence_pair == reference_detail::fences::asymmetric_if_available
                             && reference_detail::asymmetric_fences_available()),
          slots_(std::make_unique<slot[]>(connections.size())) {
        if (size_ == 0)
            throw std::invalid_argument("reference_pool: connections is empty (a pool needs at least one)");
        for (std::size_t i = 0; i < size_; ++i) slots_[i].connection = std::move(connections[i]);
    }

    std::size_t size() const noexcept { return size_; }
    bool uses_asymmetric_fences() const noexcept { return asymmetric_fences_; }

    // Blocks (parked, no deadline) until a connection is free.
    lease acquire() {
        std::size_t& hint = last_slot_of_this_thread;
        if (hint >= size_)  // first borrow by this thread, or its hint is from a larger pool
            hint = reference_detail::next_first_hint.fetch_add(1, std::memory_order_relaxed) % size_;
        if (try_take_from(hint)) return lease(*this, hint);
        for (int spin = 0; spin < spins_before_parking; ++spin) {
            reference_detail::spin_pause();
            if (try_take_from(hint)) return lease(*this, hint);
        }

        parked_.fetch_add(1, std::memory_order_seq_cst);  // b1
        reference_detail::heavy_fence(asymmetric_fences_);  // bf
        for (;;) {
            const std::uint32_t generation = wakeups_.load(std::memory_order_acquire);  // b2
            if (try_take_from(hint)) {                                                    // b3
                parked_.fetch_sub(1, std::memory_order_relaxed);
                return lease(*this, hint);
            }
            Interleave::point();
            reference_detail::park_while_equal(wakeups_, generation);  // b4
        }
    }

private:
    enum : std::uint32_t { free_state = 0, used_state = 1 };
    // Rescans of an exhausted pool before parking: with no hold, the holder gives the slot back
    // within tens of nanoseconds, far sooner than a park and a wake take.
    static constexpr int spins_before_parking = 16;

    struct alignas(reference_detail::cache_line) slot {
        std::atomic<std::uint32_t> state{free_state};
        Connection connection{};
    };

    // One pass over all slots starting at `index`; on success `index` is the slot taken.
    bool try_take_from(std::size_t& index) noexcept {
        std::size_t i = index;
        for (std::size_t tried = 0; tried < size_; ++tried) {
            std::atomic<std::uint32_t>& state = slots_[i].state;
            // The load first, so a used slot costs a shared read, not an exclusive CAS.
            if (state.load(std::memory_order_relaxed) == free_state) {
                Interleave::point();
                std::uint32_t expected = free_state;
                if (state.compare_exchange_strong(expected, used_state, std::memory_order_acquire,
                                                  std::memory_order_relaxed)) {
                    index = i;
                    return true;
                }
            }
            if (++i == size_) i = 0;
        }
        return false;
    }

    void give_back(std::size_t index) noexcept {
        slots_[index].state.store(free_state, std::memory_order_release);  // r1
        reference_detail::light_fence(asymmetric_fences_);                  // rf
        if (parked_.load(std::memory_order_relaxed) != 0) {                 // r2
            wakeups_.fetch_add(1, std::memory_order_release);               // w1
            reference_detail::wake_one(wakeups_);                           // w2
        }
    }

    static inline thread_local std::size_t last_slot_of_this_thread = static_cast<std::size_t>(-1);

    const std::size_t size_;
    const bool asymmetric_fences_;
    std::unique_ptr<slot[]> slots_;
    // Written only when the pool is exhausted; on their own lines so they do not slow the slots.
    alignas(reference_detail::cache_line) std::atomic<std::uint32_t> parked_{0};
    alignas(reference_detail::cache_line) std::atomic<std::uint32_t> wakeups_{0};
};

}  // namespace lifeguard_bench
