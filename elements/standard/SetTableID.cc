// SetTableID: sets each packet's table_id annotation. Documentation: SetTableID.ts.
#include <atomic>

#include "per_packet.h"

namespace pg {

class SetTableID final : public PerPacketElement<SetTableID> {
 public:
  void configure(const Config& conf) override {
    table_.store(uint32_t(conf.integer("table")));
    offset_ = int32_t(conf.integer("offset"));
    c_short_ = counter("short");
  }

  uint32_t action(Packet* p) {
    uint32_t t = table_.load(std::memory_order_relaxed);
    if (offset_ >= 0) {
      if (p->length() >= uint32_t(offset_) + 2) {
        const uint8_t* d = p->data() + offset_;
        t += uint32_t(d[0]) << 8 | d[1];
      } else {
        count(c_short_);  // rare: counted one by one
      }
    }
    p->anno().table_id = t;
    return kKeep;
  }

  void add_handlers(std::vector<Handler>& h) override {
    h.push_back({"table", [this] { return std::to_string(table_.load()); },
                 [this](const std::string& v) { table_.store(uint32_t(parse_field_integer(v, "table"))); }});
  }

 private:
  std::atomic<uint32_t> table_{0};
  int32_t offset_ = -1;
  uint32_t c_short_ = 0;
};

PG_ELEMENT(SetTableID);

}  // namespace pg
