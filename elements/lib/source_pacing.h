// Shared pacing for source elements: the `burst`, `rate`, `limit` and `active` config
// fields, the handlers of the same names plus `reset`, and source_state(), with the
// semantics InfiniteSource defined:
//   - each task round emits at most `burst` packets (one batch);
//   - with `limit` >= 0 the source stops after that many packets (reset starts again);
//   - with `rate` > 0 packets are paced by a token bucket (native/token_bucket.h) of depth
//     `burst`: a round that comes late sends what the rate called for, up to a burst; credit
//     beyond the burst is discarded and reported as shortfall (the `rate_shortfall` counter);
//   - a rate written while running applies from that moment, without saved-up credit; a source
//     made active, or restarted by reset, begins with one packet's credit;
//   - with `active` false the source emits nothing until the handler sets it.
//
// Use from a source's run_task():
//   uint64_t late;
//   uint32_t n = pacing_.budget(late);  // 0: nothing to do this round
//   if (late) count(c_rate_shortfall_, late);
//   ... allocate up to n packets, build them, k = how many were built ...
//   pacing_.commit(k);                  // after building, before or after pushing
// The worker owns the bucket; the atomics are written by handlers on the control thread.
// Header-only, no allocation or system call on the packet path.
#pragma once
#include <algorithm>
#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "element.h"
#include "token_bucket.h"

namespace pg {

class SourcePacing {
 public:
  // Reads `limit`, `burst`, `rate` and `active` (all required: the compiler fills defaults).
  void configure(const Config& conf) {
    limit_.store(conf.integer("limit"));
    burst_ = uint32_t(conf.bounded("burst", kMaxBatch));
    rate_.store(conf.number("rate"));
    active_.store(conf.boolean("active"));
    facts_ = &conf.facts();  // the element's, for the handlers' ranges
    bucket_.depth = double(burst_);
    restart_ = true;
  }

  uint32_t burst() const { return burst_; }
  uint64_t sent() const { return sent_.load(std::memory_order_relaxed); }

  // Worker: how many packets this round may emit (0 when inactive, finished or not yet due).
  // `late` is set to the packets the rate called for whose credit was discarded since the
  // last call (the shortfall to count).
  uint32_t budget(uint64_t& late) {
    late = 0;
    paced_ = false;
    if (!active_.load(std::memory_order_relaxed)) return pause();
    uint32_t n = burst_;
    int64_t limit = limit_.load(std::memory_order_relaxed);
    if (limit >= 0) {
      uint64_t sent = sent_.load(std::memory_order_relaxed);
      if (sent >= uint64_t(limit)) return pause();
      n = uint32_t(std::min<uint64_t>(n, uint64_t(limit) - sent));
    }
    const double rate = rate_.load(std::memory_order_relaxed);
    if (!(rate > 0)) return pause(n);
    const uint64_t now = now_ns();
    if (restart_) {
      bucket_.rate = rate;
      bucket_.start(now, 1);
      restart_ = false;
    } else if (rate != bucket_.rate) {
      lost_ += bucket_.set_rate(now, rate);
    } else {
      lost_ += bucket_.refill(now);
    }
    if (lost_ >= 1) {
      late = uint64_t(lost_);
      lost_ -= double(late);
    }
    const uint64_t have = bucket_.whole();
    if (have == 0) {
      wake_at(bucket_.wake_time(kPacingGatherNs));
      return 0;
    }
    paced_ = true;
    return uint32_t(std::min<uint64_t>(n, have));
  }

  // Worker: n packets were emitted this round (n <= the last budget()).
  void commit(uint32_t n) {
    if (n == 0) return;
    sent_.fetch_add(n, std::memory_order_relaxed);  // an add, so a concurrent reset is never lost
    if (paced_) bucket_.take(double(n));
  }

  // Hot reconfiguration: go on from where the old source was (its count towards the limit,
  // and its bucket when the rate is the same, so the rate holds across the swap without a
  // burst or a gap).
  void take(const SourcePacing& old) {
    sent_.store(old.sent_.load());
    if (old.rate_.load() == rate_.load() && old.burst_ == burst_) {
      bucket_ = old.bucket_;
      lost_ = old.lost_;
      restart_ = old.restart_;
    }
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
                 [this](const std::string& v) { rate_.store(parse_field_number(*facts_, v, "rate")); }});
    h.push_back({"limit", [this] { return std::to_string(limit_.load()); },
                 [this](const std::string& v) {
                   limit_.store(parse_field_integer(*facts_, v, "limit"));
                 }});
    h.push_back({"reset", nullptr, [this, on_reset](const std::string&) {
                   sent_.store(0);
                   if (on_reset) on_reset();
                 }});
  }

 private:
  // Set by configure() (the descriptor declares the defaults).
  std::atomic<int64_t> limit_{0};
  std::atomic<uint64_t> sent_{0};
  std::atomic<double> rate_{0};
  std::atomic<bool> active_{false};
  uint32_t burst_ = 0;
  const ClassFacts* facts_ = nullptr;
  // Worker only.
  TokenBucket bucket_;
  double lost_ = 0;       // discarded credit not yet reported (a fraction of a packet)
  bool restart_ = true;   // the next paced round starts the bucket afresh
  bool paced_ = false;    // the last budget() came from the bucket

  // Not paced this round (inactive, finished or unpaced): the next paced round starts afresh.
  uint32_t pause(uint32_t n = 0) {
    restart_ = true;
    lost_ = 0;
    return n;
  }
};

}  // namespace pg
