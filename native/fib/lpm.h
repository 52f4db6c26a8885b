// Longest-prefix-match tables for IPv4 and IPv6: an immutable, compressed multibit trie
// built in one pass from a route list, plus the pieces around it (route parsing, the
// authoritative route set kept by the control thread, next-hop groups for ECMP, and
// safe publication of new tables while workers read the old one).
//
// The lookup structure (LpmTable) is a multibit trie in the style of Poptrie (Asai and
// Ohara, "Poptrie: A Compressed Trie with Population Count for Fast and Scalable Software
// IP Routing Table Lookup", SIGCOMM 2015), with 8-bit strides below a direct root:
//
//   root:  2^R entries of uint32 (R = 16 for tables of more than kSmallRoutes routes, else
//          R = 8, so an empty or small table costs about a kilobyte, not 256 KB);
//   nodes: each covers the next 8 bits of the address (256 slots). Consecutive slots that
//          hold the same leaf are stored once: a 256-bit vector marks where a run of equal
//          slots begins, and the slot's value is vals[base + rank - 1], where rank is the
//          number of marks up to the slot (cumulative counts per 64-bit word and one
//          POPCNT). A node is 40 bytes plus 4 bytes per run.
//
// A uint32 value is either a leaf (bit 31 clear: next-hop index + 1, 0 = no route) or a
// child (bit 31 set: node index). Every route is expanded into the slots it covers at the
// level of its last bits (controlled prefix expansion, Srinivasan and Varghese 1999), so a
// lookup walks down until it meets a leaf: IPv4 takes at most 3 dependent reads with R = 16
// (root, then at most two nodes), IPv6 at most 15. Batched lookups advance a whole batch
// one level at a time, so the reads of different addresses overlap in the memory system;
// each level's loads are prefetched before they are used.
//
// Next hops: the table stores a uint32 next-hop index per route. A NextHopTable maps an
// index to one member or to an ECMP group, choosing among members by a flow hash the
// caller gives.
//
// Publication: Publisher<T> holds the table workers read (one atomic pointer, loaded once
// per batch). A bulk load or a large change builds a new table from the authoritative
// RouteSet and swaps it in; the old one is freed after a worker epoch (see Publisher).
//
// Incremental updates (update()): a route change rebuilds only what it touches. The walk goes
// down the changed prefix's path to the node where the prefix ends (or to a leaf slot above it);
// the slots the prefix covers there are recomputed from the routes inside it, their longer
// routes built into fresh subtrees. When the node's new slots still fit its runs, the changed
// run values are rewritten in place; otherwise the node is copied once and the single value
// that points to it (in its parent node or the root) is rewritten. New nodes and runs are
// appended after the live ones, inside capacity the build reserved, so the arrays never move
// and no reader's pointer goes stale; each value is published with one aligned 32-bit release
// store, so a lookup sees the old value (whose subtree is still intact) or the new one, never a
// half-built part. Replaced nodes are not reused: they stay until the spare capacity runs out,
// when the caller builds a fresh table and publishes it as above (freeing the old one after an
// epoch).
#pragma once
#include <atomic>
#include <cstdint>
#include <cstring>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "address.h"
#include "state_arena.h"

namespace pg::fib {

using u128 = unsigned __int128;

constexpr uint32_t kNoRoute = 0xffffffffu;      // lookup result: no route
constexpr uint32_t kMaxNextHop = 0x7ffffffeu;    // largest next-hop index a route may carry
constexpr uint32_t kSmallRoutes = 4096;          // more routes than this: 16-bit root

// A route: key left-aligned in 128 bits (IPv4: address << 96), len in bits, next hop.
struct Route {
  u128 key;
  uint32_t nh;
  uint8_t len;
};

inline u128 key4(uint32_t addr_host) { return u128(addr_host) << 96; }
inline u128 key6(const uint8_t* a) {
  uint64_t hi, lo;
  std::memcpy(&hi, a, 8);
  std::memcpy(&lo, a + 8, 8);
  return (u128(__builtin_bswap64(hi)) << 64) | __builtin_bswap64(lo);
}
inline u128 prefix_mask(unsigned len) { return len == 0 ? u128(0) : ~u128(0) << (128 - len); }

class LpmTable {
 public:
  // Built while its graph loads, the table's header is in the graph's hot state and its arrays
  // in its bulk state (state_arena.h); built later (a handler), both on the heap.
  PG_STATE_OBJECT
  // Build from routes (any order; prefixes must be unique and have no bits beyond len).
  // width: 32 (IPv4) or 128 (IPv6). spare_div: reserve room for update(), 1/spare_div of
  // the table more (0: none).
  static std::unique_ptr<LpmTable> build(std::vector<Route> routes, unsigned width, unsigned spare_div = 0);

  // The routes inside prefix (key, len) with len >= that length, sorted by (key, len), and the
  // leaf of the longest route shorter than len covering it (next hop + 1, or 0). False: give up.
  using RegionFn = std::function<bool(u128 key, unsigned len, std::vector<Route>& routes, uint32_t& def)>;
  // Control thread, one writer: make the table agree with the route set after a change to
  // prefix (key, len) (added, removed or replaced), while workers read it (see above).
  // False, with the table unchanged, when the spare capacity is too small or region() gave up.
  bool update(u128 key, unsigned len, const RegionFn& region);
  // A private copy with the same spare room, for a change of many routes that must become
  // visible at one instant: updated where no worker reads it, then published whole.
  std::unique_ptr<LpmTable> copy() const;

  unsigned width() const { return width_; }
  size_t memory() const;          // bytes of the lookup structure
  size_t nodes() const { return nodes_.size(); }
  unsigned root_bits() const { return root_bits_; }

  // IPv4 (width 32): host-order addresses. Result: next-hop index or kNoRoute.
  uint32_t lookup(uint32_t addr) const {
    uint32_t v = read(&root_[addr >> (32 - root_bits_)]);
    int shift = 32 - int(root_bits_);
    while (v & kChild) {
      shift -= 8;
      v = step(v, (addr >> shift) & 255);
    }
    return v - 1;
  }
  void lookup_batch(const uint32_t* addrs, uint32_t n, uint32_t* out) const;
  // The cells the lookup of `addr` reads (the root cell, then each node, both ends of it, and
  // its run value), at most `max`, into `cells`; returns how many: what to prefetch before
  // the next lookups of this table (WarmLines).
  uint32_t path(uint32_t addr, const void** cells, uint32_t max) const {
    uint32_t n = 0;
    const uint32_t* c = &root_[addr >> (32 - root_bits_)];
    int shift = 32 - int(root_bits_);
    for (;;) {
      if (n == max) return n;
      cells[n++] = c;
      const uint32_t v = read(c);
      if (!(v & kChild) || n + 3 > max) return n;
      shift -= 8;
      const Node& nd = nodes_[v & ~kChild];
      cells[n++] = &nd;
      cells[n++] = reinterpret_cast<const char*>(&nd) + sizeof(Node) - 1;
      c = &vals_[index_of(nd, (addr >> shift) & 255)];
    }
  }

  // IPv6 (width 128): addresses are 16 bytes each, network order.
  uint32_t lookup6(const uint8_t* addr) const {
    u128 k = key6(addr);
    uint32_t v = read(&root_[uint32_t(k >> (128 - root_bits_))]);
    int shift = 128 - int(root_bits_);
    while (v & kChild) {
      shift -= 8;
      v = step(v, uint32_t(k >> shift) & 255);
    }
    return v - 1;
  }
  void lookup6_batch(const uint8_t* addrs, uint32_t n, uint32_t* out) const;

  static constexpr uint32_t kChild = 0x80000000u;

 private:
  friend struct Builder;
  struct Node {
    uint32_t base;     // index in vals_ of the node's first run
    uint8_t cum[4];    // marks in the words before word w (at most 192)
    uint64_t bm[4];    // bit s: slot s starts a new run
  };
  static_assert(sizeof(Node) == 40);

  static uint32_t index_of(const Node& nd, uint32_t slot) {
    const uint32_t w = slot >> 6, b = slot & 63;
    return nd.base + nd.cum[w] + uint32_t(__builtin_popcountll(nd.bm[w] & (~0ull >> (63 - b)))) - 1;
  }
  uint32_t step(uint32_t v, uint32_t slot) const { return read(&vals_[index_of(nodes_[v & ~kChild], slot)]); }
  // Root and run values may be rewritten while workers read them (update()): each is read
  // once, whole, like the kernel's READ_ONCE; what it points to was written before the value
  // was stored (release), and the load carries the dependency. On x86-64 one movl that the
  // compiler can neither split nor repeat, yet may schedule freely (an atomic load would
  // stop it moving the reads around it: measured 10-17% slower on IPv6 lookups); elsewhere
  // a relaxed atomic load.
  static uint32_t read(const uint32_t* cell) {
#if defined(__x86_64__)
    uint32_t v;
    asm("movl %1, %0" : "=r"(v) : "m"(*cell));
    return v;
#else
    return __atomic_load_n(cell, __ATOMIC_RELAXED);
#endif
  }
  // The 256 slot values of node n.
  void expand(uint32_t n, uint32_t* slots) const;

  unsigned width_ = 32, root_bits_ = 8;
  StateVector<uint32_t, StateKind::Bulk> root_;
  StateVector<Node, StateKind::Bulk> nodes_;
  StateVector<uint32_t, StateKind::Bulk> vals_;
};

// ECMP: next-hop index -> one member or a group of members; members are the caller's own
// numbers (an element's (output, gateway) pairs).
class NextHopTable {
 public:
  // Add a next hop with these members (at least one); returns its index. Identical member
  // lists share one index.
  uint32_t add(const std::vector<uint32_t>& members);
  // The member for this next hop and flow hash (the same hash always picks the same member).
  uint32_t resolve(uint32_t nh, uint32_t hash) const {
    const Entry& e = entries_[nh];
    if (e.count == 1) return members_[e.first];
    return members_[e.first + uint32_t((uint64_t(hash) * e.count) >> 32)];
  }
  bool is_group(uint32_t nh) const { return entries_[nh].count > 1; }
  // The members of a next hop: first and count.
  const uint32_t* members(uint32_t nh, uint32_t& count) const {
    count = entries_[nh].count;
    return &members_[entries_[nh].first];
  }
  size_t size() const { return entries_.size(); }
  // Room for `entries` more next hops (and as many members again) without moving the arrays.
  void reserve_spare(size_t entries) {
    entries_.reserve(entries_.size() + entries);
    members_.reserve(members_.size() + entries);
  }
  // Whether a next hop of n members can be added without moving the arrays workers read.
  bool has_room(uint32_t n) const { return entries_.size() < entries_.capacity() && members_.size() + n <= members_.capacity(); }
  // A copy with the same spare room (LpmTable::copy).
  NextHopTable copy() const {
    NextHopTable t;
    t.entries_.reserve(entries_.capacity());
    t.entries_.assign(entries_.begin(), entries_.end());
    t.members_.reserve(members_.capacity());
    t.members_.assign(members_.begin(), members_.end());
    t.index_ = index_;
    return t;
  }
  size_t memory() const { return entries_.capacity() * sizeof(Entry) + members_.capacity() * 4; }

 private:
  struct Entry {
    uint32_t first, count;
  };
  StateVector<Entry> entries_;
  StateVector<uint32_t> members_;
  std::map<std::vector<uint32_t>, uint32_t> index_;
};

// A 32-bit flow hash of a few words (a multiply-xorshift finaliser).
inline uint32_t flow_hash(uint64_t a, uint64_t b) {
  uint64_t h = a * 0x9e3779b97f4a7c15ull ^ (b + 0x632be59bd9b4e019ull);
  h ^= h >> 32;
  h *= 0xd6e8feb86659fd93ull;
  h ^= h >> 32;
  return uint32_t(h);
}

// ---- prefix text (control thread; addresses: native/address.h) ----
// "PREFIX[/LEN]" or "default" for the family (width 32 or 128): key and length, or an error
// sentence (host bits beyond the length are refused, naming the canonical prefix).
bool parse_prefix(std::string_view s, unsigned width, u128& key, unsigned& len, std::string& error);
std::string format_prefix(u128 key, unsigned len, unsigned width);

// Parse a table of "prefix/len nexthop" lines (the benchmark format: '#' comments and
// blank lines skipped). Throws std::runtime_error naming the line on a bad one.
std::vector<Route> parse_route_lines(const std::string& text, unsigned width);

// ---- safe publication ----
// One writer (the control thread, serialised by the caller), many readers (workers).
// Readers: get() once per batch, and use the pointer only within that batch.
// Writer: publish() swaps in a new object, waits for a worker epoch (the element's
// synchronize(): every worker has finished the round it was in, so none still holds the
// old pointer), then frees the old object. Read-copy-update with an exact grace period.
// replace() swaps without waiting and hands the old object back, for deferred reclamation
// (Element::retire: the engine frees it after the workers' next rounds, off the request path).
template <class T>
class Publisher {
 public:
  Publisher() = default;
  Publisher(const Publisher&) = delete;
  Publisher& operator=(const Publisher&) = delete;
  ~Publisher() { delete cur_.load(std::memory_order_acquire); }
  const T* get() const { return cur_.load(std::memory_order_acquire); }
  // The writer's own access to the published object, for changes readers may see at once.
  T* writable() const { return cur_.load(std::memory_order_acquire); }
  // Exchange the published objects of two publishers no reader is using (a hot
  // reconfiguration's swap, with both elements off the workers).
  void swap(Publisher& other) {
    T* mine = cur_.load(std::memory_order_relaxed);
    cur_.store(other.cur_.load(std::memory_order_relaxed), std::memory_order_release);
    other.cur_.store(mine, std::memory_order_release);
  }
  template <class Sync>
  void publish(std::unique_ptr<T> next, Sync&& synchronize) {
    std::unique_ptr<T> old = replace(std::move(next));
    if (old) synchronize();
  }
  // Publish without waiting: the old object comes back to the caller, who must keep it until
  // every worker has finished the round it was in (Element::retire hands it to the engine).
  [[nodiscard]] std::unique_ptr<T> replace(std::unique_ptr<T> next) {
    return std::unique_ptr<T>(cur_.exchange(next.release(), std::memory_order_acq_rel));
  }

 private:
  std::atomic<T*> cur_{nullptr};
};

}  // namespace pg::fib
