// TimestampStamp: writes the latency stamp (marker + monotonic ns) into each packet.
// Documentation: TimestampStamp.ts. The stamp format is shared with LatencyMeter (latency_stamp.h).
#include "pass_element.h"
#include "latency_stamp.h"

namespace pg {

class TimestampStamp final : public PassElement<TimestampStamp> {
 public:
  void configure(const Config& conf) override {
    offset_ = uint32_t(conf.integer("offset"));
    c_stamped_ = counter("stamped");
    c_short_ = counter("too_short");
  }

  void act(Batch& b, uint32_t first) {
    if (b.count <= first) return;
    // The exact clock, once per batch: the loop clock is only refreshed once per round.
    const uint64_t now = monotonic_ns();
    uint64_t stamped = 0, short_ = 0;
    for (uint32_t i = first; i < b.count; i++) {
      Packet* p = b.pkts[i];
      if (p->length() < offset_ + kLatencyStampBytes) {
        short_++;
        continue;
      }
      write_latency_stamp(p->data() + offset_, now);
      stamped++;
    }
    if (stamped) count(c_stamped_, stamped);
    if (short_) count(c_short_, short_);
  }

 private:
  uint32_t offset_ = 42;
  uint32_t c_stamped_ = 0, c_short_ = 0;
};

PG_ELEMENT(TimestampStamp);

}  // namespace pg
