// HostEtherFilter: accepts the frames a host with one Ethernet address should see; the
// others go to output 1 (if connected) or are dropped. Documentation: HostEtherFilter.ts.
#include <cstring>

#include "batch_split.h"
#include "element.h"

namespace pg {

class HostEtherFilter final : public Element {
 public:
  void configure(const Config& conf) override {
    conf.mac("mac", mac_);
    drop_own_ = conf.boolean("dropOwn");
    drop_other_ = conf.boolean("dropOther");
    c_short_ = counter("drops_short");
    c_own_ = counter("own");
    c_other_ = counter("other");
    c_own_dropped_ = counter("drops_own");
    c_other_dropped_ = counter("drops_other");
  }

  void push(int, Batch& b) override {
    Packet* dead[kMaxBatch];
    uint32_t out[kMaxBatch];
    uint32_t ndead = 0, nshort = 0, nown = 0, nother = 0, keep = 0, nrejected = 0;
    const bool reject_port = noutputs() > 1;
    for (uint32_t i = 0; i < b.count; i++) {
      Packet* p = b.pkts[i];
      if (p->length() < 14) {
        dead[ndead++] = p;
        nshort++;
        continue;
      }
      const uint8_t* d = p->data();
      bool reject = false;
      if (drop_own_ && std::memcmp(d + 6, mac_, 6) == 0) {
        nown++;
        reject = true;
      } else if (drop_other_ && !(d[0] & 1) && std::memcmp(d, mac_, 6) != 0) {
        nother++;  // unicast (group bit clear) for another host
        reject = true;
      }
      if (reject) {
        if (!reject_port) {
          dead[ndead++] = p;
          continue;
        }
        nrejected++;
        out[keep] = 1;
      } else {
        out[keep] = 0;
      }
      b.pkts[keep++] = p;
    }
    b.count = keep;
    if (ndead) pool().free(dead, ndead);
    if (nshort) count(c_short_, nshort);
    // Rejected frames count as own/other on output 1, drops_own/drops_other without it.
    if (nown) count(reject_port ? c_own_ : c_own_dropped_, nown);
    if (nother) count(reject_port ? c_other_ : c_other_dropped_, nother);
    if (!keep) return;
    if (nrejected)
      split_push(b, out, 2, [this](uint32_t port, Batch& sub) { output_push(int(port), sub); });
    else
      output_push(0, b);
  }

 private:
  uint8_t mac_[6] = {};
  bool drop_own_ = false, drop_other_ = true;
  uint32_t c_short_ = 0, c_own_ = 0, c_other_ = 0, c_own_dropped_ = 0, c_other_dropped_ = 0;
};

PG_ELEMENT(HostEtherFilter);

}  // namespace pg
