// Per-graph state memory. With many graphs on one worker (a thousand virtual routers), moving
// from one graph's task to the next used to touch a few dozen cache lines scattered over the
// heap (element objects, their link arrays, the FIB's snapshot, table and next hops), each a
// miss costing hundreds of nanoseconds on a busy machine. A graph's state is instead allocated
// from its own arena while the graph loads:
//   - hot:  element objects, their links, its activity cells and small per-packet structures
//           (a FIB snapshot's header, next hops): a few kilobytes, contiguous, which the worker
//           prefetches a couple of tasks ahead (Engine::worker_main);
//   - bulk: larger per-graph arrays (a small FIB's trie), contiguous so they share pages.
// Chunks are a page (or a large first block's size); a block of a kilobyte or more that does
// not fit the current chunk goes to the heap at its size, so an arena wastes less than a page
// of each kind and the first hot chunk keeps the small, hot objects. Allocations outside a
// load (handlers, packet paths) and those over kArenaMaxAlloc go to the heap as before. An arena's chunks are freed when the graph is gone and the last
// allocation in them is freed, so state one graph hands to its successor (a FIB taken over
// in a hot reconfiguration) stays valid for as long as it is used.
#pragma once
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <new>
#include <vector>

namespace pg {

enum class StateKind : uint8_t { Hot, Bulk };

constexpr size_t kArenaMaxAlloc = 256 * 1024;  // larger allocations always go to the heap

class StateArena {
 public:
  StateArena() = default;
  ~StateArena();  // closes the arena: each chunk is freed once nothing allocated in it is left
  StateArena(const StateArena&) = delete;
  StateArena& operator=(const StateArena&) = delete;

  // From the current chunk of that kind (a new chunk when it is full); null when `bytes` is
  // too large for an arena.
  void* allocate(size_t bytes, size_t align, StateKind kind);

  // The first hot chunk's used bytes: what the worker prefetches before running a task of
  // this graph. Fixed once the graph has loaded (later allocations go to the heap).
  const char* hot_begin() const;
  size_t hot_bytes() const;
  // Bytes reserved in chunks (what the arena costs at most).
  size_t reserved() const { return reserved_; }

  struct Chunk;

 private:
  Chunk* current_[2] = {nullptr, nullptr};
  Chunk* first_hot_ = nullptr;
  std::vector<Chunk*> chunks_;
  size_t reserved_ = 0;
};

// While one lives, state allocations on this thread go to `arena` (nested scopes restore
// the previous one). The graph loader opens one; workers never do.
class ArenaScope {
 public:
  explicit ArenaScope(StateArena* arena);
  ~ArenaScope();
  ArenaScope(const ArenaScope&) = delete;
  ArenaScope& operator=(const ArenaScope&) = delete;

 private:
  StateArena* previous_;
};

// The allocation functions: the current scope's arena, else the heap. Every block carries a
// 16-byte prefix naming where it came from, so state_free() needs neither scope nor size.
void* state_alloc(size_t bytes, size_t align, StateKind kind);
void state_free(void* p) noexcept;

// A standard allocator over state_alloc (stateless: containers move and swap freely).
template <class T, StateKind K = StateKind::Hot>
struct StateAllocator {
  using value_type = T;
  using is_always_equal = std::true_type;
  using propagate_on_container_move_assignment = std::true_type;
  template <class U>
  struct rebind {
    using other = StateAllocator<U, K>;
  };
  StateAllocator() noexcept = default;
  template <class U>
  StateAllocator(const StateAllocator<U, K>&) noexcept {}
  T* allocate(size_t n) { return static_cast<T*>(state_alloc(n * sizeof(T), alignof(T), K)); }
  void deallocate(T* p, size_t) noexcept { state_free(p); }
  template <class U>
  bool operator==(const StateAllocator<U, K>&) const noexcept { return true; }
};

// Lines a graph's packet path will probably read again the next time its task runs, beyond its
// hot arena: the cells of the last LPM walk (root cell, nodes, run values), which sit in bulk
// arrays or on the heap and, each found only by reading the one before, would otherwise be a
// chain of misses per task run once a thousand routers share a worker. An element keeps one
// in its object (so in the hot arena), registers it with its graph while it loads
// (Graph::add_warm_lines) and rewrites it as it runs; the worker prefetches its lines just
// before one of the graph's tasks (Engine::worker_main). Stale pointers (a table replaced
// since) are harmless: a prefetch never faults.
struct WarmLines {
  static constexpr uint32_t kMax = 14;
  const void* at[kMax];
  uint32_t n = 0;
};

// For a unique_ptr to a block from state_alloc.
struct StateFree {
  void operator()(void* p) const noexcept { state_free(p); }
};

template <class T, StateKind K = StateKind::Hot>
using StateVector = std::vector<T, StateAllocator<T, K>>;

// Class-level operator new/delete for objects that belong in a graph's hot state (elements,
// FIB snapshots): `PG_STATE_OBJECT` inside the class.
#define PG_STATE_OBJECT                                                                                           \
  static void* operator new(size_t n) { return ::pg::state_alloc(n, __STDCPP_DEFAULT_NEW_ALIGNMENT__, ::pg::StateKind::Hot); } \
  static void* operator new(size_t n, std::align_val_t a) { return ::pg::state_alloc(n, size_t(a), ::pg::StateKind::Hot); } \
  static void operator delete(void* p) noexcept { ::pg::state_free(p); }                                         \
  static void operator delete(void* p, std::align_val_t) noexcept { ::pg::state_free(p); }

}  // namespace pg
