// Unit test of TokenBucket (native/token_bucket.h), the arithmetic under every rate element:
// one simulated second with an always-waiting backlog, refilled at random instants (from a
// nanosecond apart to 50 us, as worker rounds come), for byte buckets from 1 Mbit/s to
// 100 Gbit/s with random packet sizes and for packet buckets from 1000 to 10^10 per second.
// What passed plus what the bucket holds at the end equals the starting depth plus rate x 1 s
// to well under a byte (no drift from rounding fractional credit, however fine the refills),
// so what passed is within one packet of the rate; credit never exceeds the depth and a byte
// bucket's debt is less than one packet. Then set_rate and set_depth keep no saved credit.
// Usage: token_bucket_test [SEED]
#include "token_bucket.h"

#include <cmath>
#include <random>
#include <string>

#include "check.h"

using pg::TokenBucket;

namespace {

constexpr uint64_t kSecond = 1000000000;

// Random refill gaps: half of them tiny (the same round's neighbours), half up to 50 us.
uint64_t gap(std::mt19937_64& rng) {
  return rng() & 1 ? 1 + rng() % 100 : 1 + rng() % 50000;
}

void bytes(double bits_per_second, uint32_t overhead, std::mt19937_64& rng) {
  const long before = unit::failures;
  TokenBucket tb;
  tb.rate = bits_per_second / 8;
  tb.depth = std::ceil(tb.rate * 0.001) + 1518 + overhead;  // the elements' default burst
  tb.start(0, tb.depth);
  double sent = 0, lost = 0;
  double most = 0, least = 0;
  uint64_t packets = 0;
  auto drain = [&] {  // the backlog takes what the credit allows
    while (tb.any()) {
      const double cost = double(64 + rng() % (1518 - 64 + 1) + overhead);
      tb.take(cost);
      sent += cost;
      packets++;
    }
    least = std::min(least, tb.tokens);
  };
  drain();
  for (uint64_t now = 0; now < kSecond;) {
    now = std::min(kSecond, now + gap(rng));
    lost += tb.refill(now);
    most = std::max(most, tb.tokens);
    drain();
  }
  const double want = tb.rate;  // bytes in one second
  const std::string what = std::to_string(uint64_t(bits_per_second / 1e6)) + " Mbit/s";
  CHECK(lost == 0, what + ": no credit overflowed (" + std::to_string(lost) + ")");
  CHECK(std::fabs(sent + tb.tokens - (tb.depth + want)) < 0.01,
        what + ": sent + held = depth + rate x 1 s, off by " + std::to_string(sent + tb.tokens - (tb.depth + want)) + " bytes");
  CHECK(std::fabs(sent - tb.depth - want) <= 1518 + overhead, what + ": within one packet of the rate, off by " + std::to_string(sent - tb.depth - want));
  CHECK(most <= tb.depth && least > -double(1518 + overhead), what + ": credit within [-one packet, depth]");
  unit::section("byte bucket at " + what + ", overhead " + std::to_string(overhead) + ": " + std::to_string(packets) + " packets, exact", before);
}

void packets(double per_second, std::mt19937_64& rng) {
  const long before = unit::failures;
  TokenBucket tb;
  tb.rate = per_second;
  tb.depth = std::max(32.0, std::ceil(per_second * 0.001));
  tb.start(0, tb.depth);
  uint64_t sent = tb.whole();  // the full bucket's burst
  tb.take(double(sent));
  double lost = 0;
  for (uint64_t now = 0; now < kSecond;) {
    now = std::min(kSecond, now + gap(rng));
    lost += tb.refill(now);
    const uint64_t n = tb.whole();
    tb.take(double(n));
    sent += n;
  }
  const std::string what = std::to_string(uint64_t(per_second)) + " packets/s";
  CHECK(lost == 0, what + ": no credit overflowed");
  CHECK(std::fabs(double(sent) + tb.tokens - (tb.depth + per_second)) < 1e-3,
        what + ": sent + held = depth + rate x 1 s, off by " + std::to_string(double(sent) + tb.tokens - (tb.depth + per_second)));
  CHECK(tb.tokens >= 0 && tb.tokens < 1, what + ": less than one token left");
  unit::section("packet bucket at " + what + ": " + std::to_string(sent) + " packets, exact", before);
}

void changes() {
  const long before = unit::failures;
  TokenBucket tb;
  tb.rate = 1000;
  tb.depth = 50;
  tb.start(0, 50);
  tb.refill(kSecond);
  CHECK(tb.tokens == 50, "a full bucket holds its depth");
  tb.set_rate(kSecond, 5000);
  CHECK(tb.tokens == 1 && tb.rate == 5000, "a new rate keeps at most one token of saved credit");
  tb.refill(kSecond + 1000000);
  CHECK(tb.tokens == 6, "then accrues at the new rate (5 per ms)");
  CHECK(tb.set_depth(kSecond + 1000000, 4) == 2 && tb.tokens == 4, "a smaller depth discards credit beyond it and says how much");
  tb.set_depth(kSecond + 1000000, 100);
  CHECK(tb.tokens == 4, "a larger depth grants no credit");
  tb.take(10);
  CHECK(!tb.any() && tb.time_of(1) == kSecond + 1000000 + 1400000, "in debt: the first whole token is due once the debt is paid");
  unit::section("set_rate and set_depth: no saved credit", before);
}

}  // namespace

int main(int argc, char** argv) {
  std::mt19937_64 rng(unit::seed(argc, argv, 20261202));
  for (double r : {1e6, 10e6, 100e6, 1e9, 10e9, 100e9}) bytes(r, r == 1e9 ? 0 : 24, rng);
  for (double r : {1e3, 1e5, 1e7, 1e9, 1e10}) packets(r, rng);
  changes();
  return unit::finish("token_bucket");
}
