// splitmix64 (Steele, Lea and Flood; Vigna's constants): a fast, well-mixed PRNG for the
// elements that draw random numbers per packet (FlowSource, LinkEmulator). Any seed (0
// included) is fine, and nearby seeds (1, 2, 3) give unrelated streams. Not for anything
// that must be unpredictable.
#pragma once
#include <cstdint>

namespace pg {

struct SplitMix64 {
  uint64_t state = 1;
  uint64_t next() {
    uint64_t z = (state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  double uniform() { return double(next() >> 11) * 0x1.0p-53; }  // [0, 1), 53 random bits
};

}  // namespace pg
