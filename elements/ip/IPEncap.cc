// IPEncap: prepends a 20-byte IPv4 header. Documentation: IPEncap.ts.
#include "encap_util.h"

namespace pg {

class IPEncap final : public encap::EncapElement<IPEncap> {
 public:
  void configure(const Config& conf) override {
    tmpl_.configure(conf, uint8_t(conf.integer("proto")));
    c_passed_ = int32_t(counter("packets"));
    c_headroom_ = counter("drops_no_headroom");
    c_long_ = counter("drops_too_long");
  }

  uint32_t encap(Packet* p, uint16_t id) {
    if (p->length() > 65535 - 20) return c_long_;
    if (!p->push(20)) return c_headroom_;
    tmpl_.write(p->data(), uint16_t(p->length()), id);
    p->set_network_header(p->data());
    p->set_transport_header(p->data() + 20);
    return kKeep;
  }

 private:
  encap::Ip4Template tmpl_;
  uint32_t c_headroom_ = 0, c_long_ = 0;
};

PG_ELEMENT(IPEncap);

}  // namespace pg
