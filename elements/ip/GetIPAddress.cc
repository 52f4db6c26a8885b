// GetIPAddress: copies 4 bytes of the packet into the destination-address annotation.
// Documentation: GetIPAddress.ts.
#include "ip_util.h"
#include "per_packet.h"

namespace pg {

class GetIPAddress final : public PerPacketElement<GetIPAddress> {
 public:
  void configure(const Config& conf) override {
    offset_ = uint32_t(conf.integer("offset"));
    c_short_ = counter("drops_short");
  }

  uint32_t action(Packet* p) {
    if (p->length() < offset_ + 4) return c_short_;
    std::memcpy(&p->anno().dst_ip4, p->data() + offset_, 4);
    return kKeep;
  }

 private:
  uint32_t offset_ = 16;
  uint32_t c_short_ = 0;
};

PG_ELEMENT(GetIPAddress);

}  // namespace pg
