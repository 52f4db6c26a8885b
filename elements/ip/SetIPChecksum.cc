// SetIPChecksum: recomputes the IPv4 header checksum at the network-header annotation.
// Documentation: SetIPChecksum.ts.
#include "ip_util.h"
#include "per_packet.h"

namespace pg {

class SetIPChecksum final : public PerPacketElement<SetIPChecksum> {
 public:
  void configure(const Config&) override {
    c_no_header_ = counter("drops_no_header");
    c_bad_header_ = counter("drops_bad_header");
  }

  uint32_t action(Packet* p) {
    uint8_t* ip = ip::network_header_20(p);
    if (!ip) return c_no_header_;
    const uint32_t hlen = uint32_t(ip[0] & 15) * 4;
    if (hlen < 20 || ip + hlen > p->end_data()) return c_bad_header_;
    ip[10] = ip[11] = 0;
    ip::store16(ip + 10, ip::checksum(ip, hlen));
    return kKeep;
  }

 private:
  uint32_t c_no_header_ = 0, c_bad_header_ = 0;
};

PG_ELEMENT(SetIPChecksum);

}  // namespace pg
