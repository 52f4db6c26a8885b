// Tee: copies each packet to every output. Documentation: Tee.ts.
#include <algorithm>
#include <cstring>

#include "element.h"

namespace pg {

class Tee final : public Element {
 public:
  void configure(const Config&) override {
    c_packets_ = counter("packets");
    c_copies_ = counter("copies");
    c_pool_empty_ = counter("drops_pool_empty");
  }

  void push(int, Batch& b) override {
    const uint32_t n = b.count;
    if (n == 0) return;
    count(c_packets_, n);
    // Copies first (outputs 1..n-1), while the originals are still ours; then the originals.
    uint64_t copies = 0, missed = 0;
    Batch c;
    for (int out = 1; out < noutputs(); out++) {
      c.count = pool().alloc(c.pkts, n);
      for (uint32_t i = 0; i < c.count; i++) copy_packet(b.pkts[i], c.pkts[i]);
      copies += c.count;
      missed += n - c.count;
      output_push(out, c);
    }
    if (copies) count(c_copies_, copies);
    if (missed) count(c_pool_empty_, missed);
    output_push(0, b);
  }

 private:
  uint32_t c_packets_ = 0, c_copies_ = 0, c_pool_empty_ = 0;
};

PG_ELEMENT(Tee);

}  // namespace pg
