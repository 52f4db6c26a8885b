// LookupIP6Route: IPv6 longest-prefix-match routing. Documentation: LookupIP6Route.ts; the
// table: native/fib/lpm.h; routes, handlers and publication: native/fib/lookup_element.h.
#include "batch_split.h"
#include "fib/lookup_element.h"

namespace pg {

class LookupIP6Route final : public fib::RouteLookupElement {
 public:
  void push(int, Batch& b) override {
    const fib::Snapshot* s = pub_.get();  // one load per batch; valid for this call
    alignas(16) uint8_t dst[kMaxBatch * 16];
    uint64_t hash_src[kMaxBatch];
    uint32_t res[kMaxBatch], out[kMaxBatch];
    Packet* gone[kMaxBatch];
    uint32_t kept = 0, nshort = 0;
    for (uint32_t i = 0; i < b.count; i++) {
      Packet* p = b.pkts[i];
      const uint8_t* ip = p->network_header();
      if (!ip) ip = p->data() + 14;
      const bool have_header = ip >= p->data() && ip + 40 <= p->end_data();
      const uint8_t* anno = p->anno().dst_ip6;
      uint64_t a0, a1;
      std::memcpy(&a0, anno, 8);
      std::memcpy(&a1, anno + 8, 8);
      const bool use_anno = (a0 | a1) != 0;
      if (!have_header && !use_anno) {
        gone[nshort++] = p;
        continue;
      }
      uint64_t s0 = 0, s1 = 0;
      if (have_header) {
        std::memcpy(&s0, ip + 8, 8);
        std::memcpy(&s1, ip + 16, 8);
      }
      std::memcpy(dst + kept * 16, use_anno ? anno : ip + 24, 16);
      b.pkts[kept] = p;
      hash_src[kept++] = s0 ^ (s1 * 0x9e3779b97f4a7c15ull);
    }
    b.count = kept;
    if (nshort) {
      pool().free(gone, nshort);
      count(c_short_, nshort);
    }
    if (kept == 0) return;
    s->lpm->lookup6_batch(dst, kept, res);
    uint32_t n = 0, nnone = 0;
    for (uint32_t i = 0; i < kept; i++) {
      Packet* p = b.pkts[i];
      if (res[i] == fib::kNoRoute) {
        gone[nnone++] = p;
        continue;
      }
      const uint8_t* d = dst + i * 16;
      const fib::Hop* h;
      if (s->nexthops.is_group(res[i])) {
        uint64_t d0, d1;
        std::memcpy(&d0, d, 8);
        std::memcpy(&d1, d + 8, 8);
        h = &s->hops[s->nexthops.resolve(res[i], fib::flow_hash(hash_src[i], d0 ^ (d1 * 0xc2b2ae3d27d4eb4full)))];
      } else {
        h = &s->hops[s->nexthops.resolve(res[i], 0)];
      }
      std::memcpy(p->anno().dst_ip6, h->has_gw ? h->gw : d, 16);
      b.pkts[n] = p;
      out[n++] = h->port;
    }
    b.count = n;
    if (nnone) {
      pool().free(gone, nnone);
      count(c_no_route_, nnone);
    }
    split_push(b, out, uint32_t(noutputs()), [this](uint32_t port, Batch& sub) { output_push(int(port), sub); });
  }

 protected:
  unsigned width() const override { return 128; }
};

PG_ELEMENT(LookupIP6Route);

}  // namespace pg
