// MarkIPHeader: sets the network and transport header annotations without checking.
// Documentation: MarkIPHeader.ts.
#include "ip_util.h"
#include "per_packet.h"

namespace pg {

class MarkIPHeader final : public PerPacketElement<MarkIPHeader> {
 public:
  void configure(const Config& conf) override {
    offset_ = uint32_t(conf.integer("offset"));
    c_short_ = counter("drops_short");
  }

  uint32_t action(Packet* p) {
    if (p->length() < offset_ + 20) return c_short_;
    uint8_t* ip = p->data() + offset_;
    if (!ip::offsets_fit(p, ip)) return c_short_;
    p->set_network_header(ip);
    p->set_transport_header(ip + uint32_t(ip[0] & 15) * 4);
    return kKeep;
  }

 private:
  uint32_t offset_ = 0;
  uint32_t c_short_ = 0;
};

PG_ELEMENT(MarkIPHeader);

}  // namespace pg
