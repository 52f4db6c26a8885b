// InfiniteSource: emits copies of one packet, as fast as possible or at a rate.
// Documentation: InfiniteSource.ts.
#include <algorithm>
#include <atomic>
#include <cmath>

#include "element.h"

namespace pg {

class InfiniteSource final : public Element {
 public:
  const char* port_count() const override { return "0/1"; }
  const char* processing() const override { return "/h"; }

  void configure(const Config& conf) override {
    std::vector<uint8_t> data = conf.hex_bytes("data");
    int64_t length = conf.integer("length", 0, 65535);
    if (length == 0) length = int64_t(data.size());
    if (length == 0) throw ConfigError("the packet is empty: give 'data' or a 'length'");
    if (uint64_t(length) > pool().buffer_size() - pool().headroom())
      throw ConfigError("config field 'length' (" + std::to_string(length) + ") exceeds the pool's buffer room of " +
                        std::to_string(pool().buffer_size() - pool().headroom()) + " bytes");
    template_.assign(size_t(length), 0);
    std::copy_n(data.begin(), std::min(data.size(), template_.size()), template_.begin());
    limit_.store(conf.integer("limit", -1, INT64_MAX));
    burst_ = uint32_t(conf.integer("burst", 1, kMaxBatch));
    rate_.store(conf.number("rate", 0, 1e10));
    active_.store(conf.boolean("active"));
    c_packets_ = counter("packets");
    c_bytes_ = counter("bytes");
    c_pool_empty_ = counter("pool_empty");
    request_task();
  }

  bool run_task() override {
    if (!active_.load(std::memory_order_relaxed)) return false;
    uint32_t n = burst_;
    int64_t limit = limit_.load(std::memory_order_relaxed);
    uint64_t sent = sent_.load(std::memory_order_relaxed);
    if (limit >= 0) {
      if (sent >= uint64_t(limit)) return false;
      n = uint32_t(std::min<uint64_t>(n, uint64_t(limit) - sent));
    }
    double rate = rate_.load(std::memory_order_relaxed);
    if (rate > 0) {
      // Pace by time: one packet every 1/rate seconds; never catch up more than a burst.
      uint64_t now = now_ns();
      double interval = 1e9 / rate;
      if (next_ns_ == 0 || double(now) - next_ns_ > interval * burst_) next_ns_ = double(now);
      if (double(now) < next_ns_) return false;
      uint64_t due = uint64_t((double(now) - next_ns_) / interval) + 1;
      n = uint32_t(std::min<uint64_t>(n, due));
      next_ns_ += interval * n;
    }
    Batch b;
    b.count = pool().alloc(b.pkts, n);
    if (b.count < n) count(c_pool_empty_);
    if (b.count == 0) return false;
    const uint32_t len = uint32_t(template_.size());
    const uint8_t* src = template_.data();
    for (uint32_t i = 0; i < b.count; i++) {
      Packet* p = b.pkts[i];
      std::memcpy(p->data(), src, len);
      p->set_length(len);
    }
    sent_.store(sent + b.count, std::memory_order_relaxed);
    count(c_packets_, b.count);
    count(c_bytes_, uint64_t(b.count) * len);
    output_push(0, b);
    return true;
  }

  SourceState source_state() const override {
    int64_t limit = limit_.load(std::memory_order_relaxed);
    if (limit < 0) return SourceState::Running;
    return sent_.load(std::memory_order_relaxed) >= uint64_t(limit) ? SourceState::Finished : SourceState::Running;
  }

  void add_handlers(std::vector<Handler>& h) override {
    h.push_back({"active", [this] { return std::string(active_.load() ? "true" : "false"); },
                 [this](const std::string& v) { active_.store(parse_bool(v, "active")); }});
    h.push_back({"rate", [this] { return format_number(rate_.load()); },
                 [this](const std::string& v) { rate_.store(parse_double(v, 0, 1e10, "rate")); }});
    h.push_back({"limit", [this] { return std::to_string(limit_.load()); },
                 [this](const std::string& v) {
                   limit_.store(v == "-1" ? -1 : int64_t(parse_u64(v, 0, INT64_MAX, "limit")));
                 }});
    // Restart counting towards the limit (the packets counter is not touched).
    h.push_back({"reset", nullptr, [this](const std::string&) { sent_.store(0); }});
  }

 private:
  std::vector<uint8_t> template_;
  std::atomic<int64_t> limit_{-1};
  std::atomic<uint64_t> sent_{0};
  std::atomic<double> rate_{0};
  std::atomic<bool> active_{true};
  uint32_t burst_ = 32;
  double next_ns_ = 0;
  uint32_t c_packets_ = 0, c_bytes_ = 0, c_pool_empty_ = 0;
};

PG_ELEMENT(InfiniteSource);

}  // namespace pg
