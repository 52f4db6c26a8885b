// Unqueue: pulls packets from its input and pushes them out, from its own task.
// Documentation: Unqueue.ts.
#include <atomic>

#include "element.h"

namespace pg {

class Unqueue final : public Element {
 public:
  void configure(const Config& conf) override {
    burst_ = uint32_t(conf.bounded("burst", kMaxBatch));
    active_.store(conf.boolean("active"));
    c_packets_ = counter("packets");
    request_task();
  }

  bool run_task() override {
    if (!active_.load(std::memory_order_relaxed)) return false;
    Batch b;
    input_pull(0, b, burst_);
    if (b.count == 0) return false;
    count(c_packets_, b.count);
    output_push(0, b);
    return true;
  }

  void add_handlers(std::vector<Handler>& h) override {
    h.push_back({"active", [this] { return std::string(active_.load() ? "true" : "false"); },
                 [this](const std::string& v) { active_.store(parse_bool(v, "active")); }});
  }

 private:
  uint32_t burst_ = 0;  // set by configure()
  std::atomic<bool> active_{true};
  uint32_t c_packets_ = 0;
};

PG_ELEMENT(Unqueue);

}  // namespace pg
