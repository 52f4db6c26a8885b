// BandwidthRatedSplitter: at most `rate` bits per second to output 0, the rest to output 1.
// Documentation: BandwidthRatedSplitter.ts.
#include "rate_limit.h"

namespace pg {

class BandwidthRatedSplitter final : public RateSplitter</*bytes=*/true> {
 public:
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
    push_split(b, bytes, over, over_bytes);
  }
};

PG_ELEMENT(BandwidthRatedSplitter);

}  // namespace pg
