// RoundRobinSched: pulls from its inputs in turn. Documentation: RoundRobinSched.ts.
#include <algorithm>
#include <atomic>

#include "element.h"

namespace pg {

class RoundRobinSched final : public Element {
 public:
  // A batch pull behaves like `max` single-packet round-robin pulls: starting at `next_`,
  // input k of the round is offered max/n packets, the first max%n inputs one more; room
  // left by inputs that ran short is then offered to the inputs in the same order.
  // The next pull starts after the input that gave the last packet.
  uint32_t pull(int, Batch& b, uint32_t max) override {
    max = std::min(max, kMaxBatch - b.count);
    const uint32_t n = uint32_t(ninputs());
    if (max == 0 || n == 0) return 0;
    uint32_t start = next_.load(std::memory_order_relaxed);
    if (start >= n) start = 0;
    const uint32_t base = max / n, extra = max % n;
    uint32_t got = 0, last = n;  // last: the input that gave the last packet (n: none)
    bool short_input = false;
    for (uint32_t k = 0; k < n; k++) {
      uint32_t want = base + (k < extra ? 1 : 0);
      if (want == 0) break;
      uint32_t i = wrap(start + k, n);
      uint32_t m = input_pull(int(i), b, want);
      if (m) {
        got += m;
        last = i;
      }
      if (m < want) short_input = true;
    }
    if (!short_input) {
      // Every input offered a share filled it: the last packet of a packet-by-packet
      // round robin came from the last input given an extra one (or the last input).
      last = wrap(start + (extra ? extra : n) - 1, n);
    } else {
      for (uint32_t k = 0; k < n && got < max; k++) {
        uint32_t i = wrap(start + k, n);
        uint32_t m = input_pull(int(i), b, max - got);
        if (m) {
          got += m;
          last = i;
        }
      }
    }
    if (last < n) next_.store(wrap(last + 1, n), std::memory_order_relaxed);
    return got;
  }

 private:
  static uint32_t wrap(uint32_t i, uint32_t n) { return i >= n ? i - n : i; }
  // Where the next pull starts. Only the one puller (a pull output has one connection)
  // touches it; relaxed atomic so a puller moving between threads is still well defined.
  std::atomic<uint32_t> next_{0};
};

PG_ELEMENT(RoundRobinSched);

}  // namespace pg
