// EtherVLANEncap: prepends an 802.1Q-tagged Ethernet header. Documentation: EtherVLANEncap.ts.
#include <atomic>
#include <cstring>

#include "per_packet.h"

namespace pg {

class EtherVLANEncap final : public PerPacketElement<EtherVLANEncap> {
 public:
  void configure(const Config& conf) override {
    conf.mac("dst", header_);
    conf.mac("src", header_ + 6);
    const uint32_t type = uint32_t(conf.integer("type"));
    const uint32_t id = uint32_t(conf.integer("vlanId")), pcp = uint32_t(conf.integer("pcp"));
    from_anno_ = conf.boolean("fromAnnotation");
    native_ = int32_t(conf.integer("nativeVlan"));
    if (from_anno_ && (id || pcp)) throw ConfigError("with fromAnnotation the tag comes from the annotation: leave vlanId and pcp unset");
    header_[12] = 0x81;
    header_[13] = 0x00;
    tag_.store(type << 16 | pcp << 13 | id, std::memory_order_relaxed);
    counter("drops_no_headroom");  // 0
  }

  uint32_t action(Packet* p) const {
    Annotations& a = p->anno();
    const uint32_t tag = tag_.load(std::memory_order_relaxed);
    uint16_t tci = uint16_t(tag);
    if (from_anno_) {
      tci = (a.flags & kVlanPresent) ? a.vlan_tci : 0;
      a.flags &= uint8_t(~kVlanPresent);  // the tag is in the frame now (VLANEncap's convention)
      a.vlan_tci = 0;
    }
    const bool untagged = int32_t(tci & 0xfff) == native_;  // the native VLAN goes untagged
    if (!p->push(untagged ? 14 : 18)) return 0;
    uint8_t* d = p->data();
    std::memcpy(d, header_, 14);
    if (!untagged) {
      d[14] = uint8_t(tci >> 8);
      d[15] = uint8_t(tci);
    }
    uint8_t* type = d + (untagged ? 12 : 16);
    type[0] = uint8_t(tag >> 24);
    type[1] = uint8_t(tag >> 16);
    p->set_mac_header(d);
    return kKeep;
  }

  // Click's vlan_id, vlan_pcp and ethertype write handlers, named after the fields they set.
  void add_handlers(std::vector<Handler>& h) override {
    auto bits = [this](const char* field, int shift, uint32_t mask) {
      return Handler{field, [this, shift, mask] { return std::to_string(tag_.load() >> shift & mask); },
                     [this, field, shift, mask](const std::string& v) {
                       const uint32_t x = uint32_t(parse_field_integer(v, field));
                       if (from_anno_ && shift != 16) throw HandlerError(std::string(field) + ": with fromAnnotation the tag comes from the annotation");
                       tag_.store((tag_.load() & ~(mask << shift)) | x << shift);  // one writer: the control thread
                     }};
    };
    h.push_back(bits("vlanId", 0, 0xfff));
    h.push_back(bits("pcp", 13, 7));
    h.push_back(bits("type", 16, 0xffff));
  }

 private:
  uint8_t header_[14] = {};        // dst, src, TPID 0x8100
  std::atomic<uint32_t> tag_{0};   // type << 16 | TCI: one word, so packets see a write whole
  bool from_anno_ = false;
  int32_t native_ = 0;
};

PG_ELEMENT(EtherVLANEncap);

}  // namespace pg
