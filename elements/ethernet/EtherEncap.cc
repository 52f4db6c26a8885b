// EtherEncap: prepends a fixed 14-byte Ethernet header. Documentation: EtherEncap.ts.
#include <cstring>

#include "per_packet.h"

namespace pg {

class EtherEncap final : public PerPacketElement<EtherEncap> {
 public:
  void configure(const Config& conf) override {
    conf.mac("dst", header_);
    conf.mac("src", header_ + 6);
    const uint32_t type = uint32_t(conf.integer("type"));
    header_[12] = uint8_t(type >> 8);
    header_[13] = uint8_t(type);
    counter("drops_no_headroom");
  }

  uint32_t action(Packet* p) const {
    if (!p->push(14)) return 0;  // counter 0: not enough headroom
    std::memcpy(p->data(), header_, 14);
    p->set_mac_header(p->data());
    return kKeep;
  }

 private:
  uint8_t header_[14] = {};
};

PG_ELEMENT(EtherEncap);

}  // namespace pg
