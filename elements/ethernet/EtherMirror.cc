// EtherMirror: swaps the source and destination Ethernet addresses.
// Documentation: EtherMirror.ts.
#include <cstring>

#include "per_packet.h"

namespace pg {

class EtherMirror final : public PerPacketElement<EtherMirror> {
 public:
  void configure(const Config&) override {
    counter("drops_short");  // 0
  }

  uint32_t action(Packet* p) const {
    if (p->length() < 14) return 0;
    uint8_t* d = p->data();
    uint8_t tmp[6];
    std::memcpy(tmp, d, 6);
    std::memcpy(d, d + 6, 6);
    std::memcpy(d + 6, tmp, 6);
    return kKeep;
  }
};

PG_ELEMENT(EtherMirror);

}  // namespace pg
