// SetIPAddress: sets the destination-address annotation to a fixed address.
// Documentation: SetIPAddress.ts.
#include <arpa/inet.h>

#include "element.h"

namespace pg {

class SetIPAddress final : public Element {
 public:
  void configure(const Config& conf) override {
    addr_ = conf.ipv4("address");
  }

  void push(int, Batch& b) override {
    set(b, 0);
    output_push(0, b);
  }

  uint32_t pull(int, Batch& b, uint32_t max) override {
    uint32_t first = b.count;
    input_pull(0, b, max);
    set(b, first);
    return b.count - first;
  }

 private:
  void set(Batch& b, uint32_t first) {
    for (uint32_t i = first; i < b.count; i++) b.pkts[i]->anno().dst_ip4 = addr_;
  }
  uint32_t addr_ = 0;  // network byte order
};

PG_ELEMENT(SetIPAddress);

}  // namespace pg
