// Logins for the heal and admission tests: each task holds a transaction's connection and asks
// for more (an id generator's) up to its depth, on a pool whose worker runs on its own thread
// (it opens emergency connections), watched by a detector. An observer keeps the most
// connections the pool had open at once. Nothing sleeps: the first `hold_together` tasks to
// get their transaction wait for each other before nesting, so that a knot forms unless
// admission keeps it from forming.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <latch>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "detector/detector_fixture.hpp"
#include "lifeguard/pool.hpp"
#include "support/fake_driver.hpp"

namespace lifeguard::testing {

using threaded_pool = basic_pool<fake_driver>;

/// The most connections open at once (emergency ones too), counted from opens and closes.
class peak_connections final : public pool_observer {
public:
    void on_connection_created(pool_view&, std::chrono::nanoseconds) override {
        const std::size_t now = ++open_;
        std::size_t seen = peak_.load();
        while (now > seen && !peak_.compare_exchange_weak(seen, now)) {
        }
    }
    void on_connection_closed(pool_view&, close_reason) override { --open_; }
    std::size_t peak() const noexcept { return peak_.load(); }

private:
    std::atomic<std::size_t> open_{0}, peak_{0};
};

struct watched_pool {
    std::unique_ptr<threaded_pool> pool;
    std::shared_ptr<peak_connections> peak = std::make_shared<peak_connections>();
};

/// A pool with a worker thread, watched by `f`'s detector (and the peak counter).
inline watched_pool threaded_watched_pool(detector_fixture& f, pool_options options) {
    watched_pool w;
    options.acquire_timeout = std::chrono::seconds(30);
    w.pool = std::make_unique<threaded_pool>(fake_driver{}, std::move(options));
    w.pool->add_observer(w.peak);
    w.pool->add_observer(f.detector);
    return w;
}

struct login_outcome {
    std::atomic<int> succeeded{0}, failed{0};
    std::atomic<std::size_t> most_transactions{0};  ///< tasks holding their first connection at once
};

/// Task `i` of a run: `depth` connections held at once, the inner ones through an owner_scope
/// of their own ("id generator") when `scoped_inner`.
struct login_task {
    std::size_t depth = 2;
    bool scoped_inner = false;
    int hold_yields = 0;  ///< how long the innermost call holds everything (yields of its thread)
};

/// Takes `left` more connections, one inside the other: each inner call in a scope of its own
/// when `task.scoped_inner` (the scope lives as long as its lease, as an id generator's does).
inline void nest(threaded_pool& pool, const login_task& task, std::size_t left) {
    if (left == 0) {
        for (int i = 0; i < task.hold_yields; ++i) std::this_thread::yield();
        return;
    }
    std::optional<owner_scope> idgen;
    if (task.scoped_inner) idgen.emplace("id generator");
    auto lease = pool.acquire();
    nest(pool, task, left - 1);
}

/// Runs `tasks` logins at once and waits for all of them.
inline void run_logins(threaded_pool& pool, const std::vector<login_task>& tasks, std::size_t hold_together,
                       login_outcome& out) {
    std::latch together(static_cast<std::ptrdiff_t>(hold_together));
    std::atomic<std::size_t> arrived{0}, holding{0};
    std::vector<std::thread> threads;
    for (std::size_t i = 0; i < tasks.size(); ++i)
        threads.emplace_back([&, i] {
            owner_scope login("login " + std::to_string(i));
            bool counted = false;
            try {
                auto tx = pool.acquire();
                counted = true;
                const std::size_t now = ++holding;
                std::size_t most = out.most_transactions.load();
                while (now > most && !out.most_transactions.compare_exchange_weak(most, now)) {
                }
                if (hold_together != 0) {
                    if (++arrived <= hold_together) together.count_down();
                    together.wait();
                }
                nest(pool, tasks[i], tasks[i].depth - 1);
                --holding;
                counted = false;
                tx.release();
                ++out.succeeded;
            } catch (const pool_error&) {
                ++out.failed;
            }
            if (counted) --holding;
        });
    for (auto& t : threads) t.join();
}

inline std::vector<login_task> same_logins(std::size_t n, login_task t) { return std::vector<login_task>(n, t); }

}  // namespace lifeguard::testing
