// A fixed-size log-linear histogram of acquire waits, so that every acquire of a benchmark run
// can be recorded (tens of millions of them) without allocating, and p99/max can be read
// afterwards. One per thread; they are merged once the run is over.
//
// Values below 32 ns are exact; above, each power of two is split into 16 buckets, so a
// percentile is off by at most 1/32 of its value (it is reported as the bucket's midpoint).
// The maximum is kept exactly.
#pragma once

#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <cstddef>
#include <cstdint>

namespace lifeguard_bench {

class wait_histogram {
public:
    void record(std::uint64_t ns) noexcept {
        ++counts_[index_of(ns)];
        ++count_;
        max_ = std::max(max_, ns);
    }

    void merge(const wait_histogram& other) noexcept {
        for (std::size_t i = 0; i < bucket_count; ++i) counts_[i] += other.counts_[i];
        count_ += other.count_;
        max_ = std::max(max_, other.max_);
    }

    std::uint64_t count() const noexcept { return count_; }
    std::uint64_t max() const noexcept { return max_; }

    // The smallest recorded value v such that a fraction q (0 < q <= 1) of the samples is <= v,
    // rounded to its bucket's midpoint. 0 when nothing was recorded.
    std::uint64_t percentile(double q) const noexcept {
        if (count_ == 0) return 0;
        const auto rank = std::max<std::uint64_t>(
            1, static_cast<std::uint64_t>(std::ceil(q * static_cast<double>(count_))));
        std::uint64_t seen = 0;
        for (std::size_t i = 0; i < bucket_count; ++i) {
            seen += counts_[i];
            if (seen >= rank) return std::min(midpoint_of(i), max_);
        }
        return max_;
    }

private:
    static constexpr unsigned sub_bits = 4;                     // 16 buckets per power of two
    static constexpr unsigned exact_below_log2 = sub_bits + 1;  // values < 32 get their own bucket
    static constexpr unsigned top_log2 = 47;                    // ~39 hours: far beyond any timeout
    static constexpr std::size_t bucket_count = (top_log2 - sub_bits + 2) << sub_bits;

    static std::size_t index_of(std::uint64_t ns) noexcept {
        if (ns < (std::uint64_t{1} << exact_below_log2)) return static_cast<std::size_t>(ns);
        ns = std::min(ns, (std::uint64_t{1} << (top_log2 + 1)) - 1);
        const unsigned log2 = static_cast<unsigned>(std::bit_width(ns)) - 1;
        const unsigned shift = log2 - sub_bits;
        const auto sub = static_cast<std::size_t>((ns >> shift) & ((1u << sub_bits) - 1));
        return (static_cast<std::size_t>(log2 - sub_bits + 1) << sub_bits) + sub;
    }

    static std::uint64_t midpoint_of(std::size_t index) noexcept {
        if (index < (std::size_t{1} << exact_below_log2)) return index;
        const unsigned shift = static_cast<unsigned>(index >> sub_bits) - 1;
        const std::uint64_t sub = index & ((std::size_t{1} << sub_bits) - 1);
        const std::uint64_t lower = ((std::uint64_t{1} << sub_bits) + sub) << shift;
        return lower + ((std::uint64_t{1} << shift) >> 1);
    }

    std::array<std::uint64_t, bucket_count> counts_{};
    std::uint64_t count_ = 0;
    std::uint64_t max_ = 0;
};

}  // namespace lifeguard_bench
