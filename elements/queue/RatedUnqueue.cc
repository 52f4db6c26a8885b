// RatedUnqueue: pulls packets at a set rate (token bucket) and pushes them on.
// Documentation: RatedUnqueue.ts.
#include <algorithm>
#include <atomic>
#include <cmath>

#include "element.h"
#include "token_bucket.h"

namespace pg {

class RatedUnqueue final : public Element {
 public:
  void configure(const Config& conf) override {
    rate_.store(conf.number("rate"));
    burst_ = uint32_t(conf.bounded("burst", kMaxBatch));
    active_.store(conf.boolean("active"));
    bucket_.rate = rate_.load();
    bucket_.depth = double(burst_);
    c_packets_ = counter("packets");
    c_rate_shortfall_ = counter("rate_shortfall");
    request_task();
  }

  bool run_task() override {
    const uint64_t now = now_ns();
    if (!started_) {
      bucket_.start(now, bucket_.depth);  // the bucket starts full
      started_ = true;
    }
    const double rate = rate_.load(std::memory_order_relaxed);
    // Credit that overflowed while the input was empty (or the element inactive) is no
    // shortfall; only credit lost while packets waited is (checked below, after the pull).
    const double over = rate != bucket_.rate ? bucket_.set_rate(now, rate) : bucket_.refill(now);
    if (!active_.load(std::memory_order_relaxed) || !(rate > 0)) return false;  // rate 0 holds every packet
    const uint64_t have = std::min<uint64_t>(bucket_.whole(), burst_);
    if (have == 0) {
      wake_at(bucket_.wake_time(kPacingGatherNs));
      return false;
    }
    Batch b;
    input_pull(0, b, uint32_t(have));
    if (over > 0 && b.count == have) {
      // The input still had a full burst waiting, so the round came late with packets queued.
      lost_ += over;
      const uint64_t late = uint64_t(lost_);
      lost_ -= double(late);
      if (late) count(c_rate_shortfall_, late);
    }
    if (b.count == 0) return false;
    bucket_.take(double(b.count));
    count(c_packets_, b.count);
    output_push(0, b);
    return true;
  }

  void add_handlers(std::vector<Handler>& h) override {
    h.push_back({"rate", [this] { return format_number(rate_.load()); },
                 [this](const std::string& v) { rate_.store(parse_field_number(v, "rate")); }});
    h.push_back({"active", [this] { return std::string(active_.load() ? "true" : "false"); },
                 [this](const std::string& v) { active_.store(parse_bool(v, "active")); }});
  }

 private:
  std::atomic<double> rate_{0};
  std::atomic<bool> active_{true};
  uint32_t burst_ = 0;  // set by configure()
  // Task state, touched only by the worker running the task.
  TokenBucket bucket_;
  bool started_ = false;
  double lost_ = 0;  // discarded credit not yet reported (a fraction of a packet)
  uint32_t c_packets_ = 0, c_rate_shortfall_ = 0;
};

PG_ELEMENT(RatedUnqueue);

}  // namespace pg
