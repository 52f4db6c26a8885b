// Switch: sends every packet to one output, chosen by config or at run time.
// Documentation: Switch.ts.
#include <atomic>

#include "element.h"

namespace pg {

class Switch final : public Element {
 public:
  void configure(const Config& conf) override {
    int64_t o = conf.integer("output");
    if (o >= noutputs())
      throw ConfigError("config field 'output' is " + std::to_string(o) + " but the element has " +
                        std::to_string(noutputs()) + " output(s); use -1 to drop every packet");
    output_.store(int32_t(o));
    c_drops_ = counter("drops");
  }

  void push(int, Batch& b) override {
    int32_t o = output_.load(std::memory_order_relaxed);
    if (o < 0 || o >= noutputs()) {
      count(c_drops_, b.count);
      drop(b);
      return;
    }
    output_push(o, b);
  }

  void add_handlers(std::vector<Handler>& h) override {
    h.push_back({"switch", [this] { return std::to_string(output_.load()); },
                 [this](const std::string& v) { output_.store(parse_output(v)); }});
  }

 private:
  int32_t parse_output(const std::string& v) const {
    if (v == "-1") return -1;
    if (noutputs() == 0) throw HandlerError("switch: the element has no outputs; only -1 (drop) is allowed, got '" + v + "'");
    return int32_t(parse_u64(v, 0, uint64_t(noutputs() - 1), "switch"));
  }

  std::atomic<int32_t> output_{0};
  uint32_t c_drops_ = 0;
};

PG_ELEMENT(Switch);

}  // namespace pg
