#include "stats.hpp"

#include <bit>

namespace quorum::bench {

histogram::histogram() : counts_((64 - sub_bits + 1) * sub_count) {}

void histogram::merge(const histogram& other) {
    for (std::size_t i = 0; i < counts_.size(); ++i) counts_[i] += other.counts_[i];
    total_ += other.total_;
    sum_ += other.sum_;
    max_ = std::max(max_, other.max_);
}

std::uint64_t histogram::percentile(double p) const {
    if (total_ == 0) return 0;
    const auto rank = nearest_rank(p, static_cast<std::size_t>(total_));
    std::uint64_t seen = 0;
    for (std::size_t i = 0; i < counts_.size(); ++i) {
        seen += counts_[i];
        if (seen >= rank) return std::min(highest_in(i), max_);
    }
    return max_;
}

std::size_t histogram::index_of(std::uint64_t v) {
    if (v < sub_count) return static_cast<std::size_t>(v);
    const auto e = static_cast<unsigned>(std::bit_width(v)) - 1;  // floor(log2 v) >= sub_bits
    const unsigned shift = e - sub_bits;
    return static_cast<std::size_t>((e - sub_bits + 1) * sub_count +
                                    ((v >> shift) & (sub_count - 1)));
}

std::uint64_t histogram::highest_in(std::size_t i) {
    if (i < sub_count) return i;
    const auto shift = static_cast<unsigned>(i / sub_count - 1);
    const std::uint64_t lowest = (sub_count + i % sub_count) << shift;
    return lowest + ((std::uint64_t{1} << shift) - 1);
}

std::size_t nearest_rank(double p, std::size_t n) {
    const auto rank = static_cast<std::size_t>(std::ceil(p / 100.0 * static_cast<double>(n)));
    return std::clamp<std::size_t>(rank, 1, n);
}

double median(std::vector<double> values) {
    if (values.empty()) return 0;
    std::sort(values.begin(), values.end());
    const auto n = values.size();
    return n % 2 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
}

}  // namespace quorum::bench
