// IPGWOptions: fills in the Record Route and Timestamp options a router must process
// (RFC 791, RFC 1812 5.2.4); bad options go to output 1 with a parameter-problem pointer.
// Documentation: IPGWOptions.ts. A PerPacketElement (native/per_packet.h): a bad packet is
// rejected (output 1 if connected, else dropped), the base does the batch loop.
#include <arpa/inet.h>

#include <cstring>
#include <string>
#include <vector>

#include "ip_util.h"
#include "per_packet.h"

namespace pg {

namespace {
constexpr uint8_t kEOL = 0, kNOP = 1, kRR = 7, kTS = 68;
constexpr uint32_t kOk = ~0u;        // options fine (maybe rewritten)
constexpr uint32_t kNoHeader = ~1u;  // no usable header
}  // namespace

class IPGWOptions final : public PerPacketElement<IPGWOptions> {
 public:
  static constexpr bool kRejects = true;  // bad options: output 1, or dropped

  void configure(const Config& conf) override {
    addrs_.push_back(conf.ipv4("address"));
    for (uint32_t a : conf.ipv4_list("otherAddresses")) addrs_.push_back(a);
    c_passed_ = int32_t(counter("packets"));
    c_rewritten_ = counter("rewritten");
    bad_ = reject(counter("drops_bad_options"), counter("bad_options"));
    c_no_header_ = counter("drops_no_header");
  }

  uint32_t action(Packet* p) {
    uint8_t* ip = ip::network_header_20(p);
    if (!ip) return c_no_header_;
    if (ip[0] == 0x45) return kKeep;  // no options: the common case, untouched
    return with_options(p, ip);
  }

 private:
  // Out of line, so that action() stays small enough to be inlined into the batch loop.
  [[gnu::noinline]] uint32_t with_options(Packet* p, uint8_t* ip) {
    bool rewritten = false;
    const uint32_t r = process(p, ip, rewritten);
    if (r == kNoHeader) return c_no_header_;
    if (r != kOk) {
      Annotations& a = p->anno();
      a.flags |= kParamProblem;
      a.user[kParamProblemByte] = uint8_t(r);
      return bad_;
    }
    if (rewritten) {
      const uint32_t hlen = uint32_t(ip[0] & 15) * 4;
      ip[10] = ip[11] = 0;
      ip::store16(ip + 10, ip::checksum(ip, hlen));
      count(c_rewritten_, 1);  // rare: only packets with options to fill in
    }
    return kKeep;
  }

  bool mine(const uint8_t* at) const {
    uint32_t v;
    std::memcpy(&v, at, 4);
    for (uint32_t a : addrs_)
      if (a == v) return true;
    return false;
  }

  // Walks the options of the header at ip: fills in Record Route and Timestamp. Returns kOk,
  // kNoHeader, or the offset (from the IP header) of the offending byte.
  uint32_t process(Packet* p, uint8_t* ip, bool& rewritten) const {
    const uint32_t hlen = uint32_t(ip[0] & 15) * 4;
    if ((ip[0] >> 4) != 4 || hlen < 20 || ip + hlen > p->end_data()) return kNoHeader;
    uint32_t i = 20;
    while (i < hlen) {
      const uint8_t type = ip[i];
      if (type == kEOL) break;
      if (type == kNOP) {
        i++;
        continue;
      }
      if (i + 1 >= hlen) return i;  // no room for the length byte: the option itself is bad
      const uint32_t len = ip[i + 1];
      if (len < 2 || i + len > hlen) return i + 1;
      if (type == kRR) {
        if (len < 3) return i + 1;
        const uint32_t ptr = ip[i + 2];
        if (ptr < 4) return i + 2;
        if (ptr + 3 <= len) {  // room left: record our address (RFC 791); full: forward as is
          std::memcpy(ip + i + ptr - 1, &addrs_[0], 4);
          ip[i + 2] = uint8_t(ptr + 4);
          rewritten = true;
        }
      } else if (type == kTS) {
        if (len < 4) return i + 1;
        const uint32_t ptr = ip[i + 2];
        const uint32_t flag = ip[i + 3] & 15, overflow = ip[i + 3] >> 4;
        if (ptr < 5) return i + 2;
        if (flag != 0 && flag != 1 && flag != 3) return i + 3;
        const uint32_t size = flag == 0 ? 4 : 8;
        if (ptr + size - 1 <= len) {
          // flag 3: only when the next prespecified address is one of ours.
          if (flag != 3 || mine(ip + i + ptr - 1)) {
            const uint32_t ms = uint32_t((wall_ns() / 1000000) % 86400000);  // the round's cached time
            uint8_t* slot = ip + i + ptr - 1;
            if (flag == 1) std::memcpy(slot, &addrs_[0], 4);
            if (flag != 0) slot += 4;  // flag 3: the prespecified address stays
            const uint32_t be = htonl(ms);
            std::memcpy(slot, &be, 4);
            ip[i + 2] = uint8_t(ptr + size);
            rewritten = true;
          }
        } else {
          // No room: count the hop in the overflow field; when that overflows too, the
          // datagram is bad (RFC 791).
          if (overflow == 15) return i + 3;
          ip[i + 3] = uint8_t((overflow + 1) << 4 | flag);
          rewritten = true;
        }
      }
      i += len;
    }
    return kOk;
  }

  std::vector<uint32_t> addrs_;  // network byte order; addrs_[0] is the one recorded
  uint32_t c_rewritten_ = 0, c_no_header_ = 0, bad_ = 0;
};

PG_ELEMENT(IPGWOptions);

}  // namespace pg
