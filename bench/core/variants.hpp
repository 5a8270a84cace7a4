// The peers the core benchmark compares lifeguard with, and the best-case reference design it
// is measured against (lifeguard itself is in lifeguard_variant.hpp), each behind the same calls so one benchmark body drives them all:
//     explicit variant(std::size_t size);   // all `size` connections exist when it returns
//     std::string ready();                  // "" when measuring may start, else why not
//     void with_lease(F f);                 // borrow, call f(connection&), give back
// with_lease uses each pool's own RAII handle, so the borrow+return measured is exactly what
// a user of that pool pays. The connection is trivial (an int, or for SOCI an unopened
// session): only the pool's bookkeeping is measured.
#pragma once

#include <chrono>
#include <cstddef>
#include <numeric>
#include <string>
#include <string_view>
#include <vector>

#include "reference_pool.hpp"
#include "reference_pool_check.hpp"
#include "textbook_pool.hpp"

#if LIFEGUARD_BENCH_WITH_SOCI
#include <soci/connection-pool.h>
#endif

namespace lifeguard_bench {

/// Connections 0, 1, ..., size - 1.
inline std::vector<int> numbered(std::size_t size) {
    std::vector<int> connections(size);
    std::iota(connections.begin(), connections.end(), 0);
    return connections;
}

/// A mutex + condition variable pool (textbook_pool.hpp) with a 30 s acquire timeout.
class textbook_variant {
public:
    static constexpr std::string_view name = "textbook";

    explicit textbook_variant(std::size_t size) : pool_(numbered(size)) {}
    std::string ready() const { return {}; }

    template <class F>
    void with_lease(F&& f) {
        auto handle = pool_.acquire(std::chrono::seconds(30));
        f(*handle);
    }

private:
    textbook_pool<int> pool_;
};

/// The best-case design (reference_pool.hpp): the floor the others are measured against. Before
/// the first run it passes a short stress check (reference_pool_check.hpp) once per process;
/// if that fails, every reference row is reported as an error instead of a number.
class reference_variant {
public:
    static constexpr std::string_view name = "reference";

    explicit reference_variant(std::size_t size) : pool_(numbered(size)) {}
    std::string ready() const {
        static const std::string failure = check_reference_pool_shapes(2000, 100);
        return failure.empty() ? failure : "reference pool failed its self-check: " + failure;
    }

    template <class F>
    void with_lease(F&& f) {
        auto lease = pool_.acquire();
        f(*lease);
    }

private:
    reference_pool<int> pool_;
};

#if LIFEGUARD_BENCH_WITH_SOCI
/// SOCI 4.0's soci::connection_pool. Its constructor makes `size` soci::session objects that
/// are never opened: lease()/give_back() only do the pool's bookkeeping (a pthread mutex, a
/// scan for a free slot, a condition variable), which is what is compared. lease() is what
/// `soci::session sql(pool)` calls; it waits without a deadline, which is SOCI's cheapest
/// path (try_lease with a timeout reads the wall clock on every call). at() is how SOCI hands
/// out the leased session, so it is part of the borrow.
class soci_variant {
public:
    static constexpr std::string_view name = "soci";

    explicit soci_variant(std::size_t size) : pool_(size) {}
    std::string ready() const { return {}; }

    template <class F>
    void with_lease(F&& f) {
        const lease leased(pool_);
        f(pool_.at(leased.position));
    }

private:
    // SOCI has no RAII lease of its own (soci::session(pool) is one, but also builds a whole
    // session object); this is the equivalent a SOCI user writes around lease()/give_back().
    struct lease {
        explicit lease(soci::connection_pool& from) : owner(from), position(from.lease()) {}
        lease(const lease&) = delete;
        lease& operator=(const lease&) = delete;
        ~lease() { owner.give_back(position); }
        soci::connection_pool& owner;
        std::size_t position;
    };

    soci::connection_pool pool_;
};
#endif

}  // namespace lifeguard_bench
