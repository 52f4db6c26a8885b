// The latency stamp TimestampStamp writes and LatencyMeter reads: the marker "PGTS" and a
// CLOCK_MONOTONIC time in ns, big-endian, 12 bytes in all. Byte-wise access: the offset need
// not be aligned.
#pragma once
#include <cstdint>

namespace pg {

constexpr uint32_t kLatencyStampBytes = 12;
constexpr uint8_t kLatencyMarker[4] = {'P', 'G', 'T', 'S'};

inline void write_latency_stamp(uint8_t* p, uint64_t ns) {
  for (int i = 0; i < 4; i++) p[i] = kLatencyMarker[i];
  for (int i = 0; i < 8; i++) p[4 + i] = uint8_t(ns >> (56 - 8 * i));
}

// False when the marker is not there (an unstamped packet).
inline bool read_latency_stamp(const uint8_t* p, uint64_t& ns) {
  if (p[0] != kLatencyMarker[0] || p[1] != kLatencyMarker[1] || p[2] != kLatencyMarker[2] || p[3] != kLatencyMarker[3]) return false;
  uint64_t v = 0;
  for (int i = 0; i < 8; i++) v = (v << 8) | p[4 + i];
  ns = v;
  return true;
}

}  // namespace pg
