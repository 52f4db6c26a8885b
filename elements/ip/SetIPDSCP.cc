// SetIPDSCP: sets the DSCP bits of the IPv4 header at the network-header annotation,
// updating the checksum incrementally. Documentation: SetIPDSCP.ts.
#include "ip_util.h"
#include "per_packet.h"

namespace pg {

class SetIPDSCP final : public PerPacketElement<SetIPDSCP> {
 public:
  void configure(const Config& conf) override {
    dscp_ = uint8_t(conf.integer("dscp"));
    c_no_header_ = counter("drops_no_header");
  }

  uint32_t action(Packet* p) {
    uint8_t* ip = ip::network_header_20(p);
    if (!ip) return c_no_header_;
    const uint8_t tos = uint8_t(dscp_ << 2 | (ip[1] & 3));
    if (tos != ip[1]) {
      const uint16_t before = ip::load16(ip);  // version/IHL and TOS
      ip[1] = tos;
      ip::store16(ip + 10, ip::update16(ip::load16(ip + 10), before, ip::load16(ip)));
    }
    return kKeep;
  }

 private:
  uint8_t dscp_ = 0;
  uint32_t c_no_header_ = 0;
};

PG_ELEMENT(SetIPDSCP);

}  // namespace pg
