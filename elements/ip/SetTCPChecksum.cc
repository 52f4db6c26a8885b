// SetTCPChecksum: recomputes the TCP checksum (with the IPv4 pseudo-header) of TCP packets
// over IPv4. Documentation: SetTCPChecksum.ts.
#include "ip_util.h"
#include "per_packet.h"

namespace pg {

class SetTCPChecksum final : public PerPacketElement<SetTCPChecksum> {
 public:
  void configure(const Config&) override {
    c_[0] = counter("drops_no_header");
    c_[1] = counter("drops_bad_header");
    c_[2] = counter("drops_not_tcp");
    c_[3] = counter("drops_fragment");
    c_[4] = counter("drops_short");
  }

  uint32_t action(Packet* p) {
    ip::L4Segment s;
    ip::L4Status st = ip::l4_segment(p, 6, 20, s);
    if (st != ip::L4Status::Ok) return c_[uint32_t(st) - 1];
    s.l4[16] = s.l4[17] = 0;
    ip::store16(s.l4 + 16, ip::checksum(s.l4, s.length, ip::pseudo_sum(s.ip, 6, s.length)));
    return kKeep;
  }

 private:
  uint32_t c_[5] = {};
};

PG_ELEMENT(SetTCPChecksum);

}  // namespace pg
