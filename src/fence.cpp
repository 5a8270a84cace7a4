// membarrier(2)-based heavy fence; see lifeguard/detail/fence.hpp.
#include "lifeguard/detail/fence.hpp"

#include <linux/membarrier.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <mutex>

namespace lifeguard::detail {

bool init_asymmetric_fence() noexcept {
    static std::once_flag once;
    std::call_once(once, [] {
        const long supported = ::syscall(__NR_membarrier, MEMBARRIER_CMD_QUERY, 0, 0);
        if (supported < 0 || !(supported & MEMBARRIER_CMD_PRIVATE_EXPEDITED)) return;
        if (::syscall(__NR_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0, 0) != 0) return;
        asymmetric_fence_available.store(true, std::memory_order_seq_cst);
    });
    return asymmetric_fence_available.load(std::memory_order_relaxed);
}

void heavy_fence() noexcept {
    std::atomic_thread_fence(std::memory_order_seq_cst);
    if (asymmetric_fence_available.load(std::memory_order_relaxed))
        ::syscall(__NR_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0);
}

}  // namespace lifeguard::detail
