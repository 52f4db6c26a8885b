// Counter: counts packets and bytes passing through. Documentation: Counter.ts.
#include "pass_element.h"

namespace pg {

class Counter final : public PassElement<Counter> {
 public:
  void configure(const Config&) override {
    c_packets_ = counter("packets");
    c_bytes_ = counter("bytes");
  }

  void act(const Batch& b, uint32_t first) {
    uint64_t bytes = 0;
    for (uint32_t i = first; i < b.count; i++) bytes += b.pkts[i]->length();
    count(c_packets_, b.count - first);
    count(c_bytes_, bytes);
  }

  void add_handlers(std::vector<Handler>& h) override {
    h.push_back({"reset", nullptr, [this](const std::string&) {
                   reset_counter(c_packets_);
                   reset_counter(c_bytes_);
                 }, /*exclusive=*/true});
  }

 private:
  uint32_t c_packets_ = 0, c_bytes_ = 0;
};

PG_ELEMENT(Counter);

}  // namespace pg
