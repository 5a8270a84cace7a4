// A lifeguard program with components: a PostgreSQL driver (made without a server: making one
// only parses its conninfo with libpq) and a pool's metrics served by prometheus-cpp's Exposer.
#include <prometheus/exposer.h>

#include <cstdio>
#include <memory>

#include "counter_driver.hpp"
#include "lifeguard/pool.hpp"
#include "lifeguard/postgres.hpp"
#include "lifeguard/prometheus.hpp"

int main() {
    lifeguard::postgres_driver postgres{{.conninfo = "host=/nonexistent dbname=consumer"}};
    std::printf("components consumer: postgres driver for %s\n", postgres.options().conninfo.c_str());

    lifeguard::pool<counter_driver> pool{counter_driver{}, {.name = "components", .max_size = 1}};
    auto metrics = std::make_shared<lifeguard::prometheus_metrics>();
    metrics->attach(pool);
    prometheus::Exposer exposer{"127.0.0.1:0"};
    exposer.RegisterCollectable(metrics);
    { auto lease = pool.acquire(); }
    const auto families = metrics->Collect();
    std::printf("components consumer: exposer on port %d serves %zu metric families\n",
                exposer.GetListeningPorts().at(0), families.size());
    return families.empty() ? 1 : 0;
}
