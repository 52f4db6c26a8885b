// DropBroadcasts: drops frames sent to the Ethernet broadcast address.
// Documentation: DropBroadcasts.ts.
#include <cstring>

#include "per_packet.h"

namespace pg {

class DropBroadcasts final : public PerPacketElement<DropBroadcasts> {
 public:
  void configure(const Config&) override {
    counter("drops_short");      // 0
    counter("drops_broadcast");  // 1
  }

  uint32_t action(Packet* p) const {
    if (p->length() < 14) return 0;
    static constexpr uint8_t kBroadcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    if (std::memcmp(p->data(), kBroadcast, 6) == 0) return 1;
    return kKeep;
  }
};

PG_ELEMENT(DropBroadcasts);

}  // namespace pg
