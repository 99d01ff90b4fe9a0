// Counter-based random numbers: a draw depends only on (seed, row, sample, k), so
// Monte Carlo results are the same whatever the thread count. python/ngdx/_reference.py
// implements the same generator.
#pragma once

#include <cstdint>

namespace ngdx::rng {

/// SplitMix64 finalizer (Steele, Lea & Flood 2014).
inline std::uint64_t mix(std::uint64_t z) {
  z += 0x9E3779B97F4A7C15ULL;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

/// The uniforms of one (row, sample) pair: u(k) in [0, 1) for k = 0, 1, 2, ...
class Stream {
 public:
  Stream(std::uint64_t seed, std::uint64_t row, std::uint64_t n_samples, std::uint64_t sample)
      : key_(mix(mix(seed) ^ mix(row * n_samples + sample))) {}
  double uniform(std::uint64_t k) const {
    return static_cast<double>(mix(key_ + k) >> 11) * 0x1.0p-53;
  }
  /// The same stream from draw `offset` on: shifted(o).uniform(k) == uniform(o + k). A
  /// sampler that reads draws 0, 1, ... then reads o, o + 1, ... (one stream, several
  /// outputs: output k of a row starts at k * draws-per-output).
  Stream shifted(std::uint64_t offset) const {
    Stream s = *this;
    s.key_ += offset;  // uniform(k) hashes key_ + k, modulo 2^64 in both
    return s;
  }

 private:
  std::uint64_t key_;
};

}  // namespace ngdx::rng
