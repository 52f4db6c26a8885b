// A bounded lock-free ring of pointers for hand-off between threads, multi-producer and
// multi-consumer, moving whole bursts with one compare-and-swap per burst (the head/tail
// reservation scheme DPDK's rte_ring made well known). Size is a power of two.
#pragma once
#include <atomic>
#include <cstdint>
#include <memory>

namespace pg {

class PtrRing {
 public:
  // start: where the head and tail counters begin; they are free-running 32-bit counters,
  // so a test starts them just below 2^32 to cross the wrap at once.
  explicit PtrRing(uint32_t size_pow2, uint32_t start = 0)
      : size_(size_pow2), mask_(size_pow2 - 1), slots_(new void*[size_pow2]),
        prod_head_(start), prod_tail_(start), cons_head_(start), cons_tail_(start) {}

  uint32_t size() const { return size_; }
  uint32_t count() const {
    uint32_t t = prod_tail_.load(std::memory_order_acquire);
    uint32_t h = cons_tail_.load(std::memory_order_acquire);
    return t - h;
  }

  // Enqueue up to n objects (fewer if the ring, or `limit` entries in use, is reached).
  // Returns how many were enqueued.
  uint32_t enqueue(void* const* objs, uint32_t n, uint32_t limit) {
    uint32_t head = prod_head_.load(std::memory_order_relaxed);
    uint32_t take;
    for (;;) {
      uint32_t cons = cons_tail_.load(std::memory_order_acquire);
      uint32_t used = head - cons;
      uint32_t cap = limit < size_ ? limit : size_;
      uint32_t free = used >= cap ? 0 : cap - used;
      take = n < free ? n : free;
      if (take == 0) return 0;
      if (prod_head_.compare_exchange_weak(head, head + take, std::memory_order_relaxed, std::memory_order_relaxed)) break;
    }
    for (uint32_t i = 0; i < take; i++) slots_[(head + i) & mask_] = objs[i];
    // Wait for earlier producers to publish, then publish ours in order.
    while (prod_tail_.load(std::memory_order_relaxed) != head) cpu_relax();
    prod_tail_.store(head + take, std::memory_order_release);
    return take;
  }

  // Dequeue up to n objects. Returns how many were dequeued.
  uint32_t dequeue(void** objs, uint32_t n) {
    uint32_t head = cons_head_.load(std::memory_order_relaxed);
    uint32_t take;
    for (;;) {
      uint32_t prod = prod_tail_.load(std::memory_order_acquire);
      uint32_t avail = prod - head;
      take = n < avail ? n : avail;
      if (take == 0) return 0;
      if (cons_head_.compare_exchange_weak(head, head + take, std::memory_order_relaxed, std::memory_order_relaxed)) break;
    }
    for (uint32_t i = 0; i < take; i++) objs[i] = slots_[(head + i) & mask_];
    while (cons_tail_.load(std::memory_order_relaxed) != head) cpu_relax();
    cons_tail_.store(head + take, std::memory_order_release);
    return take;
  }

  static void cpu_relax() { __builtin_ia32_pause(); }

 private:
  const uint32_t size_, mask_;
  std::unique_ptr<void*[]> slots_;
  alignas(64) std::atomic<uint32_t> prod_head_;
  alignas(64) std::atomic<uint32_t> prod_tail_;
  alignas(64) std::atomic<uint32_t> cons_head_;
  alignas(64) std::atomic<uint32_t> cons_tail_;
};

inline uint32_t next_pow2(uint32_t v) {
  uint32_t p = 1;
  while (p < v) p <<= 1;
  return p;
}

}  // namespace pg
