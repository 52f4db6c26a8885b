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

// A task with nothing to do now but something at a known time (a paced source, a rate
// limiter) says when, so an idle worker sleeps no longer than that. Reset every round.
extern thread_local uint64_t tls_wake_ns;
inline void wake_at(uint64_t monotonic_ns) {
  if (monotonic_ns < tls_wake_ns) tls_wake_ns = monotonic_ns;
}

// A task with nothing ready whose next work arrives on a file descriptor (a device's receive
// ring) names the fd, so an idle worker waits in poll() on it instead of sleeping blind, and
// runs again as soon as the fd is readable. Reset every round; up to kMaxWaitFds per worker.
constexpr uint32_t kMaxWaitFds = 16;
struct WaitFds {
  int fd[kMaxWaitFds];
  uint32_t n = 0;
};
extern thread_local WaitFds tls_wait_fds;
// How many wake_on_fd calls this worker has had: the engine tells a task that found nothing
// and waits on an fd (all its input comes through it) from one it must poll (a queue another
// worker may fill, or one that only said when it would next have work: a scheduler whose
// classes wait for tokens can still get a packet for another class meanwhile).
extern thread_local uint32_t tls_fd_waits;
inline void wake_on_fd(int fd) {
  tls_fd_waits++;
  if (tls_wait_fds.n < kMaxWaitFds) tls_wait_fds.fd[tls_wait_fds.n++] = fd;
}

// The worker's cached monotonic time (the exact time on non-worker threads).
inline uint64_t now_ns() { return tls_clock.mono_ns ? tls_clock.mono_ns : monotonic_ns(); }
inline int64_t wall_ns() { return tls_clock.real_ns ? tls_clock.real_ns : realtime_ns(); }

}  // namespace pg
