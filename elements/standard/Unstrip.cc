// Unstrip: puts back a fixed number of bytes in front of each packet. Documentation: Unstrip.ts.
#include "per_packet.h"

namespace pg {

class Unstrip final : public PerPacketElement<Unstrip> {
 public:
  void configure(const Config& conf) override {
    length_ = uint32_t(conf.integer("length"));
    counter("drops_no_headroom");  // counter 0: not enough headroom
  }

  uint32_t action(Packet* p) const { return p->push(length_) ? kKeep : 0; }

 private:
  uint32_t length_ = 14;
};

PG_ELEMENT(Unstrip);

}  // namespace pg
