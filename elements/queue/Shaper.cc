// Shaper: a pull element passing at most `rate` packets per second. Documentation: Shaper.ts.
#include <algorithm>

#include "element.h"
#include "rate_limit.h"

namespace pg {

class Shaper final : public Element {
 public:
  void configure(const Config& conf) override {
    limit_.configure(conf, /*bytes=*/false);
    c_packets_ = counter("packets");
    c_bytes_ = counter("bytes");
  }

  uint32_t pull(int, Batch& b, uint32_t max) override {
    max = std::min(max, kMaxBatch - b.count);
    const uint32_t first = b.count;
    {
      SpinLock::Guard lock(limit_.lock);
      TokenBucket& tb = limit_.update(now_ns());
      const uint32_t have = uint32_t(std::min<uint64_t>(tb.whole(), max));
      if (have == 0) {
        wake_at(tb.wake_time(kPacingGatherNs));  // the puller's worker: come back when a token is due
        return 0;
      }
      tb.take(double(input_pull(0, b, have)));
    }
    const uint32_t n = b.count - first;
    if (n == 0) return 0;
    uint64_t bytes = 0;
    for (uint32_t i = first; i < b.count; i++) bytes += b.pkts[i]->length();
    count(c_packets_, n);
    count(c_bytes_, bytes);
    return n;
  }

  void add_handlers(std::vector<Handler>& h) override { limit_.add_handlers(h); }

 private:
  RateLimit limit_;
  uint32_t c_packets_ = 0, c_bytes_ = 0;
};

PG_ELEMENT(Shaper);

}  // namespace pg
