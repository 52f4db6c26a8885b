// VLANEncap: inserts an 802.1Q / 802.1ad tag after the MAC addresses. Documentation: VLANEncap.ts.
#include <cstring>

#include "per_packet.h"

namespace pg {

class VLANEncap final : public PerPacketElement<VLANEncap> {
 public:
  void configure(const Config& conf) override {
    const uint32_t id = uint32_t(conf.integer("vlanId"));
    const uint32_t pcp = uint32_t(conf.integer("pcp"));
    const uint32_t dei = conf.boolean("dei") ? 1 : 0;
    const uint32_t tpid = uint32_t(conf.integer("ethertype"));
    if (tpid != 0x8100 && tpid != 0x88a8) throw ConfigError("ethertype: must be 0x8100 (802.1Q) or 0x88a8 (802.1ad)");
    native_ = int32_t(conf.integer("nativeVlan"));
    from_anno_ = conf.boolean("fromAnnotation");
    tpid_ = uint16_t(tpid);
    tci_ = uint16_t(pcp << 13 | dei << 12 | id);
    counter("drops_short");        // 0
    counter("drops_no_headroom");  // 1
  }

  uint32_t action(Packet* p) const {
    if (p->length() < 14) return 0;
    uint16_t tci = tci_;
    if (from_anno_) {
      Annotations& a = p->anno();
      if (!(a.flags & kVlanPresent)) return kKeep;  // no tag to restore: unchanged
      tci = a.vlan_tci;
      a.flags &= uint8_t(~kVlanPresent);  // used once: the tag goes into the frame (or, native, nowhere)
      a.vlan_tci = 0;
    }
    if (int32_t(tci & 0xfff) == native_) {  // the native VLAN goes untagged (Click's NATIVE_VLAN)
      p->set_mac_header(p->data());
      return kKeep;
    }
    if (!p->push(4)) return 1;
    uint8_t* d = p->data();
    std::memmove(d, d + 4, 12);  // the addresses move into the headroom; the rest stays put
    d[12] = uint8_t(tpid_ >> 8);
    d[13] = uint8_t(tpid_);
    d[14] = uint8_t(tci >> 8);
    d[15] = uint8_t(tci);
    p->set_mac_header(d);
    return kKeep;
  }

 private:
  bool from_anno_ = false;
  int32_t native_ = -1;
  uint16_t tpid_ = 0x8100, tci_ = 0;
};

PG_ELEMENT(VLANEncap);

}  // namespace pg
