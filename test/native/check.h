// The few lines the native unit tests share: CHECK counts a check and reports a failed one
// (file, line, the expression and a message) without stopping, section() prints what a
// group of checks covered, and finish() prints the totals and gives the exit status.
// test/native-units.test.ts builds and runs each test program and reads this output.
#pragma once
#include <cstdio>
#include <cstdlib>
#include <string>

namespace unit {

inline long checks = 0, failures = 0;

inline bool check(bool ok, const char* expr, const char* file, int line, const std::string& what) {
  checks++;
  if (!ok) {
    failures++;
    if (failures <= 20) std::printf("FAIL %s:%d: %s (%s)\n", file, line, expr, what.c_str());
  }
  return ok;
}

// One line per group of checks: "ok <what>" when nothing in it failed.
inline void section(const std::string& what, long failures_before) {
  std::printf("%s %s\n", failures == failures_before ? "ok" : "not ok", what.c_str());
  std::fflush(stdout);
}

inline int finish(const char* unit) {
  std::printf("%s: %ld checks, %ld failed\n", unit, checks, failures);
  return failures ? 1 : 0;
}

// A seed from the command line (argv[1]) or a fixed one, printed so a failure can be replayed.
inline unsigned long long seed(int argc, char** argv, unsigned long long fixed) {
  const unsigned long long s = argc > 1 ? std::strtoull(argv[1], nullptr, 0) : fixed;
  std::printf("seed %llu\n", s);
  return s;
}

}  // namespace unit

// Counts the check; on failure prints the expression and `what` (a std::string expression,
// evaluated only on failure).
#define CHECK(cond, what) ((cond) ? (unit::checks++, true) : unit::check(false, #cond, __FILE__, __LINE__, (what)))
