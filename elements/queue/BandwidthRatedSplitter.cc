// BandwidthRatedSplitter: at most `rate` bits per second to output 0, the rest to output 1.
// Documentation: BandwidthRatedSplitter.ts.
#include "element.h"
#include "rate_limit.h"

namespace pg {

class BandwidthRatedSplitter final : public Element {
 public:
  void configure(const Config& conf) override {
    limit_.configure(conf, /*bytes=*/true);
    c_packets_ = counter("packets");
    c_bytes_ = counter("bytes");
    c_over_ = counter("over");
    c_over_bytes_ = counter("over_bytes");
  }

  void push(int, Batch& b) override {
    Batch over;
    uint32_t keep = 0;
    uint64_t bytes = 0, over_bytes = 0;
    {
      SpinLock::Guard lock(limit_.lock);
      TokenBucket& tb = limit_.update(now_ns());
      for (uint32_t i = 0; i < b.count; i++) {
        Packet* p = b.pkts[i];
        if (tb.any()) {
          tb.take(limit_.cost(p));
          bytes += p->length();
          b.pkts[keep++] = p;
        } else {
          over_bytes += p->length();
          over.pkts[over.count++] = p;
        }
      }
    }
    b.count = keep;
    if (keep) count(c_packets_, keep), count(c_bytes_, bytes);
    if (over.count) count(c_over_, over.count), count(c_over_bytes_, over_bytes);
    output_push(0, b);
    output_push(1, over);
  }

  void add_handlers(std::vector<Handler>& h) override { limit_.add_handlers(h); }

 private:
  RateLimit limit_;
  uint32_t c_packets_ = 0, c_bytes_ = 0, c_over_ = 0, c_over_bytes_ = 0;
};

PG_ELEMENT(BandwidthRatedSplitter);

}  // namespace pg
