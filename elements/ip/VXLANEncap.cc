// VXLANEncap: prepends IPv4 + UDP + VXLAN headers to Ethernet frames. Documentation:
// VXLANEncap.ts.
#include "encap_util.h"

namespace pg {

class VXLANEncap final : public encap::EncapElement<VXLANEncap> {
 public:
  void configure(const Config& conf) override {
    tmpl_.configure(conf, 17);
    dport_ = uint16_t(conf.integer("dport"));
    const uint32_t vni = uint32_t(conf.integer("vni"));
    checksum_ = conf.boolean("checksum");
    vx_[0] = 0x08;  // I flag: the VNI is valid
    vx_[4] = uint8_t(vni >> 16);
    vx_[5] = uint8_t(vni >> 8);
    vx_[6] = uint8_t(vni);
    c_passed_ = int32_t(counter("packets"));
    c_headroom_ = counter("drops_no_headroom");
    c_long_ = counter("drops_too_long");
    c_short_ = counter("drops_short");
  }

  // FNV-1a over the inner frame's flow fields: Ethernet addresses and type, and for IPv4
  // the protocol, addresses and (TCP, UDP, unfragmented) ports. Frames of one flow get one
  // source port; the port range is 49152-65535 (RFC 7348 section 5).
  static uint16_t flow_port(const uint8_t* f, uint32_t len) {
    uint32_t h = 2166136261u;
    auto mix = [&h](const uint8_t* b, uint32_t n) {
      for (uint32_t i = 0; i < n; i++) h = (h ^ b[i]) * 16777619u;
    };
    mix(f, 14);
    if (len >= 34 && f[12] == 0x08 && f[13] == 0x00 && (f[14] >> 4) == 4) {
      const uint8_t* ip = f + 14;
      mix(ip + 9, 1);
      mix(ip + 12, 8);
      const uint32_t hlen = uint32_t(ip[0] & 15) * 4;
      if ((ip[9] == 6 || ip[9] == 17) && !(ip::load_be16(ip + 6) & 0x3fff) && hlen >= 20 && 14 + hlen + 4 <= len) mix(ip + hlen, 4);
    }
    h ^= h >> 16;
    return uint16_t(0xc000 | (h & 0x3fff));
  }

  uint32_t encap(Packet* p, uint16_t id) {
    if (p->length() < 14) return c_short_;
    if (p->length() > 65535 - 36) return c_long_;
    const uint16_t sport = flow_port(p->data(), p->length());
    if (!p->push(36)) return c_headroom_;
    uint8_t* ip = p->data();
    uint8_t* u = ip + 20;
    const uint16_t ulen = uint16_t(p->length() - 20);
    tmpl_.write(ip, uint16_t(p->length()), id);
    std::memcpy(u + 8, vx_, 8);
    encap::write_udp(ip, u, sport, dport_, ulen, checksum_);
    p->set_network_header(ip);
    p->set_transport_header(u);
    return kKeep;
  }

 private:
  encap::Ip4Template tmpl_;
  uint8_t vx_[8] = {};
  uint16_t dport_ = 4789;
  bool checksum_ = false;
  uint32_t c_headroom_ = 0, c_long_ = 0, c_short_ = 0;
};

PG_ELEMENT(VXLANEncap);

}  // namespace pg
