// CoDel: a queue that drops or marks by sojourn time (RFC 8289). Documentation: CoDel.ts.
// Storage is Queue's lock-free ring, so pushing and pulling may run on different workers; the
// dequeue side's CoDel state is under a lock taken once per pull (several pullers are rare).
#include <algorithm>
#include <atomic>
#include <cmath>
#include <memory>

#include "aqm.h"
#include "element.h"
#include "ring.h"
#include "spin_lock.h"

namespace pg {

class CoDel final : public Element {
 public:
  void configure(const Config& conf) override {
    capacity_.store(uint32_t(conf.integer("capacity")));
    ring_ = std::make_unique<PtrRing>(next_pow2(std::max<uint32_t>(capacity_.load(), 64)));
    codel_.configure(conf);
    c_enqueued_ = counter("enqueued");
    c_drops_full_ = counter("drops_full");
    c_drops_delay_ = counter("drops_delay");
    c_marks_ = counter("marks");
  }

  void push(int, Batch& b) override {
    const uint64_t now = now_ns();
    for (uint32_t i = 0; i < b.count; i++) aqm::set_enqueue_time(b.pkts[i], now);
    const uint32_t n = ring_->enqueue(reinterpret_cast<void* const*>(b.pkts), b.count, capacity_.load(std::memory_order_relaxed));
    if (n) {
      uint64_t bytes = 0;
      for (uint32_t i = 0; i < n; i++) bytes += b.pkts[i]->length();
      // Counted after the packets are in the ring, so a fast puller may see the sum briefly low.
      bytes_.fetch_add(int64_t(bytes), std::memory_order_relaxed);
      count(c_enqueued_, n);
    }
    if (n < b.count) {
      count(c_drops_full_, b.count - n);
      pool().free(b.pkts + n, b.count - n);
    }
    b.count = 0;
  }

  uint32_t pull(int, Batch& b, uint32_t max) override {
    max = std::min(max, kMaxBatch - b.count);
    if (max == 0) return 0;
    SpinLock::Guard g(lock_);
    const aqm::CoDelParams params = codel_.now();
    const uint64_t now = now_ns();
    // Packets come off the ring in chunks of what is still wanted; each is delivered or
    // dropped before the next chunk, so none is left over between pulls.
    Packet* chunk[kMaxBatch];
    uint32_t have = 0, next = 0, delivered = 0;
    int64_t backlog = bytes_.load(std::memory_order_relaxed), taken = 0;
    Packet* dead[kMaxBatch];
    uint32_t ndead = 0;
    uint64_t drops = 0, marks = 0;
    auto take = [&](uint64_t& left) -> Packet* {
      if (next == have) {
        have = ring_->dequeue(reinterpret_cast<void**>(chunk), max - delivered);
        next = 0;
        if (have == 0) return nullptr;
      }
      Packet* p = chunk[next++];
      taken += p->length();
      left = uint64_t(std::max<int64_t>(backlog - taken, 0));
      return p;
    };
    auto drop_one = [&](Packet* p) {
      dead[ndead++] = p;
      drops++;
      if (ndead == kMaxBatch) {
        pool().free(dead, ndead);
        ndead = 0;
      }
    };
    while (delivered < max) {
      Packet* p = state_.dequeue(now, params, take, drop_one, marks);
      if (!p) break;
      b.pkts[b.count++] = p;
      delivered++;
    }
    if (taken) bytes_.fetch_sub(taken, std::memory_order_relaxed);
    if (ndead) pool().free(dead, ndead);
    if (drops) count(c_drops_delay_, drops);
    if (marks) count(c_marks_, marks);
    return delivered;
  }

  uint64_t held_packets() const override { return ring_->count(); }

  // Hot reconfiguration: the queued packets (with their enqueue times, so their sojourn goes
  // on), the backlog in bytes and the RFC 8289 control state carry over; a ring smaller than
  // them drops the rest, counted in drops_full.
  void take_state(Element& old) override {
    auto& o = static_cast<CoDel&>(old);
    Packet* moved[kMaxBatch];
    uint32_t n;
    int64_t bytes = 0;
    while ((n = o.ring_->dequeue(reinterpret_cast<void**>(moved), kMaxBatch)) > 0) {
      const uint32_t in = ring_->enqueue(reinterpret_cast<void* const*>(moved), n, ring_->size());
      for (uint32_t i = 0; i < in; i++) bytes += moved[i]->length();
      if (in < n) {
        count(c_drops_full_, n - in);
        pool().free(moved + in, n - in);
      }
    }
    o.bytes_.store(0);
    bytes_.store(bytes);
    state_ = o.state_;
  }

  void cleanup() override {
    Batch b;
    while ((b.count = ring_->dequeue(reinterpret_cast<void**>(b.pkts), kMaxBatch)) > 0) drop(b);
  }

  void add_handlers(std::vector<Handler>& h) override {
    h.push_back({"length", [this] { return std::to_string(ring_->count()); }, nullptr});
    h.push_back({"bytes", [this] { return std::to_string(std::max<int64_t>(bytes_.load(), 0)); }, nullptr});
    h.push_back({"dropping", [this] {
                   SpinLock::Guard g(lock_);
                   return std::string(state_.dropping ? "true" : "false");
                 }, nullptr});
    h.push_back({"count", [this] {
                   SpinLock::Guard g(lock_);
                   return std::to_string(state_.count);
                 }, nullptr});
    // Growing past the ring's size reallocates it, so this runs with the graph paused.
    h.push_back({"capacity", [this] { return std::to_string(capacity_.load()); },
                 [this](const std::string& v) { set_capacity(uint32_t(parse_field_integer(v, "capacity"))); },
                 /*exclusive=*/true});
    codel_.add_handlers(h);
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
    capacity_.store(cap);  // shrinking keeps the packets already queued
  }

  std::unique_ptr<PtrRing> ring_;
  std::atomic<uint32_t> capacity_{0};
  std::atomic<int64_t> bytes_{0};
  aqm::CoDelSettings codel_;
  // Dequeue side.
  mutable SpinLock lock_;
  aqm::CoDelState state_;
  uint32_t c_enqueued_ = 0, c_drops_full_ = 0, c_drops_delay_ = 0, c_marks_ = 0;
};

PG_ELEMENT(CoDel);

}  // namespace pg
