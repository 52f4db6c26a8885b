// Discard: frees every packet it receives (push) or pulls (pull, with its own task).
// Documentation: Discard.ts.
#include "element.h"

namespace pg {

class Discard final : public Element {
 public:
  void configure(const Config& conf) override {
    burst_ = uint32_t(conf.bounded("burst", kMaxBatch));
    c_packets_ = counter("packets");
    c_bytes_ = counter("bytes");
  }
  void initialize() override {
    if (input_processing(0) == Processing::Pull) request_task();
  }

  void push(int, Batch& b) override {
    uint64_t bytes = 0;
    for (uint32_t i = 0; i < b.count; i++) bytes += b.pkts[i]->length();
    count(c_packets_, b.count);
    count(c_bytes_, bytes);
    drop(b);
  }

  bool run_task() override {
    Batch b;
    input_pull(0, b, burst_);
    if (b.count == 0) return false;
    push(0, b);
    return true;
  }

 private:
  uint32_t burst_ = 0;  // set by configure()
  uint32_t c_packets_ = 0, c_bytes_ = 0;
};

PG_ELEMENT(Discard);

}  // namespace pg
