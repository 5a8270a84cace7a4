// A counter that many threads add to without a locked instruction, for a count the hot path
// keeps and only statistics read.
//
// Why. A relaxed fetch_add is a locked read-modify-write. The pool's count of nested
// acquisitions is added to on every nested borrow the detector sees, and on the 2-vCPU guests
// lifeguard is measured on that one instruction was about a third of what the detector costs a
// nested borrow (perf, bench/detector nested/on: 8.6 ns of the borrow + return in the count,
// 2.0 ns with this counter). bench/detector's nested_count pair: a relaxed fetch_add 7.7-8.1 ns,
// add() 1.8 ns (CPU time, one process, medians).
//
// How. Each thread keeps a few cells of its own, each tagged with the id of the counter it
// counts for; add() finds this thread's cell for the counter and bumps it with a relaxed load
// and store (no other thread writes it). read() sums the counter's base and every thread's cell
// for it, under one process-wide mutex. A thread that exits folds its cells into their counters'
// bases under that mutex, so a read sees each addition exactly once and never goes backwards.
// A thread with no cell free for a counter, or one whose exit hook already ran (an add from a
// later thread_local destructor), adds to the base with a fetch_add (correct, as slow as before). Counters are never confused: ids come from one process-wide sequence and are not
// reused; a destroyed counter frees the cells tagged with its id.
//
// Contract: add() never runs concurrently with the counter's destruction (the pool destroys
// its counters after its last hook returned).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

namespace lifeguard::detail {

class thread_counter {
public:
    thread_counter();
    ~thread_counter();
    thread_counter(const thread_counter&) = delete;
    thread_counter& operator=(const thread_counter&) = delete;

    /// Adds `n`. Lock-free; a relaxed load and store once this thread has a cell here.
    void add(std::uint64_t n = 1) noexcept {
        cells& mine = thread_cells;
        for (std::size_t i = 0; i < cells_per_thread; ++i) {
            if (mine.owner[i].load(std::memory_order_relaxed) == id_) [[likely]] {
                mine.value[i].store(mine.value[i].load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
                return;
            }
        }
        add_slow(n);
    }

    /// Everything added so far by threads whose add() returned before this call began (and
    /// perhaps some added meanwhile). Takes the process-wide counter mutex.
    std::uint64_t read() const noexcept;

    /// How many cells one thread has: the counters it can add to without a locked instruction.
    static constexpr std::size_t cells_per_thread = 4;

    /// The cells the calling thread holds for live counters (for tests).
    static std::size_t cells_held_by_this_thread() noexcept {
        std::size_t held = 0;
        for (const auto& owner : thread_cells.owner) held += owner.load(std::memory_order_relaxed) != 0;
        return held;
    }

    /// Threads holding cells now, in the registry that read() walks (for tests).
    static std::size_t registered_thread_count() noexcept;

    struct exit_hook;  // implementation: folds an exiting thread's cells into their counters

private:
    /// One thread's cells. Trivially constructible and destructible, so reading them on the hot
    /// path costs a plain thread-local access; the exit hook is registered on the first claim.
    struct cells {
        std::atomic<std::uint64_t> owner[cells_per_thread];  ///< a counter's id; 0 = free
        std::atomic<std::uint64_t> value[cells_per_thread];  ///< written only by this thread
        cells* next;                                          ///< in the list of registered threads
        bool registered;
        bool exited;  ///< the exit hook ran: later adds (from other thread_local destructors) go to base_
    };
    static constinit inline thread_local cells thread_cells{};

    /// The head of the list of threads that claimed a cell (guarded by the registry's mutex).
    static cells*& registered_threads() noexcept;
    void add_slow(std::uint64_t n) noexcept;

    const std::uint64_t id_;
    std::atomic<std::uint64_t> base_{0};  ///< exited threads' cells, and adds that found no cell
};

}  // namespace lifeguard::detail
