// CheckLength: packets longer than a length go to output 1 (or are dropped).
// Documentation: CheckLength.ts.
#include "batch_split.h"
#include "element.h"

namespace pg {

class CheckLength final : public Element {
 public:
  void configure(const Config& conf) override {
    length_ = uint32_t(conf.integer("length"));
    c_long_ = counter("too_long");
    c_long_dropped_ = counter("drops_too_long");
  }

  void push(int, Batch& b) override {
    uint32_t out[kMaxBatch];
    uint32_t nlong = 0;
    for (uint32_t i = 0; i < b.count; i++) {
      out[i] = b.pkts[i]->length() > length_;
      nlong += out[i];
    }
    if (!nlong) return output_push(0, b);
    if (noutputs() > 1) {
      count(c_long_, nlong);
      return split_push(b, out, 2, [this](uint32_t port, Batch& sub) { output_push(int(port), sub); });
    }
    count(c_long_dropped_, nlong);
    // No output 1: keep the short ones in order, free the rest.
    Packet* dead[kMaxBatch];
    uint32_t keep = 0, ndead = 0;
    for (uint32_t i = 0; i < b.count; i++) (out[i] ? dead[ndead++] : b.pkts[keep++]) = b.pkts[i];
    b.count = keep;
    pool().free(dead, ndead);
    output_push(0, b);
  }

 private:
  uint32_t length_ = 0;
  uint32_t c_long_ = 0, c_long_dropped_ = 0;
};

PG_ELEMENT(CheckLength);

}  // namespace pg
