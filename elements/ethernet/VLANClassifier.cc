// VLANClassifier: sends each frame to the output of its VLAN id. Documentation:
// VLANClassifier.ts.
#include <memory>

#include "batch_split.h"
#include "element.h"

namespace pg {

class VLANClassifier final : public Element {
 public:
  void configure(const Config& conf) override {
    // Item counts and ranges are the descriptor's, checked by the getters.
    const std::vector<std::vector<int64_t>> vlans = conf.integer_lists("vlans", 4095);  // indexes table_
    const uint32_t n = uint32_t(vlans.size());
    const bool drop_unlisted = conf.string("unlisted") == "drop";  // or "output" (the getter checks)
    unlisted_ = drop_unlisted ? kDrop : n;
    table_ = std::make_unique<uint16_t[]>(4096);
    for (uint32_t i = 0; i < 4096; i++) table_[i] = uint16_t(unlisted_);
    for (uint32_t i = 0; i < n; i++)
      for (int64_t id : vlans[i]) {
        if (id < 0) throw ConfigError("config field 'vlans' item " + std::to_string(i) + ": a VLAN id is at least 0 (the engine's table)");
        if (table_[id] != unlisted_) throw ConfigError("config field 'vlans': VLAN " + std::to_string(id) + " is listed twice");
        table_[id] = uint16_t(i);
      }
    from_anno_ = conf.string("source") == "annotation";  // or "frame" (the getter checks)
    const std::vector<int64_t> tpids = conf.integers("tpids", 0xffff);
    if (tpids.size() > 4) throw ConfigError("config field 'tpids' lists " + std::to_string(tpids.size()) + " EtherTypes; the engine takes at most 4");
    ntpids_ = 0;
    for (int64_t t : tpids) tpids_[ntpids_++] = uint16_t(t);
    const int64_t native = conf.bounded("nativeVlan", 4095);  // indexes table_
    untagged_ = native < 0 ? unlisted_ : table_[native];
    outputs_needed_ = n + (drop_unlisted ? 0 : 1);
    c_short_ = counter("drops_short");
    c_unlisted_ = counter("drops_unlisted");
  }

  void initialize() override {
    if (uint32_t(noutputs()) != outputs_needed_)
      throw ConfigError("has " + std::to_string(noutputs()) + " outputs but its vlans and unlisted need " + std::to_string(outputs_needed_));
  }

  void push(int, Batch& b) override {
    uint32_t out[kMaxBatch];
    Packet* dead[kMaxBatch];
    uint32_t keep = 0, nshort = 0, nunlisted = 0;
    for (uint32_t i = 0; i < b.count; i++) {
      Packet* p = b.pkts[i];
      const uint32_t o = classify(p);
      if (o < kDrop) {
        out[keep] = o;
        b.pkts[keep++] = p;
      } else {
        dead[nshort + nunlisted] = p;
        (o == kShort ? nshort : nunlisted)++;
      }
    }
    b.count = keep;
    if (nshort + nunlisted) {
      pool().free(dead, nshort + nunlisted);
      if (nshort) count(c_short_, nshort);
      if (nunlisted) count(c_unlisted_, nunlisted);
    }
    split_push(b, out, outputs_needed_, [this](uint32_t port, Batch& sub) { output_push(int(port), sub); });
  }

 private:
  static constexpr uint32_t kDrop = 0xffff, kShort = 0x10000;  // outputs are at most 4096

  // The output for p, or kShort / kDrop.
  uint32_t classify(const Packet* p) const {
    if (from_anno_) return (p->anno().flags & kVlanPresent) ? table_[p->anno().vlan_tci & 0xfff] : untagged_;
    if (p->length() < 14) return kShort;
    const uint8_t* d = p->data();
    const uint16_t type = uint16_t(d[12] << 8 | d[13]);
    bool tagged = false;
    for (uint32_t t = 0; t < ntpids_; t++) tagged |= type == tpids_[t];
    if (!tagged) return untagged_;
    if (p->length() < 18) return kShort;
    return table_[(d[14] & 0x0f) << 8 | d[15]];
  }

  std::unique_ptr<uint16_t[]> table_;  // VLAN id -> output (or kDrop); 8 KiB
  uint32_t unlisted_ = 0, untagged_ = 0, outputs_needed_ = 0;
  uint16_t tpids_[4] = {};
  uint32_t ntpids_ = 0;
  bool from_anno_ = false;
  uint32_t c_short_ = 0, c_unlisted_ = 0;
};

PG_ELEMENT(VLANClassifier);

}  // namespace pg
