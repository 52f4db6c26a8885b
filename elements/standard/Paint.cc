// Paint: sets each packet's paint annotation. Documentation: Paint.ts.
#include "pass_element.h"

namespace pg {

class Paint final : public PassElement<Paint> {
 public:
  void configure(const Config& conf) override { color_ = uint8_t(conf.integer("color")); }

  void act(Batch& b, uint32_t first) {
    for (uint32_t i = first; i < b.count; i++) b.pkts[i]->anno().paint = color_;
  }

 private:
  uint8_t color_ = 0;
};

PG_ELEMENT(Paint);

}  // namespace pg
