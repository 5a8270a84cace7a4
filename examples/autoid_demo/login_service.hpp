// The application code of the story: a login service whose transaction asks a Hibernate-style
// table id generator for a new id, and the generator reads and bumps `hibernate_sequences` in
// a transaction of its own, on a *second* connection from the same pool.
//
// That second connection is not a mistake one could simply remove: the generator must commit
// its bump whatever the caller's transaction does later (Hibernate runs it through an
// "isolation delegate"; Spring calls the same thing PROPAGATION_REQUIRES_NEW). It is also what
// makes the pool deadlock: with 20 logins and 10 connections, 10 logins hold all connections
// and each waits for one more.
//
// The call sites below are what lifeguard's reports name (login_service.hpp:NN login(),
// next_id()), so the acquires sit in the functions a reader would look for.
#pragma once

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <optional>
#include <source_location>
#include <string>
#include <utility>
#include <vector>

#include "lifeguard/owner.hpp"
#include "statements.hpp"

namespace autoid {

using params = std::vector<std::optional<std::string>>;

/// Runs `work(lease)` in a new, independent transaction on a connection of its own, and commits
/// it before returning (REQUIRES_NEW). The connection comes from `pool`: a caller that already
/// holds one of its connections is acquiring a second one. `site` is the caller's, so reports
/// name the code that asked for the new transaction.
template <class Pool, class Work>
auto requires_new(Pool& pool, const statements& sql, Work&& work,
                  std::source_location site = std::source_location::current()) {
    auto lease = pool.acquire(site);  // a second connection when the caller holds one already
    exec(lease, sql.begin);
    auto result = std::forward<Work>(work)(lease);
    exec(lease, sql.commit);
    return result;  // the lease goes back to the pool here
}

/// Hibernate's table generator (TableStructure): SELECT ... FOR UPDATE the sequence row, then
/// UPDATE it with an optimistic check, in its own transaction.
template <class Pool>
class table_id_generator {
public:
    table_id_generator(Pool& pool, const statements& sql) : pool_(pool), sql_(sql) {}

    std::int64_t next_id(std::string_view sequence) {
        const std::string name(sequence);
        return requires_new(pool_, sql_, [&](auto& lease) {
            const auto row = exec(lease, sql_.select_sequence, params{name});
            const std::int64_t value = std::stoll(row.value());
            exec(lease, sql_.update_sequence, params{std::to_string(value + 1), std::to_string(value), name});
            return value;
        });
    }

private:
    Pool& pool_;
    const statements& sql_;
};

/// What one login went through, for the load summary.
struct login_trace {
    enum class stage { start, first_connection, transaction, second_connection, insert, done };
    stage at = stage::start;
    bool second_asked = false;
    std::chrono::steady_clock::time_point second_asked_at{};  ///< when it asked for connection #2
    std::int64_t id = 0;
};

inline const char* to_string(login_trace::stage s) {
    switch (s) {
        case login_trace::stage::start:
            return "start";
        case login_trace::stage::first_connection:
            return "connection #1";
        case login_trace::stage::transaction:
            return "transaction";
        case login_trace::stage::second_connection:
            return "connection #2";
        case login_trace::stage::insert:
            return "insert";
        case login_trace::stage::done:
            return "done";
    }
    return "?";
}

/// A stand-in for bcrypt/PBKDF2: a few milliseconds of CPU, as real password hashing costs.
/// It is NOT a secure hash; it only makes the login do realistic work.
inline std::string hash_password(const std::string& password, std::uint64_t rounds) {
    std::uint64_t h = 0xcbf29ce484222325ull;
    for (char c : password) h = (h ^ static_cast<unsigned char>(c)) * 0x100000001b3ull;
    for (std::uint64_t i = 0; i < rounds; ++i) {
        h ^= h >> 31;
        h *= 0x9E3779B97F4A7C15ull;
        h ^= i;
    }
    char out[17];
    std::snprintf(out, sizeof out, "%016llx", static_cast<unsigned long long>(h));
    return out;
}

/// A user's first login creates the account: find it, hash the password, take a new id from
/// the table generator, insert. All in one transaction on one connection (#1), except the id.
template <class Pool>
class login_service {
public:
    /// `before_id` runs after the transaction began and before the id is asked for (the demo's
    /// start line).
    template <class BeforeId>
    login_service(Pool& pool, const statements& sql, int phase, std::uint64_t hash_rounds, BeforeId before_id)
        : pool_(pool),
          sql_(sql),
          ids_(pool, sql),
          phase_(phase),
          hash_rounds_(hash_rounds),
          before_id_(std::move(before_id)) {}

    void login(const std::string& name, login_trace& trace) {
        trace.at = login_trace::stage::first_connection;
        auto tx = pool_.acquire();  // connection #1: the request's transaction
        trace.at = login_trace::stage::transaction;
        exec(tx, sql_.begin);
        const auto found = exec(tx, sql_.find_user, params{name});
        if (found.value() != "0") return;  // an existing account: nothing to create
        before_id_();
        const std::string hash = hash_password(name, hash_rounds_);
        trace.at = login_trace::stage::second_connection;
        trace.second_asked = true;
        trace.second_asked_at = std::chrono::steady_clock::now();
        trace.id = ids_.next_id(user_sequence);  // connection #2, while #1 is held
        trace.at = login_trace::stage::insert;
        exec(tx, sql_.insert_user, params{std::to_string(trace.id), name, hash, std::to_string(phase_)});
        exec(tx, sql_.commit);
        trace.at = login_trace::stage::done;
    }

private:
    Pool& pool_;
    const statements& sql_;
    table_id_generator<Pool> ids_;
    int phase_;
    std::uint64_t hash_rounds_;
    std::function<void()> before_id_;
};

}  // namespace autoid
