// UDPIPEncap: prepends IPv4 and UDP headers. Documentation: UDPIPEncap.ts.
#include "encap_util.h"

namespace pg {

class UDPIPEncap final : public encap::EncapElement<UDPIPEncap> {
 public:
  void configure(const Config& conf) override {
    tmpl_.configure(conf, 17);
    sport_ = uint16_t(conf.integer("sport"));
    dport_ = uint16_t(conf.integer("dport"));
    checksum_ = conf.boolean("checksum");
    c_passed_ = int32_t(counter("packets"));
    c_headroom_ = counter("drops_no_headroom");
    c_long_ = counter("drops_too_long");
  }

  uint32_t encap(Packet* p, uint16_t id) {
    if (p->length() > 65535 - 28) return c_long_;
    if (!p->push(28)) return c_headroom_;
    uint8_t* ip = p->data();
    uint8_t* u = ip + 20;
    const uint16_t ulen = uint16_t(p->length() - 20);
    tmpl_.write(ip, uint16_t(p->length()), id);
    encap::write_udp(ip, u, sport_, dport_, ulen, checksum_);
    p->set_network_header(ip);
    p->set_transport_header(u);
    return kKeep;
  }

 private:
  encap::Ip4Template tmpl_;
  uint16_t sport_ = 0, dport_ = 0;
  bool checksum_ = true;
  uint32_t c_headroom_ = 0, c_long_ = 0;
};

PG_ELEMENT(UDPIPEncap);

}  // namespace pg
