// ICMPPingResponder: turns ICMP echo requests into echo replies in place.
// Documentation: ICMPPingResponder.ts.
#include "ip_util.h"
#include "per_packet.h"

namespace pg {

class ICMPPingResponder final : public PerPacketElement<ICMPPingResponder> {
 public:
  static constexpr bool kRejects = true;

  void configure(const Config&) override {
    c_passed_ = int32_t(counter("replies"));
    c_malformed_ = counter("drops_malformed");
    r_not_echo_ = reject(counter("drops_not_echo"), counter("not_echo"));
  }

  uint32_t action(Packet* p) const {
    switch (respond(p)) {
      case Verdict::Reply: return kKeep;
      case Verdict::NotEcho: return r_not_echo_;
      case Verdict::Malformed: break;
    }
    return c_malformed_;
  }

 private:
  enum class Verdict : uint8_t { Reply, NotEcho, Malformed };

  static Verdict respond(Packet* p) {
    uint8_t* ip = ip::network_header_20(p);
    if (!ip) return Verdict::Malformed;
    const uint32_t hlen = uint32_t(ip[0] & 15) * 4;
    const uint32_t total = ip::load_be16(ip + 2);
    if ((ip[0] >> 4) != 4 || hlen < 20 || total < hlen || total > uint32_t(p->end_data() - ip)) return Verdict::Malformed;
    if (ip[9] != 1) return Verdict::NotEcho;                   // not ICMP
    if (ip::load_be16(ip + 6) & 0x3fff) return Verdict::NotEcho;  // a fragment (MF or offset)
    if (total - hlen < 8) return Verdict::Malformed;            // no complete ICMP header
    uint8_t* icmp = ip + hlen;
    if (icmp[0] != 8) return Verdict::NotEcho;

    // ICMP: type 8 -> 0, checksum updated incrementally (a wrong one stays wrong).
    const uint16_t type_before = ip::load16(icmp);
    icmp[0] = 0;
    uint16_t ck = ip::update16(ip::load16(icmp + 2), type_before, ip::load16(icmp));
    // Eqn. 3 yields 0x0000 where the data sums to one's-complement zero; for a message that is
    // all zero bytes (type 0, code 0, identifier 0, sequence 0, no data) the right checksum is
    // 0xffff. Rare, so the scan is cheap.
    if (ck == 0 && all_zero(icmp, total - hlen)) ck = 0xffff;
    ip::store16(icmp + 2, ck);
    // IP: swap the addresses (the one's-complement sum does not change), TTL 64.
    uint8_t a[4];
    std::memcpy(a, ip + 12, 4);
    std::memmove(ip + 12, ip + 16, 4);
    std::memcpy(ip + 16, a, 4);
    const uint16_t ttl_before = ip::load16(ip + 8);
    ip[8] = kReplyTTL;
    ip::store16(ip + 10, ip::update16(ip::load16(ip + 10), ttl_before, ip::load16(ip + 8)));
    std::memcpy(&p->anno().dst_ip4, ip + 16, 4);
    return Verdict::Reply;
  }

  // Whether the ICMP message of `len` bytes at m is zero apart from its checksum.
  static bool all_zero(const uint8_t* m, uint32_t len) {
    for (uint32_t i = 0; i < len; i++)
      if (m[i] && i != 2 && i != 3) return false;
    return true;
  }

  static constexpr uint8_t kReplyTTL = 64;
  uint32_t c_malformed_ = 0, r_not_echo_ = 0;
};

PG_ELEMENT(ICMPPingResponder);

}  // namespace pg
