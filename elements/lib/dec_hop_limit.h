// What DecIPTTL and DecIP6HLIM share: the batch loop that decrements a hop count, sends
// expired packets (unchanged) to output 1 when it exists (counted in expired), else drops them
// (drops_expired), and drops packets
// without a header; each reason counted once per batch, every output in arrival order.
//
// Derived supplies the protocol's parts:
//   static uint8_t* header(Packet*);      the header at the network-header annotation, or
//                                         nullptr when unset or not wholly inside the packet
//   static constexpr size_t kHopOffset;   where the TTL / hop limit lies in the header
//   static void decrement(uint8_t* ip);   decrement it (and fix what depends on it)
#pragma once
#include "batch_split.h"
#include "element.h"

namespace pg {

template <class Derived>
class DecHopLimitElement : public Element {
 public:
  void configure(const Config&) override {
    c_packets_ = counter("packets");
    c_expired_ = counter("expired");
    c_expired_dropped_ = counter("drops_expired");
    c_no_header_ = counter("drops_no_header");
  }

  void push(int, Batch& b) override {
    Packet* dead[kMaxBatch];
    uint32_t out[kMaxBatch];
    uint32_t ndead = 0, nexpired = 0, nnohdr = 0, keep = 0;
    const bool have_expired_port = noutputs() > 1;
    for (uint32_t i = 0; i < b.count; i++) {
      Packet* p = b.pkts[i];
      uint8_t* ip = Derived::header(p);
      if (!ip) {
        dead[ndead++] = p;
        nnohdr++;
        continue;
      }
      if (ip[Derived::kHopOffset] <= 1) {
        nexpired++;
        if (!have_expired_port) {
          dead[ndead++] = p;
          continue;
        }
        out[keep] = 1;  // unchanged, for an ICMP time-exceeded error
        b.pkts[keep++] = p;
        continue;
      }
      Derived::decrement(ip);
      out[keep] = 0;
      b.pkts[keep++] = p;
    }
    b.count = keep;
    if (ndead) pool().free(dead, ndead);
    if (nnohdr) count(c_no_header_, nnohdr);
    if (nexpired) count(have_expired_port ? c_expired_ : c_expired_dropped_, nexpired);
    const uint32_t passed = keep - (have_expired_port ? nexpired : 0);
    if (passed) count(c_packets_, passed);
    if (!keep) return;
    if (have_expired_port && nexpired)
      split_push(b, out, 2, [this](uint32_t port, Batch& sub) { output_push(int(port), sub); });
    else
      output_push(0, b);
  }

 private:
  uint32_t c_packets_ = 0, c_expired_ = 0, c_expired_dropped_ = 0, c_no_header_ = 0;
};

}  // namespace pg
