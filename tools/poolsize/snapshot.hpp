// Reads a lifeguard diagnostics snapshot (version 1): per pool, the observed number of tasks
// holding connections at once (Tn) and the most connections one task held at once (Cm), so
// poolsize can size from measurement instead of guesses. The format is in docs/poolsize.md.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

namespace lifeguard::poolsize {

/// One observed nested acquisition: a task holding a lease from `outer_site` acquired another
/// at `inner_site`.
struct nested_acquisition {
    std::string outer_site;
    std::string inner_site;
    std::size_t depth = 0;  ///< connections held at once along this path (Cm for this pair)
    std::size_t tasks = 0;  ///< tasks seen nesting here at once (Tn for this pair)
    std::size_t count = 0;  ///< times seen
};

struct snapshot_pool {
    std::string name;
    std::size_t observed_tasks = 0;                 ///< 0 when the pool was not used
    std::size_t observed_connections_per_task = 0;  ///< 0 when the pool was not used
    std::optional<std::size_t> max_size;            ///< the pool's configured max_size
    std::vector<nested_acquisition> nested;
};

struct snapshot {
    std::string path;
    std::vector<snapshot_pool> pools;  ///< never empty, names unique
};

/// The largest snapshot poolsize reads (an entry per pool and per nested call-site pair needs
/// far less); a larger file, or a FIFO or device that never ends, is refused once this much has
/// been read.
constexpr std::size_t snapshot_max_bytes = std::size_t{1} << 20;  // 1 MiB

/// Reads and validates `path`. Throws usage_error naming the file and what is wrong: unreadable,
/// not JSON, larger than snapshot_max_bytes, a key twice in one object, another
/// `lifeguard_snapshot` version, a missing or mistyped required field,
/// duplicate pool names, or observations that contradict each other. Unknown fields are ignored.
snapshot read_snapshot(const std::string& path);

}  // namespace lifeguard::poolsize
