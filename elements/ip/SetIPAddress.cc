// SetIPAddress: sets the destination-address annotation to a fixed address.
// Documentation: SetIPAddress.ts.
#include <arpa/inet.h>

#include "pass_element.h"

namespace pg {

class SetIPAddress final : public PassElement<SetIPAddress> {
 public:
  void configure(const Config& conf) override {
    addr_ = conf.ipv4("address");
  }

  void act(Batch& b, uint32_t first) {
    for (uint32_t i = first; i < b.count; i++) b.pkts[i]->anno().dst_ip4 = addr_;
  }

 private:
  uint32_t addr_ = 0;  // network byte order
};

PG_ELEMENT(SetIPAddress);

}  // namespace pg
