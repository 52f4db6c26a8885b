// VLANDecap: removes the outer tag of one TPID (802.1Q by default) into the VLAN annotation.
// Documentation: VLANDecap.ts.

#include "per_packet.h"
#include "vlan_tag.h"

namespace pg {

class VLANDecap final : public PerPacketElement<VLANDecap> {
 public:
  void configure(const Config& conf) override {
    tpid_ = uint16_t(conf.integer("ethertype"));
    counter("drops_short");  // 0
  }

  uint32_t action(Packet* p) const {
    if (p->length() < 14) return 0;
    uint8_t* d = p->data();
    const uint16_t type = uint16_t(d[12] << 8 | d[13]);
    Annotations& a = p->anno();
    if (type != tpid_) {
      a.flags &= uint8_t(~kVlanPresent);  // no such tag: passes unchanged, no VLAN
      a.vlan_tci = 0;
      return kKeep;
    }
    if (p->length() < 18) return 0;
    a.vlan_tci = vlantag::tci(d);
    a.flags |= kVlanPresent;
    p->set_mac_header(vlantag::pop_tag(p));
    return kKeep;
  }

 private:
  uint16_t tpid_ = vlantag::kTpid8021Q;
};

PG_ELEMENT(VLANDecap);

}  // namespace pg
