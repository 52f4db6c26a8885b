// Splitting one batch over several outputs (PaintSwitch, HashSwitch, ...): the caller
// gives an output number per packet; each output that receives packets gets one
// sub-batch, pushed once, with the packets in their arrival order. Outputs are pushed
// in increasing order. No allocation: scratch space is on the stack (about 5 KB).
#pragma once
#include <algorithm>
#include <cstdint>
#include <cstring>

#include "packet.h"

namespace pg {

// out[i] is the output of b.pkts[i]; every value must be < noutputs. push(port, batch)
// forwards one sub-batch. On return b.count is 0 (every packet was handed on).
template <class PushFn>
inline void split_push(Batch& b, const uint32_t* out, uint32_t noutputs, PushFn&& push) {
  const uint32_t n = b.count;
  if (n == 0) return;
  // Common case: the whole batch goes to one output.
  bool same = true;
  for (uint32_t i = 1; i < n && same; i++) same = out[i] == out[0];
  if (same) {
    push(out[0], b);
    b.count = 0;
    return;
  }
  Packet* sorted[kMaxBatch];
  Batch sub;
  if (noutputs <= kMaxBatch) {
    // Counting sort by output (stable): O(batch + outputs).
    uint16_t start[kMaxBatch + 1];
    std::memset(start, 0, sizeof(uint16_t) * (noutputs + 1));
    for (uint32_t i = 0; i < n; i++) start[out[i] + 1]++;
    for (uint32_t o = 0; o < noutputs; o++) start[o + 1] = uint16_t(start[o + 1] + start[o]);
    uint16_t fill[kMaxBatch];
    std::memcpy(fill, start, sizeof(uint16_t) * noutputs);
    for (uint32_t i = 0; i < n; i++) sorted[fill[out[i]]++] = b.pkts[i];
    b.count = 0;
    for (uint32_t o = 0; o < noutputs; o++) {
      uint32_t len = uint32_t(start[o + 1] - start[o]);
      if (!len) continue;
      std::memcpy(sub.pkts, sorted + start[o], len * sizeof(Packet*));
      sub.count = len;
      push(o, sub);
    }
  } else {
    // Many outputs: sort (output, index) keys; outputs are < 2^20 and indexes < 2^8.
    uint32_t key[kMaxBatch];
    for (uint32_t i = 0; i < n; i++) key[i] = out[i] << 8 | i;
    std::sort(key, key + n);
    for (uint32_t i = 0; i < n; i++) sorted[i] = b.pkts[key[i] & 0xff];
    b.count = 0;
    uint32_t i = 0;
    while (i < n) {
      uint32_t o = key[i] >> 8, j = i;
      while (j < n && (key[j] >> 8) == o) j++;
      std::memcpy(sub.pkts, sorted + i, (j - i) * sizeof(Packet*));
      sub.count = j - i;
      push(o, sub);
      i = j;
    }
  }
}

}  // namespace pg
