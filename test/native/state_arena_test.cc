// Unit test of the per-graph state arenas (native/state_arena.*): blocks from an open scope
// land in its arena, contiguous and aligned, hot and bulk apart; outside a scope, and when too
// large, on the heap; nested scopes restore the outer one; a block outlives its arena (state a
// successor graph took over) and frees its chunk when it goes (the sanitized build's leak and
// use-after-free checks watch this); containers grow from an arena to the heap; an LPM table
// built in an arena answers as one built on the heap, after the arena has closed too.
// Usage: state_arena_test [SEED]
#include "state_arena.h"

#include <cstring>
#include <memory>
#include <random>
#include <vector>

#include "check.h"
#include "fib/lpm.h"

using namespace pg;

namespace {

bool inside(const void* p, const char* begin, size_t bytes) {
  const char* c = static_cast<const char*>(p);
  return c >= begin && c < begin + bytes;
}

struct alignas(64) Wide {
  PG_STATE_OBJECT
  uint64_t cells[8];
};

void heap_blocks() {
  const long before = unit::failures;
  for (size_t align : {size_t(1), size_t(16), size_t(64), size_t(4096)}) {
    void* p = state_alloc(100, align, StateKind::Hot);
    CHECK(uintptr_t(p) % std::max<size_t>(align, 16) == 0, "heap block aligned to " + std::to_string(align));
    std::memset(p, 0xab, 100);
    state_free(p);
  }
  state_free(nullptr);
  unit::section("outside a scope, blocks come from the heap, aligned, and free", before);
}

void arena_blocks() {
  const long before = unit::failures;
  auto arena = std::make_unique<StateArena>();
  void *a, *b, *w, *bulk, *big;
  Wide* wide;
  {
    ArenaScope scope(arena.get());
    a = state_alloc(40, 8, StateKind::Hot);
    b = state_alloc(24, 8, StateKind::Hot);
    w = state_alloc(64, 64, StateKind::Hot);
    wide = new Wide();
    bulk = state_alloc(1000, 16, StateKind::Bulk);
    big = state_alloc(kArenaMaxAlloc + 1, 16, StateKind::Bulk);
  }
  const char* hot = arena->hot_begin();
  const size_t bytes = arena->hot_bytes();
  CHECK(hot && uintptr_t(hot) % 64 == 0, "the hot state starts on a cache line");
  CHECK(inside(a, hot, bytes) && inside(b, hot, bytes) && inside(w, hot, bytes) && inside(wide, hot, bytes), "hot blocks are in the hot range");
  CHECK(static_cast<char*>(b) > static_cast<char*>(a) && static_cast<char*>(b) - static_cast<char*>(a) <= 64, "consecutive blocks are adjacent");
  CHECK(uintptr_t(w) % 64 == 0 && uintptr_t(wide) % 64 == 0, "aligned blocks and objects keep their alignment");
  CHECK(bytes < 512, "the hot range covers what was allocated, not the chunk: " + std::to_string(bytes));
  CHECK(!inside(bulk, hot, bytes) && !inside(big, hot, bytes), "bulk and large blocks are not in the hot range");
  CHECK(arena->reserved() == 2 * 4096, "a page of each kind, the large block not in the arena: " + std::to_string(arena->reserved()));
  std::memset(big, 1, kArenaMaxAlloc + 1);
  state_free(big);
  state_free(a);
  state_free(b);
  // The arena closes with blocks still allocated: they stay usable, as state a successor took.
  arena.reset();
  std::memset(w, 7, 64);
  wide->cells[7] = 42;
  std::memset(bulk, 3, 1000);
  CHECK(wide->cells[7] == 42 && static_cast<unsigned char*>(bulk)[999] == 3, "blocks outlive their arena");
  state_free(w);
  delete wide;
  state_free(bulk);  // the last block of each chunk: the chunks go (LeakSanitizer checks)
  unit::section("in a scope, blocks come from its arena: adjacent, aligned, hot and bulk apart; they outlive it", before);
}

void scopes_and_growth() {
  const long before = unit::failures;
  StateArena outer, inner;
  StateVector<uint32_t> v;
  {
    ArenaScope s1(&outer);
    {
      ArenaScope s2(&inner);
      void* p = state_alloc(8, 8, StateKind::Hot);
      CHECK(inside(p, inner.hot_begin(), inner.hot_bytes()), "the inner scope's arena");
      state_free(p);
    }
    v.assign(10, 5);
    CHECK(inside(v.data(), outer.hot_begin(), outer.hot_bytes()), "the outer scope's arena again after the inner scope ends");
  }
  for (uint32_t i = 0; i < 100000; i++) v.push_back(i);  // grows onto the heap
  CHECK(!inside(v.data(), outer.hot_begin(), outer.hot_bytes()) && v[9] == 5 && v[10] == 0 && v.back() == 99999, "a container grows from the arena to the heap");
  unit::section("nested scopes restore the outer arena; containers grow out of an arena", before);
}

void lpm_in_arena(std::mt19937_64& rng) {
  const long before = unit::failures;
  std::vector<fib::Route> routes;
  for (uint32_t i = 0; i < 1000; i++) routes.push_back(fib::Route{fib::key4(0xc6130000u | (i >> 2) << 8 | (i & 3) << 6), i % 7, 26});
  routes.push_back(fib::Route{0, 7, 0});
  auto heap = fib::LpmTable::build(routes, 32, 8);
  std::unique_ptr<fib::LpmTable> table;
  auto arena = std::make_unique<StateArena>();
  {
    ArenaScope scope(arena.get());
    table = fib::LpmTable::build(routes, 32, 8);
  }
  CHECK(inside(table.get(), arena->hot_begin(), arena->hot_bytes()), "the table's header is in the hot state");
  CHECK(arena->reserved() < 64 * 1024, "1000 routes take " + std::to_string(arena->reserved()) + " bytes of arena");
  arena.reset();  // as when the element that built it hands it to a successor graph
  uint32_t agree = 0;
  for (int i = 0; i < 20000; i++) {
    const uint32_t a = i % 2 ? uint32_t(rng()) : 0xc6130000u | uint32_t(rng() & 0xffff);
    agree += table->lookup(a) == heap->lookup(a);
  }
  CHECK(agree == 20000, std::to_string(20000 - agree) + " lookups differ from the heap-built table");
  unit::section("an LPM table built in an arena answers as one built on the heap, after the arena closed", before);
}

}  // namespace

int main(int argc, char** argv) {
  std::mt19937_64 rng(unit::seed(argc, argv, 20261202));
  heap_blocks();
  arena_blocks();
  scopes_and_growth();
  lpm_in_arena(rng);
  return unit::finish("state_arena");
}
