// DecIP6HLIM: decrements the IPv6 hop limit; expired packets go to output 1 (if
// connected) or are dropped. Documentation: DecIP6HLIM.ts.
#include "batch_split.h"
#include "element.h"

namespace pg {

class DecIP6HLIM final : public Element {
 public:
  const char* port_count() const override { return "1/1-2"; }
  const char* processing() const override { return "h/h"; }

  void configure(const Config&) override {
    c_packets_ = counter("packets");
    c_expired_ = counter("expired");
    c_no_header_ = counter("drops_no_header");
  }

  void push(int, Batch& b) override {
    Packet* dead[kMaxBatch];
    uint32_t out[kMaxBatch];
    uint32_t ndead = 0, nexpired = 0, nnohdr = 0, keep = 0;
    const bool have_expired_port = noutputs() > 1;
    for (uint32_t i = 0; i < b.count; i++) {
      Packet* p = b.pkts[i];
      uint8_t* ip = p->network_header();
      if (!ip || ip < p->data() || ip + 40 > p->end_data()) {
        dead[ndead++] = p;
        nnohdr++;
        continue;
      }
      if (ip[7] <= 1) {
        nexpired++;
        if (!have_expired_port) {
          dead[ndead++] = p;
          continue;
        }
        out[keep] = 1;  // unchanged, for an ICMPv6 time-exceeded
        b.pkts[keep++] = p;
        continue;
      }
      ip[7]--;
      out[keep] = 0;
      b.pkts[keep++] = p;
    }
    b.count = keep;
    if (ndead) pool().free(dead, ndead);
    if (nnohdr) count(c_no_header_, nnohdr);
    if (nexpired) count(c_expired_, nexpired);
    const uint32_t passed = keep - (have_expired_port ? nexpired : 0);
    if (passed) count(c_packets_, passed);
    if (!keep) return;
    if (have_expired_port && nexpired)
      split_push(b, out, 2, [this](uint32_t port, Batch& sub) { output_push(int(port), sub); });
    else
      output_push(0, b);
  }

 private:
  uint32_t c_packets_ = 0, c_expired_ = 0, c_no_header_ = 0;
};

PG_ELEMENT(DecIP6HLIM);

}  // namespace pg
