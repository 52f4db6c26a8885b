// SetUDPChecksum: recomputes the UDP checksum (with the IPv4 pseudo-header) of UDP packets
// over IPv4. Documentation: SetUDPChecksum.ts.
#include "ip_util.h"
#include "per_packet.h"

namespace pg {

class SetUDPChecksum final : public PerPacketElement<SetUDPChecksum> {
 public:
  void configure(const Config&) override {
    c_[0] = counter("drops_no_header");
    c_[1] = counter("drops_bad_header");
    c_[2] = counter("drops_not_udp");
    c_[3] = counter("drops_fragment");
    c_[4] = counter("drops_short");
  }

  uint32_t action(Packet* p) {
    ip::L4Segment s;
    ip::L4Status st = ip::l4_segment(p, 17, 8, s);
    if (st != ip::L4Status::Ok) return c_[uint32_t(st) - 1];
    // The UDP length field bounds the datagram; it must fit the IP payload.
    const uint32_t ulen = ip::load_be16(s.l4 + 4);
    if (ulen < 8 || ulen > s.length) return c_[4];
    s.l4[6] = s.l4[7] = 0;
    uint16_t ck = ip::checksum(s.l4, ulen, ip::pseudo_sum(s.ip, 17, ulen));
    if (ck == 0) ck = 0xffff;  // 0 means "no checksum" (RFC 768)
    ip::store16(s.l4 + 6, ck);
    return kKeep;
  }

 private:
  uint32_t c_[5] = {};
};

PG_ELEMENT(SetUDPChecksum);

}  // namespace pg
