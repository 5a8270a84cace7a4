// Asymmetric fences: the hot path (returning a lease) pays only a compiler barrier, and the
// rare path (a caller about to sleep, close()) pays a membarrier(2) system call that makes
// every running thread of the process execute a full fence. Together they give the
// store-fence-load (Dekker) guarantee both sides need: either the sleeper sees the slot a
// returner published, or the returner sees the sleeper's flag. Where membarrier is not
// available both sides fall back to a seq_cst fence.
#pragma once

#include <atomic>

namespace lifeguard::detail {

/// Registers the process for expedited membarrier once; true when it is available.
bool init_asymmetric_fence() noexcept;

inline std::atomic<bool> asymmetric_fence_available{false};

/// The cheap side: a compiler barrier when membarrier is available.
inline void light_fence() noexcept {
    if (asymmetric_fence_available.load(std::memory_order_relaxed)) [[likely]]
        std::atomic_signal_fence(std::memory_order_seq_cst);
    else
        std::atomic_thread_fence(std::memory_order_seq_cst);
}

/// The expensive side: a process-wide barrier (≈ 0.3 µs) or a seq_cst fence.
void heavy_fence() noexcept;

}  // namespace lifeguard::detail
