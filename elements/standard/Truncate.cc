// Truncate: shortens packets to at most a length. Documentation: Truncate.ts.
#include "per_packet.h"

namespace pg {

class Truncate final : public PerPacketElement<Truncate> {
 public:
  void configure(const Config& conf) override {
    length_ = uint32_t(conf.integer("length"));
    extra_length_ = conf.boolean("extraLength");
  }

  uint32_t action(Packet* p) const {
    if (p->length() > length_) {
      if (extra_length_) p->anno().extra_length += p->length() - length_;
      p->take(p->length() - length_);
    }
    return kKeep;
  }

 private:
  uint32_t length_ = 0;
  bool extra_length_ = true;
};

PG_ELEMENT(Truncate);

}  // namespace pg
