// GREDecap: checks and strips outer IPv4 + GRE headers. Documentation: GREDecap.ts.
#include "encap_util.h"
#include "per_packet.h"

namespace pg {

class GREDecap final : public PerPacketElement<GREDecap> {
 public:
  void configure(const Config& conf) override {
    const int64_t key = conf.integer("key");
    want_key_ = key >= 0;
    key_ = uint32_t(key >= 0 ? key : 0);
    // The eight drop reasons first: PerPacketElement counts drops by counter index, below 8.
    c_short_ = counter("drops_short");
    c_ip_ = counter("drops_bad_ip");
    c_fragment_ = counter("drops_fragment");
    c_proto_ = counter("drops_not_gre");
    c_version_1_ = counter("drops_gre_version_1");
    c_version_ = counter("drops_gre_version");
    c_checksum_ = counter("drops_gre_checksum");
    c_key_ = counter("drops_key");
    c_passed_ = int32_t(counter("packets"));
  }

  uint32_t action(Packet* p) {
    encap::Outer o;
    switch (encap::outer_ip4(p, o)) {
      case encap::OuterStatus::Ok: break;
      case encap::OuterStatus::Short: return c_short_;
      case encap::OuterStatus::BadHeader: return c_ip_;
      case encap::OuterStatus::Fragment: return c_fragment_;
    }
    if (o.ip[9] != 47) return c_proto_;
    uint8_t* g = o.ip + o.hlen;
    uint8_t* end = o.ip + o.total;
    if (end - g < 4) return c_short_;
    const uint16_t flags = ip::load_be16(g);
    // Version 0 only (version 1 is PPTP's enhanced GRE, RFC 2637, counted apart); bits 1, 4
    // and 5 (routing present, strict source route, recursion: RFC 1701 fields) must be zero
    // (RFC 2784 section 2.3). C, K and S bits are understood.
    if ((flags & 7) == 1) return c_version_1_;
    if ((flags & 7) != 0 || (flags & 0x4c00) != 0) return c_version_;
    uint32_t glen = 4 + ((flags & 0x8000) ? 4 : 0) + ((flags & 0x2000) ? 4 : 0) + ((flags & 0x1000) ? 4 : 0);
    if (uint32_t(end - g) < glen) return c_short_;
    if ((flags & 0x8000) && ip::fold(ip::sum_bytes(g, size_t(end - g))) != 0xffff) return c_checksum_;
    if (flags & 0x2000) {
      const uint8_t* k = g + 4 + ((flags & 0x8000) ? 4 : 0);
      const uint32_t key = uint32_t(k[0]) << 24 | uint32_t(k[1]) << 16 | uint32_t(k[2]) << 8 | k[3];
      if (!want_key_ || key != key_) return c_key_;
    } else if (want_key_) {
      return c_key_;
    }
    const uint16_t proto = ip::load_be16(g + 2);
    uint8_t* inner = g + glen;
    encap::strip_to(p, inner, o);
    Annotations& a = p->anno();
    a.mac_offset = a.network_offset = a.transport_offset = -1;
    if (proto == 0x0800) p->set_network_header(p->data());
    else if (proto == 0x6558) p->set_mac_header(p->data());
    return kKeep;
  }

 private:
  bool want_key_ = false;
  uint32_t key_ = 0;
  uint32_t c_short_ = 0, c_ip_ = 0, c_fragment_ = 0, c_proto_ = 0, c_version_1_ = 0, c_version_ = 0, c_checksum_ = 0, c_key_ = 0;
};

PG_ELEMENT(GREDecap);

}  // namespace pg
