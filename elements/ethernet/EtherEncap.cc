// EtherEncap: prepends a fixed 14-byte Ethernet header. Documentation: EtherEncap.ts.
#include "element.h"

namespace pg {

class EtherEncap final : public Element {
 public:
  const char* port_count() const override { return "1/1"; }
  const char* processing() const override { return "a/a"; }

  void configure(const Config& conf) override {
    std::vector<uint8_t> dst = conf.hex_bytes("dst"), src = conf.hex_bytes("src");
    if (dst.size() != 6) throw ConfigError("dst: an Ethernet address has 6 bytes");
    if (src.size() != 6) throw ConfigError("src: an Ethernet address has 6 bytes");
    const uint32_t type = uint32_t(conf.integer("type", 0, 0xffff));
    std::memcpy(header_, dst.data(), 6);
    std::memcpy(header_ + 6, src.data(), 6);
    header_[12] = uint8_t(type >> 8);
    header_[13] = uint8_t(type);
    c_no_headroom_ = counter("drops_no_headroom");
  }

  void push(int, Batch& b) override {
    process(b, 0);
    output_push(0, b);
  }

  uint32_t pull(int, Batch& b, uint32_t max) override {
    uint32_t first = b.count;
    input_pull(0, b, max);
    process(b, first);
    return b.count - first;
  }

 private:
  void process(Batch& b, uint32_t first) {
    Packet* dead[kMaxBatch];
    uint32_t ndead = 0, keep = first;
    for (uint32_t i = first; i < b.count; i++) {
      Packet* p = b.pkts[i];
      if (!p->push(14)) {
        dead[ndead++] = p;
        continue;
      }
      std::memcpy(p->data(), header_, 14);
      p->set_mac_header(p->data());
      b.pkts[keep++] = p;
    }
    b.count = keep;
    if (ndead) {
      pool().free(dead, ndead);
      count(c_no_headroom_, ndead);
    }
  }

  uint8_t header_[14] = {};
  uint32_t c_no_headroom_ = 0;
};

PG_ELEMENT(EtherEncap);

}  // namespace pg
