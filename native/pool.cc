#include "pool.h"

#include <sys/mman.h>

#include <algorithm>
#include <new>
#include <stdexcept>
#include <string>

namespace pg {

constinit thread_local int tls_worker = -1;

PacketPool::PacketPool(uint32_t buffers, uint32_t buffer_size, uint32_t headroom, uint32_t workers)
    : buffers_(buffers), buffer_size_(buffer_size), headroom_(headroom) {
  cache_limit_ = std::clamp<uint32_t>(buffers / (4 * std::max<uint32_t>(workers, 1)), 2, kCacheMax);
  cache_bulk_ = cache_limit_ / 2;
  if (buffers < 64) throw std::invalid_argument("pool needs at least 64 buffers");
  if (buffer_size < headroom + 64 || buffer_size > 65536 + headroom)
    throw std::invalid_argument("pool buffer size must be between headroom+64 and 65536+headroom bytes");
  const size_t stride = sizeof(Packet) + ((buffer_size + 63) & ~size_t(63));
  memory_bytes_ = stride * buffers;
  void* mem = mmap(nullptr, memory_bytes_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (mem == MAP_FAILED)
    throw std::runtime_error("cannot reserve " + std::to_string(memory_bytes_ >> 20) +
                             " MiB for the packet pool: lower the pool size (--pool)");
  madvise(mem, memory_bytes_, MADV_HUGEPAGE);  // fewer TLB misses; harmless if refused
  memory_ = static_cast<uint8_t*>(mem);
  stride_ = stride;
  // Packets are set up when first handed out (take_shared), not here: the kernel maps a page
  // only when it is first touched, so the pool costs memory for the packets a graph has had
  // in flight at once, not for its capacity.
  shared_.reserve(buffers);
  shared_count_.store(buffers);
}

PacketPool::~PacketPool() {
  if (memory_) munmap(memory_, memory_bytes_);
}

uint32_t PacketPool::take_shared(Packet** out, uint32_t n) {
  std::lock_guard<std::mutex> lock(mutex_);
  uint32_t k = n < shared_.size() ? n : uint32_t(shared_.size());
  for (uint32_t i = 0; i < k; i++) {
    out[i] = shared_.back();
    shared_.pop_back();
  }
  // Then packets never used yet, lowest addresses first.
  for (; k < n && untouched_ < buffers_; k++, untouched_++) {
    uint8_t* at = memory_ + stride_ * untouched_;
    auto* p = new (at) Packet();
    p->head_ = at + sizeof(Packet);
    p->capacity_ = buffer_size_;
    p->reset(headroom_);
    out[k] = p;
  }
  shared_count_.store(shared_.size() + (buffers_ - untouched_), std::memory_order_relaxed);
  return k;
}

void PacketPool::give_shared(Packet* const* pkts, uint32_t n) {
  std::lock_guard<std::mutex> lock(mutex_);
  for (uint32_t i = 0; i < n; i++) shared_.push_back(pkts[i]);
  shared_count_.store(shared_.size() + (buffers_ - untouched_), std::memory_order_relaxed);
}

uint32_t PacketPool::alloc(Packet** out, uint32_t n) {
  uint32_t got;
  const int w = tls_worker;
  if (w < 0) {
    got = take_shared(out, n);
  } else {
    Cache& c = caches_[w];
    uint32_t have = c.count.load(std::memory_order_relaxed);
    if (have < n) {
      uint32_t want = cache_bulk_ + n - have;
      uint32_t limit = std::min(kCacheMax, std::max(cache_limit_, n));
      if (have + want > limit) want = limit - have;
      have += take_shared(c.items + have, want);
    }
    got = n < have ? n : have;
    for (uint32_t i = 0; i < got; i++) out[i] = c.items[have - 1 - i];
    c.count.store(have - got, std::memory_order_relaxed);
  }
  for (uint32_t i = 0; i < got; i++) out[i]->reset(headroom_);
  if (got < n) alloc_failures_.fetch_add(1, std::memory_order_relaxed);
  return got;
}

void PacketPool::free(Packet* const* pkts, uint32_t n) {
  const int w = tls_worker;
  if (w < 0) {
    give_shared(pkts, n);
    return;
  }
  Cache& c = caches_[w];
  uint32_t have = c.count.load(std::memory_order_relaxed);
  while (n > 0) {
    while (have >= cache_limit_) {
      give_shared(c.items + have - cache_bulk_, cache_bulk_);
      have -= cache_bulk_;
    }
    uint32_t room = cache_limit_ - have;
    uint32_t k = n < room ? n : room;
    for (uint32_t i = 0; i < k; i++) c.items[have + i] = pkts[i];
    have += k;
    pkts += k;
    n -= k;
  }
  c.count.store(have, std::memory_order_relaxed);
}

void PacketPool::flush_cache() {
  const int w = tls_worker;
  if (w < 0) return;
  Cache& c = caches_[w];
  uint32_t have = c.count.load(std::memory_order_relaxed);
  if (have) give_shared(c.items, have);
  c.count.store(0, std::memory_order_relaxed);
}

uint64_t PacketPool::available() const {
  uint64_t n = shared_count_.load(std::memory_order_relaxed);
  for (auto& c : caches_) n += c.count.load(std::memory_order_relaxed);
  return n;
}

}  // namespace pg
