// Per-graph state memory (design: state_arena.h).
#include "state_arena.h"

#include <sys/mman.h>

#include <algorithm>
#include <cstdlib>
#include <map>
#include <mutex>
#include <vector>

namespace pg {

// A chunk: this header (one cache line), then bump-allocated blocks. `refs` counts the blocks
// still allocated in it plus one for its arena while the arena is open.
struct alignas(64) StateArena::Chunk {
  std::atomic<int64_t> refs{1};
  size_t size = 0;  // bytes after the header
  size_t used = 0;
  char* data() { return reinterpret_cast<char*>(this) + sizeof(Chunk); }
};

namespace {

// Before every block: its chunk (null: a heap block) and, for a heap block, the distance back
// to what malloc returned.
struct Prefix {
  StateArena::Chunk* chunk;
  uint64_t offset;
};
static_assert(sizeof(Prefix) == 16);

thread_local StateArena* tls_arena = nullptr;

char* align_up(char* p, size_t align) { return reinterpret_cast<char*>((reinterpret_cast<uintptr_t>(p) + align - 1) & ~(uintptr_t(align) - 1)); }

// Where chunks come from: one reserved stretch of address space that the kernel backs with
// 2 MB pages (MADV_HUGEPAGE). A thousand graphs' state spans thousands of 4 KB pages, more than
// the TLB holds, so each task's first touches of its graph's state also walked the page tables;
// packed into huge pages, every graph's state is covered by a few TLB entries. Chunks are
// carved in order and a freed chunk is kept for the next of its size (never returned to the
// kernel: what graphs have held at once stays resident, as malloc keeps what it was given).
// When the reservation cannot be made or is used up, chunks come from the heap as before.
class ChunkRegion {
 public:
  static constexpr size_t kReserve = size_t(4) << 30;  // address space only: pages come on first touch
  static constexpr size_t kPage = 4096;

  ChunkRegion() {
    void* p = mmap(nullptr, kReserve, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED) return;
    // Start on a 2 MB boundary so the first chunks share a huge page.
    char* b = static_cast<char*>(p);
    char* aligned = reinterpret_cast<char*>((reinterpret_cast<uintptr_t>(b) + (size_t(2) << 20) - 1) & ~((size_t(2) << 20) - 1));
    madvise(aligned, kReserve - size_t(aligned - b), MADV_HUGEPAGE);
    next_ = aligned;
    end_ = b + kReserve;
  }

  // `bytes` (a multiple of kPage), 64-byte aligned (page aligned in fact); null when the region cannot.
  void* take(size_t bytes) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = free_.find(bytes);
    if (it != free_.end() && !it->second.empty()) {
      void* p = it->second.back();
      it->second.pop_back();
      return p;
    }
    if (!next_ || size_t(end_ - next_) < bytes) return nullptr;
    void* p = next_;
    next_ += bytes;
    return p;
  }

  // Whether `p` is one of the region's; if so it is kept for reuse.
  bool give(void* p, size_t bytes) {
    if (!next_ || static_cast<char*>(p) < end_ - kReserve || static_cast<char*>(p) >= end_) return false;
    std::lock_guard<std::mutex> lock(mu_);
    free_[bytes].push_back(p);
    return true;
  }

 private:
  std::mutex mu_;
  char* next_ = nullptr;
  char* end_ = nullptr;
  std::map<size_t, std::vector<void*>> free_;  // by size
};

ChunkRegion& region() {
  static ChunkRegion* r = new ChunkRegion();  // never destroyed: chunks may outlive static destructors
  return *r;
}

void release(StateArena::Chunk* c) noexcept {
  if (c->refs.fetch_sub(1, std::memory_order_acq_rel) == 1) {
    const size_t bytes = c->size + sizeof(StateArena::Chunk);
    c->~Chunk();
    try {
      if (region().give(c, bytes)) return;
    } catch (...) {  // no memory for the free list's growth: the chunk is lost, never corrupted
      return;
    }
    std::free(c);
  }
}

}  // namespace

StateArena::~StateArena() {
  for (Chunk* c : chunks_) release(c);
}

void* StateArena::allocate(size_t bytes, size_t align, StateKind kind) {
  if (bytes > kArenaMaxAlloc) return nullptr;
  align = std::max<size_t>(align, 16);
  Chunk*& cur = current_[size_t(kind)];
  char* p = nullptr;
  if (cur) {
    p = align_up(cur->data() + cur->used + sizeof(Prefix), align);
    if (p + bytes > cur->data() + cur->size) p = nullptr;
  }
  if (!p) {
    // A block of a kilobyte or more that does not fit what is left goes to the heap at its
    // size: a chunk gathers small blocks (the hot one stays the graph's first, which the worker
    // prefetches), and an arena wastes less than a page of each kind. A chunk is a page, or
    // the size of a large first block.
    if (cur && bytes >= 1024) return nullptr;
    const size_t size = std::max<size_t>(4096, (bytes + align + sizeof(Prefix) + sizeof(Chunk) + 4095) & ~size_t(4095)) - sizeof(Chunk);
    void* mem = region().take(size + sizeof(Chunk));
    if (!mem) mem = std::aligned_alloc(64, size + sizeof(Chunk));
    if (!mem) throw std::bad_alloc();
    cur = new (mem) Chunk();
    cur->size = size;
    chunks_.push_back(cur);
    reserved_ += size + sizeof(Chunk);
    if (kind == StateKind::Hot && !first_hot_) first_hot_ = cur;
    p = align_up(cur->data() + sizeof(Prefix), align);
  }
  *reinterpret_cast<Prefix*>(p - sizeof(Prefix)) = Prefix{cur, 0};
  cur->used = size_t(p + bytes - cur->data());
  cur->refs.fetch_add(1, std::memory_order_relaxed);
  return p;
}

const char* StateArena::hot_begin() const { return first_hot_ ? first_hot_->data() : nullptr; }
size_t StateArena::hot_bytes() const { return first_hot_ ? first_hot_->used : 0; }

ArenaScope::ArenaScope(StateArena* arena) : previous_(tls_arena) { tls_arena = arena; }
ArenaScope::~ArenaScope() { tls_arena = previous_; }

void* state_alloc(size_t bytes, size_t align, StateKind kind) {
  if (tls_arena)
    if (void* p = tls_arena->allocate(bytes, align, kind)) return p;
  align = std::max<size_t>(align, 16);
  char* raw = static_cast<char*>(std::malloc(bytes + align + sizeof(Prefix)));
  if (!raw) throw std::bad_alloc();
  char* p = align_up(raw + sizeof(Prefix), align);
  *reinterpret_cast<Prefix*>(p - sizeof(Prefix)) = Prefix{nullptr, uint64_t(p - raw)};
  return p;
}

void state_free(void* p) noexcept {
  if (!p) return;
  const Prefix x = *reinterpret_cast<Prefix*>(static_cast<char*>(p) - sizeof(Prefix));
  if (x.chunk) release(x.chunk);
  else std::free(static_cast<char*>(p) - x.offset);
}

}  // namespace pg
