// VXLANDecap: checks and strips outer IPv4 + UDP + VXLAN headers. Documentation:
// VXLANDecap.ts.
#include "encap_util.h"
#include "per_packet.h"

namespace pg {

class VXLANDecap final : public PerPacketElement<VXLANDecap> {
 public:
  void configure(const Config& conf) override {
    dport_ = uint16_t(conf.integer("dport"));
    vni_ = uint32_t(conf.integer("vni"));
    c_passed_ = int32_t(counter("packets"));
    c_short_ = counter("drops_short");
    c_ip_ = counter("drops_bad_ip");
    c_udp_ = counter("drops_not_udp");
    c_port_ = counter("drops_port");
    c_checksum_ = counter("drops_udp_checksum");
    c_flags_ = counter("drops_flags");
    c_vni_ = counter("drops_vni");
  }

  uint32_t action(Packet* p) {
    encap::Outer o;
    switch (encap::outer_ip4(p, o)) {
      case encap::OuterStatus::Ok: break;
      case encap::OuterStatus::Short: return c_short_;
      case encap::OuterStatus::BadHeader: return c_ip_;
      case encap::OuterStatus::Fragment: return c_udp_;
    }
    if (o.ip[9] != 17) return c_udp_;
    uint8_t* u = o.ip + o.hlen;
    const uint32_t seg = o.total - o.hlen;
    if (seg < 8 + 8 + 14) return c_short_;
    const uint32_t ulen = ip::load_be16(u + 4);
    if (ulen < 8 + 8 + 14 || ulen > seg) return c_short_;
    if (ip::load_be16(u + 2) != dport_) return c_port_;
    if (ip::load16(u + 6) != 0 && ip::fold(ip::sum_bytes(u, ulen, ip::pseudo_sum(o.ip, 17, ulen))) != 0xffff) return c_checksum_;
    const uint8_t* v = u + 8;
    if (!(v[0] & 0x08)) return c_flags_;
    const uint32_t vni = uint32_t(v[4]) << 16 | uint32_t(v[5]) << 8 | v[6];
    if (vni != vni_) return c_vni_;
    // The UDP length bounds the inner frame (bytes after it inside the datagram are dropped).
    encap::Outer to = o;
    to.total = uint32_t(u + ulen - o.ip);
    encap::strip_to(p, u + 16, to);
    Annotations& a = p->anno();
    a.network_offset = a.transport_offset = -1;
    p->set_mac_header(p->data());
    return kKeep;
  }

 private:
  uint16_t dport_ = 4789;
  uint32_t vni_ = 0;
  uint32_t c_short_ = 0, c_ip_ = 0, c_udp_ = 0, c_port_ = 0, c_checksum_ = 0, c_flags_ = 0, c_vni_ = 0;
};

PG_ELEMENT(VXLANDecap);

}  // namespace pg
