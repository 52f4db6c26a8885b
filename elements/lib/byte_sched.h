// What the byte-fair pull schedulers share (DRRSched, WFQSched): the packets taken from an
// input but not yet sent, a config field with one value per input (quanta, weights) read from
// the config or a write handler, and the counts of what each input had sent.
#pragma once
#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "element.h"

namespace pg {

// Packets a scheduler pulled from one input and has not sent yet: it must see a packet's length
// before it decides to send it, and it pulls its inputs a batch at a time (one pull per packet
// would cost a call and a compare-and-swap on the Queue each). Refilled only when empty, through
// the free tail of the batch being built, so no batch per input.
struct HeldPackets {
  static constexpr uint32_t kCapacity = 32;  // the most packets one input has held
  Packet* pkts[kCapacity];
  uint32_t head = 0, count = 0;

  bool empty() const { return count == 0; }
  Packet* front() const { return pkts[head]; }
  Packet* pop() {
    count--;
    return pkts[head++];
  }
  // Moves b.pkts[from, b.count) here (at most kCapacity; the hold is empty) and cuts b to `from`.
  void take(Batch& b, uint32_t from) {
    head = 0;
    count = b.count - from;
    std::memcpy(pkts, b.pkts + from, count * sizeof(Packet*));
    b.count = from;
  }
  void free_all(PacketPool& pool) {
    if (count) pool.free(pkts + head, count);
    head = count = 0;
  }
};

// Packets just pulled, whose lengths are read next: each length is in the packet's first cache
// line, which a deep queue has long let go cold, so ask for all of them at once.
inline void prefetch_packets(const Batch& b, uint32_t from) {
  for (uint32_t k = from; k < b.count; k++) __builtin_prefetch(b.pkts[k]);
}

// How many packets to pull into an empty hold: `want` (what the puller still asks for, so that no
// more than that waits here, unseen by the queue in front and its drop policy), at most kCapacity,
// and no more than b's free tail, the scratch room (never empty while the puller asks for more).
inline uint32_t refill_room(const Batch& b, uint32_t want) { return std::min({want, HeldPackets::kCapacity, kMaxBatch - b.count}); }

// A config field holding one whole number per input (`list`, e.g. quanta), each in the range the
// descriptor declares for `item`, the field that gives every input's default (quantum): the
// compiler fills `list` from `item` when it is not given, so the native side reads only `list`.
inline std::vector<uint32_t> per_input_config(const Config& conf, const char* list, const char* item, int n) {
  const FieldSpec& spec = conf.facts().field(item);
  const json::Value& v = conf.value(list);
  const std::string field = std::string("config field '") + list + "'";
  if (!v.is_array() || v.as_array().size() != size_t(n))
    throw ConfigError(field + " must have one entry per input (" + std::to_string(n) + "), got " +
                      (v.is_array() ? std::to_string(v.as_array().size()) : std::string("a ") + v.type_name()));
  std::vector<uint32_t> out;
  for (const json::Value& e : v.as_array()) {
    const double d = e.is_number() ? e.as_number() : -1;
    if (!e.is_number() || d != double(int64_t(d)) || !spec.in_range(d))
      throw ConfigError(field + " entry " + std::to_string(out.size()) + " must be a whole number " + spec.range_text() + " (as '" + item + "'), got " + e.dump());
    out.push_back(uint32_t(d));
  }
  return out;
}

// The same from a write handler's text: one whole number per input, separated by spaces or commas.
inline std::vector<uint32_t> per_input_text(const ClassFacts& facts, const std::string& text, const char* list, const char* item, int n) {
  std::vector<uint32_t> out;
  size_t i = 0;
  while (true) {
    i = text.find_first_not_of(" ,\t\n", i);
    if (i == std::string::npos) break;
    const size_t end = std::min(text.find_first_of(" ,\t\n", i), text.size());
    const std::string what = std::string(list) + " entry " + std::to_string(out.size());
    out.push_back(uint32_t(parse_field_integer(facts, text.substr(i, end - i), item, what.c_str())));
    i = end;
  }
  if (out.size() != size_t(n))
    throw HandlerError(std::string(list) + " takes one value per input (" + std::to_string(n) + "), got " + std::to_string(out.size()));
  return out;
}

// What one input had sent, written by the one puller (relaxed: a reader sees a recent count) and
// read by handlers. `reset` handlers that zero them are exclusive (the graph paused).
struct ServedCounts {
  std::atomic<uint64_t> packets{0}, bytes{0};
  void add(uint64_t p, uint64_t b) {
    packets.store(packets.load(std::memory_order_relaxed) + p, std::memory_order_relaxed);
    bytes.store(bytes.load(std::memory_order_relaxed) + b, std::memory_order_relaxed);
  }
  void reset() {
    packets.store(0);
    bytes.store(0);
  }
};

// Values separated by spaces, the form the list handlers read and write.
template <class F>
std::string join_per_input(int n, F value) {
  std::string s;
  for (int i = 0; i < n; i++) {
    if (i) s += ' ';
    s += std::to_string(value(i));
  }
  return s;
}

// The per-input count handlers of a byte scheduler: `input_packets` and `input_bytes` read what
// each of the `n` inputs sent (`served(i)`: its ServedCounts), and `reset` zeroes them and runs
// `reset_totals` (the element's own counters). Exclusive: the puller's counts are plain
// read-modify-writes.
template <class Served, class ResetTotals>
void add_served_handlers(std::vector<Handler>& h, int n, Served served, ResetTotals reset_totals) {
  h.push_back({"input_packets", [n, served] { return join_per_input(n, [&](int i) { return served(i).packets.load(); }); }, nullptr});
  h.push_back({"input_bytes", [n, served] { return join_per_input(n, [&](int i) { return served(i).bytes.load(); }); }, nullptr});
  h.push_back({"reset", nullptr, [n, served, reset_totals](const std::string&) {
                 for (int i = 0; i < n; i++) served(i).reset();
                 reset_totals();
               }, /*exclusive=*/true});
}

}  // namespace pg
