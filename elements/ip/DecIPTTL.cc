// DecIPTTL: decrements the IPv4 TTL with an incremental checksum update; expired packets
// go to output 1 (if connected) or are dropped. Documentation: DecIPTTL.ts. The batch loop
// is DecIP6HLIM's too (dec_hop_limit.h).
#include "dec_hop_limit.h"
#include "ip_util.h"

namespace pg {

class DecIPTTL final : public DecHopLimitElement<DecIPTTL> {
 public:
  static constexpr size_t kHopOffset = 8;
  static uint8_t* header(Packet* p) { return ip::network_header_20(p); }
  // RFC 1624 eqn. 3 over the TTL/protocol word.
  static void decrement(uint8_t* ip) {
    const uint16_t before = ip::load16(ip + 8);
    ip[8]--;
    ip::store16(ip + 10, ip::update16(ip::load16(ip + 10), before, ip::load16(ip + 8)));
  }
};

PG_ELEMENT(DecIPTTL);

}  // namespace pg
