// BandwidthMeter: sends each batch to an output by the byte arrival rate. Documentation:
// BandwidthMeter.ts; the rate average is elements/lib/rate_meter.h, shared with Meter.
#include "rate_meter.h"

namespace pg {

class BandwidthMeter final : public RateMeterElement {
 public:
  BandwidthMeter() : RateMeterElement(true) {}
};

PG_ELEMENT(BandwidthMeter);

}  // namespace pg
