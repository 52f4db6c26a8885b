// SetVLANAnno: sets each packet's VLAN annotation. Documentation: SetVLANAnno.ts.
#include <atomic>

#include "per_packet.h"

namespace pg {

class SetVLANAnno final : public PerPacketElement<SetVLANAnno> {
 public:
  void configure(const Config& conf) override {
    const int64_t tci = conf.integer("vlanTci");
    const int64_t id = conf.integer("vlanId"), pcp = conf.integer("pcp");
    if (tci >= 0 && id) throw ConfigError("give either vlanTci or vlanId, not both");
    tci_.store(uint16_t((tci >= 0 ? tci : id) | pcp << 13));  // as Click: pcp is ORed into vlanTci too
  }

  uint32_t action(Packet* p) {
    Annotations& a = p->anno();
    a.vlan_tci = tci_.load(std::memory_order_relaxed);  // a plain load: no cost per packet
    a.flags |= kVlanPresent;
    return kKeep;
  }

  void add_handlers(std::vector<Handler>& h) override {
    h.push_back({"vlan_tci", [this] { return std::to_string(tci_.load()); },
                 [this](const std::string& v) { tci_.store(uint16_t(parse_u64(v, 0, 0xffff, "vlan_tci"))); }});
    h.push_back({"vlan_id", [this] { return std::to_string(tci_.load() & 0xfff); },
                 [this](const std::string& v) { replace(0x0fff, uint16_t(parse_field_integer(v, "vlanId", "vlan_id"))); }});
    h.push_back({"vlan_pcp", [this] { return std::to_string(tci_.load() >> 13); },
                 [this](const std::string& v) { replace(0xe000, uint16_t(parse_field_integer(v, "pcp", "vlan_pcp") << 13)); }});
  }

 private:
  // Change the bits of mask to v (control thread).
  void replace(uint16_t mask, uint16_t v) {
    uint16_t old = tci_.load();
    while (!tci_.compare_exchange_weak(old, uint16_t((old & ~mask) | v))) {
    }
  }

  std::atomic<uint16_t> tci_{0};
};

PG_ELEMENT(SetVLANAnno);

}  // namespace pg
