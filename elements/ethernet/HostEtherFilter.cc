// HostEtherFilter: accepts the frames a host with one Ethernet address should see; the
// others go to output 1 (if connected) or are dropped. Documentation: HostEtherFilter.ts.
#include <cstring>

#include "per_packet.h"

namespace pg {

class HostEtherFilter final : public PerPacketElement<HostEtherFilter> {
 public:
  static constexpr bool kRejects = true;

  void configure(const Config& conf) override {
    conf.mac("mac", mac_);
    drop_own_ = conf.boolean("dropOwn");
    drop_other_ = conf.boolean("dropOther");
    c_short_ = counter("drops_short");
    r_own_ = reject(counter("drops_own"), counter("own"));
    r_other_ = reject(counter("drops_other"), counter("other"));
  }

  uint32_t action(Packet* p) const {
    if (p->length() < 14) return c_short_;
    const uint8_t* d = p->data();
    if (drop_own_ && std::memcmp(d + 6, mac_, 6) == 0) return r_own_;
    // Unicast (group bit clear) for another host.
    if (drop_other_ && !(d[0] & 1) && std::memcmp(d, mac_, 6) != 0) return r_other_;
    return kKeep;
  }

 private:
  uint8_t mac_[6] = {};
  bool drop_own_ = false, drop_other_ = true;
  uint32_t c_short_ = 0, r_own_ = 0, r_other_ = 0;
};

PG_ELEMENT(HostEtherFilter);

}  // namespace pg
