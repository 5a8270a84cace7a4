// metrics_service: a small service whose pools export lifeguard metrics to Prometheus and log
// through spdlog. It runs three pools over a simulated database:
//   orders   (4 connections)  under steady load from --load-threads workers
//   reports  (2 connections)  both held by a stuck job while 3 callers wait: active 2, idle 0,
//                             pending 3, which makes a dashboard's pending panel light up
//   ids      (2 connections)  on SIGUSR1, two "login" tasks each take a connection and then a
//                             second one from the same pool (the Hibernate AUTO-id pattern):
//                             a knot, which lifeguard::diagnostics' detector reports, counts
//                             (lifeguard_connections_deadlocks_total) and, with the pool's
//                             fail_fast policy, breaks by failing one login
// SIGTERM or SIGINT stops it cleanly.
//
//   metrics_service [--listen 127.0.0.1:9464] [--prefix lifeguard] [--application NAME]
//                   [--load-threads 3]      (--help lists them; bad usage exits 2)
//
// --listen with port 0 picks a free port. The first line on stdout is
// "listening on http://ADDRESS:PORT/metrics". The exposer is the application's (lifeguard only
// provides the prometheus::Collectable).
#include <prometheus/exposer.h>
#include <pthread.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <barrier>
#include <chrono>
#include <condition_variable>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <latch>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include "lifeguard/diagnostics/detector.hpp"
#include "lifeguard/logging.hpp"
#include "lifeguard/pool.hpp"
#include "lifeguard/prometheus.hpp"

namespace {

using namespace std::chrono_literals;

// A stand-in for a database driver: opening a connection takes a couple of milliseconds. Only
// the pool's worker opens connections, so a plain counter is enough.
class simulated_driver {
public:
    using connection_type = int;
    int connect(std::chrono::steady_clock::time_point) {
        std::this_thread::sleep_for(2ms);
        return next_++;
    }
    bool is_valid(int&, std::chrono::milliseconds) noexcept { return true; }
    bool reset(int&) noexcept { return true; }
    void close(int&) noexcept {}
    std::string describe() const { return "simulated://inventory"; }

private:
    int next_ = 1;
};

using pool_type = lifeguard::pool<simulated_driver>;

struct settings {
    std::string listen = "127.0.0.1:9464";
    std::string prefix = "lifeguard";
    std::string application = "metrics_service";
    int load_threads = 3;
};

constexpr int exit_usage = 2;

[[noreturn]] void usage_error(const std::string& problem) {
    std::cerr << "metrics_service: " << problem << "\nRun 'metrics_service --help' for usage.\n";
    std::exit(exit_usage);
}

// The check of --listen: "ADDRESS:PORT" with a port 0..65535. Returns what is wrong, or "".
std::string check_listen(const std::string& value) {
    const auto colon = value.rfind(':');
    if (colon == std::string::npos || colon == 0) return "expected ADDRESS:PORT";
    const std::string port = value.substr(colon + 1);
    if (port.empty() || port.size() > 5 || port.find_first_not_of("0123456789") != std::string::npos ||
        std::stoi(port) > 65535)
        return "the port must be a number 0..65535";
    return {};
}

// Prints the help and exits 0 on --help; names the flag and the value and exits 2 on bad usage.
settings parse(int argc, char** argv) {
    settings s;
    CLI::App app{
        "Pools over a simulated database that export lifeguard metrics to Prometheus and log "
        "through spdlog.\nSIGUSR1 provokes a deadlock on pool 'ids'; SIGTERM or SIGINT stops.",
        "metrics_service"};
    app.add_option("--listen", s.listen, "where to serve /metrics (port 0 picks a free port)")
        ->type_name("ADDRESS:PORT")
        ->check(CLI::Validator(check_listen, ""))
        ->capture_default_str();
    app.add_option("--prefix", s.prefix, "metric name prefix")->type_name("NAME")->capture_default_str();
    app.add_option("--application", s.application, "value of the constant label 'application'")
        ->type_name("NAME")
        ->capture_default_str();
    app.add_option("--load-threads", s.load_threads, "threads that keep pool 'orders' busy")
        ->type_name("N")
        ->check(CLI::Range(0, 64).description("0..64"))
        ->capture_default_str();
    try {
        app.parse(argc, argv);
    } catch (const CLI::Success& e) {
        std::exit(app.exit(e));  // --help
    } catch (const CLI::ParseError& e) {
        usage_error(e.what());
    }
    return s;
}

// Set once when the service stops; everything that blocks waits on it.
class stop_signal {
public:
    void request() {
        std::lock_guard lock(mutex_);
        stopped_ = true;
        cv_.notify_all();
    }
    bool requested() const {
        std::lock_guard lock(mutex_);
        return stopped_;
    }
    // Waits up to `d`; true when stopping.
    bool wait_for(std::chrono::milliseconds d) {
        std::unique_lock lock(mutex_);
        return cv_.wait_for(lock, d, [&] { return stopped_; });
    }
    void wait() {
        std::unique_lock lock(mutex_);
        cv_.wait(lock, [&] { return stopped_; });
    }

private:
    mutable std::mutex mutex_;
    std::condition_variable cv_;
    bool stopped_ = false;
};

// Steady load: borrow, "run a query" for 2 ms, give back, pause 1 ms.
void load_worker(pool_type& pool, stop_signal& stop) {
    while (!stop.requested()) {
        std::error_code ec;
        auto lease = pool.acquire(ec);
        if (!lease) continue;  // closed at shutdown, or timed out: try again
        if (stop.wait_for(2ms)) break;
        lease.release();
        if (stop.wait_for(1ms)) break;
    }
}

// A job whose two workers keep both connections of `pool` until shutdown, and three callers
// stuck behind them.
std::vector<std::jthread> stuck_job(pool_type& pool, stop_signal& stop) {
    std::vector<std::jthread> threads;
    auto holding = std::make_shared<std::latch>(2);
    for (int i = 0; i < 2; ++i) {
        threads.emplace_back([&pool, &stop, holding, i] {
            lifeguard::owner_scope job("nightly report worker " + std::to_string(i));
            auto lease = pool.acquire();
            holding->count_down();
            stop.wait();
        });
    }
    for (int i = 0; i < 3; ++i) {
        threads.emplace_back([&pool, holding, i] {
            holding->wait();
            lifeguard::owner_scope request("report request " + std::to_string(i));
            std::error_code ec;
            auto lease = pool.acquire(ec);  // waits until shutdown closes the pool
        });
    }
    return threads;
}

// Two login tasks, each holding one connection of `pool` and then asking for a second one.
std::vector<std::jthread> provoke_knot(pool_type& pool) {
    std::vector<std::jthread> threads;
    auto both_hold = std::make_shared<std::barrier<>>(2);
    for (int i = 0; i < 2; ++i) {
        threads.emplace_back([&pool, both_hold, i] {
            lifeguard::owner_scope login("login " + std::to_string(i));
            try {
                auto outer = pool.acquire();   // the transaction
                both_hold->arrive_and_wait();  // both tasks now hold one connection each
                auto inner = pool.acquire();   // the id generator's own connection
            } catch (const lifeguard::pool_error& e) {
                std::cerr << "metrics_service: login " << i << " failed: " << e.what() << '\n';
            }
        });
    }
    return threads;
}

}  // namespace

int main(int argc, char** argv) {
    const auto config = parse(argc, argv);

    // Signals are taken by sigwait below; block them before any thread starts.
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGTERM);
    sigaddset(&signals, SIGINT);
    sigaddset(&signals, SIGUSR1);
    pthread_sigmask(SIG_BLOCK, &signals, nullptr);

    std::shared_ptr<lifeguard::prometheus_metrics> metrics;
    try {
        metrics = std::make_shared<lifeguard::prometheus_metrics>(lifeguard::prometheus_options{
            .prefix = config.prefix, .constant_labels = {{"application", config.application}}});
    } catch (const std::invalid_argument& e) {
        usage_error(e.what());
    }
    // The detector goes on first, so that the logging observer sees failures with its verdict.
    auto detector = std::make_shared<lifeguard::diagnostics::deadlock_detector>();
    auto log = lifeguard::make_logging_observer();  // its own "lifeguard" logger on stderr

    pool_type orders(
        simulated_driver{},
        {.name = "orders", .max_size = 4, .min_idle = 4, .acquire_timeout = 5s, .validation_timeout = 1s});
    pool_type reports(simulated_driver{},
                      {.name = "reports", .max_size = 2, .min_idle = 2, .acquire_timeout = 10min});
    pool_type ids(simulated_driver{}, {.name = "ids",
                                       .max_size = 2,
                                       .min_idle = 2,
                                       .acquire_timeout = 30s,
                                       .on_deadlock = lifeguard::deadlock_policy::fail_fast});
    for (auto* pool : {&orders, &reports, &ids}) {
        pool->add_observer(detector);
        pool->add_observer(log);
        metrics->attach(*pool);
    }

    std::optional<prometheus::Exposer> exposer;
    try {
        exposer.emplace(config.listen, 2);
    } catch (const std::exception& e) {
        std::cerr << "metrics_service: cannot listen on " << config.listen << ": " << e.what() << '\n';
        return 1;
    }
    exposer->RegisterCollectable(metrics);
    const auto host = config.listen.substr(0, config.listen.rfind(':'));
    std::cout << "listening on http://" << host << ":" << exposer->GetListeningPorts().at(0) << "/metrics"
              << std::endl;

    stop_signal stop;
    std::vector<std::jthread> threads;
    for (int i = 0; i < config.load_threads; ++i) threads.emplace_back([&] { load_worker(orders, stop); });
    for (auto& t : stuck_job(reports, stop)) threads.push_back(std::move(t));

    for (;;) {
        int received = 0;
        if (sigwait(&signals, &received) != 0) break;
        if (received == SIGUSR1) {
            std::cerr << "metrics_service: provoking a nested-acquisition knot on pool 'ids'\n";
            for (auto& t : provoke_knot(ids)) threads.push_back(std::move(t));
            continue;
        }
        break;  // SIGTERM / SIGINT
    }

    stop.request();
    for (auto* pool : {&orders, &reports, &ids}) pool->close();
    threads.clear();  // joins
    std::cout << "stopped" << std::endl;
    return 0;
}
