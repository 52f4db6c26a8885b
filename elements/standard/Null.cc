// Null: passes packets through unchanged. Documentation: Null.ts.
#include "element.h"

namespace pg {

class Null final : public Element {
 public:
  void push(int, Batch& b) override { output_push(0, b); }
  uint32_t pull(int, Batch& b, uint32_t max) override { return input_pull(0, b, max); }
};

PG_ELEMENT(Null);

}  // namespace pg
