// Queue: stores pushed packets until pulled (drop-tail). Documentation: Queue.ts.
// The storage is a lock-free ring, so the pushing and pulling sides may run on
// different worker threads.
#include <algorithm>
#include <atomic>
#include <memory>

#include "element.h"
#include "ring.h"

namespace pg {

class Queue final : public Element {
 public:
  void configure(const Config& conf) override {
    capacity_.store(uint32_t(conf.integer("capacity")));
    ring_ = std::make_unique<PtrRing>(next_pow2(std::max<uint32_t>(capacity_.load(), 64)));
    c_enqueued_ = counter("enqueued");
    c_drops_ = counter("drops");
  }

  void push(int, Batch& b) override {
    uint32_t cap = capacity_.load(std::memory_order_relaxed);
    uint32_t n = ring_->enqueue(reinterpret_cast<void* const*>(b.pkts), b.count, cap);
    if (n) {
      count(c_enqueued_, n);
      uint32_t len = ring_->count();
      uint32_t hw = highwater_.load(std::memory_order_relaxed);
      while (len > hw && !highwater_.compare_exchange_weak(hw, len, std::memory_order_relaxed)) {
      }
    }
    if (n < b.count) {
      count(c_drops_, b.count - n);
      pool().free(b.pkts + n, b.count - n);
    }
    b.count = 0;
  }

  uint32_t pull(int, Batch& b, uint32_t max) override {
    max = std::min(max, kMaxBatch - b.count);
    uint32_t n = ring_->dequeue(reinterpret_cast<void**>(b.pkts + b.count), max);
    b.count += n;
    return n;
  }

  uint64_t held_packets() const override { return ring_->count(); }

  void cleanup() override {
    Batch b;
    while ((b.count = ring_->dequeue(reinterpret_cast<void**>(b.pkts), kMaxBatch)) > 0) drop(b);
  }

  // Hot reconfiguration: the old queue's packets, in order, ahead of any new one (the ring is
  // sized for a changed capacity; past it the rest are dropped and counted, as a push would).
  void take_state(Element& old) override {
    Queue& q = static_cast<Queue&>(old);
    void* moved[kMaxBatch];
    uint32_t n;
    while ((n = q.ring_->dequeue(moved, kMaxBatch)) > 0) {
      const uint32_t in = ring_->enqueue(moved, n, ring_->size());
      if (in < n) {
        count(c_drops_, n - in);
        pool().free(reinterpret_cast<Packet**>(moved) + in, n - in);
      }
    }
    highwater_.store(std::max(q.highwater_.load(), uint32_t(ring_->count())));
  }

  void add_handlers(std::vector<Handler>& h) override {
    h.push_back({"length", [this] { return std::to_string(ring_->count()); }, nullptr});
    h.push_back({"highwater_length", [this] { return std::to_string(highwater_.load()); }, nullptr});
    // Growing past the ring's size reallocates it, so this runs with the graph paused.
    h.push_back({"capacity", [this] { return std::to_string(capacity_.load()); },
                 [this](const std::string& v) { set_capacity(uint32_t(parse_field_integer(v, "capacity"))); },
                 /*exclusive=*/true});
    h.push_back({"reset", nullptr, [this](const std::string&) {
                   reset_counter(c_drops_);
                   reset_counter(c_enqueued_);
                   highwater_.store(ring_->count());
                 }, /*exclusive=*/true});
  }

 private:
  void set_capacity(uint32_t cap) {
    if (cap > ring_->size()) {
      auto bigger = std::make_unique<PtrRing>(next_pow2(cap));
      void* moved[kMaxBatch];
      uint32_t n;
      while ((n = ring_->dequeue(moved, kMaxBatch)) > 0) bigger->enqueue(moved, n, bigger->size());
      ring_ = std::move(bigger);
    }
    // Shrinking keeps packets already queued; new ones are refused until below the capacity.
    capacity_.store(cap);
  }

  std::unique_ptr<PtrRing> ring_;
  std::atomic<uint32_t> capacity_{0};
  std::atomic<uint32_t> highwater_{0};
  uint32_t c_enqueued_ = 0, c_drops_ = 0;
};

PG_ELEMENT(Queue);

}  // namespace pg
