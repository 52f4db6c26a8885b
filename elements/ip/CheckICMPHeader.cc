// CheckICMPHeader: checks the length and checksum of ICMP messages over IPv4.
// Documentation: CheckICMPHeader.ts.
#include "ip_util.h"
#include "per_packet.h"

namespace pg {

class CheckICMPHeader final : public PerPacketElement<CheckICMPHeader> {
 public:
  static constexpr bool kRejects = true;

  void configure(const Config&) override {
    const uint32_t rejected = counter("rejected");
    uint32_t i = 0;
    for (const char* n : {"drops_no_header", "drops_not_icmp", "drops_fragment", "drops_bad_length", "drops_bad_checksum"})
      verdicts_[i++] = reject(counter(n), rejected);
  }

  uint32_t action(Packet* p) const {
    const Reason r = reason(p);
    return r == kOk ? kKeep : verdicts_[r];
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

  uint32_t verdicts_[kReasons] = {};
};

PG_ELEMENT(CheckICMPHeader);

}  // namespace pg
