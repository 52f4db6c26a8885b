// __NAME__: passes packets of at least minLength bytes, counting them; drops shorter ones.
// Documentation: __NAME__.ts. The element API: pktgraph's native/element.h
// (`pktgraph plugin-config --include` prints where it is) and docs/writing-elements.md.
#include "element.h"

namespace __LIB__ {

class __NAME__ final : public pg::Element {
 public:
  // Every field arrives checked against the descriptor, defaults filled in.
  void configure(const pg::Config& conf) override {
    min_length_ = uint32_t(conf.integer("minLength"));
    c_packets_ = counter("packets");
    c_bytes_ = counter("bytes");
    c_short_ = counter("drops_short");
  }

  // A batch at a time: no allocation, lock or system call per packet.
  void push(int, pg::Batch& b) override {
    uint32_t kept = 0;
    uint64_t bytes = 0;
    for (uint32_t i = 0; i < b.count; i++) {
      pg::Packet* p = b.pkts[i];
      if (p->length() < min_length_) {
        drop(p);
        continue;
      }
      bytes += p->length();
      b.pkts[kept++] = p;
    }
    count(c_short_, b.count - kept);
    count(c_packets_, kept);
    count(c_bytes_, bytes);
    b.count = kept;
    output_push(0, b);
  }

  void add_handlers(std::vector<pg::Handler>& h) override {
    h.push_back({"reset", nullptr, [this](const std::string&) {
                   reset_counter(c_packets_);
                   reset_counter(c_bytes_);
                   reset_counter(c_short_);
                 }, /*exclusive=*/true});
  }

 private:
  uint32_t min_length_ = 0;
  uint32_t c_packets_ = 0, c_bytes_ = 0, c_short_ = 0;
};

PG_ELEMENT(__NAME__);

}  // namespace __LIB__
