// FixIPSrc: gives packets carrying the fix-IP-source annotation (ICMP errors) this
// interface's address as their IPv4 source. Documentation: FixIPSrc.ts.
#include <arpa/inet.h>

#include <string>

#include "ip_util.h"
#include "per_packet.h"

namespace pg {

class FixIPSrc final : public PerPacketElement<FixIPSrc> {
 public:
  void configure(const Config& conf) override {
    const uint32_t a = conf.ipv4("address");
    std::memcpy(addr_, &a, 4);
    counter("drops_no_header");  // 0
    c_fixed_ = counter("fixed");
  }

  uint32_t action(Packet* p) {
    Annotations& a = p->anno();
    if (!(a.flags & kFixIPSrc)) return kKeep;  // the common case: not an error we made
    uint8_t* ip = ip::network_header_20(p);
    if (!ip) return 0;
    a.flags &= uint8_t(~kFixIPSrc);
    // RFC 1624 eqn. 3, one 16-bit word at a time, so a right checksum stays right.
    uint16_t sum = ip::load16(ip + 10);
    for (int w = 0; w < 4; w += 2) {
      const uint16_t before = ip::load16(ip + 12 + w);
      std::memcpy(ip + 12 + w, addr_ + w, 2);
      sum = ip::update16(sum, before, ip::load16(ip + 12 + w));
    }
    ip::store16(ip + 10, sum);
    count(c_fixed_);  // per packet, but only ICMP errors (rate-limited) get here
    return kKeep;
  }

 private:
  uint8_t addr_[4] = {};
  uint32_t c_fixed_ = 0;
};

PG_ELEMENT(FixIPSrc);

}  // namespace pg
