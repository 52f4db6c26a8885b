// DropBroadcasts: drops packets that arrived as link-level broadcast or multicast, by the
// packet-type annotation. Documentation: DropBroadcasts.ts.
#include "element.h"

namespace pg {

class DropBroadcasts final : public Element {
 public:
  void configure(const Config&) override {
    c_broadcast_ = counter("drops_broadcast");
    c_multicast_ = counter("drops_multicast");
    c_diverted_ = counter("diverted");
  }

  void push(int, Batch& b) override {
    filter(b, 0);
    output_push(0, b);
  }

  uint32_t pull(int, Batch& b, uint32_t max) override {
    const uint32_t first = b.count;
    input_pull(0, b, max);
    filter(b, first);
    return b.count - first;
  }

 private:
  // Keep host/other-host/outgoing packets in b (in order); the rest go to output 1 or are freed.
  void filter(Batch& b, uint32_t first) {
    Batch out;
    uint32_t keep = first, nb = 0;
    for (uint32_t i = first; i < b.count; i++) {
      Packet* p = b.pkts[i];
      const uint8_t t = p->anno().packet_type;
      if (t == kBroadcast || t == kMulticast) {
        nb += t == kBroadcast;
        out.add(p);
      } else {
        b.pkts[keep++] = p;
      }
    }
    b.count = keep;
    if (out.empty()) return;
    if (noutputs() > 1) {
      count(c_diverted_, out.count);
      output_push(1, out);
    } else {
      if (nb) count(c_broadcast_, nb);
      if (out.count > nb) count(c_multicast_, out.count - nb);
      drop(out);
    }
  }

  uint32_t c_broadcast_ = 0, c_multicast_ = 0, c_diverted_ = 0;
};

PG_ELEMENT(DropBroadcasts);

}  // namespace pg
