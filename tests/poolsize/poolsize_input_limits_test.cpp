// poolsize reads at most 1 MiB of a snapshot, whatever the file is: a file of exactly the cap
// is read, one byte more is refused, and a huge sparse file, a FIFO that never ends and
// /dev/zero are refused once the cap is passed, with an error that states the cap.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "run_process.hpp"
#include "temp_file.hpp"

namespace {

using lifeguard::testing::process_result;
using lifeguard::testing::run_process;
using lifeguard::testing::temp_file;

constexpr std::size_t cap = std::size_t{1} << 20;
const std::string cap_message = "too large: more than the cap of 1048576 bytes (1 MiB)";

const std::string snapshot = R"({"lifeguard_snapshot": 1, "pools": [{"name": "app", "observed_tasks": 2,
                                 "observed_connections_per_task": 2}]})";

// A valid snapshot followed by spaces up to `size` bytes.
std::string padded_snapshot(std::size_t size) {
    return snapshot + std::string(size - snapshot.size(), ' ');
}

process_result poolsize_on(const std::string& path) {
    return run_process(POOLSIZE_BIN, {"--snapshot", path, "--cores", "1"});
}

void expect_refused_at_the_cap(const process_result& r, const std::string& path) {
    EXPECT_EQ(r.exit_code, 2) << r.err;
    EXPECT_EQ(r.out, "");
    EXPECT_EQ(r.err, "poolsize: --snapshot " + path + ": " + cap_message + "\n");
}

TEST(PoolsizeSnapshotCap, ReadsASnapshotOfExactlyTheCap) {
    const temp_file file(padded_snapshot(cap));
    const auto r = poolsize_on(file.path());
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.out.find("max_size"), std::string::npos) << r.out;
}

TEST(PoolsizeSnapshotCap, RefusesOneByteMoreThanTheCap) {
    const temp_file file(padded_snapshot(cap + 1));
    expect_refused_at_the_cap(poolsize_on(file.path()), file.path());
}

TEST(PoolsizeSnapshotCap, RefusesAHugeSparseFile) {
    const temp_file file(snapshot);
    // 256 MiB that take no disk space: the tail reads as zero bytes.
    ASSERT_EQ(::truncate(file.path().c_str(), 256 << 20), 0) << std::strerror(errno);
    expect_refused_at_the_cap(poolsize_on(file.path()), file.path());
}

// A writer that sends spaces into a FIFO until the reader goes away, or until it has sent
// 64 times the cap: then it closes the FIFO, and a poolsize without a cap fails differently
// ("not valid JSON") instead of reading forever.
TEST(PoolsizeSnapshotCap, RefusesAFifoThatDoesNotEnd) {
    const temp_file placeholder("", ".fifo");
    const std::string path = placeholder.path();
    std::filesystem::remove(path);
    ASSERT_EQ(::mkfifo(path.c_str(), 0600), 0) << std::strerror(errno);

    std::thread writer([&] {
        sigset_t pipe_signal;  // a write after poolsize closed the FIFO fails with EPIPE instead
        sigemptyset(&pipe_signal);
        sigaddset(&pipe_signal, SIGPIPE);
        pthread_sigmask(SIG_BLOCK, &pipe_signal, nullptr);
        const int fd = ::open(path.c_str(), O_WRONLY);  // waits for poolsize to open it
        if (fd < 0) return;
        const std::string spaces(64 * 1024, ' ');
        for (std::size_t sent = 0; sent < 64 * cap;) {
            const auto n = ::write(fd, spaces.data(), spaces.size());
            if (n < 0) break;  // EPIPE: poolsize stopped reading
            sent += static_cast<std::size_t>(n);
        }
        ::close(fd);
    });
    const auto r = poolsize_on(path);
    // If poolsize never opened the FIFO, the writer still waits in open(): release it.
    const int release = ::open(path.c_str(), O_RDONLY | O_NONBLOCK);
    if (release >= 0) ::close(release);
    writer.join();
    expect_refused_at_the_cap(r, path);
}

TEST(PoolsizeSnapshotCap, RefusesDevZero) {
    // The CPU-time limit only turns a poolsize without a cap from a hang (and a machine out of
    // memory) into a failure; reading 1 MiB takes a tiny fraction of it.
    const auto r =
        run_process("prlimit", {"--cpu=5", "--", POOLSIZE_BIN, "--snapshot", "/dev/zero", "--cores", "1"});
    expect_refused_at_the_cap(r, "/dev/zero");
}

}  // namespace
