// The LPM microbenchmark (see bench.h). Lookups go through lookup_batch in batches of 256
// (what an element does) and through the single-address lookup, over a prepared array of
// addresses that is re-read in a loop.
#include "fib/bench.h"

#include <algorithm>
#include <random>
#include <stdexcept>
#include <vector>

#include "clock.h"
#include "fib/lpm.h"

namespace pg::fib {

namespace {
template <class F>
double lps(uint64_t lookups, F&& f) {
  const uint64_t t0 = monotonic_ns();
  f();
  const uint64_t t1 = monotonic_ns();
  return double(lookups) * 1e9 / double(std::max<uint64_t>(1, t1 - t0));
}
}  // namespace

BenchResult run_bench(unsigned width, const std::string& text, uint64_t lookups) {
  BenchResult res;
  uint64_t t0 = monotonic_ns();
  std::vector<Route> routes = parse_route_lines(text, width);
  uint64_t t1 = monotonic_ns();
  std::vector<Route> copy = routes;
  uint64_t t2 = monotonic_ns();
  auto table = LpmTable::build(std::move(copy), width);
  uint64_t t3 = monotonic_ns();
  res.routes = routes.size();
  res.parse_ns = double(t1 - t0);
  res.build_ns = double(t3 - t2);
  res.bytes = table->memory();
  res.nodes = table->nodes();
  res.root_bits = table->root_bits();

  std::mt19937_64 rng(12345);
  const uint32_t kAddrs = width == 32 ? (1u << 20) : (1u << 18);
  const uint32_t kBatch = 256;
  lookups = std::max<uint64_t>(lookups, kAddrs) / kAddrs * kAddrs;
  const uint64_t passes = lookups / kAddrs;
  std::vector<uint32_t> out(kBatch);
  uint64_t sum = 0;

  for (int kind = 0; kind < 2; kind++) {
    // kind 0: uniformly random addresses (IPv6: in 2000::/3); kind 1: a random route's prefix with random host bits.
    std::vector<uint32_t> a4;
    std::vector<uint8_t> a6;
    if (width == 32) a4.resize(kAddrs);
    else a6.resize(size_t(kAddrs) * 16);
    for (uint32_t i = 0; i < kAddrs; i++) {
      u128 k = (u128(rng()) << 64) | rng();
      // IPv6: uniformly random inside 2000::/3 (global unicast), where the routes are.
      if (width == 128) k = (k >> 3) | (u128(1) << 125);
      if (kind == 1 && !routes.empty()) {
        const Route& r = routes[rng() % routes.size()];
        k = r.key | (k & ~prefix_mask(r.len));  // keys are left-aligned for both widths
      }
      if (width == 32) a4[i] = uint32_t(k >> 96);
      else
        for (int b = 0; b < 16; b++) a6[size_t(i) * 16 + b] = uint8_t(k >> (120 - 8 * b));
    }
    uint64_t hits = 0;
    // Warm-up pass and hit count.
    for (uint32_t i = 0; i < kAddrs; i += kBatch) {
      if (width == 32) table->lookup_batch(&a4[i], kBatch, out.data());
      else table->lookup6_batch(&a6[size_t(i) * 16], kBatch, out.data());
      for (uint32_t j = 0; j < kBatch; j++) hits += out[j] != kNoRoute;
    }
    const double hit = double(hits) / kAddrs;
    const double batch = lps(passes * kAddrs, [&] {
      for (uint64_t p = 0; p < passes; p++)
        for (uint32_t i = 0; i < kAddrs; i += kBatch) {
          if (width == 32) table->lookup_batch(&a4[i], kBatch, out.data());
          else table->lookup6_batch(&a6[size_t(i) * 16], kBatch, out.data());
          sum += out[kBatch - 1] + out[0];
        }
    });
    const double single = lps(passes * kAddrs, [&] {
      for (uint64_t p = 0; p < passes; p++)
        for (uint32_t i = 0; i < kAddrs; i++) sum += width == 32 ? table->lookup(a4[i]) : table->lookup6(&a6[size_t(i) * 16]);
    });
    if (kind == 0) {
      res.random_batch_lps = batch;
      res.random_single_lps = single;
      res.random_hit = hit;
    } else {
      res.table_batch_lps = batch;
      res.table_single_lps = single;
      res.table_hit = hit;
    }
  }
  res.checksum = sum;
  return res;
}

}  // namespace pg::fib
