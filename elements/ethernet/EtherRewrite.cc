// EtherRewrite: overwrites the source and destination Ethernet addresses.
// Documentation: EtherRewrite.ts.
#include <cstring>

#include "per_packet.h"

namespace pg {

class EtherRewrite final : public PerPacketElement<EtherRewrite> {
 public:
  void configure(const Config& conf) override {
    conf.mac("dst", addrs_);
    conf.mac("src", addrs_ + 6);
    counter("drops_short");  // 0
  }

  uint32_t action(Packet* p) const {
    if (p->length() < 14) return 0;
    std::memcpy(p->data(), addrs_, 12);
    return kKeep;
  }

 private:
  uint8_t addrs_[12] = {};
};

PG_ELEMENT(EtherRewrite);

}  // namespace pg
