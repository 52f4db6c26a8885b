// VLANEncap: inserts an 802.1Q / 802.1ad tag after the MAC addresses. Documentation: VLANEncap.ts.
#include <atomic>

#include "per_packet.h"
#include "vlan_tag.h"

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
    tag_.store(tpid << 16 | pcp << 13 | dei << 12 | id, std::memory_order_relaxed);
    counter("drops_short");        // 0
    counter("drops_no_headroom");  // 1
  }

  uint32_t action(Packet* p) const {
    if (p->length() < 14) return 0;
    const uint32_t tag = tag_.load(std::memory_order_relaxed);
    uint16_t tci = uint16_t(tag);
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
    uint8_t* d = vlantag::push_tag(p, uint16_t(tag >> 16), tci);
    if (!d) return 1;
    p->set_mac_header(d);
    return kKeep;
  }

  // Click's vlan_id, vlan_pcp and ethertype write handlers, named after the fields they set.
  void add_handlers(std::vector<Handler>& h) override {
    auto bits = [this](const char* field, int shift, uint32_t mask) {
      const bool flag = mask == 1;  // dei: true or false
      return Handler{field,
                     [this, shift, mask, flag]() -> std::string {
                       const uint32_t x = tag_.load() >> shift & mask;
                       return flag ? (x ? "true" : "false") : std::to_string(x);
                     },
                     [this, field, shift, mask, flag](const std::string& v) {
                       const uint32_t x = flag ? parse_bool(v, field) : uint32_t(parse_field_integer(v, field));
                       if (shift == 16 && x != 0x8100 && x != 0x88a8)
                         throw HandlerError("ethertype must be 0x8100 (33024, 802.1Q) or 0x88a8 (34984, 802.1ad), got '" + v + "'");
                       if (from_anno_ && shift != 16) throw HandlerError(std::string(field) + ": with fromAnnotation the tag comes from the annotation");
                       tag_.store((tag_.load() & ~(mask << shift)) | x << shift);  // one writer: the control thread
                     }};
    };
    h.push_back(bits("vlanId", 0, 0xfff));
    h.push_back(bits("dei", 12, 1));
    h.push_back(bits("pcp", 13, 7));
    h.push_back(bits("ethertype", 16, 0xffff));
  }

 private:
  bool from_anno_ = false;
  int32_t native_ = -1;
  std::atomic<uint32_t> tag_{0};  // TPID << 16 | TCI: one word, so packets see a write whole
};

PG_ELEMENT(VLANEncap);

}  // namespace pg
