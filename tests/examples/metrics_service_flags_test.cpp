// examples/metrics_service's command line: --help prints every flag and exits 0; a bad value,
// an unknown flag, a missing value or a stray argument exits 2 with a message that names the
// flag and the value, before the service starts (were it to start, it is stopped and the test
// fails).
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "run_process.hpp"

namespace {

using lifeguard::testing::process_result;
using lifeguard::testing::run_process;

const std::string started = "listening on http://";

process_result metrics_service(std::vector<std::string> args) {
    // Port 0: a service that wrongly starts never collides with another one.
    args.insert(args.begin(), {"--listen", "127.0.0.1:0"});
    return run_process(LIFEGUARD_METRICS_SERVICE, args, {}, started);
}

TEST(MetricsServiceFlags, HelpListsEveryFlagAndExitsZero) {
    const auto r = run_process(LIFEGUARD_METRICS_SERVICE, {"--help"}, {}, started);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_FALSE(r.stopped) << "the service started instead of printing its help";
    EXPECT_EQ(r.err, "");
    for (const char* flag : {"--listen ADDRESS:PORT=127.0.0.1:9464", "--prefix NAME=lifeguard",
                             "--application NAME=metrics_service", "--load-threads N:0..64=3"}) {
        EXPECT_NE(r.out.find(flag), std::string::npos) << flag << " not in:\n" << r.out;
    }
}

struct bad_usage {
    std::vector<std::string> args;
    std::string message;  ///< stderr starts with "metrics_service: " + message

    friend void PrintTo(const bad_usage& c, std::ostream* os) {
        *os << "metrics_service";
        for (const auto& a : c.args) *os << " '" << a << "'";
    }
};

class MetricsServiceBadUsage : public ::testing::TestWithParam<bad_usage> {};

TEST_P(MetricsServiceBadUsage, ExitsTwoNamingTheFlagAndTheValue) {
    const auto r = metrics_service(GetParam().args);
    EXPECT_FALSE(r.stopped) << "the service started";
    EXPECT_EQ(r.exit_code, 2) << r.err;
    EXPECT_EQ(r.out, "");
    EXPECT_EQ(r.err,
              "metrics_service: " + GetParam().message + "\nRun 'metrics_service --help' for usage.\n");
}

INSTANTIATE_TEST_SUITE_P(
    Flags, MetricsServiceBadUsage,
    ::testing::Values(
        bad_usage{{"--load-threads", "abc"}, "--load-threads: Value abc not in range 0 to 64"},
        bad_usage{{"--load-threads", "-1"}, "--load-threads: Value -1 not in range 0 to 64"},
        bad_usage{{"--load-threads", "65"}, "--load-threads: Value 65 not in range 0 to 64"},
        bad_usage{{"--load-threads", "2.5"}, "--load-threads: Value 2.5 not in range 0 to 64"},
        bad_usage{{"--load-threads", "99999999999999999999"},
                  "--load-threads: Value 99999999999999999999 not in range 0 to 64"},
        bad_usage{{"--load-threads"}, "--load-threads: 1 required N:0..64 missing"},
        bad_usage{{"--frobnicate", "1"}, "The following arguments were not expected: 1 --frobnicate"},
        bad_usage{{"--frobnicate"}, "The following argument was not expected: --frobnicate"},
        bad_usage{{"stray"}, "The following argument was not expected: stray"},
        bad_usage{{"--listen", "nonsense"}, "--listen: expected ADDRESS:PORT"},
        bad_usage{{"--listen", "127.0.0.1:65536"}, "--listen: the port must be a number 0..65535"},
        bad_usage{{"--listen", "127.0.0.1:-1"}, "--listen: the port must be a number 0..65535"},
        bad_usage{{"--prefix", "9bad"},
                  "prometheus_options.prefix = '9bad': must be a metric name ([a-zA-Z_:][a-zA-Z0-9_:]*) "
                  "without '__' and not ending in '_'"}));

}  // namespace
