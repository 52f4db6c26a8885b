// CheckLength: packets longer than a length go to output 1 (or are dropped).
// Documentation: CheckLength.ts.
#include "per_packet.h"

namespace pg {

class CheckLength final : public PerPacketElement<CheckLength> {
 public:
  static constexpr bool kRejects = true;

  void configure(const Config& conf) override {
    length_ = uint32_t(conf.integer("length"));
    r_long_ = reject(counter("drops_too_long"), counter("too_long"));
  }

  uint32_t action(Packet* p) const { return p->length() > length_ ? r_long_ : kKeep; }

 private:
  uint32_t length_ = 0, r_long_ = 0;
};

PG_ELEMENT(CheckLength);

}  // namespace pg
