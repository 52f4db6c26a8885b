// SetTimestamp: sets each packet's timestamp annotation to the wall clock.
// Documentation: SetTimestamp.ts.
#include "pass_element.h"

namespace pg {

class SetTimestamp final : public PassElement<SetTimestamp> {
 public:
  // One clock read per batch: the worker's loop time (refreshed every round).
  static void act(Batch& b, uint32_t first) {
    if (b.count <= first) return;
    const int64_t now = wall_ns();
    for (uint32_t i = first; i < b.count; i++) b.pkts[i]->anno().timestamp_ns = now;
  }
};

PG_ELEMENT(SetTimestamp);

}  // namespace pg
