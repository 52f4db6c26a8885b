// BandwidthRatedUnqueue: pulls packets at a set bandwidth and pushes them on.
// Documentation: BandwidthRatedUnqueue.ts.
#include <atomic>
#include <cmath>

#include "element.h"
#include "rate_limit.h"

namespace pg {

class BandwidthRatedUnqueue final : public Element {
 public:
  void configure(const Config& conf) override {
    limit_.configure(conf, /*bytes=*/true);
    active_.store(conf.boolean("active"));
    c_packets_ = counter("packets");
    c_bytes_ = counter("bytes");
    c_rate_shortfall_ = counter("rate_shortfall");
    request_task();
  }

  bool run_task() override {
    Batch b;
    uint64_t bytes = 0, late = 0;
    {
      SpinLock::Guard lock(limit_.lock);
      double over;
      TokenBucket& tb = limit_.update(now_ns(), &over);
      // Credit that overflowed while inactive or with the input empty is no shortfall.
      if (!active_.load(std::memory_order_relaxed)) return false;
      bool dry;
      limit_.pull_bytes(b, kMaxBatch, [this](Batch& into, uint32_t k) { return input_pull(0, into, k); }, bytes, dry);
      if (over > 0 && !dry) {
        lost_ += over / limit_.mean_cost();  // packets were waiting: the round came late
        late = uint64_t(lost_);
        lost_ -= double(late);
      }
      if (!tb.any()) wake_at(tb.wake_time(kPacingGatherNs));
    }
    if (late) count(c_rate_shortfall_, late);
    if (b.count == 0) return false;
    count(c_packets_, b.count);
    count(c_bytes_, bytes);
    output_push(0, b);
    return true;
  }

  uint64_t held_packets() const override { return limit_.held(); }
  void cleanup() override { limit_.free_held(pool()); }
  // Hot reconfiguration: the packets waiting for credit and the bucket carry over.
  void take_state(Element& old) override { limit_.take(static_cast<BandwidthRatedUnqueue&>(old).limit_); }

  void add_handlers(std::vector<Handler>& h) override {
    limit_.add_handlers(h);
    h.push_back({"active", [this] { return std::string(active_.load() ? "true" : "false"); },
                 [this](const std::string& v) { active_.store(parse_bool(v, "active")); }});
  }

 private:
  RateLimit limit_;
  std::atomic<bool> active_{true};
  double lost_ = 0;  // discarded credit not yet reported (a fraction of a packet); task only
  uint32_t c_packets_ = 0, c_bytes_ = 0, c_rate_shortfall_ = 0;
};

PG_ELEMENT(BandwidthRatedUnqueue);

}  // namespace pg
