// Unstrip: adds a fixed number of bytes back at the front of each packet. Documentation: Unstrip.ts.
#include "element.h"

namespace pg {

class Unstrip final : public Element {
 public:
  const char* port_count() const override { return "1/1"; }
  const char* processing() const override { return "a/a"; }

  void configure(const Config& conf) override {
    length_ = uint32_t(conf.integer("length", 0, 65535));
    c_drops_no_headroom_ = counter("drops_no_headroom");
  }

  void push(int, Batch& b) override {
    process(b, 0);
    output_push(0, b);
  }

  uint32_t pull(int, Batch& b, uint32_t max) override {
    uint32_t first = b.count;
    input_pull(0, b, max);
    process(b, first);
    return b.count - first;
  }

 private:
  // Unstrips packets [first, count); those without the headroom are freed together, the
  // rest keep their order.
  void process(Batch& b, uint32_t first) {
    Packet* dead[kMaxBatch];
    uint32_t ndead = 0, keep = first;
    const uint32_t n = length_;
    for (uint32_t i = first; i < b.count; i++) {
      Packet* p = b.pkts[i];
      if (p->push(n)) b.pkts[keep++] = p;
      else dead[ndead++] = p;
    }
    b.count = keep;
    if (ndead) {
      pool().free(dead, ndead);
      count(c_drops_no_headroom_, ndead);
    }
  }

  uint32_t length_ = 14;
  uint32_t c_drops_no_headroom_ = 0;
};

PG_ELEMENT(Unstrip);

}  // namespace pg
