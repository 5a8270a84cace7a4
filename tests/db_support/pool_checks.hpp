// What the MariaDB and PostgreSQL pool tests check alike, written once: a pool lends distinct
// working connections, never opens more than its size under load, reports a server out of
// slots and a wrong password clearly, and keeps the password out of every text. The tests
// pass what differs: how to name a connection, the server's words, the target's prefix.
#pragma once

#include <gtest/gtest.h>

#include <atomic>
#include <cstddef>
#include <exception>
#include <string>
#include <thread>
#include <vector>

#include "db_support.hpp"
#include "lifeguard/pool.hpp"

namespace lifeguard::test {

// Two leases at once are two working connections (`id_of(lease)` names one on the server),
// counted active while lent; the pool's target starts with `target_prefix` (e.g. "mysql ").
template <class Pool, class IdOf>
void expect_lends_and_takes_back(Pool& pool, IdOf id_of, const std::string& target_prefix) {
    {
        auto a = pool.acquire();
        auto b = pool.acquire();
        EXPECT_EQ(exec(a, "SELECT 1").value(), "1");
        EXPECT_NE(id_of(a), id_of(b));
        EXPECT_EQ(pool.stats().active, 2u);
    }
    EXPECT_EQ(pool.stats().active, 0u);
    EXPECT_EQ(pool.view().target().find(target_prefix), 0u) << pool.view().target();
}

// `threads` threads each take `rounds` leases one after another and call `use(lease)` on each;
// returns how many acquisitions or uses threw. All threads have finished when it returns.
template <class Pool, class Use>
int failures_under_load(Pool& pool, int threads, int rounds, Use use) {
    std::atomic<int> failures{0};
    {
        std::vector<std::jthread> workers;
        for (int t = 0; t < threads; ++t)
            workers.emplace_back([&] {
                for (int i = 0; i < rounds; ++i) {
                    try {
                        auto lease = pool.acquire();
                        use(lease);
                    } catch (const std::exception&) {
                        ++failures;
                    }
                }
            });
    }
    return failures.load();
}

// Against a server with `slots` connection slots (on 127.0.0.1:`port`): the pool holds them
// all, then one more acquire fails as database_unreachable with `server_says` from the server;
// the held leases stay lent. With a `password`, the diagnostics do not show it.
template <class Pool>
void expect_out_of_slots(Pool& pool, std::size_t slots, const std::string& server_says,
                         const std::string& port, const std::string& password = {}) {
    std::vector<typename Pool::lease_type> held;
    for (std::size_t i = 0; i < slots; ++i) held.push_back(pool.acquire());
    try {
        auto one_more = pool.acquire();
        FAIL() << "the server has only " << slots << " slots";
    } catch (const pool_error& e) {
        const auto& d = e.diagnostics();
        EXPECT_EQ(d.what, verdict::database_unreachable) << d.to_string();
        EXPECT_NE(d.last_connect_error.find(server_says), std::string::npos) << d.last_connect_error;
        EXPECT_NE(d.to_string().find("127.0.0.1:" + port), std::string::npos) << d.to_string();
        if (!password.empty()) expect_no_secret(d.to_string(), password, "pool_diagnostics::to_string()");
    }
    EXPECT_EQ(pool.stats().active, slots);
}

// A pool given a wrong password: acquire fails as database_unreachable with `server_says`
// from the server, the diagnostics name the target ("<target_prefix>127.0.0.1:"), and
// `password` (the right one, part of the wrong one) appears in no text.
template <class Pool>
void expect_wrong_password_refused(Pool& pool, const std::string& password, const std::string& server_says,
                                   const std::string& target_prefix) {
    try {
        auto lease = pool.acquire();
        FAIL() << "a wrong password was accepted";
    } catch (const pool_error& e) {
        const auto& d = e.diagnostics();
        EXPECT_EQ(d.what, verdict::database_unreachable);
        EXPECT_NE(d.last_connect_error.find(server_says), std::string::npos) << d.last_connect_error;
        EXPECT_NE(d.to_string().find(target_prefix + "127.0.0.1:"), std::string::npos) << d.to_string();
        expect_no_secret(e.what(), password, "pool_error::what()");
        expect_no_secret(d.to_string(), password, "pool_diagnostics::to_string()");
        expect_no_secret(d.last_connect_error, password, "last_connect_error");
    }
    expect_no_secret(pool.view().target(), password, "pool target");
}

}  // namespace lifeguard::test
