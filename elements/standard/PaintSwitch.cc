// PaintSwitch: sends each packet to the output its paint annotation names.
// Documentation: PaintSwitch.ts.
#include "batch_split.h"
#include "element.h"

namespace pg {

class PaintSwitch final : public Element {
 public:
  void configure(const Config&) override { c_drops_ = counter("drops_no_output"); }

  void push(int, Batch& b) override {
    const uint32_t nout = uint32_t(noutputs());
    uint32_t out[kMaxBatch];
    uint32_t kept = 0, dropped = 0;
    Packet* gone[kMaxBatch];
    for (uint32_t i = 0; i < b.count; i++) {
      Packet* p = b.pkts[i];
      uint32_t o = p->anno().paint;
      if (o < nout) {
        b.pkts[kept] = p;
        out[kept++] = o;
      } else {
        gone[dropped++] = p;
      }
    }
    b.count = kept;
    if (dropped) {
      pool().free(gone, dropped);
      count(c_drops_, dropped);
    }
    split_push(b, out, nout, [this](uint32_t port, Batch& sub) { output_push(int(port), sub); });
  }

 private:
  uint32_t c_drops_ = 0;
};

PG_ELEMENT(PaintSwitch);

}  // namespace pg
