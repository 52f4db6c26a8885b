// HashSwitch: sends each packet to the output chosen by a hash of some of its bytes.
// Documentation: HashSwitch.ts.
#include "batch_split.h"
#include "element.h"

namespace pg {

class HashSwitch final : public Element {
 public:
  void configure(const Config& conf) override {
    offset_ = uint32_t(conf.integer("offset"));
    length_ = uint32_t(conf.integer("length"));
    c_drops_ = counter("drops_short");
  }

  void push(int, Batch& b) override {
    const uint32_t nout = uint32_t(noutputs());
    const uint32_t need = offset_ + length_;
    uint32_t out[kMaxBatch];
    Packet* gone[kMaxBatch];
    uint32_t kept = 0, dropped = 0;
    for (uint32_t i = 0; i < b.count; i++) {
      Packet* p = b.pkts[i];
      if (p->length() < need) {
        gone[dropped++] = p;
        continue;
      }
      b.pkts[kept] = p;
      out[kept++] = uint32_t(hash(p->data() + offset_, length_) % nout);
    }
    b.count = kept;
    if (dropped) {
      pool().free(gone, dropped);
      count(c_drops_, dropped);
    }
    split_push(b, out, nout, [this](uint32_t port, Batch& sub) { output_push(int(port), sub); });
  }

  // 64-bit FNV-1a over the bytes, then a multiply-xorshift finaliser so that the low
  // bits (what `mod n` keeps) depend on every input byte.
  static uint64_t hash(const uint8_t* d, uint32_t n) {
    uint64_t h = 0xcbf29ce484222325ull;
    for (uint32_t i = 0; i < n; i++) {
      h ^= d[i];
      h *= 0x100000001b3ull;
    }
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    return h;
  }

 private:
  uint32_t offset_ = 0, length_ = 1;
  uint32_t c_drops_ = 0;
};

PG_ELEMENT(HashSwitch);

}  // namespace pg
