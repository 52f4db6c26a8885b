// DropBroadcasts: drops packets that arrived as link-level broadcast or multicast, by the
// packet-type annotation. Documentation: DropBroadcasts.ts.
#include "per_packet.h"

namespace pg {

class DropBroadcasts final : public PerPacketElement<DropBroadcasts> {
 public:
  static constexpr bool kRejects = true;

  void configure(const Config&) override {
    const uint32_t diverted = counter("diverted");
    r_broadcast_ = reject(counter("drops_broadcast"), diverted);
    r_multicast_ = reject(counter("drops_multicast"), diverted);
  }

  // Host, other-host and outgoing packets pass; broadcasts and multicasts are rejected.
  uint32_t action(Packet* p) const {
    const uint8_t t = p->anno().packet_type;
    return t == kBroadcast ? r_broadcast_ : t == kMulticast ? r_multicast_ : kKeep;
  }

 private:
  uint32_t r_broadcast_ = 0, r_multicast_ = 0;
};

PG_ELEMENT(DropBroadcasts);

}  // namespace pg
