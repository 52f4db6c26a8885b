// What the rate elements share (Shaper, BandwidthShaper, BandwidthRatedUnqueue, RatedSplitter,
// BandwidthRatedSplitter): their `rate`, `burst` (and `overhead`) fields and handlers, the token
// bucket (native/token_bucket.h) on the worker's round clock (now_ns()), live changes applied
// without a burst of saved credit, and for the pull elements in bytes, pulling what the credit
// allows, and the splitters' common part (RateSplitter). Fields and their defaults are
// declared once, in rateFields.ts.
//
// Units: packet elements count one token per packet (rate in packets per second, burst in
// packets); Bandwidth* elements count bytes (rate in bits per second, converted once here;
// burst in bytes; each packet costs its length plus `overhead`). A byte bucket lets a packet
// go while any credit is held (TokenBucket::any()).
//
// Several workers may push into a splitter at once (or pull through a shaper), so the bucket is
// used under `lock`, taken once per batch by the element. Handlers only store atomics; the
// worker applies them at its next batch (TokenBucket::set_rate, set_depth).
#pragma once
#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "element.h"
#include "spin_lock.h"
#include "token_bucket.h"

namespace pg {

class RateLimit {
 public:
  // Reads `rate`, `burst` and, for bytes, `overhead` (all required: the compiler fills them).
  void configure(const Config& conf, bool bytes) {
    bytes_ = bytes;
    facts_ = &conf.facts();
    rate_.store(conf.number("rate"));
    burst_.store(conf.integer("burst"));
    overhead_ = bytes ? uint32_t(conf.integer("overhead")) : 0;
    bucket_.rate = tokens_per_second(rate_.load());
    bucket_.depth = double(burst_.load());
  }

  // Worker, under `lock`: the bucket brought up to `now` (started full at the first call; a
  // written rate or burst applied from now on). Returns the credit discarded because the bucket
  // was full (in tokens), for an element that counts a shortfall.
  TokenBucket& update(uint64_t now, double* over = nullptr) {
    double lost = 0;
    if (!started_) {
      bucket_.start(now, bucket_.depth);
      started_ = true;
    }
    const double rate = tokens_per_second(rate_.load(std::memory_order_relaxed));
    const double depth = double(burst_.load(std::memory_order_relaxed));
    if (depth != bucket_.depth) lost += bucket_.set_depth(now, depth);
    lost += rate != bucket_.rate ? bucket_.set_rate(now, rate) : bucket_.refill(now);
    if (over) *over = lost;
    return bucket_;
  }

  // The mean cost of the packets the last pull passed: what a byte of credit lost is worth in
  // packets, roughly.
  double mean_cost() const { return mean_cost_; }

  // A packet's cost in tokens: 1, or its length plus the overhead.
  double cost(const Packet* p) const { return bytes_ ? double(p->length() + overhead_) : 1.0; }

  // Pull through a byte bucket (under `lock`, after update()): appends to `b` at most `max`
  // packets, each while credit is held, pulling with `pull(batch, n)` (the element's
  // input_pull). Packets pulled beyond the credit wait here, in order, for the next call (a
  // pull cannot see a packet's size before taking it); each pull asks for about as many as
  // the credit covers at the mean cost of the packets the last call passed, so few wait.
  // Returns the packets appended; adds their bytes to `bytes`; `dry` tells whether the input
  // ran out (a pull gave fewer than asked).
  template <class Pull>
  uint32_t pull_bytes(Batch& b, uint32_t max, Pull&& pull, uint64_t& bytes, bool& dry) {
    max = std::min(max, kMaxBatch - b.count);
    const uint32_t first = b.count;
    double costs = 0;
    dry = false;
    while (head_ < held_.count && b.count - first < max && bucket_.any()) {
      costs += charge(held_.pkts[head_], bytes);
      b.pkts[b.count++] = held_.pkts[head_++];
    }
    if (head_ == held_.count) head_ = held_.count = 0;
    while (held_.count == 0 && b.count - first < max && bucket_.any()) {
      const uint32_t room = max - (b.count - first);
      const uint32_t want = uint32_t(std::clamp(std::ceil(bucket_.tokens / mean_cost_), 1.0, double(room)));
      const uint32_t from = b.count;
      const uint32_t n = pull(b, want);
      if (n < want) dry = true;
      uint32_t i = from;
      while (i < b.count && bucket_.any()) costs += charge(b.pkts[i++], bytes);
      for (uint32_t j = i; j < b.count; j++) held_.pkts[held_.count++] = b.pkts[j];
      b.count = i;
      if (dry) break;
    }
    held_now_.store(held_.count - head_, std::memory_order_relaxed);
    if (b.count > first) mean_cost_ = costs / double(b.count - first);
    return b.count - first;
  }

  // Packets pulled and waiting for credit (pull_bytes), and freeing them (cleanup, no worker inside).
  uint64_t held() const { return held_now_.load(std::memory_order_relaxed); }
  void free_held(PacketPool& pool) {
    if (held_.count > head_) pool.free(held_.pkts + head_, held_.count - head_);
    head_ = held_.count = 0;
    held_now_.store(0);
  }

  // Hot reconfiguration (no worker inside either): the packets waiting for credit move over, in
  // order, and the bucket goes on where it was (a changed rate or burst applies from the next
  // update(), as a handler's write would).
  void take(RateLimit& old) {
    held_.count = 0;
    for (uint32_t i = old.head_; i < old.held_.count; i++) held_.pkts[held_.count++] = old.held_.pkts[i];
    head_ = 0;
    held_now_.store(held_.count);
    old.head_ = old.held_.count = 0;
    old.held_now_.store(0);
    if (old.started_ && old.bytes_ == bytes_) {
      bucket_ = old.bucket_;
      started_ = true;
      mean_cost_ = old.mean_cost_;
    }
  }

  // The `rate` and `burst` handlers (values in the fields' units, checked against their ranges).
  void add_handlers(std::vector<Handler>& h) {
    h.push_back({"rate", [this] { return format_number(rate_.load()); },
                 [this](const std::string& v) { rate_.store(parse_field_number(*facts_, v, "rate")); }});
    h.push_back({"burst", [this] { return std::to_string(burst_.load()); },
                 [this](const std::string& v) { burst_.store(parse_field_integer(*facts_, v, "burst")); }});
  }

  SpinLock lock;

 private:
  double tokens_per_second(double rate) const { return bytes_ ? rate / 8 : rate; }

  double charge(const Packet* p, uint64_t& bytes) {
    const double c = cost(p);
    bucket_.take(c);
    bytes += p->length();
    return c;
  }

  // Set by configure(); written by handlers.
  std::atomic<double> rate_{0};
  std::atomic<int64_t> burst_{0};
  const ClassFacts* facts_ = nullptr;
  bool bytes_ = false;
  uint32_t overhead_ = 0;
  // Under `lock`.
  TokenBucket bucket_;
  bool started_ = false;
  // How pull_bytes sizes its next pull; before any packet, a full-size Ethernet frame's bytes,
  // so the first pulls ask for too few rather than too many.
  double mean_cost_ = 1518;
  Batch held_;             // pulled beyond the credit: held_.pkts[head_ .. count) wait, in order
  uint32_t head_ = 0;
  std::atomic<uint64_t> held_now_{0};
};

// The rate splitters (RatedSplitter in packets, BandwidthRatedSplitter in bytes): the limit
// and its handlers, the counters, and the pushes once a batch is split. The element's push()
// decides which packets are within the rate.
template <bool kBytes>
class RateSplitter : public Element {
 public:
  void configure(const Config& conf) override {
    limit_.configure(conf, kBytes);
    c_packets_ = counter("packets");
    c_bytes_ = counter("bytes");
    c_over_ = counter("over");
    c_over_bytes_ = counter("over_bytes");
  }

  void add_handlers(std::vector<Handler>& h) override { limit_.add_handlers(h); }

 protected:
  // b's packets (`bytes` of them) were within the rate and go to output 0; over's to output 1.
  void push_split(Batch& b, uint64_t bytes, Batch& over, uint64_t over_bytes) {
    if (b.count) count(c_packets_, b.count), count(c_bytes_, bytes);
    if (over.count) count(c_over_, over.count), count(c_over_bytes_, over_bytes);
    output_push(0, b);
    output_push(1, over);
  }

  RateLimit limit_;

 private:
  uint32_t c_packets_ = 0, c_bytes_ = 0, c_over_ = 0, c_over_bytes_ = 0;
};

}  // namespace pg
