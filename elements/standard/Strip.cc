// Strip: removes a fixed number of bytes from the front of each packet. Documentation: Strip.ts.
#include "per_packet.h"

namespace pg {

class Strip final : public PerPacketElement<Strip> {
 public:
  void configure(const Config& conf) override {
    length_ = uint32_t(conf.integer("length"));
    counter("drops_short");  // counter 0: packets shorter than length
  }

  uint32_t action(Packet* p) const { return p->pull(length_) ? kKeep : 0; }

 private:
  uint32_t length_ = 14;
};

PG_ELEMENT(Strip);

}  // namespace pg
