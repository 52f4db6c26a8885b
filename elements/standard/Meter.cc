// Meter: sends each batch to an output by the packet arrival rate. Documentation: Meter.ts;
// the rate average is elements/lib/rate_meter.h, shared with BandwidthMeter.
#include "rate_meter.h"

namespace pg {

class Meter final : public RateMeterElement {
 public:
  Meter() : RateMeterElement(false) {}
};

PG_ELEMENT(Meter);

}  // namespace pg
