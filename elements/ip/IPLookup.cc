// IPLookup: IPv4 longest-prefix-match routing. Documentation: IPLookup.ts; the table:
// native/fib/lpm.h; routes, handlers and publication: native/fib/lookup_element.h.
#include <arpa/inet.h>

#include "batch_split.h"
#include "fib/lookup_element.h"

namespace pg {

class IPLookup final : public fib::RouteLookupElement {
 public:
  void push(int, Batch& b) override {
    const fib::Snapshot* s = pub_.get();  // one load per batch; valid for this call
    uint32_t dst[kMaxBatch], src[kMaxBatch], res[kMaxBatch], out[kMaxBatch];
    Packet* gone[kMaxBatch];
    uint32_t kept = 0, nshort = 0;
    for (uint32_t i = 0; i < b.count; i++) {
      Packet* p = b.pkts[i];
      const uint8_t* ip = p->network_header();
      if (!ip) ip = p->data() + 14;
      const bool have_header = ip >= p->data() && ip + 20 <= p->end_data();
      uint32_t d = p->anno().dst_ip4, sa = 0;
      if (have_header) {
        std::memcpy(&sa, ip + 12, 4);
        if (!d) std::memcpy(&d, ip + 16, 4);
      } else if (!d) {
        gone[nshort++] = p;
        continue;
      }
      b.pkts[kept] = p;
      dst[kept] = ntohl(d);
      src[kept++] = sa;
    }
    b.count = kept;
    if (nshort) {
      pool().free(gone, nshort);
      count(c_short_, nshort);
    }
    if (kept == 0) return;
    s->lpm->lookup_batch(dst, kept, res);
    warm_.at[0] = s;
    warm_.at[1] = s->lpm.get();
    warm_.n = 2 + s->lpm->path(dst[0], warm_.at + 2, WarmLines::kMax - 2);
    uint32_t n = 0, nnone = 0;
    for (uint32_t i = 0; i < kept; i++) {
      Packet* p = b.pkts[i];
      if (res[i] == fib::kNoRoute) {
        gone[nnone++] = p;
        continue;
      }
      const fib::Hop& h = s->hops[s->nexthops.resolve(res[i], fib::flow_hash(src[i], dst[i]))];
      if (h.has_gw) std::memcpy(&p->anno().dst_ip4, h.gw, 4);
      else p->anno().dst_ip4 = htonl(dst[i]);
      b.pkts[n] = p;
      out[n++] = h.port;
    }
    b.count = n;
    if (nnone) {
      pool().free(gone, nnone);
      count(c_no_route_, nnone);
    }
    split_push(b, out, uint32_t(noutputs()), [this](uint32_t port, Batch& sub) { output_push(int(port), sub); });
  }

 protected:
  unsigned width() const override { return 32; }
};

PG_ELEMENT(IPLookup);

}  // namespace pg
