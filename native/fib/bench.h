// A microbenchmark of the LPM tables, reached from TypeScript through the addon's
// fibBench export (bench/fib.ts): parse a route table, build, and time lookups.
#pragma once
#include <cstdint>
#include <string>

namespace pg::fib {

struct BenchResult {
  uint64_t routes = 0;
  double parse_ns = 0, build_ns = 0;
  uint64_t bytes = 0, nodes = 0;
  unsigned root_bits = 0;
  double random_batch_lps = 0, random_single_lps = 0;  // random addresses
  double table_batch_lps = 0, table_single_lps = 0;    // addresses inside random routes
  double random_hit = 0, table_hit = 0;                // fraction that found a route
  uint64_t checksum = 0;
};

// width 32 or 128; routes_text: "prefix/len nexthop" lines. Throws std::runtime_error.
BenchResult run_bench(unsigned width, const std::string& routes_text, uint64_t lookups);

}  // namespace pg::fib
