// Test helpers for real databases: where the servers are (environment variables set by
// scripts/db/with-servers.sh), the REQUIRE rule, private servers the fault tests can stop and
// restart, and a TCP listener that never answers.
//
// The rule: a test that needs a server reads its variable through LIFEGUARD_NEED_ENV. When
// LIFEGUARD_REQUIRE_DB=1 (CI) a missing variable or a server that will not start is a test
// FAILURE; otherwise the test is skipped with a message saying what to set.
#pragma once

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

namespace lifeguard::test {

inline std::optional<std::string> env(const char* name) {
    const char* v = std::getenv(name);
    if (!v || !*v) return std::nullopt;
    return std::string(v);
}

/// True when missing databases must fail the tests (CI sets LIFEGUARD_REQUIRE_DB=1).
inline bool db_required() {
    const auto v = env("LIFEGUARD_REQUIRE_DB");
    return v && *v != "0";
}

/// Where scripts/db lives: LIFEGUARD_DB_SCRIPTS, else the source tree this test was built from.
inline std::string db_scripts() {
#ifdef LIFEGUARD_DEFAULT_DB_SCRIPTS
    return env("LIFEGUARD_DB_SCRIPTS").value_or(LIFEGUARD_DEFAULT_DB_SCRIPTS);
#else
    return env("LIFEGUARD_DB_SCRIPTS").value_or("scripts/db");
#endif
}

/// Fails (when required) or skips the current test with `why`. Use in a test body or SetUp.
#define LIFEGUARD_DB_UNAVAILABLE(why)                                                             \
    do {                                                                                          \
        if (::lifeguard::test::db_required()) {                                                   \
            FAIL() << "database required (LIFEGUARD_REQUIRE_DB=1) but unavailable: " << (why);    \
        } else {                                                                                  \
            GTEST_SKIP() << "no database: " << (why)                                              \
                         << " (run under scripts/db/with-servers.sh; set LIFEGUARD_REQUIRE_DB=1 " \
                            "to make this a failure)";                                            \
        }                                                                                         \
    } while (false)

/// Declares `std::string var` holding environment variable `name`, or fails/skips the test.
#define LIFEGUARD_NEED_ENV(var, name)                                \
    std::string var;                                                 \
    if (auto lifeguard_env_value_ = ::lifeguard::test::env(name)) {  \
        var = *lifeguard_env_value_;                                 \
    } else {                                                         \
        LIFEGUARD_DB_UNAVAILABLE(std::string(name) + " is not set"); \
    }

/// Assigns environment variable `name` to `target` (e.g. a fixture member), or fails/skips.
#define LIFEGUARD_LOAD_ENV(target, name)                             \
    if (auto lifeguard_env_value_ = ::lifeguard::test::env(name)) {  \
        (target) = *lifeguard_env_value_;                            \
    } else {                                                         \
        LIFEGUARD_DB_UNAVAILABLE(std::string(name) + " is not set"); \
    }

/// Runs a shell command, returning its exit status and its combined output.
struct command_result {
    int status = -1;
    std::string output;
};

inline command_result run_command(const std::string& command) {
    command_result r;
    FILE* p = ::popen((command + " 2>&1").c_str(), "r");
    if (!p) return r;
    std::array<char, 4096> buffer{};
    while (std::fgets(buffer.data(), static_cast<int>(buffer.size()), p)) r.output += buffer.data();
    const int status = ::pclose(p);
    r.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    return r;
}

inline std::string shell_quote(std::string_view s) {
    std::string q = "'";
    for (char c : s) {
        if (c == '\'')
            q += "'\\''";
        else
            q += c;
    }
    return q + "'";
}

/// A server of its own for one test, started by scripts/db/<kind>.sh in a fresh temporary
/// directory and stopped (and the directory removed) by the destructor.
///     private_server pg("pg");            // or "mariadb"
///     if (!pg.start()) LIFEGUARD_DB_UNAVAILABLE(pg.error());
///     pg.var("LIFEGUARD_PG_TCP_CONNINFO");
class private_server {
public:
    /// `kind` is "pg", "mariadb" or "pgbouncer"; `settings` are VAR=value words put before
    /// the script (e.g. "PG_MAX_CONNECTIONS=5").
    explicit private_server(std::string kind, std::string settings = {})
        : kind_(std::move(kind)), settings_(std::move(settings)) {
        char pattern[] = "/tmp/lifeguard-private.XXXXXX";
        if (const char* d = ::mkdtemp(pattern)) dir_ = d;
    }
    private_server(const private_server&) = delete;
    private_server& operator=(const private_server&) = delete;
    ~private_server() {
        if (dir_.empty()) return;
        run("stop");  // also after a failed start: part of the server may be running
        run_command("rm -rf " + shell_quote(dir_));
    }

    /// Starts the server (`extra` is passed after DIR, e.g. the PostgreSQL directory for
    /// PgBouncer). False with error() set when it did not start.
    bool start(const std::string& extra = {}) {
        if (dir_.empty()) {
            error_ = "mkdtemp failed";
            return false;
        }
        return run("start", extra) && load_env();
    }
    bool stop() { return run("stop"); }
    bool restart() { return run("restart"); }
    bool pause() { return run("pause"); }
    bool resume() { return run("resume"); }

    /// A variable printed by `<kind>.sh env`; throws when absent.
    const std::string& var(const std::string& name) const {
        auto it = vars_.find(name);
        if (it == vars_.end()) throw std::runtime_error(kind_ + ".sh env printed no " + name);
        return it->second;
    }
    const std::string& dir() const noexcept { return dir_; }
    const std::string& error() const noexcept { return error_; }

private:
    bool run(const std::string& command, const std::string& extra = {}) {
        const std::string line = settings_ + " " + shell_quote(db_scripts() + "/" + kind_ + ".sh") + " " +
                                 command + " " + shell_quote(dir_) +
                                 (extra.empty() ? "" : " " + shell_quote(extra));
        auto r = run_command(line);
        if (r.status != 0) {
            error_ = kind_ + ".sh " + command + " failed (" + std::to_string(r.status) + "): " + r.output;
            return false;
        }
        return true;
    }

    bool load_env() {
        auto r = run_command(shell_quote(db_scripts() + "/" + kind_ + ".sh") + " env " + shell_quote(dir_));
        if (r.status != 0) {
            error_ = kind_ + ".sh env failed: " + r.output;
            return false;
        }
        // Lines look like: export NAME='value'
        std::size_t pos = 0;
        while (pos < r.output.size()) {
            auto end = r.output.find('\n', pos);
            if (end == std::string::npos) end = r.output.size();
            std::string_view line(r.output.data() + pos, end - pos);
            pos = end + 1;
            constexpr std::string_view prefix = "export ";
            if (line.substr(0, prefix.size()) != prefix) continue;
            line.remove_prefix(prefix.size());
            const auto eq = line.find('=');
            if (eq == std::string_view::npos) continue;
            std::string_view value = line.substr(eq + 1);
            if (value.size() >= 2 && value.front() == '\'' && value.back() == '\'')
                value = value.substr(1, value.size() - 2);
            vars_[std::string(line.substr(0, eq))] = std::string(value);
        }
        return true;
    }

    std::string kind_;
    std::string settings_;
    std::string dir_;
    std::string error_;
    std::map<std::string, std::string> vars_;
};

/// A TCP listener on 127.0.0.1 that never calls accept(): the kernel completes the handshake
/// for the first few connections, which then wait for a greeting that never comes; later ones
/// hang in the SYN queue. A server that "accepts but never answers".
class silent_listener {
public:
    silent_listener() {
        fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
        if (fd_ < 0) throw std::runtime_error("socket() failed");
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        a.sin_port = 0;
        if (::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(fd_, 4) != 0)
            throw std::runtime_error("bind/listen on 127.0.0.1 failed");
        socklen_t len = sizeof a;
        ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
        port_ = ntohs(a.sin_port);
    }
    silent_listener(const silent_listener&) = delete;
    silent_listener& operator=(const silent_listener&) = delete;
    ~silent_listener() { ::close(fd_); }
    int port() const noexcept { return port_; }

private:
    int fd_ = -1;
    int port_ = 0;
};

/// Fails the test when `text` contains `secret` (passwords must never be emitted).
inline void expect_no_secret(std::string_view text, std::string_view secret, std::string_view where) {
    ASSERT_FALSE(secret.empty());
    EXPECT_EQ(text.find(secret), std::string_view::npos) << where << " leaks the password: " << text;
}

}  // namespace lifeguard::test
