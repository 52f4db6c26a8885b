// Shared pacing for source elements: the `burst`, `rate`, `limit` and `active` config
// fields, the handlers of the same names plus `reset`, and source_state(), with the
// semantics InfiniteSource defined:
//   - each task round emits at most `burst` packets (one batch);
//   - with `limit` >= 0 the source stops after that many packets (reset starts again);
//   - with `rate` > 0 packets are paced by time, one every 1/rate seconds, never more than
//     `burst` per round; up to 2 ms of credit is kept across stalls so the rate holds;
//   - with `active` false the source emits nothing until the handler sets it.
//
// Use from a source's run_task():
//   uint32_t n = pacing_.budget();      // 0: nothing to do this round
//   ... allocate up to n packets, build them, k = how many were built ...
//   pacing_.commit(k);                  // after building, before or after pushing
// The worker owns the pacing clock; the atomics are written by handlers on the control
// thread. Header-only, no allocation or system call on the packet path.
#pragma once
#include <algorithm>
#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "element.h"

namespace pg {

class SourcePacing {
 public:
  // Reads `limit`, `burst`, `rate` and `active` (all required: the compiler fills defaults).
  void configure(const Config& conf) {
    limit_.store(conf.integer("limit", -1, INT64_MAX));
    burst_ = uint32_t(conf.integer("burst", 1, kMaxBatch));
    rate_.store(conf.number("rate", 0, 1e10));
    active_.store(conf.boolean("active"));
    next_ns_ = 0;
  }

  uint32_t burst() const { return burst_; }
  uint64_t sent() const { return sent_.load(std::memory_order_relaxed); }

  // Worker: how many packets this round may emit (0 when inactive, finished or not yet due).
  uint32_t budget() {
    if (!active_.load(std::memory_order_relaxed)) return 0;
    uint32_t n = burst_;
    int64_t limit = limit_.load(std::memory_order_relaxed);
    if (limit >= 0) {
      uint64_t sent = sent_.load(std::memory_order_relaxed);
      if (sent >= uint64_t(limit)) return 0;
      n = uint32_t(std::min<uint64_t>(n, uint64_t(limit) - sent));
    }
    double rate = rate_.load(std::memory_order_relaxed);
    interval_ = 0;
    if (rate > 0) {
      // One packet every 1/rate seconds. Credit for time the worker spent elsewhere (an idle
      // sleep, other tasks) is kept up to 2 ms (or a burst), and paid out a burst per round,
      // so the long-run rate is exact without ever sending more than a burst at once.
      double now = double(now_ns());
      double interval = 1e9 / rate;
      double max_lag = std::max(interval * burst_, 2e6);
      if (next_ns_ == 0) next_ns_ = now;
      else if (now - next_ns_ > max_lag) next_ns_ = now - max_lag;
      if (now < next_ns_) {
        wake_at(uint64_t(next_ns_));
        return 0;
      }
      uint64_t due = uint64_t((now - next_ns_) / interval) + 1;
      n = uint32_t(std::min<uint64_t>(n, due));
      interval_ = interval;
    }
    return n;
  }

  // Worker: n packets were emitted this round (n <= the last budget()).
  void commit(uint32_t n) {
    if (n == 0) return;
    sent_.fetch_add(n, std::memory_order_relaxed);  // an add, so a concurrent reset is never lost
    if (interval_ > 0) next_ns_ += interval_ * n;
  }

  SourceState state() const {
    int64_t limit = limit_.load(std::memory_order_relaxed);
    if (limit < 0) return SourceState::Running;
    return sent_.load(std::memory_order_relaxed) >= uint64_t(limit) ? SourceState::Finished : SourceState::Running;
  }

  // The active, rate, limit and reset handlers. on_reset (optional) runs on the control
  // thread after the limit count restarts.
  void add_handlers(std::vector<Handler>& h, std::function<void()> on_reset = {}) {
    h.push_back({"active", [this] { return std::string(active_.load() ? "true" : "false"); },
                 [this](const std::string& v) { active_.store(parse_bool(v, "active")); }});
    h.push_back({"rate", [this] { return format_number(rate_.load()); },
                 [this](const std::string& v) { rate_.store(parse_double(v, 0, 1e10, "rate")); }});
    h.push_back({"limit", [this] { return std::to_string(limit_.load()); },
                 [this](const std::string& v) {
                   limit_.store(v == "-1" ? -1 : int64_t(parse_u64(v, 0, INT64_MAX, "limit")));
                 }});
    h.push_back({"reset", nullptr, [this, on_reset](const std::string&) {
                   sent_.store(0);
                   if (on_reset) on_reset();
                 }});
  }

 private:
  std::atomic<int64_t> limit_{-1};
  std::atomic<uint64_t> sent_{0};
  std::atomic<double> rate_{0};
  std::atomic<bool> active_{true};
  uint32_t burst_ = 32;
  double next_ns_ = 0;   // worker only
  double interval_ = 0;  // worker only: the pacing interval of the last budget() (0: unpaced)
};

}  // namespace pg
