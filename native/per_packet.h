// A base for agnostic one-in, one-out elements that act on each packet on its own (Strip,
// EtherEncap, CheckIPHeader, ...): it supplies push and pull, keeps survivors in order,
// frees the dropped packets together and counts each drop reason once per batch.
#pragma once
#include <cstdint>

#include "element.h"

namespace pg {

// Derived implements `uint32_t action(Packet*)`, returning kKeep to pass the packet on or
// the index of the counter under which it is dropped (counter indexes below kMaxCounters).
// Set c_passed_ to a counter index to count the packets passed. Dropped packets are freed
// together and each reason counted once per batch; survivors keep their order. Derived may
// also define `void begin_batch(uint32_t n)`, called before the n packets of a batch are
// acted on (e.g. to reserve n IP ids with one atomic add).
template <class Derived>
class PerPacketElement : public Element {
 public:
  void push(int, Batch& b) override {
    process(b, 0);
    output_push(0, b);
  }

  uint32_t pull(int, Batch& b, uint32_t max) override {
    uint32_t first = b.count;
    input_pull(0, b, max);
    process(b, first);
    return b.count - first;
  }

  void begin_batch(uint32_t) {}

 protected:
  static constexpr uint32_t kKeep = ~0u;
  static constexpr uint32_t kMaxCounters = 8;
  int32_t c_passed_ = -1;

 private:
  void process(Batch& b, uint32_t first) {
    Packet* dead[kMaxBatch];
    uint32_t reasons[kMaxCounters] = {};
    uint32_t ndead = 0, keep = first;
    Derived* self = static_cast<Derived*>(this);
    if (b.count > first) self->begin_batch(b.count - first);
    for (uint32_t i = first; i < b.count; i++) {
      Packet* p = b.pkts[i];
      uint32_t r = self->action(p);
      if (r == kKeep) {
        b.pkts[keep++] = p;
      } else {
        dead[ndead++] = p;
        reasons[r & (kMaxCounters - 1)]++;
      }
    }
    b.count = keep;
    if (c_passed_ >= 0 && keep > first) count(uint32_t(c_passed_), keep - first);
    if (ndead) {
      pool().free(dead, ndead);
      for (uint32_t r = 0; r < kMaxCounters; r++)
        if (reasons[r]) count(r, reasons[r]);
    }
  }
};

}  // namespace pg
