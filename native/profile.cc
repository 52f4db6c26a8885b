#include "profile.h"

#include <time.h>

#include <mutex>

namespace pg {

constinit thread_local ProfileThread tls_profile;

namespace {
std::mutex clock_mutex;
uint64_t base_ns = 0, base_ticks = 0;

void start_locked() {
  if (base_ns) return;
  base_ns = monotonic_ns();
  base_ticks = profile_ticks();
}
}  // namespace

void profile_clock_start() {
  std::lock_guard<std::mutex> lock(clock_mutex);
  start_locked();
}

double profile_ns_per_tick() {
  std::lock_guard<std::mutex> lock(clock_mutex);
  start_locked();
  uint64_t ns = monotonic_ns(), ticks = profile_ticks();
  // Below 20 ms the two clocks' read jitter would show; wait out the rest.
  if (ns - base_ns < 20000000) {
    timespec ts{0, long(20000000 - (ns - base_ns))};
    nanosleep(&ts, nullptr);
    ns = monotonic_ns();
    ticks = profile_ticks();
  }
  return ticks > base_ticks ? double(ns - base_ns) / double(ticks - base_ticks) : 1.0;
}

}  // namespace pg
