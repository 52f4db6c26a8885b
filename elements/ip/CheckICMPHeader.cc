// CheckICMPHeader: checks the length and checksum of ICMP messages over IPv4.
// Documentation: CheckICMPHeader.ts.
#include "element.h"
#include "ip_util.h"

namespace pg {

class CheckICMPHeader final : public Element {
 public:
  void configure(const Config&) override {
    // Reason counters first, in Reason order (their index is the reason), as the descriptor declares them.
    uint32_t reason = 0;
    for (const char* n : {"drops_no_header", "drops_not_icmp", "drops_fragment", "drops_bad_length", "drops_bad_checksum"})
      if (counter(n) != reason++) throw ConfigError(std::string("counter '") + n + "' must be number " + std::to_string(reason) + " in CheckICMPHeader.ts's counters (its index is the reason)");
    c_rejected_ = counter("rejected");
  }

  void push(int, Batch& b) override {
    check(b, 0);
    output_push(0, b);
  }

  uint32_t pull(int, Batch& b, uint32_t max) override {
    const uint32_t first = b.count;
    input_pull(0, b, max);
    check(b, first);
    return b.count - first;
  }

 private:
  enum Reason : uint32_t { kNoHeader, kNotIcmp, kFragment, kBadLength, kBadChecksum, kReasons, kOk = kReasons };

  static Reason reason(Packet* p) {
    ip::L4Segment s;
    switch (ip::l4_segment(p, 1, 8, s)) {
      case ip::L4Status::Ok: break;
      case ip::L4Status::NoHeader:
      case ip::L4Status::BadHeader: return kNoHeader;
      case ip::L4Status::WrongProtocol: return kNotIcmp;
      case ip::L4Status::Fragment: return kFragment;
      case ip::L4Status::Short: return kBadLength;
    }
    // Per-type lengths (RFC 792): errors quote an IPv4 header and 8 bytes, timestamps are 20
    // bytes, information requests and replies 8.
    switch (s.l4[0]) {
      case 3: case 4: case 5: case 11: case 12:
        if (s.length < 8 + 28) return kBadLength;
        break;
      case 13: case 14:
        if (s.length != 20) return kBadLength;
        break;
      case 15: case 16:
        if (s.length != 8) return kBadLength;
        break;
      default: break;
    }
    return ip::fold(ip::sum_bytes(s.l4, s.length)) == 0xffff ? kOk : kBadChecksum;
  }

  void check(Batch& b, uint32_t first) {
    Batch bad;
    uint32_t reasons[kReasons] = {};
    uint32_t keep = first;
    for (uint32_t i = first; i < b.count; i++) {
      Packet* p = b.pkts[i];
      const Reason r = reason(p);
      if (r == kOk) {
        b.pkts[keep++] = p;
      } else {
        reasons[r]++;
        bad.add(p);
      }
    }
    b.count = keep;
    if (bad.empty()) return;
    if (noutputs() > 1) {
      count(c_rejected_, bad.count);
      output_push(1, bad);
      return;
    }
    for (uint32_t r = 0; r < kReasons; r++)
      if (reasons[r]) count(r, reasons[r]);
    drop(bad);
  }

  uint32_t c_rejected_ = 0;
};

PG_ELEMENT(CheckICMPHeader);

}  // namespace pg
