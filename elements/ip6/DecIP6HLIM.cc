// DecIP6HLIM: decrements the IPv6 hop limit; expired packets go to output 1 (if
// connected) or are dropped. Documentation: DecIP6HLIM.ts. The batch loop is DecIPTTL's
// (elements/lib/dec_hop_limit.h).
#include "dec_hop_limit.h"

namespace pg {

class DecIP6HLIM final : public DecHopLimitElement<DecIP6HLIM> {
 public:
  static constexpr size_t kHopOffset = 7;
  static uint8_t* header(Packet* p) {
    uint8_t* ip = p->network_header();
    return !ip || ip < p->data() || ip + 40 > p->end_data() ? nullptr : ip;
  }
  static void decrement(uint8_t* ip) { ip[7]--; }  // no header checksum in IPv6
};

PG_ELEMENT(DecIP6HLIM);

}  // namespace pg
