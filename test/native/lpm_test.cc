// Unit test of the FIB's longest-prefix match (native/fib/lpm.*) against a naive reference
// (a map of prefixes, tried longest first): random nested prefixes, IPv4 and IPv6, small
// tables (8-bit root) and large ones (16-bit root), single and batched lookups at every
// route's edges; incremental updates (adds, removes, replacements) checked after each
// change, including a refused update leaving the table as it was; and lookups on another
// thread while one route after another changes and full tables are republished, every
// answer being one the routes allowed at some moment.
// Usage: lpm_test [SEED]
#include "fib/lpm.h"

#include <algorithm>
#include <atomic>
#include <map>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "check.h"

using namespace pg::fib;

namespace {

std::string hex(u128 v, unsigned width) {
  char b[40];
  if (width == 32) std::snprintf(b, sizeof b, "%u.%u.%u.%u", unsigned(v >> 120), unsigned(v >> 112) & 255, unsigned(v >> 104) & 255, unsigned(v >> 96) & 255);
  else std::snprintf(b, sizeof b, "%016llx%016llx", (unsigned long long)(v >> 64), (unsigned long long)v);
  return b;
}

// The reference: every route in a map ordered by (key, len), looked up longest first.
struct Ref {
  unsigned width;
  std::map<std::pair<u128, unsigned>, uint32_t> routes;
  unsigned lens[129] = {};

  explicit Ref(unsigned w) : width(w) {}
  uint32_t lookup(u128 a) const {
    for (int l = int(width); l >= 0; l--) {
      if (!lens[l]) continue;
      auto it = routes.find({a & prefix_mask(unsigned(l)), unsigned(l)});
      if (it != routes.end()) return it->second;
    }
    return kNoRoute;
  }
  void set(u128 key, unsigned len, uint32_t nh) {
    if (routes.insert_or_assign({key, len}, nh).second) lens[len]++;
  }
  void erase(u128 key, unsigned len) {
    if (routes.erase({key, len})) lens[len]--;
  }
  std::vector<Route> list() const {
    std::vector<Route> v;
    for (auto& [p, nh] : routes) v.push_back(Route{p.first, nh, uint8_t(p.second)});
    return v;
  }
  // LpmTable::RegionFn: the routes inside (key, len) no shorter than it, in (key, len)
  // order, and the leaf of the longest shorter route covering it.
  bool region(u128 key, unsigned len, std::vector<Route>& out, uint32_t& def) const {
    def = 0;
    for (unsigned l = len; l-- > 0;) {
      auto it = routes.find({key & prefix_mask(l), l});
      if (it != routes.end()) {
        def = it->second + 1;
        break;
      }
    }
    out.clear();
    const u128 last = key | ~prefix_mask(len);
    for (auto it = routes.lower_bound({key, 0}); it != routes.end() && it->first.first <= last; ++it)
      if (it->first.second >= len) out.push_back(Route{it->first.first, it->second, uint8_t(it->first.second)});
    return true;
  }
};

struct Gen {
  unsigned width;
  std::mt19937_64& rng;
  std::vector<u128> anchors;

  Gen(unsigned w, std::mt19937_64& r) : width(w), rng(r) {
    for (int i = 0; i < 12; i++) anchors.push_back(any());
  }
  u128 any() { return ((u128(rng()) << 64) | rng()) & prefix_mask(width); }
  unsigned len() {
    const unsigned r = unsigned(rng() % 100);
    if (width == 32) return r < 3 ? 0 : r < 20 ? 1 + unsigned(rng() % 15) : r < 80 ? 16 + unsigned(rng() % 9) : 25 + unsigned(rng() % 8);
    return r < 3 ? 0 : r < 20 ? 1 + unsigned(rng() % 31) : r < 70 ? 32 + unsigned(rng() % 33) : 65 + unsigned(rng() % 64);
  }
  // Mostly near a few anchors, so prefixes nest and share nodes; a few bits flipped just
  // above the length make siblings.
  std::pair<u128, unsigned> prefix() {
    const unsigned l = len();
    u128 k = rng() % 4 ? anchors[rng() % anchors.size()] : any();
    if (l > 0 && rng() % 2) k ^= u128(1) << (128 - l + unsigned(rng() % std::min(l, 6u)));
    return {k & prefix_mask(l), l};
  }
  uint32_t nh() { return rng() % 16 == 0 ? kMaxNextHop - uint32_t(rng() % 3) : uint32_t(rng() % 5000); }
  // Addresses at and around a prefix's edges, and one inside.
  void edges(u128 key, unsigned l, std::vector<u128>& out) {
    const u128 one = u128(1) << (128 - width), wm = prefix_mask(width);
    const u128 last = (key | ~prefix_mask(l)) & wm;
    out.push_back(key);
    out.push_back(last);
    out.push_back((last + one) & wm);
    out.push_back((key - one) & wm);
    out.push_back((key | (any() & ~prefix_mask(l))) & wm);
  }
};

void to_bytes(u128 a, uint8_t* b) {
  for (int i = 0; i < 16; i++) b[i] = uint8_t(a >> (120 - 8 * i));
}

// Every probe, singly and batched, against the reference; returns the mismatches.
long compare(const LpmTable& t, const Ref& ref, const std::vector<u128>& probes, std::string& first) {
  long bad = 0;
  const size_t n = probes.size();
  std::vector<uint32_t> want(n), one(n), batch(n);
  std::vector<uint32_t> a4(n);
  std::vector<uint8_t> a6(n * 16);
  for (size_t i = 0; i < n; i++) {
    want[i] = ref.lookup(probes[i]);
    if (ref.width == 32) {
      a4[i] = uint32_t(probes[i] >> 96);
      one[i] = t.lookup(a4[i]);
    } else {
      to_bytes(probes[i], &a6[i * 16]);
      one[i] = t.lookup6(&a6[i * 16]);
    }
  }
  // Batches of uneven sizes, crossing the 64-address chunks inside.
  for (size_t off = 0, step = 1; off < n; off += step, step = step * 3 % 151 + 1) {
    const uint32_t m = uint32_t(std::min(step, n - off));
    if (ref.width == 32) t.lookup_batch(&a4[off], m, &batch[off]);
    else t.lookup6_batch(&a6[off * 16], m, &batch[off]);
  }
  for (size_t i = 0; i < n; i++)
    if (one[i] != want[i] || batch[i] != want[i]) {
      if (!bad++)
        first = hex(probes[i], ref.width) + ": lookup " + std::to_string(one[i]) + ", batch " + std::to_string(batch[i]) + ", reference " +
                std::to_string(want[i]);
    }
  return bad;
}

void random_tables(unsigned width, size_t nroutes, std::mt19937_64& rng) {
  const long before = unit::failures;
  Gen g(width, rng);
  Ref ref(width);
  while (ref.routes.size() < nroutes) {
    auto [k, l] = g.prefix();
    ref.set(k, l, g.nh());
  }
  const auto t = LpmTable::build(ref.list(), width);
  std::vector<u128> probes;
  for (auto& [p, nh] : ref.routes) g.edges(p.first, p.second, probes);
  for (int i = 0; i < 2000; i++) probes.push_back(g.any());
  std::string first;
  const long bad = compare(*t, ref, probes, first);
  CHECK(bad == 0, std::to_string(bad) + " wrong answers, first " + first);
  CHECK(t->root_bits() == (nroutes > kSmallRoutes ? 16u : 8u), "the root has 16 bits above " + std::to_string(kSmallRoutes) + " routes, else 8");
  unit::section(std::string(width == 32 ? "IPv4" : "IPv6") + ": " + std::to_string(nroutes) + " random nested routes (" +
                    std::to_string(t->root_bits()) + "-bit root, " + std::to_string(t->nodes()) + " nodes, " +
                    std::to_string(t->memory() / 1024) + " KiB): " + std::to_string(probes.size()) +
                    " addresses at route edges and at random, single and batched lookups agree with the reference",
                before);
}

void corner_cases() {
  const long before = unit::failures;
  std::string first;
  for (unsigned width : {32u, 128u}) {
    Ref ref(width);
    const std::vector<u128> probes = {0, prefix_mask(width), u128(0x0a000001) << 96, u128(1) << (128 - width)};
    auto empty = LpmTable::build({}, width);
    CHECK(compare(*empty, ref, probes, first) == 0 && empty->memory() < 4096, "an empty table answers no route and costs under 4 KiB");
    ref.set(0, 0, 7);
    auto def = LpmTable::build(ref.list(), width);
    CHECK(compare(*def, ref, probes, first) == 0, "a default route alone answers every address");
    ref.set(prefix_mask(width), width, kMaxNextHop);
    auto host = LpmTable::build(ref.list(), width);
    CHECK(compare(*host, ref, probes, first) == 0, "a host route at the highest address carries the largest next hop");
    auto refused = [&](std::vector<Route> routes, const char* what) {
      bool threw = false;
      try {
        LpmTable::build(std::move(routes), width);
      } catch (const std::invalid_argument&) {
        threw = true;
      }
      CHECK(threw, std::string("build refuses ") + what);
    };
    refused({Route{0, 1, uint8_t(width + 1)}}, "a route longer than the address");
    refused({Route{u128(1) << 100, 1, 8}}, "a key with bits beyond its length");
    refused({Route{0, 1, 8}, Route{0, 2, 8}}, "a duplicate prefix");
    refused({Route{0, kMaxNextHop + 1, 8}}, "a next hop above kMaxNextHop");
  }
  unit::section("empty table, default route alone, host route at the top address, bad routes refused (IPv4 and IPv6)", before);
}

// Random single changes, each applied with update() (or a rebuild when it is refused), the
// changed prefix's edges checked after every change and everything every 250 changes.
void incremental(unsigned width, size_t nroutes, int changes, std::mt19937_64& rng) {
  const long before = unit::failures;
  Gen g(width, rng);
  Ref ref(width);
  while (ref.routes.size() < nroutes) {
    auto [k, l] = g.prefix();
    ref.set(k, l, g.nh());
  }
  auto t = LpmTable::build(ref.list(), width, 8);
  const LpmTable::RegionFn region = [&ref](u128 key, unsigned len, std::vector<Route>& out, uint32_t& def) {
    return ref.region(key, len, out, def);
  };
  std::vector<u128> all;
  for (int i = 0; i < 1000; i++) all.push_back(g.any());
  int adds = 0, removes = 0, replaces = 0, refusals = 0;
  long bad = 0, bad_refused = 0;
  std::string first;
  for (int c = 0; c < changes; c++) {
    std::pair<u128, unsigned> p;
    const unsigned r = unsigned(rng() % 3);
    if (r == 0 || ref.routes.empty()) {
      p = g.prefix();
      adds += !ref.routes.count(p);
    } else {
      auto it = ref.routes.begin();
      std::advance(it, long(rng() % ref.routes.size()));
      p = it->first;
    }
    std::vector<u128> probes;
    g.edges(p.first, p.second, probes);
    if (p.second + 1 <= width) g.edges(p.first, p.second + 1, probes);  // a longer route inside may decide part of it
    std::vector<uint32_t> old(probes.size());
    for (size_t i = 0; i < probes.size(); i++) old[i] = ref.lookup(probes[i]);
    if (r == 1 && ref.routes.count(p)) {
      ref.erase(p.first, p.second);
      removes++;
    } else {
      replaces += ref.routes.count(p) ? 1 : 0;
      ref.set(p.first, p.second, g.nh());
    }
    if (!t->update(p.first, p.second, region)) {
      refusals++;
      // Refused: the table must still give the answers from before the change.
      for (size_t i = 0; i < probes.size(); i++) {
        const uint32_t got = width == 32 ? t->lookup(uint32_t(probes[i] >> 96)) : [&] {
          uint8_t b[16];
          to_bytes(probes[i], b);
          return t->lookup6(b);
        }();
        if (got != old[i]) bad_refused++;
      }
      t = LpmTable::build(ref.list(), width, 8);
    }
    bad += compare(*t, ref, probes, first);
    if (c % 250 == 249) bad += compare(*t, ref, all, first);
  }
  std::vector<u128> edges;
  for (auto& [pp, nh] : ref.routes) g.edges(pp.first, pp.second, edges);
  bad += compare(*t, ref, edges, first);
  CHECK(bad == 0, std::to_string(bad) + " wrong answers after updates, first " + first);
  CHECK(bad_refused == 0, std::to_string(bad_refused) + " answers changed by a refused update");
  CHECK(refusals > 0, "the spare room ran out at least once (so refusals were exercised)");
  unit::section(std::string(width == 32 ? "IPv4" : "IPv6") + ": " + std::to_string(changes) + " incremental changes on " +
                    std::to_string(nroutes) + " routes (" + std::to_string(adds) + " adds, " + std::to_string(removes) + " removes, " +
                    std::to_string(replaces) + " replacements; " + std::to_string(refusals) +
                    " refused for want of spare room, the table unchanged, then rebuilt) agree with the reference after every change",
                before);
}

// One writer changes routes while a reader thread looks up addresses: each watched prefix
// flips among its own next hops or disappears (leaving its covering route's), so every
// answer a reader may see is known; answers outside the watched prefixes never change.
// Tables are republished through Publisher when the spare room runs out.
void concurrent(unsigned width, std::mt19937_64& rng) {
  const long before = unit::failures;
  Gen g(width, rng);
  Ref ref(width);
  for (int i = 0; i < 3000; i++) {
    auto [k, l] = g.prefix();
    if (l >= 8 && l <= 20) ref.set(k, l, g.nh());  // the static background: answers that must not change
  }
  struct Watched {
    u128 key;
    unsigned len;
    uint32_t base;  // its next hops are base..base+3
    u128 probe;     // an address inside it, below none of the other routes
    uint32_t covering;
  };
  std::vector<Watched> watched;
  const unsigned lens[] = {width == 32 ? 22u : 40u, width == 32 ? 26u : 64u, width == 32 ? 30u : 100u, width == 32 ? 32u : 128u};
  for (unsigned i = 0; watched.size() < 8 && i < 1000; i++) {
    const unsigned l = lens[watched.size() % 4];
    const u128 k = g.any() & prefix_mask(l);
    bool clear = true;
    for (const Watched& w : watched) clear = clear && ((k ^ w.key) & prefix_mask(std::min(l, w.len))) != 0;
    if (!clear) continue;
    const u128 probe = (k | (g.any() & ~prefix_mask(l))) & prefix_mask(width);
    watched.push_back({k, l, 100000 + 4 * uint32_t(watched.size()), probe, ref.lookup(probe)});
  }
  std::vector<u128> fixed;  // background addresses with their answers
  for (int i = 0; i < 200; i++) fixed.push_back(g.any());
  std::vector<uint32_t> fixed_want(fixed.size());
  for (size_t i = 0; i < fixed.size(); i++) fixed_want[i] = ref.lookup(fixed[i]);
  for (const Watched& w : watched) {
    for (size_t i = 0; i < fixed.size(); i++)
      if (((fixed[i] ^ w.key) & prefix_mask(w.len)) == 0) fixed_want[i] = ~0u - 1;  // inside a watched prefix: not fixed
  }

  Publisher<LpmTable> pub;
  pub.publish(LpmTable::build(ref.list(), width, 16), [] {});
  std::atomic<uint64_t> passes{0};
  std::atomic<bool> stop{false};
  std::atomic<long> wrong{0};
  std::thread reader([&] {
    uint8_t b[16];
    while (!stop.load(std::memory_order_relaxed)) {
      const LpmTable* t = pub.get();
      auto look = [&](u128 a) {
        if (width == 32) return t->lookup(uint32_t(a >> 96));
        to_bytes(a, b);
        return t->lookup6(b);
      };
      for (const Watched& w : watched) {
        const uint32_t v = look(w.probe);
        if (v != w.covering && (v < w.base || v > w.base + 3)) wrong++;
      }
      for (size_t i = 0; i < fixed.size(); i++)
        if (fixed_want[i] != ~0u - 1 && look(fixed[i]) != fixed_want[i]) wrong++;
      passes.fetch_add(1, std::memory_order_release);
    }
  });
  const LpmTable::RegionFn region = [&ref](u128 key, unsigned len, std::vector<Route>& out, uint32_t& def) {
    return ref.region(key, len, out, def);
  };
  // A grace period: the reader has finished the pass it was in when the table was swapped.
  auto synchronize = [&] {
    const uint64_t p = passes.load(std::memory_order_acquire);
    while (passes.load(std::memory_order_acquire) < p + 2) std::this_thread::yield();
  };
  int updates = 0, republished = 0;
  for (int c = 0; c < 6000; c++) {
    const Watched& w = watched[rng() % watched.size()];
    if (rng() % 4 == 0) ref.erase(w.key, w.len);
    else ref.set(w.key, w.len, w.base + uint32_t(rng() % 4));
    if (pub.writable()->update(w.key, w.len, region)) {
      updates++;
    } else {
      pub.publish(LpmTable::build(ref.list(), width, 16), synchronize);
      republished++;
    }
    if (c % 64 == 0) std::this_thread::yield();  // let the reader in on a busy machine
  }
  stop = true;
  reader.join();
  CHECK(wrong == 0, std::to_string(wrong.load()) + " answers the routes never allowed");
  std::string first;
  std::vector<u128> probes = fixed;
  for (const Watched& w : watched) probes.push_back(w.probe);
  CHECK(compare(*pub.get(), ref, probes, first) == 0, "after the changes the table agrees with the reference: " + first);
  unit::section(std::string(width == 32 ? "IPv4" : "IPv6") + ": a reader thread made " + std::to_string(passes.load()) + " passes over " +
                    std::to_string(probes.size()) + " addresses while " + std::to_string(updates) + " updates ran in place and " +
                    std::to_string(republished) + " new tables were published: every answer was allowed",
                before);
}

}  // namespace

int main(int argc, char** argv) {
  std::mt19937_64 rng(unit::seed(argc, argv, 20261202));
  corner_cases();
  random_tables(32, 300, rng);
  random_tables(32, 6000, rng);
  random_tables(128, 300, rng);
  random_tables(128, 5000, rng);
  incremental(32, 300, 3000, rng);
  incremental(32, 5000, 3000, rng);
  incremental(128, 300, 2000, rng);
  incremental(128, 5000, 2000, rng);
  concurrent(32, rng);
  concurrent(128, rng);
  return unit::finish("lpm");
}
