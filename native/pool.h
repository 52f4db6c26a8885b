// The packet pool: every packet buffer is reserved once, when the engine starts, and set up
// (its pages touched) only when first handed out, so an idle or small graph costs little
// resident memory whatever the pool's capacity.
// Workers allocate and free through a private cache and touch the shared stack
// (under a mutex) only once per bulk of packets, so the packet path takes no lock
// per packet. Other threads (the control thread) use the shared stack directly.
#pragma once
#include <atomic>
#include <cstdint>
#include <mutex>
#include <vector>

#include "packet.h"

namespace pg {

constexpr int kMaxWorkers = 64;
// The worker index, or -1 on other threads. constinit: no dynamic initialisation, so reading it
// is a plain TLS load, not a call through the wrapper C++ emits for other thread_locals.
extern constinit thread_local int tls_worker;

class PacketPool {
 public:
  // `buffers` packets, each with `buffer_size` bytes of headroom + data, shared by
  // `workers` worker threads (their caches are sized so a small pool is never stranded
  // in the cache of a worker that only frees).
  PacketPool(uint32_t buffers, uint32_t buffer_size, uint32_t headroom = kDefaultHeadroom, uint32_t workers = 1);
  ~PacketPool();
  PacketPool(const PacketPool&) = delete;
  PacketPool& operator=(const PacketPool&) = delete;

  // Allocate up to n packets into out (fewer when the pool runs dry); each is reset.
  uint32_t alloc(Packet** out, uint32_t n);
  Packet* alloc_one() {
    Packet* p = nullptr;
    return alloc(&p, 1) ? p : nullptr;
  }
  void free(Packet* const* pkts, uint32_t n);
  void free_one(Packet* p) { free(&p, 1); }

  // Return the calling worker's cached packets to the shared stack (on worker exit).
  void flush_cache();

  uint32_t capacity() const { return buffers_; }
  uint32_t buffer_size() const { return buffer_size_; }
  uint32_t headroom() const { return headroom_; }
  // Free packets: the shared stack, those never handed out yet and every worker's cache (exact when workers are idle).
  uint64_t available() const;
  uint64_t alloc_failures() const { return alloc_failures_.load(std::memory_order_relaxed); }

 private:
  static constexpr uint32_t kCacheMax = 512;
  uint32_t cache_limit_ = kCacheMax;  // at most a quarter of the pool per worker
  uint32_t cache_bulk_ = kCacheMax / 2;  // packets moved to or from the shared stack at once
  struct alignas(64) Cache {
    std::atomic<uint32_t> count{0};
    Packet* items[kCacheMax];
  };

  uint32_t take_shared(Packet** out, uint32_t n);
  void give_shared(Packet* const* pkts, uint32_t n);

  const uint32_t buffers_, buffer_size_, headroom_;
  uint8_t* memory_ = nullptr;
  size_t memory_bytes_ = 0;
  size_t stride_ = 0;
  mutable std::mutex mutex_;
  std::vector<Packet*> shared_;  // freed packets, most recently freed last (reused first)
  uint32_t untouched_ = 0;        // packets [untouched_, buffers_) have never been handed out
  std::atomic<uint64_t> shared_count_{0};
  std::atomic<uint64_t> alloc_failures_{0};
  Cache caches_[kMaxWorkers];
};

}  // namespace pg
