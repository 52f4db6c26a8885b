// RatedSplitter: at most `rate` packets per second to output 0, the rest to output 1.
// Documentation: RatedSplitter.ts.
#include <algorithm>

#include "element.h"
#include "rate_limit.h"

namespace pg {

class RatedSplitter final : public Element {
 public:
  void configure(const Config& conf) override {
    limit_.configure(conf, /*bytes=*/false);
    c_packets_ = counter("packets");
    c_bytes_ = counter("bytes");
    c_over_ = counter("over");
    c_over_bytes_ = counter("over_bytes");
  }

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
    if (pass) count(c_packets_, pass), count(c_bytes_, bytes);
    if (over.count) count(c_over_, over.count), count(c_over_bytes_, over_bytes);
    output_push(0, b);
    output_push(1, over);
  }

  void add_handlers(std::vector<Handler>& h) override { limit_.add_handlers(h); }

 private:
  RateLimit limit_;
  uint32_t c_packets_ = 0, c_bytes_ = 0, c_over_ = 0, c_over_bytes_ = 0;
};

PG_ELEMENT(RatedSplitter);

}  // namespace pg
