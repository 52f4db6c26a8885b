// A base for agnostic one-in, one-out elements that act on each packet on its own (Strip,
// EtherEncap, CheckIPHeader, ...): it supplies push and pull, keeps survivors in order,
// frees the dropped packets together and counts each drop reason once per batch. An element
// may also reject packets: Click's "to output 1 if it is connected, else dropped" (DecIPTTL's
// expired packets, CheckICMPHeader's bad ones).
#pragma once
#include <cstdint>

#include "element.h"

namespace pg {

// Derived implements `uint32_t action(Packet*)`, returning
//   kKeep         to pass the packet on (output 0);
//   r             (a counter index, below kMaxCounters) to drop it, counted under r;
//   a rejection   (a value from reject(r, c) kept from configure) to send it to output 1 when
//                 that output is connected, counted under c, else to drop it, counted under r
//                 (the drop-counter convention's `<reason>` and `drops_<reason>`; several
//                 reasons may share one c, as CheckICMPHeader's `rejected`).
// An element that rejects declares `static constexpr bool kRejects = true;` (and output 1 in
// push: Click's processing `a/ah`); the others compile to the loop without the test.
// Set c_passed_ to a counter index to count the packets passed. Dropped packets are freed
// together and each reason counted once per batch; survivors keep their order, and so do
// rejected packets, pushed to output 1 as one batch after output 0's. Derived may also define
// `void begin_batch(uint32_t n)`, called before the n packets of a batch are acted on (e.g. to
// reserve n IP ids with one atomic add).
template <class Derived>
class PerPacketElement : public Element {
 public:
  void push(int, Batch& b) override {
    if constexpr (Derived::kRejects) {
      Batch rejected;
      process(b, 0, &rejected);
      output_push(0, b);
      output_push(1, rejected);
    } else {
      process(b, 0, nullptr);
      output_push(0, b);
    }
  }

  uint32_t pull(int, Batch& b, uint32_t max) override {
    uint32_t first = b.count;
    input_pull(0, b, max);
    if constexpr (Derived::kRejects) {
      Batch rejected;
      process(b, first, &rejected);
      output_push(1, rejected);
    } else {
      process(b, first, nullptr);
    }
    return b.count - first;
  }

  void begin_batch(uint32_t) {}

 protected:
  static constexpr uint32_t kKeep = ~0u;
  static constexpr uint32_t kMaxCounters = 8;
  static constexpr bool kRejects = false;
  int32_t c_passed_ = -1;

  // The verdict that rejects a packet: dropped under counter `drop_counter` without output 1,
  // counted under `sent_counter` when sent there. Call in configure.
  uint32_t reject(uint32_t drop_counter, uint32_t sent_counter) {
    if (drop_counter >= kMaxCounters) throw ConfigError("counter '" + counter_names()[drop_counter] + "' must be among the first 8 (PerPacketElement counts drops by index)");
    sent_counter_[drop_counter] = sent_counter;
    return kRejectBit | drop_counter;
  }

 private:
  static constexpr uint32_t kRejectBit = 0x100;
  uint32_t sent_counter_[kMaxCounters] = {};

  void process(Batch& b, uint32_t first, Batch* rejected) {
    Packet* dead[kMaxBatch];
    uint32_t reasons[kMaxCounters] = {}, sent[kMaxCounters] = {};
    uint32_t ndead = 0, keep = first;
    Derived* self = static_cast<Derived*>(this);
    if (b.count > first) self->begin_batch(b.count - first);
    [[maybe_unused]] const bool divert = Derived::kRejects && noutputs() > 1;
    for (uint32_t i = first; i < b.count; i++) {
      Packet* p = b.pkts[i];
      uint32_t r = self->action(p);
      if (r == kKeep) {
        b.pkts[keep++] = p;
      } else if (Derived::kRejects && divert && (r & kRejectBit)) {
        rejected->add(p);
        sent[r & (kMaxCounters - 1)]++;
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
    if (Derived::kRejects && divert && rejected->count)
      for (uint32_t r = 0; r < kMaxCounters; r++)
        if (sent[r]) count(sent_counter_[r], sent[r]);
  }
};

}  // namespace pg
