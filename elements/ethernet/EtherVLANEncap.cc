// EtherVLANEncap: prepends an 802.1Q-tagged Ethernet header. Documentation: EtherVLANEncap.ts.
#include <cstring>

#include "per_packet.h"

namespace pg {

class EtherVLANEncap final : public PerPacketElement<EtherVLANEncap> {
 public:
  void configure(const Config& conf) override {
    uint8_t dst[6], src[6];
    conf.mac("dst", dst);
    conf.mac("src", src);
    const uint32_t type = uint32_t(conf.integer("type"));
    const uint32_t id = uint32_t(conf.integer("vlanId")), pcp = uint32_t(conf.integer("pcp"));
    from_anno_ = conf.boolean("fromAnnotation");
    native_ = int32_t(conf.integer("nativeVlan"));
    if (from_anno_ && (id || pcp)) throw ConfigError("with fromAnnotation the tag comes from the annotation: leave vlanId and pcp unset");
    std::memcpy(header_, dst, 6);
    std::memcpy(header_ + 6, src, 6);
    header_[12] = 0x81;
    header_[13] = 0x00;
    tci_ = uint16_t(id | pcp << 13);
    header_[16] = uint8_t(type >> 8);
    header_[17] = uint8_t(type);
    counter("drops_no_headroom");  // 0
  }

  uint32_t action(Packet* p) const {
    Annotations& a = p->anno();
    uint16_t tci = tci_;
    if (from_anno_) {
      tci = (a.flags & kVlanPresent) ? a.vlan_tci : 0;
      a.flags &= uint8_t(~kVlanPresent);  // the tag is in the frame now (VLANEncap's convention)
      a.vlan_tci = 0;
    }
    if (int32_t(tci & 0xfff) == native_) {  // the native VLAN goes untagged
      if (!p->push(14)) return 0;
      std::memcpy(p->data(), header_, 12);
      std::memcpy(p->data() + 12, header_ + 16, 2);
    } else {
      if (!p->push(18)) return 0;
      std::memcpy(p->data(), header_, 18);
      p->data()[14] = uint8_t(tci >> 8);
      p->data()[15] = uint8_t(tci);
    }
    p->set_mac_header(p->data());
    return kKeep;
  }

 private:
  uint8_t header_[18] = {};
  uint16_t tci_ = 0;
  bool from_anno_ = false;
  int32_t native_ = 0;
};

PG_ELEMENT(EtherVLANEncap);

}  // namespace pg
