// SetTimestamp: sets each packet's timestamp annotation to the wall clock.
// Documentation: SetTimestamp.ts.
#include "element.h"

namespace pg {

class SetTimestamp final : public Element {
 public:
  void push(int, Batch& b) override {
    stamp(b, 0);
    output_push(0, b);
  }

  uint32_t pull(int, Batch& b, uint32_t max) override {
    uint32_t first = b.count;
    uint32_t n = input_pull(0, b, max);
    stamp(b, first);
    return n;
  }

 private:
  // One clock read per batch: the worker's loop time (refreshed every round).
  static void stamp(Batch& b, uint32_t first) {
    if (b.count <= first) return;
    const int64_t now = wall_ns();
    for (uint32_t i = first; i < b.count; i++) b.pkts[i]->anno().timestamp_ns = now;
  }
};

PG_ELEMENT(SetTimestamp);

}  // namespace pg
