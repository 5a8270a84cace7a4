// Runs the service on one database until SIGTERM/SIGINT: the pool with the deadlock detector
// and the Prometheus exporters attached, the HTTP server, and the clean shutdown (stop
// accepting, let in-flight requests finish, close the pool).
#pragma once

#include <httplib.h>
#include <prometheus/text_serializer.h>
#include <signal.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <memory>
#include <string>
#include <thread>

#include "app_statements.hpp"
#include "health_route.hpp"
#include "lifeguard/detector_metrics.hpp"
#include "lifeguard/diagnostics/detector.hpp"
#include "lifeguard/pool.hpp"
#include "lifeguard/prometheus.hpp"
#include "routes.hpp"
#include "settings.hpp"

namespace login_service {

/// One line per knot, for people and for scripts/lab.sh: the knot's size and how long after
/// it closed (the youngest member's wait) the detector named it.
inline void log_knot(const lifeguard::diagnostics::report& r) {
    if (r.kind != lifeguard::diagnostics::report_kind::deadlock || r.members.empty()) return;
    auto youngest = r.members.front().waiting;
    for (const auto& m : r.members) youngest = std::min(youngest, m.waiting);
    std::fprintf(stderr, "login_service: knot named %.3f ms after it closed (%zu requests): %s\n",
                 std::chrono::duration<double, std::milli>(youngest).count(), r.members.size(),
                 r.headline().c_str());
}

template <class Driver>
int serve(const settings& cfg, Driver driver, const app_statements& sql, const sigset_t& stop_signals) {
    using pool_type = lifeguard::pool<Driver>;
    const lifeguard::prometheus_options metric_options{.prefix = cfg.metrics_prefix,
                                                       .constant_labels = {{"application", cfg.instance}}};
    auto metrics = std::make_shared<lifeguard::prometheus_metrics>(metric_options);
    lifeguard::diagnostics::detector_options detector_options;
    detector_options.on_report = log_knot;
    auto detector = std::make_shared<lifeguard::diagnostics::deadlock_detector>(std::move(detector_options));
    const lifeguard::detector_metrics figures(detector, metric_options);

    pool_type pool(std::move(driver), {.name = "app",
                                       .max_size = cfg.pool_size,
                                       .acquire_timeout = cfg.acquire_timeout,
                                       .on_deadlock = cfg.policy});
    pool.add_observer(detector);
    metrics->attach(pool);

    httplib::Server server;
    const auto threads = static_cast<std::size_t>(cfg.http_threads);
    server.new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
    server.set_tcp_nodelay(true);  // else delayed ACKs add ~40 ms to every answer
    routes<pool_type> app(pool, sql, cfg.phase, cfg.work);
    app.install(server);
    install_health_route(server, pool);
    server.Get("/metrics", [&](const httplib::Request&, httplib::Response& res) {
        auto families = metrics->Collect();
        for (auto& f : figures.Collect()) families.push_back(std::move(f));
        res.set_content(::prometheus::TextSerializer().Serialize(families), "text/plain; version=0.0.4");
    });

    const int port = cfg.port == 0 ? server.bind_to_any_port(cfg.host) : cfg.port;
    if (port < 0 || (cfg.port != 0 && !server.bind_to_port(cfg.host, cfg.port))) {
        std::cerr << "login_service: cannot listen on " << cfg.host << ":" << cfg.port << '\n';
        return 1;
    }
    std::thread listener([&] { server.listen_after_bind(); });
    std::cout << "listening on http://" << cfg.host << ":" << port << " (pool " << pool.name() << ", max_size "
              << cfg.pool_size << ", policy " << lifeguard::to_string(cfg.policy) << ", acquire_timeout "
              << cfg.acquire_timeout.count() << " ms)" << std::endl;

    int received = 0;
    sigwait(&stop_signals, &received);
    std::cout << "stopping (signal " << received << "): finishing in-flight requests" << std::endl;
    server.stop();    // no new connections; keep-alive loops end after their current request
    listener.join();  // the worker threads are joined: every in-flight request has answered
    pool.close();
    const auto s = pool.stats();
    std::cout << "stopped: pool closed with " << s.active << " leased, " << s.pending << " waiting" << std::endl;
    return s.active == 0 && s.pending == 0 ? 0 : 1;
}

}  // namespace login_service
