// PrioSched: pulls from its inputs in priority order. Documentation: PrioSched.ts.
#include <algorithm>

#include "element.h"

namespace pg {

class PrioSched final : public Element {
 public:
  uint32_t pull(int, Batch& b, uint32_t max) override {
    max = std::min(max, kMaxBatch - b.count);
    uint32_t got = 0;
    const int n = ninputs();
    for (int i = 0; i < n && got < max; i++) got += input_pull(i, b, max - got);
    return got;
  }
};

PG_ELEMENT(PrioSched);

}  // namespace pg
