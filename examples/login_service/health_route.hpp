// GET /health for a Kubernetes readiness probe: the pool's health() (lifeguard/health.hpp) as
// JSON, with 200 while the pool can serve (healthy or degraded) and 503 when it is down, so
// that a pod whose database is gone is taken out of the Service until it can connect again.
// Degraded stays 200: a suspended pool or a few timeouts are no reason to drop every pod at once.
#pragma once

#include <httplib.h>

#include <string>

#include "lifeguard/health.hpp"

namespace login_service {

/// The readiness answer for a health snapshot: 503 when down, else 200.
inline int readiness_status(const lifeguard::pool_health& h) {
    return h.verdict == lifeguard::health_verdict::down ? 503 : 200;
}

/// Serves GET `path` from `pool.health()`.
template <class Pool>
void install_health_route(httplib::Server& server, Pool& pool, const std::string& path = "/health") {
    server.Get(path, [&pool](const httplib::Request&, httplib::Response& res) {
        const lifeguard::pool_health h = pool.health();
        res.status = readiness_status(h);
        res.set_content(lifeguard::to_json(h), "application/json");
    });
}

}  // namespace login_service
