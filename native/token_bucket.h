// A token bucket on an explicit clock: the one pacing unit for anything held to a rate
// (paced sources and RatedUnqueue in packets per second; shapers in bytes or bits per second;
// meters use ExactBucket below). Tokens accrue at `rate` per second up to `depth`; credit
// that would overflow the depth is discarded and handed back to the caller, who decides
// whether it was a shortfall (the element ran late) or nothing (it had nothing to send).
// Plain data, no clock read, no atomics: the caller passes the time, so tests drive it with
// a virtual clock.
//
// Accrual is computed from the time since the last refill, never by counting rounds, so a
// late round catches up on everything that fits in the depth.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>

namespace pg {

// How long a paced element lets credit gather before it asks to be run again (wake_time()):
// well under the engine's idle sleep bound (EngineOptions::idle_sleep_us, 200 us).
constexpr uint64_t kPacingGatherNs = 100000;

struct TokenBucket {
  double rate = 0;       // tokens per second (0: none accrue)
  double depth = 1;      // the most tokens held (the burst)
  double tokens = 0;     // held now, 0..depth
  uint64_t last_ns = 0;  // time of the last refill (or start)

  // (Re)start at `now` holding `initial` tokens (capped at the depth).
  void start(uint64_t now, double initial) {
    last_ns = now;
    tokens = std::min(initial, depth);
  }

  // Accrue the credit since the last refill; returns the credit discarded because the bucket
  // was full (in tokens, fractional).
  double refill(uint64_t now) {
    if (now <= last_ns) return 0;
    tokens += double(now - last_ns) * rate / 1e9;  // exact when the credit is a whole number
    last_ns = now;
    if (tokens <= depth) return 0;
    const double over = tokens - depth;
    tokens = depth;
    return over;
  }

  // Whole tokens held.
  uint64_t whole() const { return tokens >= 1 ? uint64_t(tokens) : 0; }
  void take(double n) { tokens -= n; }

  // Byte buckets (the Bandwidth* elements) let a packet go while any credit is held and take
  // its whole size, so the bucket may go below empty by less than one packet; that debt is paid
  // before the next packet goes. The long-run rate stays exact whatever the packet sizes and
  // the depth (a packet larger than the depth still passes), and no packet waits for credit it
  // could never hold. Click's BandwidthShaper likewise charges a packet's length after it goes.
  bool any() const { return tokens > 0; }

  // When `n` tokens will be held (last_ns if they already are; UINT64_MAX at rate 0).
  uint64_t time_of(double n) const {
    if (tokens >= n) return last_ns;
    if (!(rate > 0)) return UINT64_MAX;
    return last_ns + uint64_t(std::ceil((n - tokens) * 1e9 / rate));
  }

  // When a paced element with nothing to send now should be run again: when the next token
  // is due or, where tokens come faster than one per `gather_ns`, once that much time's worth
  // has gathered (at most half the depth), so a worker sleeps between small bursts instead of
  // spinning from one packet to the next (a thread that spins is the first one a busy machine
  // deschedules for a whole time slice).
  uint64_t wake_time(uint64_t gather_ns) const {
    const double most = std::max(1.0, std::floor(depth / 2));
    return time_of(std::clamp(std::floor(rate * double(gather_ns) * 1e-9), 1.0, most));
  }

  // A new depth from `now` on: credit beyond it is discarded and returned (as by refill); a
  // deeper bucket holds no more credit than before, so raising the burst grants none.
  double set_depth(uint64_t now, double new_depth) {
    double over = refill(now);
    depth = new_depth;
    if (tokens > depth) {
      over += tokens - depth;
      tokens = depth;
    }
    return over;
  }

  // A new rate from `now` on: the time before it accrues at the old rate (what overflowed is
  // returned, as by refill), and saved-up credit is cut to at most one token, so the new rate
  // starts without a burst of credit earned under the old one.
  double set_rate(uint64_t now, double new_rate) {
    const double over = refill(now);
    rate = new_rate;
    tokens = std::min(tokens, 1.0);
    return over;
  }
};

// Exact integer credit for meters (Policer: RFC 2697/2698), where a packet that just empties a
// bucket must conform and a reference model must agree packet for packet: no floating point.
// The caller picks a credit unit that makes a rate of R per second exactly R units per ns
// (Policer: 1e-9 bit for rates in bit/s), so `credit(R, ns)` needs no division.
struct ExactBucket {
  // R x ns units, saturating (a long idle time fills any bucket).
  static uint64_t credit(uint64_t rate, uint64_t ns) {
    uint64_t c;
    return __builtin_mul_overflow(rate, ns, &c) ? UINT64_MAX : c;
  }
  // Adds `add` units to `level`, up to `depth`; returns the units that did not fit.
  static uint64_t fill(uint64_t& level, uint64_t depth, uint64_t add) {
    const uint64_t room = depth > level ? depth - level : 0;
    if (add <= room) {
      level += add;
      return 0;
    }
    level = depth;
    return add - room;
  }
};

}  // namespace pg
