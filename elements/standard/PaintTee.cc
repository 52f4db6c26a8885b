// PaintTee: passes every packet on output 0 and a copy of those with a given paint on
// output 1. Documentation: PaintTee.ts.
#include "element.h"

namespace pg {

class PaintTee final : public Element {
 public:
  void configure(const Config& conf) override {
    color_ = uint8_t(conf.integer("color"));
    c_copies_ = counter("copies");
    c_pool_empty_ = counter("drops_pool_empty");
  }

  void push(int, Batch& b) override {
    uint32_t want = 0;
    for (uint32_t i = 0; i < b.count; i++) want += b.pkts[i]->anno().paint == color_;
    if (want) {
      // Copies first, while the originals are still ours.
      Batch c;
      const uint32_t got = pool().alloc(c.pkts, want);
      for (uint32_t i = 0, k = 0; i < b.count && k < got; i++)
        if (b.pkts[i]->anno().paint == color_) copy_packet(b.pkts[i], c.pkts[k++]);
      c.count = got;
      if (got) count(c_copies_, got);
      if (got < want) count(c_pool_empty_, want - got);
      output_push(1, c);
    }
    output_push(0, b);
  }

 private:
  uint8_t color_ = 0;
  uint32_t c_copies_ = 0, c_pool_empty_ = 0;
};

PG_ELEMENT(PaintTee);

}  // namespace pg
