// RatedSplitter: at most `rate` packets per second to output 0, the rest to output 1.
// Documentation: RatedSplitter.ts.
#include <algorithm>

#include "rate_limit.h"

namespace pg {

class RatedSplitter final : public RateSplitter</*bytes=*/false> {
 public:
  void push(int, Batch& b) override {
    uint32_t pass;
    {
      SpinLock::Guard lock(limit_.lock);
      TokenBucket& tb = limit_.update(now_ns());
      pass = uint32_t(std::min<uint64_t>(tb.whole(), b.count));
      tb.take(double(pass));
    }
    Batch over;
    uint64_t bytes = 0, over_bytes = 0;
    for (uint32_t i = 0; i < pass; i++) bytes += b.pkts[i]->length();
    for (uint32_t i = pass; i < b.count; i++) {
      over_bytes += b.pkts[i]->length();
      over.pkts[over.count++] = b.pkts[i];
    }
    b.count = pass;
    push_split(b, bytes, over, over_bytes);
  }
};

PG_ELEMENT(RatedSplitter);

}  // namespace pg
