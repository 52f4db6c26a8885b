// Idle: never emits a packet; frees what is pushed into it. Documentation: Idle.ts.
#include "element.h"

namespace pg {

class Idle final : public Element {
 public:
  void configure(const Config&) override { c_drops_ = counter("drops"); }

  void push(int, Batch& b) override {
    count(c_drops_, b.count);
    drop(b);
  }

  uint32_t pull(int, Batch&, uint32_t) override { return 0; }

 private:
  uint32_t c_drops_ = 0;
};

PG_ELEMENT(Idle);

}  // namespace pg
