// RatedUnqueue: pulls packets at a set rate (token bucket) and pushes them on.
// Documentation: RatedUnqueue.ts.
#include <algorithm>
#include <atomic>
#include <cmath>

#include "element.h"

namespace pg {

class RatedUnqueue final : public Element {
 public:
  const char* port_count() const override { return "1/1"; }
  const char* processing() const override { return "l/h"; }

  void configure(const Config& conf) override {
    rate_.store(conf.number("rate", 0, 1e10));
    burst_ = uint32_t(conf.integer("burst", 1, kMaxBatch));
    active_.store(conf.boolean("active"));
    tokens_ = double(burst_);  // the bucket starts full
    c_packets_ = counter("packets");
    request_task();
  }

  bool run_task() override {
    const uint64_t now = now_ns();
    const double rate = rate_.load(std::memory_order_relaxed);
    if (last_ns_ != 0 && now > last_ns_) tokens_ = std::min(double(burst_), tokens_ + double(now - last_ns_) * rate * 1e-9);
    last_ns_ = now;
    if (!active_.load(std::memory_order_relaxed)) return false;
    if (tokens_ < 1) {
      if (rate > 0) wake_at(now + uint64_t((1 - tokens_) * 1e9 / rate));  // when the next token is due
      return false;
    }
    Batch b;
    input_pull(0, b, uint32_t(tokens_));
    if (b.count == 0) return false;
    tokens_ -= double(b.count);
    count(c_packets_, b.count);
    output_push(0, b);
    return true;
  }

  void add_handlers(std::vector<Handler>& h) override {
    h.push_back({"rate", [this] { return format_number(rate_.load()); },
                 [this](const std::string& v) { rate_.store(parse_double(v, 0, 1e10, "rate")); }});
    h.push_back({"active", [this] { return std::string(active_.load() ? "true" : "false"); },
                 [this](const std::string& v) { active_.store(parse_bool(v, "active")); }});
  }

 private:
  std::atomic<double> rate_{0};
  std::atomic<bool> active_{true};
  uint32_t burst_ = 32;
  // Task state, touched only by the worker running the task.
  double tokens_ = 0;
  uint64_t last_ns_ = 0;
  uint32_t c_packets_ = 0;
};

PG_ELEMENT(RatedUnqueue);

}  // namespace pg
