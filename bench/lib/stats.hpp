// Statistics of the benchmark programs: a fixed-size latency histogram for the load generator's
// millions of samples, and percentiles and medians of a set of values. Every percentile here is
// the nearest rank: the smallest value such that at least p percent of the values are <= it.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <type_traits>
#include <vector>

namespace quorum::bench {

/// Log-linear histogram of non-negative integers (nanoseconds, say), in the manner of
/// HdrHistogram: values below 2^sub_bits are kept exactly; above that, every power-of-two range
/// [2^e, 2^(e+1)) is split into 2^sub_bits equal buckets, so a reported value is at most 0.1 %
/// above the true one. Fixed size (450 KiB), constant-time record, no allocation while recording.
class histogram {
public:
    static constexpr unsigned sub_bits = 10;
    static constexpr std::uint64_t sub_count = std::uint64_t{1} << sub_bits;

    histogram();

    void record(std::uint64_t value) {
        ++counts_[index_of(value)];
        ++total_;
        sum_ += static_cast<double>(value);
        max_ = std::max(max_, value);
    }

    void merge(const histogram& other);

    [[nodiscard]] std::uint64_t count() const { return total_; }
    [[nodiscard]] std::uint64_t max() const { return max_; }
    [[nodiscard]] double mean() const { return total_ ? sum_ / static_cast<double>(total_) : 0; }

    /// The smallest bucket bound such that at least `p` percent of the values are <= it
    /// (0 when empty). Never above the exact maximum.
    [[nodiscard]] std::uint64_t percentile(double p) const;

private:
    static std::size_t index_of(std::uint64_t v);
    /// The largest value that lands in bucket `i`.
    static std::uint64_t highest_in(std::size_t i);

    std::vector<std::uint64_t> counts_;
    std::uint64_t total_ = 0;
    std::uint64_t max_ = 0;
    double sum_ = 0;
};

/// The 1-based nearest rank of percentile `p` (0 to 100) among `n` values, n > 0.
[[nodiscard]] std::size_t nearest_rank(double p, std::size_t n);

/// Percentile `p` (0 to 100; 100 is the maximum) of `values`, 0 when empty. Reorders `values`
/// (nth_element), which stays a permutation of what it was.
template <class T>
requires std::is_arithmetic_v<T>
[[nodiscard]] T percentile(std::vector<T>& values, double p) {
    if (values.empty()) return T{};
    const auto rank = nearest_rank(p, values.size());
    const auto nth = values.begin() + static_cast<std::ptrdiff_t>(rank - 1);
    std::nth_element(values.begin(), nth, values.end());
    return *nth;
}

/// The median of `values` (the mean of the middle two for an even count), 0 when empty.
[[nodiscard]] double median(std::vector<double> values);

}  // namespace quorum::bench
