// A base for agnostic one-in, one-out elements that look at (or mark) every packet of a batch
// and pass them all on, in order (Counter, Paint, Print, SetTimestamp, TimestampStamp,
// LatencyMeter, SetIPAddress): it supplies push and pull. Derived implements
// `void act(Batch& b, uint32_t first)` on the packets b.pkts[first .. b.count), the ones that
// arrived (a pull appends to a batch that may already hold packets).
#pragma once
#include <cstdint>

#include "element.h"

namespace pg {

template <class Derived>
class PassElement : public Element {
 public:
  void push(int, Batch& b) override {
    static_cast<Derived*>(this)->act(b, 0);
    output_push(0, b);
  }

  uint32_t pull(int, Batch& b, uint32_t max) override {
    const uint32_t first = b.count;
    const uint32_t n = input_pull(0, b, max);
    static_cast<Derived*>(this)->act(b, first);
    return n;
  }
};

}  // namespace pg
