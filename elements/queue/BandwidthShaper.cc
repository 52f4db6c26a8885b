// BandwidthShaper: a pull element passing at most `rate` bits per second. Documentation:
// BandwidthShaper.ts.
#include "element.h"
#include "rate_limit.h"

namespace pg {

class BandwidthShaper final : public Element {
 public:
  void configure(const Config& conf) override {
    limit_.configure(conf, /*bytes=*/true);
    c_packets_ = counter("packets");
    c_bytes_ = counter("bytes");
  }

  uint32_t pull(int, Batch& b, uint32_t max) override {
    uint64_t bytes = 0;
    uint32_t n;
    {
      SpinLock::Guard lock(limit_.lock);
      TokenBucket& tb = limit_.update(now_ns());
      bool dry;
      n = limit_.pull_bytes(b, max, [this](Batch& into, uint32_t k) { return input_pull(0, into, k); }, bytes, dry);
      if (!tb.any()) wake_at(tb.wake_time(kPacingGatherNs));  // the puller's worker: come back when credit is due
    }
    if (n) {
      count(c_packets_, n);
      count(c_bytes_, bytes);
    }
    return n;
  }

  uint64_t held_packets() const override { return limit_.held(); }
  void cleanup() override { limit_.free_held(pool()); }
  // Hot reconfiguration: the packets waiting for credit and the bucket carry over.
  void take_state(Element& old) override { limit_.take(static_cast<BandwidthShaper&>(old).limit_); }
  void add_handlers(std::vector<Handler>& h) override { limit_.add_handlers(h); }

 private:
  RateLimit limit_;
  uint32_t c_packets_ = 0, c_bytes_ = 0;
};

PG_ELEMENT(BandwidthShaper);

}  // namespace pg
