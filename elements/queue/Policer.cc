// Policer: RFC 2697 (srTCM) and RFC 2698 (trTCM) three-colour metering, with an action and
// an output per colour. Documentation: Policer.ts.
#include <algorithm>
#include <string>

#include "batch_split.h"
#include "element.h"
#include "ip_util.h"
#include "spin_lock.h"
#include "token_bucket.h"

namespace pg {

class Policer final : public Element {
 public:
  enum Colour : uint8_t { kGreen, kYellow, kRed };
  enum Action : uint8_t { kPass, kDrop, kPaint, kDscp };

  void configure(const Config& conf) override {
    Params p;
    p.trtcm = conf.string("mode") == "trtcm";
    p.cir = uint64_t(conf.integer("cir"));
    p.pir = uint64_t(conf.integer("pir"));
    p.cbs = uint64_t(conf.integer("cbs"));
    p.ebs = uint64_t(conf.integer("ebs"));
    p.pbs = uint64_t(conf.integer("pbs"));
    p.aware = conf.boolean("colorAware");
    for (int c = 0; c < 3; c++) {
      p.action[c] = action_of(conf.string(kActionField[c]));
      p.dscp[c] = uint8_t(conf.integer(kDscpField[c]));
    }
    if (std::string e = p.problem(); !e.empty()) throw ConfigError(e);
    params_ = p;
    restart();
    c_green_packets_ = counter("green_packets");
    c_green_bytes_ = counter("green_bytes");
    c_yellow_packets_ = counter("yellow_packets");
    c_yellow_bytes_ = counter("yellow_bytes");
    c_red_packets_ = counter("red_packets");
    c_red_bytes_ = counter("red_bytes");
    c_drops_green_ = counter("drops_green");
    c_drops_yellow_ = counter("drops_yellow");
    c_drops_red_ = counter("drops_red");
    c_drops_no_header_ = counter("drops_no_header");
  }

  void push(int, Batch& b) override {
    const uint32_t n = b.count;
    uint8_t colour[kMaxBatch];
    uint32_t length[kMaxBatch];
    for (uint32_t i = 0; i < n; i++) length[i] = metered_length(b.pkts[i]);
    Params p;
    {
      // One lock per batch for every worker feeding this element: the buckets are shared.
      SpinLock::Guard g(lock_);
      p = params_;
      refill(now_ns());
      if (p.trtcm)
        meter_trtcm(b, length, colour, p.aware);
      else
        meter_srtcm(b, length, colour, p.aware);
    }
    uint64_t packets[3] = {}, bytes[3] = {}, dropped[3] = {}, no_header = 0;
    uint32_t out[kMaxBatch], kept = 0, ndead = 0;
    Packet* dead[kMaxBatch];
    const uint32_t last_out = uint32_t(noutputs() - 1);
    for (uint32_t i = 0; i < n; i++) {
      Packet* pkt = b.pkts[i];
      const uint8_t c = colour[i];
      packets[c]++;
      bytes[c] += length[i];
      switch (p.action[c]) {
        case kPass:
          break;
        case kDrop:
          dead[ndead++] = pkt;
          dropped[c]++;
          continue;
        case kPaint:
          pkt->anno().paint = c;
          break;
        case kDscp:
          if (!set_dscp(pkt, p.dscp[c])) {
            dead[ndead++] = pkt;
            no_header++;
            continue;
          }
          break;
      }
      b.pkts[kept] = pkt;
      out[kept++] = std::min<uint32_t>(c, last_out);
    }
    b.count = kept;
    if (ndead) pool().free(dead, ndead);
    const uint32_t cp[3] = {c_green_packets_, c_yellow_packets_, c_red_packets_};
    const uint32_t cb[3] = {c_green_bytes_, c_yellow_bytes_, c_red_bytes_};
    const uint32_t cd[3] = {c_drops_green_, c_drops_yellow_, c_drops_red_};
    for (int c = 0; c < 3; c++) {
      if (!packets[c]) continue;
      count(cp[c], packets[c]);
      count(cb[c], bytes[c]);
      if (dropped[c]) count(cd[c], dropped[c]);
    }
    if (no_header) count(c_drops_no_header_, no_header);
    if (last_out == 0)
      output_push(0, b);
    else
      split_push(b, out, last_out + 1, [this](uint32_t port, Batch& sub) { output_push(int(port), sub); });
  }

  void add_handlers(std::vector<Handler>& h) override {
    h.push_back({"mode", [this] { return std::string(read().trtcm ? "trtcm" : "srtcm"); },
                 [this](const std::string& v) {
                   if (v != "srtcm" && v != "trtcm") throw HandlerError("mode: '" + v + "' is not 'srtcm' or 'trtcm'");
                   update([&](Params& p) { p.trtcm = v == "trtcm"; });
                 }});
    field_handler(h, "cir", &Params::cir);
    field_handler(h, "pir", &Params::pir);
    field_handler(h, "cbs", &Params::cbs);
    field_handler(h, "ebs", &Params::ebs);
    field_handler(h, "pbs", &Params::pbs);
    h.push_back({"colorAware", [this] { return std::string(read().aware ? "true" : "false"); },
                 [this](const std::string& v) {
                   const bool aware = parse_bool(v, "colorAware");
                   update([&](Params& p) { p.aware = aware; });
                 }});
    for (int c = 0; c < 3; c++) {
      h.push_back({kActionField[c], [this, c] { return std::string(kActionName[read().action[c]]); },
                   [this, c](const std::string& v) {
                     const Action a = action_of(v);
                     if (a == kBadAction) throw HandlerError(std::string(kActionField[c]) + ": '" + v + "' is not 'pass', 'drop', 'paint' or 'dscp'");
                     update([&](Params& p) { p.action[c] = a; });
                   }});
      h.push_back({kDscpField[c], [this, c] { return std::to_string(read().dscp[c]); },
                   [this, c](const std::string& v) {
                     const uint8_t d = uint8_t(parse_field_integer(v, kDscpField[c]));
                     update([&](Params& p) { p.dscp[c] = d; });
                   }});
    }
    h.push_back({"tokens", [this] {
                   SpinLock::Guard g(lock_);
                   return format_number(double(c_ / kUnitsPerByte)) + " " + format_number(double(e_ / kUnitsPerByte));
                 },
                 nullptr});
  }

 private:
  // Credit is counted in units of 1e-9 bit: a rate of R bit/s adds exactly R units per ns,
  // and a byte is 8e9 units, so accrual and packet costs are whole numbers.
  static constexpr uint64_t kUnitsPerByte = 8'000'000'000ull;
  static constexpr Action kBadAction = Action(255);
  static constexpr const char* kActionField[3] = {"greenAction", "yellowAction", "redAction"};
  static constexpr const char* kDscpField[3] = {"greenDscp", "yellowDscp", "redDscp"};
  static constexpr const char* kActionName[4] = {"pass", "drop", "paint", "dscp"};

  struct Params {
    bool trtcm = false, aware = false;
    uint64_t cir = 0, pir = 0;         // bit/s
    uint64_t cbs = 0, ebs = 0, pbs = 0;  // bytes
    Action action[3] = {kPass, kPass, kDrop};
    uint8_t dscp[3] = {};

    // The descriptor's cross-field check (Policer.ts), again for plans and handler writes.
    std::string problem() const {
      if (!trtcm) return cbs == 0 && ebs == 0 ? "cbs and ebs are both 0: RFC 2697 needs at least one above 0" : "";
      if (pir < cir) return "pir (" + std::to_string(pir) + " bit/s) is below cir (" + std::to_string(cir) + " bit/s): mode 'trtcm' needs pir >= cir (RFC 2698)";
      if (cbs == 0) return "cbs is 0: mode 'trtcm' needs a committed burst above 0 (RFC 2698)";
      if (pbs == 0) return "pbs is 0: mode 'trtcm' needs a peak burst above 0 (RFC 2698)";
      return "";
    }
    // The second bucket: E (srTCM) or P (trTCM).
    uint64_t depth2() const { return (trtcm ? pbs : ebs) * kUnitsPerByte; }
  };

  static Action action_of(const std::string& s) {
    for (int a = 0; a < 4; a++)
      if (s == kActionName[a]) return Action(a);
    return kBadAction;
  }

  // The length the RFCs meter: the IP packet, from the network header when it is set.
  static uint32_t metered_length(Packet* p) {
    const uint8_t* nh = p->network_header();
    return nh && nh >= p->data() && nh <= p->end_data() ? uint32_t(p->end_data() - nh) : p->length();
  }

  // Sets the DSCP of the IPv4 or IPv6 header at the network-header annotation, keeping ECN.
  static bool set_dscp(Packet* p, uint8_t dscp) {
    uint8_t* ip = ip::network_header_20(p);
    if (!ip) return false;
    if (ip[0] >> 4 == 4) {
      const uint8_t tos = uint8_t(dscp << 2 | (ip[1] & 3));
      if (tos != ip[1]) {
        const uint16_t before = ip::load16(ip);
        ip[1] = tos;
        ip::store16(ip + 10, ip::update16(ip::load16(ip + 10), before, ip::load16(ip)));
      }
      return true;
    }
    if (ip[0] >> 4 == 6 && ip + 40 <= p->end_data()) {
      // Traffic class: the low nibble of byte 0 and the high nibble of byte 1.
      const uint8_t tc = uint8_t(dscp << 2 | ((ip[1] >> 4) & 3));
      ip[0] = uint8_t(0x60 | tc >> 4);
      ip[1] = uint8_t((tc & 0xf) << 4 | (ip[1] & 0xf));
      return true;
    }
    return false;
  }

  // Both buckets full (the RFCs' start; also after a change of mode). Lock held or unshared.
  void restart() {
    c_ = params_.cbs * kUnitsPerByte;
    e_ = params_.depth2();
  }

  // Credit for the time since the previous batch (none if another worker's batch was later:
  // workers read the clock at the top of their rounds, so their times interleave slightly).
  void refill(uint64_t now) {
    if (now <= last_ns_) return;
    const uint64_t dt = now - last_ns_;
    last_ns_ = now;
    const uint64_t dc = params_.cbs * kUnitsPerByte, d2 = params_.depth2();
    const uint64_t over = ExactBucket::fill(c_, dc, ExactBucket::credit(params_.cir, dt));
    if (params_.trtcm)
      ExactBucket::fill(e_, d2, ExactBucket::credit(params_.pir, dt));
    else
      ExactBucket::fill(e_, d2, over);  // srTCM: what overflows C fills E
  }

  // RFC 2697 section 4 (colour-blind, and colour-aware when `aware`).
  void meter_srtcm(const Batch& b, const uint32_t* length, uint8_t* colour, bool aware) {
    for (uint32_t i = 0; i < b.count; i++) {
      const uint64_t cost = length[i] * kUnitsPerByte;
      const uint8_t pre = aware ? std::min<uint8_t>(b.pkts[i]->anno().paint, kRed) : uint8_t(kGreen);
      if (pre == kGreen && c_ >= cost) {
        c_ -= cost;
        colour[i] = kGreen;
      } else if (pre != kRed && e_ >= cost) {
        e_ -= cost;
        colour[i] = kYellow;
      } else {
        colour[i] = kRed;
      }
    }
  }

  // RFC 2698 section 3 (colour-blind, and colour-aware when `aware`); e_ is the P bucket.
  void meter_trtcm(const Batch& b, const uint32_t* length, uint8_t* colour, bool aware) {
    for (uint32_t i = 0; i < b.count; i++) {
      const uint64_t cost = length[i] * kUnitsPerByte;
      const uint8_t pre = aware ? std::min<uint8_t>(b.pkts[i]->anno().paint, kRed) : uint8_t(kGreen);
      if (pre == kRed || e_ < cost) {
        colour[i] = kRed;
      } else if (pre == kYellow || c_ < cost) {
        e_ -= cost;
        colour[i] = kYellow;
      } else {
        e_ -= cost;
        c_ -= cost;
        colour[i] = kGreen;
      }
    }
  }

  Params read() {
    SpinLock::Guard g(lock_);
    return params_;
  }

  // A handler's change, checked as the config is; a smaller burst cuts its bucket, a new mode
  // starts both buckets full.
  template <class Change>
  void update(Change&& change) {
    SpinLock::Guard g(lock_);
    Params p = params_;
    change(p);
    if (std::string e = p.problem(); !e.empty()) throw HandlerError(e);
    const bool mode_changed = p.trtcm != params_.trtcm;
    params_ = p;
    if (mode_changed) {
      restart();
      return;
    }
    c_ = std::min(c_, p.cbs * kUnitsPerByte);
    e_ = std::min(e_, p.depth2());
  }

  void field_handler(std::vector<Handler>& h, const char* field, uint64_t Params::*member) {
    h.push_back({field, [this, member] { return std::to_string(read().*member); },
                 [this, field, member](const std::string& v) {
                   const uint64_t x = uint64_t(parse_field_integer(v, field));
                   update([&](Params& p) { p.*member = x; });
                 }});
  }

  SpinLock lock_;
  // Under lock_: the parameters, the buckets (credit units) and the time of the last batch.
  Params params_;
  uint64_t c_ = 0, e_ = 0;  // C, and E (srTCM) or P (trTCM)
  uint64_t last_ns_ = 0;    // 0: the first batch finds both buckets full
  uint32_t c_green_packets_ = 0, c_green_bytes_ = 0, c_yellow_packets_ = 0, c_yellow_bytes_ = 0, c_red_packets_ = 0,
           c_red_bytes_ = 0, c_drops_green_ = 0, c_drops_yellow_ = 0, c_drops_red_ = 0, c_drops_no_header_ = 0;
};

PG_ELEMENT(Policer);

}  // namespace pg
