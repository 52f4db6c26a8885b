// LatencyMeter: records the delay since TimestampStamp's stamp in a per-worker log-linear
// histogram; percentile handlers. Documentation: LatencyMeter.ts.
#include <algorithm>
#include <atomic>
#include <cstdio>
#include <vector>

#include "pass_element.h"
#include "latency_stamp.h"

namespace pg {

namespace {

// Log-linear buckets: values below 16 ns exactly, then 16 buckets per power of two up to 2^48 ns.
constexpr uint32_t kSub = 16;
constexpr uint32_t kMaxExp = 48;
constexpr uint32_t kBuckets = kSub + (kMaxExp - 4) * kSub;
// Words per worker row: buckets, then count, sum, min, max. Rows padded to whole cache lines.
constexpr uint32_t kCount = kBuckets, kSum = kBuckets + 1, kMin = kBuckets + 2, kMax = kBuckets + 3;
constexpr uint32_t kRowWords = ((kBuckets + 4 + 7) / 8) * 8;
// One row per possible worker (the CLI allows up to 63) and one for other threads.
constexpr uint32_t kRows = 64;

inline uint32_t bucket_of(uint64_t v) {
  if (v < kSub) return uint32_t(v);
  uint32_t e = 63 - uint32_t(__builtin_clzll(v));  // v in [2^e, 2^(e+1)), e >= 4
  if (e >= kMaxExp) return kBuckets - 1;
  return kSub + (e - 4) * kSub + uint32_t((v >> (e - 4)) & (kSub - 1));
}

inline uint64_t bucket_low(uint32_t b) {
  if (b < kSub) return b;
  uint32_t e = (b - kSub) / kSub + 4, sub = (b - kSub) % kSub;
  return uint64_t(kSub + sub) << (e - 4);
}

inline uint64_t bucket_high(uint32_t b) { return b < kSub ? b : bucket_low(b) + (uint64_t(1) << ((b - kSub) / kSub)) - 1; }

// Single writer per row, summed by readers: relaxed loads and stores, like the counters.
inline uint64_t ld(uint64_t& w) { return std::atomic_ref<uint64_t>(w).load(std::memory_order_relaxed); }
inline void st(uint64_t& w, uint64_t v) { std::atomic_ref<uint64_t>(w).store(v, std::memory_order_relaxed); }

}  // namespace

class LatencyMeter final : public PassElement<LatencyMeter> {
 public:
  void configure(const Config& conf) override {
    offset_ = uint32_t(conf.integer("offset"));
    use_annotation_ = conf.string("arrival") == "annotation";  // "now" or "annotation" (the getter checks)
    c_packets_ = counter("packets");
    c_measured_ = counter("measured");
    c_unstamped_ = counter("unstamped");
    c_bad_ = counter("bad_stamp");
    rows_.assign(size_t(kRows) * kRowWords, 0);
    for (uint32_t r = 0; r < kRows; r++) rows_[size_t(r) * kRowWords + kMin] = UINT64_MAX;
  }

  void act(Batch& b, uint32_t first) {
    if (b.count <= first) return;
    const uint64_t now = monotonic_ns();
    // Wall clock minus monotonic, to bring the receive-time annotation onto the monotonic clock.
    const int64_t wall_minus_mono = use_annotation_ ? realtime_ns() - int64_t(now) : 0;
    uint64_t* row = &rows_[size_t(tls_worker >= 0 && tls_worker < int(kRows) - 1 ? tls_worker : kRows - 1) * kRowWords];
    uint64_t measured = 0, unstamped = 0, bad = 0, sum = 0;
    uint64_t lo = ld(row[kMin]), hi = ld(row[kMax]);
    for (uint32_t i = first; i < b.count; i++) {
      const Packet* p = b.pkts[i];
      uint64_t sent;
      if (p->length() < offset_ + kLatencyStampBytes || !read_latency_stamp(p->data() + offset_, sent)) {
        unstamped++;
        continue;
      }
      uint64_t arrival = now;
      if (use_annotation_ && p->anno().timestamp_ns > 0) arrival = uint64_t(p->anno().timestamp_ns - wall_minus_mono);
      if (sent > arrival) {
        bad++;
        continue;
      }
      const uint64_t d = arrival - sent;
      uint64_t& cell = row[bucket_of(d)];
      st(cell, ld(cell) + 1);
      sum += d;
      lo = std::min(lo, d);
      hi = std::max(hi, d);
      measured++;
    }
    if (measured) {
      st(row[kCount], ld(row[kCount]) + measured);
      st(row[kSum], ld(row[kSum]) + sum);
      st(row[kMin], lo);
      st(row[kMax], hi);
    }
    count(c_packets_, b.count - first);
    if (measured) count(c_measured_, measured);
    if (unstamped) count(c_unstamped_, unstamped);
    if (bad) count(c_bad_, bad);
  }

  void add_handlers(std::vector<Handler>& h) override {
    auto num = [this](auto f) { return [this, f]() { Snapshot s = snapshot(); return to_string_u64(f(s)); }; };
    h.push_back({"count", num([](const Snapshot& s) { return s.count; }), nullptr});
    h.push_back({"min", num([](const Snapshot& s) { return s.count ? s.min : 0; }), nullptr});
    h.push_back({"mean", num([](const Snapshot& s) { return s.count ? s.sum / s.count : 0; }), nullptr});
    h.push_back({"max", num([](const Snapshot& s) { return s.max; }), nullptr});
    h.push_back({"p50", num([](const Snapshot& s) { return s.percentile(0.5); }), nullptr});
    h.push_back({"p90", num([](const Snapshot& s) { return s.percentile(0.9); }), nullptr});
    h.push_back({"p99", num([](const Snapshot& s) { return s.percentile(0.99); }), nullptr});
    h.push_back({"p999", num([](const Snapshot& s) { return s.percentile(0.999); }), nullptr});
    h.push_back({"summary", [this]() {
                   Snapshot s = snapshot();
                   char buf[256];
                   std::snprintf(buf, sizeof buf, "count=%llu min=%llu mean=%llu p50=%llu p90=%llu p99=%llu p999=%llu max=%llu",
                                 (unsigned long long)s.count, (unsigned long long)(s.count ? s.min : 0), (unsigned long long)(s.count ? s.sum / s.count : 0),
                                 (unsigned long long)s.percentile(0.5), (unsigned long long)s.percentile(0.9), (unsigned long long)s.percentile(0.99),
                                 (unsigned long long)s.percentile(0.999), (unsigned long long)s.max);
                   return std::string(buf);
                 }, nullptr});
    h.push_back({"histogram", [this]() {
                   Snapshot s = snapshot();
                   std::string out;
                   for (uint32_t b = 0; b < kBuckets; b++)
                     if (s.buckets[b]) out += to_string_u64(bucket_low(b)) + " " + to_string_u64(bucket_high(b)) + " " + to_string_u64(s.buckets[b]) + "\n";
                   return out;
                 }, nullptr});
    h.push_back({"reset", nullptr, [this](const std::string&) {
                   for (uint32_t r = 0; r < kRows; r++) {
                     uint64_t* row = &rows_[size_t(r) * kRowWords];
                     for (uint32_t w = 0; w < kRowWords; w++) st(row[w], w == kMin ? UINT64_MAX : 0);
                   }
                 }});
  }

 private:
  struct Snapshot {
    std::vector<uint64_t> buckets = std::vector<uint64_t>(kBuckets, 0);
    uint64_t count = 0, sum = 0, min = UINT64_MAX, max = 0;
    // The bucket holding the q-th value, reported as its midpoint, clamped to the exact min/max.
    uint64_t percentile(double q) const {
      if (!count) return 0;
      uint64_t rank = uint64_t(q * double(count));
      if (rank >= count) rank = count - 1;
      uint64_t seen = 0;
      for (uint32_t b = 0; b < kBuckets; b++) {
        seen += buckets[b];
        if (seen > rank) {
          uint64_t mid = bucket_low(b) + (bucket_high(b) - bucket_low(b)) / 2;
          return std::clamp(mid, min, max);
        }
      }
      return max;
    }
  };

  Snapshot snapshot() {
    Snapshot s;
    for (uint32_t r = 0; r < kRows; r++) {
      uint64_t* row = &rows_[size_t(r) * kRowWords];
      for (uint32_t b = 0; b < kBuckets; b++) s.buckets[b] += ld(row[b]);
      s.count += ld(row[kCount]);
      s.sum += ld(row[kSum]);
      s.min = std::min(s.min, ld(row[kMin]));
      s.max = std::max(s.max, ld(row[kMax]));
    }
    return s;
  }


  uint32_t offset_ = 42;
  bool use_annotation_ = false;
  std::vector<uint64_t> rows_;
  uint32_t c_packets_ = 0, c_measured_ = 0, c_unstamped_ = 0, c_bad_ = 0;
};

PG_ELEMENT(LatencyMeter);

}  // namespace pg
