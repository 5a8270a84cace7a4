// End to end: a real Prometheus server (Debian's `prometheus`, run directly on 127.0.0.1 with a
// temporary config and data directory) scrapes two examples/metrics_service processes under
// load (prefix `lifeguard`, and prefix `hikaricp` with a `namespace` target label), and PromQL
// through its HTTP API sees the pools' pending/active/idle, the acquire histogram, the
// deadlock the service provokes on request, and every panel query of every shipped dashboard
// once its template variables are resolved the way Grafana resolves them; the README's Spring
// Boot recipe is run too.
//
// Both processes are started here and stopped by pid. Waiting on them is bounded polling (an
// external process offers nothing to block on); nothing is asserted about wall-clock time.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "grafana_dashboard.hpp"
#include "spring_boot_recipe.hpp"

extern char** environ;

namespace {

using namespace std::chrono_literals;
using nlohmann::json;
namespace fs = std::filesystem;

// A child process with stdout and stderr in files; SIGTERM (then SIGKILL) and reaped on
// destruction.
class child_process {
public:
    child_process(std::vector<std::string> argv, const fs::path& output) {
        posix_spawn_file_actions_t actions;
        posix_spawn_file_actions_init(&actions);
        posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
        posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, output.c_str(),
                                         O_WRONLY | O_CREAT | O_TRUNC, 0644);
        posix_spawn_file_actions_adddup2(&actions, STDOUT_FILENO, STDERR_FILENO);
        std::vector<char*> args;
        for (auto& a : argv) args.push_back(a.data());
        args.push_back(nullptr);
        const int rc = posix_spawn(&pid_, args[0], &actions, nullptr, args.data(), environ);
        posix_spawn_file_actions_destroy(&actions);
        if (rc != 0) throw std::system_error(rc, std::generic_category(), "posix_spawn " + argv[0]);
    }
    child_process(const child_process&) = delete;
    child_process& operator=(const child_process&) = delete;
    ~child_process() { stop(); }

    pid_t pid() const { return pid_; }
    bool running() {
        if (pid_ <= 0) return false;
        int status = 0;
        if (::waitpid(pid_, &status, WNOHANG) == pid_) {
            pid_ = -1;
            return false;
        }
        return true;
    }
    void signal(int sig) {
        if (pid_ > 0) ::kill(pid_, sig);
    }
    void stop() {
        if (pid_ <= 0) return;
        ::kill(pid_, SIGTERM);
        for (int i = 0; i < 200; ++i) {  // up to ~10 s
            int status = 0;
            if (::waitpid(pid_, &status, WNOHANG) == pid_) {
                pid_ = -1;
                return;
            }
            std::this_thread::sleep_for(50ms);
        }
        ::kill(pid_, SIGKILL);
        ::waitpid(pid_, nullptr, 0);
        pid_ = -1;
    }

private:
    pid_t pid_ = -1;
};

std::string read_file(const fs::path& p) {
    std::ifstream in(p);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
}

// Polls `probe` until it returns a value or `limit` passes.
template <class T>
std::optional<T> poll(std::chrono::seconds limit, const std::function<std::optional<T>()>& probe) {
    const auto give_up = std::chrono::steady_clock::now() + limit;
    for (;;) {
        if (auto v = probe()) return v;
        if (std::chrono::steady_clock::now() > give_up) return std::nullopt;
        std::this_thread::sleep_for(200ms);
    }
}

int free_port() {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    socklen_t len = sizeof addr;
    if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
        ::close(fd);
        throw std::runtime_error("cannot find a free port");
    }
    ::close(fd);
    return ntohs(addr.sin_port);
}

// Runs curl and returns its stdout; arguments are single-quoted (none of ours contains a quote).
std::string curl(const std::vector<std::string>& args) {
    std::string command = "curl -s --max-time 5";
    for (const auto& a : args) {
        if (a.find('\'') != std::string::npos) throw std::invalid_argument("quote in curl argument: " + a);
        command += " '" + a + "'";
    }
    std::unique_ptr<FILE, int (*)(FILE*)> pipe(::popen(command.c_str(), "r"), ::pclose);
    if (!pipe) throw std::runtime_error("popen failed");
    std::string out;
    char buffer[4096];
    while (auto n = std::fread(buffer, 1, sizeof buffer, pipe.get())) out.append(buffer, n);
    return out;
}

struct series {
    std::map<std::string, std::string> labels;
    double value = 0;
};

// An instant query; nullopt when Prometheus does not answer "success".
std::optional<std::vector<series>> promql(int port, const std::string& query) {
    const auto body = curl({"-G", "--data-urlencode", "query=" + query,
                            "http://127.0.0.1:" + std::to_string(port) + "/api/v1/query"});
    const auto reply = json::parse(body, nullptr, false);
    if (reply.is_discarded() || reply.value("status", "") != "success") return std::nullopt;
    std::vector<series> out;
    for (const auto& r : reply.at("data").at("result")) {
        series s;
        for (const auto& [k, v] : r.at("metric").items()) s.labels[k] = v.get<std::string>();
        s.value = std::stod(r.at("value").at(1).get<std::string>());
        out.push_back(std::move(s));
    }
    return out;
}

// The values of `label` on the series `q.selector` matches (all series when empty): what
// Grafana's Prometheus data source asks for a label_values variable.
std::vector<std::string> label_values(int port, const lifeguard::testing::grafana::label_values_query& q) {
    std::vector<std::string> args{"-G"};
    if (!q.selector.empty()) args.insert(args.end(), {"--data-urlencode", "match[]=" + q.selector});
    args.push_back("http://127.0.0.1:" + std::to_string(port) + "/api/v1/label/" + q.label + "/values");
    const auto reply = json::parse(curl(args), nullptr, false);
    if (reply.is_discarded() || reply.value("status", "") != "success")
        throw std::runtime_error("Prometheus rejected label_values(" + q.selector + ", " + q.label + ")");
    return reply.at("data").get<std::vector<std::string>>();
}

// The one value of `query`, once Prometheus has it and `accept` likes it.
std::optional<double> wait_for_value(int port, const std::string& query,
                                     const std::function<bool(double)>& accept,
                                     std::chrono::seconds limit = 60s) {
    return poll<double>(limit, [&]() -> std::optional<double> {
        auto r = promql(port, query);
        if (r && r->size() == 1 && accept(r->front().value)) return r->front().value;
        return std::nullopt;
    });
}

class PrometheusEndToEnd : public ::testing::Test {
protected:
    // Starts the two services and Prometheus once for the suite. Problems are kept in setup_error_ and reported
    // as a failure by every test (a fatal failure here would only mark the tests skipped).
    static void SetUpTestSuite() { setup_error_ = new std::string(start_processes()); }

    static std::string start_processes() {
        if (!fs::exists(LIFEGUARD_PROMETHEUS_SERVER))
            return "the Prometheus server binary is required (Debian package "
                   "'prometheus'): " LIFEGUARD_PROMETHEUS_SERVER;
        char pattern[] = "/tmp/lifeguard-e2e-XXXXXX";
        if (::mkdtemp(pattern) == nullptr) return "mkdtemp failed";
        dir_ = new fs::path(pattern);

        std::string error;
        service_ = start_service("service", {"--prefix", "lifeguard", "--load-threads", "3", "--application", "e2e"},
                                 service_port_, error);
        if (!service_) return error;
        hikaricp_service_ = start_service(
            "hikaricp-service", {"--prefix", "hikaricp", "--load-threads", "2", "--application", "e2e-hikari"},
            hikaricp_service_port_, error);
        if (!hikaricp_service_) return error;

        prometheus_port_ = free_port();
        std::ofstream(*dir_ / "prometheus.yml") << "global:\n"
                                                   "  scrape_interval: 1s\n"
                                                   "  evaluation_interval: 1s\n"
                                                   "scrape_configs:\n"
                                                   "  - job_name: metrics_service\n"
                                                   "    static_configs:\n"
                                                   "      - targets: ['127.0.0.1:"
                                                << service_port_
                                                << "']\n"
                                                   "  - job_name: hikaricp_service\n"
                                                   "    static_configs:\n"
                                                   "      - labels: {namespace: e2e}\n"
                                                   "        targets: ['127.0.0.1:"
                                                << hikaricp_service_port_ << "']\n";
        prometheus_ = new child_process(
            {LIFEGUARD_PROMETHEUS_SERVER, "--config.file=" + (*dir_ / "prometheus.yml").string(),
             "--storage.tsdb.path=" + (*dir_ / "data").string(),
             "--web.listen-address=127.0.0.1:" + std::to_string(prometheus_port_)},
            *dir_ / "prometheus.log");
        const auto ready = poll<bool>(30s, [&]() -> std::optional<bool> {
            if (curl({"http://127.0.0.1:" + std::to_string(prometheus_port_) + "/-/ready"}).find("Ready") !=
                std::string::npos)
                return true;
            if (!prometheus_->running()) return false;
            return std::nullopt;
        });
        if (!ready || !*ready)
            return "Prometheus did not become ready:\n" + read_file(*dir_ / "prometheus.log");
        return {};
    }

    // Starts metrics_service with `flags` and reads its port from the first line it prints;
    // nullptr (and `error`) when it does not come up.
    static child_process* start_service(const std::string& name, std::vector<std::string> flags, int& port,
                                        std::string& error) {
        std::vector<std::string> argv{LIFEGUARD_METRICS_SERVICE, "--listen", "127.0.0.1:0"};
        argv.insert(argv.end(), flags.begin(), flags.end());
        const auto log = *dir_ / (name + ".log");
        auto* process = new child_process(argv, log);
        const std::regex listening(R"(listening on http://127\.0\.0\.1:(\d+)/metrics)");
        auto found = poll<int>(20s, [&]() -> std::optional<int> {
            std::smatch m;
            const auto text = read_file(log);
            if (std::regex_search(text, m, listening)) return std::stoi(m[1]);
            if (!process->running()) return -1;
            return std::nullopt;
        });
        if (!found || *found < 0) {
            error = "metrics_service (" + name + ") did not start:\n" + read_file(log);
            delete process;
            return nullptr;
        }
        port = *found;
        return process;
    }

    static void TearDownTestSuite() {
        delete prometheus_;
        delete service_;
        delete hikaricp_service_;
        prometheus_ = service_ = hikaricp_service_ = nullptr;
        delete setup_error_;
        setup_error_ = nullptr;
        if (dir_) {
            std::error_code ec;
            fs::remove_all(*dir_, ec);
            delete dir_;
            dir_ = nullptr;
        }
    }

    void SetUp() override {
        if (!setup_error_->empty()) GTEST_FAIL() << *setup_error_;
    }

    std::string logs() const {
        return "--- service:\n" + read_file(*dir_ / "service.log") + "--- hikaricp service:\n" +
               read_file(*dir_ / "hikaricp-service.log") + "--- prometheus:\n" +
               read_file(*dir_ / "prometheus.log");
    }

    static inline std::string* setup_error_ = nullptr;
    static inline fs::path* dir_ = nullptr;
    static inline child_process* service_ = nullptr;
    static inline child_process* hikaricp_service_ = nullptr;
    static inline child_process* prometheus_ = nullptr;
    static inline int service_port_ = 0;
    static inline int hikaricp_service_port_ = 0;
    static inline int prometheus_port_ = 0;
};

TEST_F(PrometheusEndToEnd, PendingActiveIdleOfAStuckPoolReachPrometheus) {
    const std::string pool = R"({pool="reports",application="e2e",job="metrics_service"})";
    EXPECT_EQ(wait_for_value(prometheus_port_, "lifeguard_connections_pending" + pool,
                             [](double v) { return v == 3; }),
              3.0)
        << logs();
    EXPECT_EQ(wait_for_value(prometheus_port_, "lifeguard_connections_active" + pool,
                             [](double v) { return v == 2; }),
              2.0);
    EXPECT_EQ(wait_for_value(prometheus_port_, "lifeguard_connections_idle" + pool,
                             [](double v) { return v == 0; }),
              0.0);
    EXPECT_EQ(
        wait_for_value(prometheus_port_, "lifeguard_connections_max" + pool, [](double v) { return v == 2; }),
        2.0);
}

TEST_F(PrometheusEndToEnd, PoolUnderLoadShowsAcquiresAndAFiniteP95) {
    const std::string pool = R"({pool="orders"})";
    EXPECT_EQ(
        wait_for_value(prometheus_port_, "lifeguard_connections" + pool, [](double v) { return v == 4; }),
        4.0)
        << logs();
    EXPECT_TRUE(wait_for_value(prometheus_port_,
                               "increase(lifeguard_connections_acquire_seconds_count" + pool + "[5s])",
                               [](double v) { return v > 0; }))
        << logs();
    EXPECT_TRUE(wait_for_value(prometheus_port_,
                               "increase(lifeguard_connections_usage_seconds_count" + pool + "[5s])",
                               [](double v) { return v > 0; }));
    EXPECT_TRUE(wait_for_value(
        prometheus_port_,
        "histogram_quantile(0.95, sum by (le) (rate(lifeguard_connections_acquire_seconds_bucket" + pool +
            "[10s])))",
        [](double v) { return std::isfinite(v) && v >= 0 && v <= 5; }));
    // Under load, active + idle never exceed the pool's size.
    auto sum = wait_for_value(prometheus_port_,
                              "lifeguard_connections_active" + pool + " + lifeguard_connections_idle" + pool,
                              [](double) { return true; });
    ASSERT_TRUE(sum);
    EXPECT_LE(*sum, 4.0);
}

// SIGUSR1 makes the service provoke the AUTO-id knot on pool "ids"; the deadlock detector
// counts it in the pool's stats and Prometheus sees the counter rise from 0.
TEST_F(PrometheusEndToEnd, ProvokedKnotShowsAsADeadlockCount) {
    const std::string ids = R"({pool="ids",application="e2e"})";
    ASSERT_TRUE(wait_for_value(prometheus_port_, "lifeguard_connections_deadlocks_total" + ids, [](double v) {
        return v == 0;
    })) << logs();
    service_->signal(SIGUSR1);
    const auto deadlocks = wait_for_value(prometheus_port_, "lifeguard_connections_deadlocks_total" + ids,
                                          [](double v) { return v > 0; });
    ASSERT_TRUE(deadlocks) << logs();
    EXPECT_GE(*deadlocks, 1.0);
    EXPECT_TRUE(wait_for_value(prometheus_port_, "lifeguard_connections_nested_acquisitions_total" + ids,
                               [](double v) { return v > 0; }));
    // fail_fast failed one login, whose unwinding untied the knot: nobody waits any more.
    EXPECT_TRUE(wait_for_value(prometheus_port_, "lifeguard_connections_pending" + ids,
                               [](double v) { return v == 0; }));
    const auto over = promql(prometheus_port_, "lifeguard_connections_deadlocks_total" + ids + " > 0");
    ASSERT_TRUE(over);
    EXPECT_EQ(over->size(), 1u);
}

// Waits until both services have a minute's worth of scrapes, so rate() windows are full.
void wait_for_history(int port) {
    for (const auto* metric : {"lifeguard_connections", "hikaricp_connections"})
        ASSERT_TRUE(wait_for_value(port, std::string("count_over_time(") + metric + "{pool=\"orders\"}[1m])",
                                   [](double v) { return v >= 10; }))
            << metric << " has too few samples";
}

namespace grafana = lifeguard::testing::grafana;

// Resolves `file`'s variables as Grafana does (first the default selection, All where offered,
// then the first option of each), checks each found values, and runs every panel query with
// them: each must return series.
void expect_every_panel_returns_series(int port, const std::string& file,
                                       const std::map<std::string, std::string>& typed = {}) {
    std::ifstream in(std::string(LIFEGUARD_DASHBOARDS_DIR) + "/" + file);
    ASSERT_TRUE(in) << file;
    const auto dashboard = json::parse(in);
    const auto fetch = [&](const grafana::label_values_query& q) { return label_values(port, q); };
    const auto queries = grafana::panel_queries(dashboard);
    ASSERT_GE(queries.size(), 10u) << file;
    for (const auto how : {grafana::pick::defaults, grafana::pick::first}) {
        const auto variables = grafana::resolve(dashboard, fetch, how, typed);
        for (const auto& v : variables)
            EXPECT_FALSE(v.values.empty()) << file << ": variable '" << v.name
                                           << "' finds no values (does its query read a series lifeguard exports?)";
        for (const auto& [title, expr] : queries) {
            const auto query = grafana::interpolate(expr, variables);
            const auto result = promql(port, query);
            ASSERT_TRUE(result) << file << ", panel '" << title << "': Prometheus rejected " << query;
            EXPECT_FALSE(result->empty()) << file << ", panel '" << title << "': no series for " << query;
        }
    }
}

TEST_F(PrometheusEndToEnd, LifeguardDashboardWithItsDefaultPrefixReturnsSeriesInEveryPanel) {
    wait_for_history(prometheus_port_);
    expect_every_panel_returns_series(prometheus_port_, "lifeguard.json");
}

TEST_F(PrometheusEndToEnd, LifeguardDashboardWithPrefixHikaricpReturnsSeriesInEveryPanel) {
    wait_for_history(prometheus_port_);
    expect_every_panel_returns_series(prometheus_port_, "lifeguard.json", {{"prefix", "hikaricp"}});
}

TEST_F(PrometheusEndToEnd, HikaricpDashboardReturnsSeriesInEveryPanel) {
    wait_for_history(prometheus_port_);
    expect_every_panel_returns_series(prometheus_port_, "hikaricp.json");
}

// The README's recipe for the Spring Boot dashboards: each replacement finds values (in order,
// each seeing the ones before it, as the dashboards chain them), each JVM query it replaces
// finds none on a C++ service, and the HikariCP gauges and timers filtered by all of a
// dashboard's variables (as its panels filter them) return series.
TEST_F(PrometheusEndToEnd, SpringBootRecipeVariablesFindValuesAndTheirJvmQueriesDoNot) {
    wait_for_history(prometheus_port_);
    const auto rows = lifeguard::testing::read_spring_boot_recipe(LIFEGUARD_DASHBOARDS_DIR "/README.md");
    ASSERT_GE(rows.size(), 8u);
    const auto fetch = [&](const grafana::label_values_query& q) { return label_values(prometheus_port_, q); };
    for (std::size_t first = 0; first < rows.size();) {
        std::size_t end = first;
        json dashboard{{"templating", {{"list", json::array()}}}};
        for (; end < rows.size() && rows[end].dashboard == rows[first].dashboard; ++end)
            dashboard["templating"]["list"].push_back(
                {{"name", rows[end].variable}, {"type", "query"}, {"query", rows[end].replacement}});
        const auto variables = grafana::resolve(dashboard, fetch);
        for (std::size_t i = first; i < end; ++i) {
            const auto& row = rows[i];
            EXPECT_FALSE(variables[i - first].values.empty())
                << row.dashboard << ", " << row.variable << ": no values for " << row.replacement;
            if (row.original.find("jvm_") == std::string::npos) continue;  // kept, or not a JVM query
            const auto original = grafana::parse_label_values(grafana::interpolate(row.original, variables));
            EXPECT_TRUE(label_values(prometheus_port_, original).empty())
                << row.dashboard << ", " << row.variable << ": the replaced query " << row.original
                << " finds values, so the recipe would not be needed";
        }
        // A HikariCP panel of that dashboard filters each of those labels by its variable
        // (`hikaricp_connections_active{instance="$instance", application="$application", ...}`).
        std::string filter;
        for (std::size_t i = first; i < end; ++i)
            filter += (filter.empty() ? "" : ", ") + grafana::parse_label_values(rows[i].replacement).label + "=\"" +
                      variables[i - first].selected + "\"";
        for (const auto* metric :
             {"hikaricp_connections", "hikaricp_connections_active", "hikaricp_connections_idle",
              "hikaricp_connections_pending", "hikaricp_connections_max", "hikaricp_connections_min",
              "hikaricp_connections_timeout_total", "hikaricp_connections_acquire_seconds_count",
              "hikaricp_connections_usage_seconds_sum", "hikaricp_connections_creation_seconds_max"}) {
            const auto query = std::string(metric) + "{" + filter + "}";
            const auto result = promql(prometheus_port_, query);
            ASSERT_TRUE(result) << "Prometheus rejected " << query;
            EXPECT_FALSE(result->empty()) << rows[first].dashboard << ": no series for " << query;
        }
        first = end;
    }
}

}  // namespace
