// The registry behind thread_counter: the live counters, the threads that hold cells, and the
// folding of an exiting thread's cells; see detail/thread_counter.hpp.
#include "lifeguard/detail/thread_counter.hpp"

#include <mutex>
#include <unordered_map>

namespace lifeguard::detail {
namespace {

std::atomic<std::uint64_t> next_counter_id{1};

struct counter_registry {
    std::mutex mutex;
    std::unordered_map<std::uint64_t, std::atomic<std::uint64_t>*> bases;  ///< live counters, by id
};

// Never destroyed: threads may exit (and fold their cells) after static destruction began.
counter_registry& registry() {
    static auto* r = new counter_registry();
    return *r;
}

}  // namespace

thread_counter::cells*& thread_counter::registered_threads() noexcept {
    static constinit cells* head = nullptr;  // trivially destructible: still there for late exits
    return head;
}

struct thread_counter::exit_hook {
    ~exit_hook() {
        cells& mine = thread_cells;
        if (!mine.registered) return;
        auto& r = registry();
        std::lock_guard lock(r.mutex);
        for (std::size_t i = 0; i < cells_per_thread; ++i) {
            const std::uint64_t owner = mine.owner[i].load(std::memory_order_relaxed);
            if (owner == 0) continue;
            if (const auto it = r.bases.find(owner); it != r.bases.end())
                it->second->fetch_add(mine.value[i].load(std::memory_order_relaxed), std::memory_order_relaxed);
            mine.owner[i].store(0, std::memory_order_relaxed);
        }
        cells** link = &registered_threads();
        while (*link != &mine) link = &(*link)->next;
        *link = mine.next;
        mine.registered = false;
        mine.exited = true;
    }
};

namespace {
thread_local thread_counter::exit_hook exit_guard;  // first touched when a thread first claims a cell
}

thread_counter::thread_counter() : id_(next_counter_id.fetch_add(1, std::memory_order_relaxed)) {
    auto& r = registry();
    std::lock_guard lock(r.mutex);
    r.bases.emplace(id_, &base_);
}

thread_counter::~thread_counter() {
    auto& r = registry();
    std::lock_guard lock(r.mutex);
    r.bases.erase(id_);
    for (cells* t = registered_threads(); t; t = t->next)
        for (auto& owner : t->owner)
            if (owner.load(std::memory_order_relaxed) == id_) owner.store(0, std::memory_order_relaxed);
}

void thread_counter::add_slow(std::uint64_t n) noexcept {
    cells& mine = thread_cells;
    if (!mine.exited) {
        std::lock_guard lock(registry().mutex);
        for (std::size_t i = 0; i < cells_per_thread; ++i) {
            if (mine.owner[i].load(std::memory_order_relaxed) != 0) continue;
            if (!mine.registered) {
                mine.next = registered_threads();
                registered_threads() = &mine;
                mine.registered = true;
                [[maybe_unused]] exit_hook* touch = &exit_guard;  // registers its destructor
            }
            // Under the mutex, so that no read sees the cell with a former counter's value.
            mine.value[i].store(n, std::memory_order_relaxed);
            mine.owner[i].store(id_, std::memory_order_relaxed);
            return;
        }
    }
    base_.fetch_add(n, std::memory_order_relaxed);  // no cell free, or exiting: a locked add, as before
}

std::uint64_t thread_counter::read() const noexcept {
    auto& r = registry();
    std::lock_guard lock(r.mutex);
    std::uint64_t sum = base_.load(std::memory_order_relaxed);
    for (const cells* t = registered_threads(); t; t = t->next)
        for (std::size_t i = 0; i < cells_per_thread; ++i)
            if (t->owner[i].load(std::memory_order_relaxed) == id_) sum += t->value[i].load(std::memory_order_relaxed);
    return sum;
}

std::size_t thread_counter::registered_thread_count() noexcept {
    std::lock_guard lock(registry().mutex);
    std::size_t count = 0;
    for (const cells* t = registered_threads(); t; t = t->next) ++count;
    return count;
}

}  // namespace lifeguard::detail
