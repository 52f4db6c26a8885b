// EtherRewrite: overwrites the source and destination Ethernet addresses.
// Documentation: EtherRewrite.ts.
#include <cstring>

#include "per_packet.h"

namespace pg {

class EtherRewrite final : public PerPacketElement<EtherRewrite> {
 public:
  void configure(const Config& conf) override {
    std::vector<uint8_t> dst = conf.hex_bytes("dst"), src = conf.hex_bytes("src");
    if (dst.size() != 6) throw ConfigError("dst: an Ethernet address has 6 bytes");
    if (src.size() != 6) throw ConfigError("src: an Ethernet address has 6 bytes");
    std::memcpy(addrs_, dst.data(), 6);
    std::memcpy(addrs_ + 6, src.data(), 6);
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
