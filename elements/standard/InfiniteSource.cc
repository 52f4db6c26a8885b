// InfiniteSource: emits copies of one packet, as fast as possible or at a rate.
// Documentation: InfiniteSource.ts.
#include <algorithm>
#include <atomic>
#include <cmath>

#include "element.h"
#include "source_pacing.h"

namespace pg {

class InfiniteSource final : public Element {
 public:
  void configure(const Config& conf) override {
    std::vector<uint8_t> data = conf.hex_bytes("data");
    int64_t length = conf.integer("length");
    if (length < 0) length = int64_t(data.size());  // Click's default; 0 gives empty packets
    if (uint64_t(length) > pool().buffer_size() - pool().headroom())
      throw ConfigError("config field 'length' (" + std::to_string(length) + ") exceeds the pool's buffer room of " +
                        std::to_string(pool().buffer_size() - pool().headroom()) + " bytes");
    template_.assign(size_t(length), 0);
    std::copy_n(data.begin(), std::min(data.size(), template_.size()), template_.begin());
    pacing_.configure(conf);
    c_packets_ = counter("packets");
    c_bytes_ = counter("bytes");
    c_pool_empty_ = counter("pool_empty");
    c_rate_shortfall_ = counter("rate_shortfall");
    request_task();
  }

  bool run_task() override {
    uint64_t late;
    const uint32_t n = pacing_.budget(late);
    if (late) count(c_rate_shortfall_, late);
    if (n == 0) return false;
    Batch b;
    b.count = pool().alloc(b.pkts, n);
    if (b.count < n) count(c_pool_empty_);
    if (b.count == 0) return false;
    const uint32_t len = uint32_t(template_.size());
    const uint8_t* src = template_.data();
    for (uint32_t i = 0; i < b.count; i++) {
      Packet* p = b.pkts[i];
      if (len) std::memcpy(p->data(), src, len);
      p->set_length(len);
    }
    pacing_.commit(b.count);
    count(c_packets_, b.count);
    count(c_bytes_, uint64_t(b.count) * len);
    output_push(0, b);
    return true;
  }

  // Hot reconfiguration: the count towards the limit and the pacing go on.
  void take_state(Element& old) override { pacing_.take(static_cast<InfiniteSource&>(old).pacing_); }

  SourceState source_state() const override { return pacing_.state(); }

  void add_handlers(std::vector<Handler>& h) override { pacing_.add_handlers(h); }

 private:
  StateVector<uint8_t> template_;  // in the graph's hot state: copied into every packet
  SourcePacing pacing_;
  uint32_t c_packets_ = 0, c_bytes_ = 0, c_pool_empty_ = 0, c_rate_shortfall_ = 0;
};

PG_ELEMENT(InfiniteSource);

}  // namespace pg
