// StripToNetworkHeader: moves the data start to the network header. Documentation:
// StripToNetworkHeader.ts.
#include "per_packet.h"

namespace pg {

class StripToNetworkHeader final : public PerPacketElement<StripToNetworkHeader> {
 public:
  void configure(const Config&) override {
    counter("drops_no_header");  // 0
  }

  uint32_t action(Packet* p) const {
    const int16_t nh = p->anno().network_offset;
    if (nh < 0) return 0;
    const int64_t off = int64_t(nh) - int64_t(p->headroom());
    if (off >= 0) return p->pull(uint32_t(off)) ? kKeep : 0;  // past the end: no header here
    p->push(uint32_t(-off));  // the header is in the headroom (fits: nh >= 0)
    return kKeep;
  }
};

PG_ELEMENT(StripToNetworkHeader);

}  // namespace pg
