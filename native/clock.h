// Time for the packet path: each worker reads the clock once per loop round and
// elements use that cached value; exact clocks are there for the few that need them.
#pragma once
#include <cstdint>
#include <ctime>

namespace pg {

inline uint64_t monotonic_ns() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return uint64_t(ts.tv_sec) * 1000000000ull + uint64_t(ts.tv_nsec);
}

inline int64_t realtime_ns() {
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return int64_t(ts.tv_sec) * 1000000000ll + int64_t(ts.tv_nsec);
}

// Per-thread loop time, refreshed by the worker at the top of every round.
struct LoopClock {
  uint64_t mono_ns = 0;
  int64_t real_ns = 0;
};
extern thread_local LoopClock tls_clock;

// The worker's cached monotonic time (the exact time on non-worker threads).
inline uint64_t now_ns() { return tls_clock.mono_ns ? tls_clock.mono_ns : monotonic_ns(); }
inline int64_t wall_ns() { return tls_clock.real_ns ? tls_clock.real_ns : realtime_ns(); }

}  // namespace pg
