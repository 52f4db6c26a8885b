// GREEncap: prepends IPv4 (protocol 47) and GRE headers. Documentation: GREEncap.ts.
#include "encap_util.h"

namespace pg {

class GREEncap final : public encap::EncapElement<GREEncap> {
 public:
  void configure(const Config& conf) override {
    tmpl_.configure(conf, 47);
    const uint32_t proto = uint32_t(conf.integer("protocol"));
    const int64_t key = conf.integer("key");
    gre_[0] = key >= 0 ? 0x20 : 0;  // K bit (RFC 2890)
    gre_[1] = 0;                    // version 0
    gre_[2] = uint8_t(proto >> 8);
    gre_[3] = uint8_t(proto);
    if (key >= 0) {
      gre_[4] = uint8_t(key >> 24);
      gre_[5] = uint8_t(key >> 16);
      gre_[6] = uint8_t(key >> 8);
      gre_[7] = uint8_t(key);
    }
    glen_ = key >= 0 ? 8 : 4;
    c_passed_ = int32_t(counter("packets"));
    c_headroom_ = counter("drops_no_headroom");
    c_long_ = counter("drops_too_long");
  }

  uint32_t encap(Packet* p, uint16_t id) {
    const uint32_t hl = 20 + glen_;
    if (p->length() > 65535 - hl) return c_long_;
    if (!p->push(hl)) return c_headroom_;
    uint8_t* ip = p->data();
    tmpl_.write(ip, uint16_t(p->length()), id);
    std::memcpy(ip + 20, gre_, glen_);
    p->set_network_header(ip);
    p->set_transport_header(ip + 20);
    return kKeep;
  }

 private:
  encap::Ip4Template tmpl_;
  uint8_t gre_[8] = {};
  uint32_t glen_ = 4;
  uint32_t c_headroom_ = 0, c_long_ = 0;
};

PG_ELEMENT(GREEncap);

}  // namespace pg
