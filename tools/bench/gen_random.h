// Deterministic pseudo-random numbers for dmarq-gen.
//
// Guarantees: every value depends only on the seed and the sequence of calls,
// never on the platform's <random> implementation, the clock or libm. That is
// why the generator uses its own xoshiro256** / splitmix64 and integer-only
// distributions: std::uniform_int_distribution and std::exp/std::log are
// allowed to differ between standard libraries, which would break the
// "same options + seed => byte-identical corpus" promise.
#pragma once

#include <cstdint>

namespace dmarq::gen {

// splitmix64 finalizer. It is a bijection on 64-bit integers, so distinct
// keys always give distinct outputs; report ids rely on that for uniqueness.
constexpr uint64_t mix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

// Hashes several integers into one; used for per-entity properties (a
// domain's policy, an IP's sender class) that must not depend on call order.
constexpr uint64_t hash_of(uint64_t a, uint64_t b = 0, uint64_t c = 0,
                           uint64_t d = 0) {
  uint64_t h = mix64(a);
  h = mix64(h ^ b);
  h = mix64(h ^ c);
  return mix64(h ^ d);
}

// xoshiro256** (Blackman and Vigna), seeded through splitmix64 as its
// authors recommend so that similar seeds give unrelated streams.
class Rng {
 public:
  explicit Rng(uint64_t seed) {
    uint64_t x = seed;
    for (auto& word : state_) {
      x += 0x9e3779b97f4a7c15ull;
      word = mix64(x);
    }
  }

  uint64_t next() {
    const uint64_t result = rotl(state_[1] * 5, 7) * 9;
    const uint64_t t = state_[1] << 17;
    state_[2] ^= state_[0];
    state_[3] ^= state_[1];
    state_[1] ^= state_[2];
    state_[0] ^= state_[3];
    state_[2] ^= t;
    state_[3] = rotl(state_[3], 45);
    return result;
  }

  // Uniform in [0, n); n == 0 yields 0. Rejection sampling removes the
  // modulo bias (it matters for small pools drawn millions of times).
  uint64_t below(uint64_t n) {
    if (n == 0) return 0;
    const uint64_t threshold = (0 - n) % n;
    for (;;) {
      const uint64_t r = next();
      if (r >= threshold) return r % n;
    }
  }

  // Uniform in [lo, hi] (inclusive); requires lo <= hi.
  uint64_t between(uint64_t lo, uint64_t hi) {
    if (hi - lo == UINT64_MAX) return next();
    return lo + below(hi - lo + 1);
  }

  // True with probability permille / 1000.
  bool chance(unsigned permille) { return below(1000) < permille; }

  // Roughly log-uniform in [lo, hi] with integers only: pick a power-of-two
  // octave uniformly, then a value uniformly inside it. Small values are as
  // likely per octave as large ones, which mirrors real report sizes (most
  // reports are tiny, a few are huge).
  uint64_t log_uniform(uint64_t lo, uint64_t hi) {
    if (lo == 0) lo = 1;
    if (hi <= lo) return lo;
    const int lo_bits = bit_width(lo);
    const int hi_bits = bit_width(hi);
    const int octave = static_cast<int>(between(lo_bits, hi_bits));
    uint64_t first = uint64_t{1} << (octave - 1);
    uint64_t last = octave >= 64 ? UINT64_MAX : (uint64_t{1} << octave) - 1;
    if (first < lo) first = lo;
    if (last > hi) last = hi;
    return between(first, last);
  }

 private:
  static constexpr uint64_t rotl(uint64_t x, int k) {
    return (x << k) | (x >> (64 - k));
  }
  static int bit_width(uint64_t x) {
    int bits = 0;
    while (x != 0) {
      ++bits;
      x >>= 1;
    }
    return bits;
  }

  uint64_t state_[4];
};

}  // namespace dmarq::gen
