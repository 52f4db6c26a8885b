// RoundRobinSwitch: sends packet i to output i mod n. Documentation: RoundRobinSwitch.ts.
#include <atomic>

#include "element.h"

namespace pg {

class RoundRobinSwitch final : public Element {
 public:
  void push(int, Batch& b) override {
    const uint32_t n = b.count;
    if (n == 0) return;
    const uint32_t nout = uint32_t(noutputs());
    if (nout == 1) {
      output_push(0, b);
      return;
    }
    // One atomic step per batch claims the next n positions (pushers on several threads
    // interleave by batch). Output k of this batch gets packets first_k, first_k+nout, ...
    const uint64_t base = next_.fetch_add(n, std::memory_order_relaxed);
    const uint32_t start = uint32_t(base % nout);
    const uint32_t used = n < nout ? n : nout;
    Batch sub;
    for (uint32_t j = 0; j < used; j++) {
      uint32_t port = start + j;
      if (port >= nout) port -= nout;
      sub.count = 0;
      for (uint32_t i = j; i < n; i += nout) sub.pkts[sub.count++] = b.pkts[i];
      output_push(int(port), sub);
    }
    b.count = 0;
  }

 private:
  std::atomic<uint64_t> next_{0};
};

PG_ELEMENT(RoundRobinSwitch);

}  // namespace pg
