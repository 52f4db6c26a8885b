// Paint: sets each packet's paint annotation. Documentation: Paint.ts.
#include "element.h"

namespace pg {

class Paint final : public Element {
 public:
  void configure(const Config& conf) override { color_ = uint8_t(conf.integer("color")); }

  void push(int, Batch& b) override {
    paint(b, 0);
    output_push(0, b);
  }

  uint32_t pull(int, Batch& b, uint32_t max) override {
    uint32_t first = b.count;
    uint32_t n = input_pull(0, b, max);
    paint(b, first);
    return n;
  }

 private:
  void paint(Batch& b, uint32_t first) {
    for (uint32_t i = first; i < b.count; i++) b.pkts[i]->anno().paint = color_;
  }
  uint8_t color_ = 0;
};

PG_ELEMENT(Paint);

}  // namespace pg
