// ICMP6PingResponder: answers ICMPv6 echo requests in place. Documentation:
// ICMP6PingResponder.ts.
#include <cstring>

#include "ip_util.h"
#include "per_packet.h"

namespace pg {

namespace {
// The one's-complement sum of the IPv6 pseudo-header (RFC 8200 section 8.1) of the IPv6
// header at ip, for an upper-layer packet of `length` bytes with next header `nh`.
inline uint64_t ping6_pseudo_sum(const uint8_t* ip, uint32_t length, uint8_t nh) {
  return ip::sum_bytes(ip + 8, 32) + ip::net16(uint16_t(length >> 16)) + ip::net16(uint16_t(length)) + ip::net16(nh);
}
}  // namespace

class ICMP6PingResponder final : public PerPacketElement<ICMP6PingResponder> {
 public:
  static constexpr bool kRejects = true;

  void configure(const Config&) override {
    c_passed_ = int32_t(counter("replies"));
    r_not_echo_ = reject(counter("drops_not_echo"), counter("not_echo"));
    verdicts_[kNoHeader] = counter("drops_no_header");
    verdicts_[kMalformed] = counter("drops_malformed");
    verdicts_[kChecksum] = counter("drops_checksum");
    verdicts_[kBadAddress] = counter("drops_bad_address");
  }

  uint32_t action(Packet* p) const {
    const int r = respond(p);
    return r == kReply ? kKeep : r == kNotEcho ? r_not_echo_ : verdicts_[r];
  }

 private:
  enum : int { kNoHeader = 0, kMalformed, kChecksum, kBadAddress, kReasons, kReply, kNotEcho };

  static bool unspecified(const uint8_t* a) {
    uint64_t x, y;
    std::memcpy(&x, a, 8);
    std::memcpy(&y, a + 8, 8);
    return (x | y) == 0;
  }

  // Turns an echo request into its reply; returns kReply, kNotEcho or a drop reason.
  static int respond(Packet* p) {
    uint8_t* ip = p->network_header();
    if (!ip || ip < p->data() || ip + 40 > p->end_data()) return kNoHeader;
    if ((ip[0] >> 4) != 6) return kMalformed;
    const uint32_t avail = uint32_t(p->end_data() - ip) - 40;
    const uint32_t plen = ip::load_be16(ip + 4);
    if (plen > avail) return kMalformed;
    if (ip[6] != 58) return kNotEcho;
    uint8_t* icmp = ip + 40;
    if (plen >= 1 && icmp[0] != 128) return kNotEcho;
    if (plen < 8) return kMalformed;
    if (ip::fold(ip::sum_bytes(icmp, plen, ping6_pseudo_sum(ip, plen, 58))) != 0xffff) return kChecksum;
    if (ip[8] == 0xff || unspecified(ip + 8) || ip[24] == 0xff) return kBadAddress;
    if (plen < avail) p->take(avail - plen);  // bytes after the datagram
    uint8_t tmp[16];
    std::memcpy(tmp, ip + 8, 16);
    std::memcpy(ip + 8, ip + 24, 16);
    std::memcpy(ip + 24, tmp, 16);
    ip[7] = 64;
    icmp[0] = 129;
    icmp[1] = 0;
    icmp[2] = icmp[3] = 0;
    ip::store16(icmp + 2, ip::checksum(icmp, plen, ping6_pseudo_sum(ip, plen, 58)));
    std::memcpy(p->anno().dst_ip6, ip + 24, 16);
    p->set_transport_header(icmp);
    return kReply;
  }

  uint32_t r_not_echo_ = 0, verdicts_[kReasons] = {};
};

PG_ELEMENT(ICMP6PingResponder);

}  // namespace pg
