// ICMPPingResponder: turns ICMP echo requests into echo replies in place.
// Documentation: ICMPPingResponder.ts.
#include "batch_split.h"
#include "ip_util.h"

namespace pg {

class ICMPPingResponder final : public Element {
 public:
  void configure(const Config&) override {
    c_replies_ = counter("replies");
    c_not_echo_dropped_ = counter("drops_not_echo");
    c_malformed_ = counter("drops_malformed");
    c_not_echo_ = counter("not_echo");
  }

  void push(int, Batch& b) override {
    Packet* dead[kMaxBatch];
    uint32_t out[kMaxBatch];
    uint32_t ndead = 0, nmalformed = 0, nnot = 0, nreplies = 0, keep = 0;
    const bool have_other = noutputs() > 1;
    for (uint32_t i = 0; i < b.count; i++) {
      Packet* p = b.pkts[i];
      switch (respond(p)) {
        case Verdict::Reply:
          nreplies++;
          out[keep] = 0;
          b.pkts[keep++] = p;
          break;
        case Verdict::NotEcho:
          nnot++;
          if (have_other) {
            out[keep] = 1;
            b.pkts[keep++] = p;
          } else {
            dead[ndead++] = p;
          }
          break;
        case Verdict::Malformed:
          nmalformed++;
          dead[ndead++] = p;
          break;
      }
    }
    b.count = keep;
    if (ndead) pool().free(dead, ndead);
    if (nreplies) count(c_replies_, nreplies);
    if (nmalformed) count(c_malformed_, nmalformed);
    if (nnot) count(have_other ? c_not_echo_ : c_not_echo_dropped_, nnot);
    if (!keep) return;
    if (have_other && nnot)
      split_push(b, out, 2, [this](uint32_t port, Batch& sub) { output_push(int(port), sub); });
    else
      output_push(0, b);
  }

 private:
  enum class Verdict : uint8_t { Reply, NotEcho, Malformed };

  static Verdict respond(Packet* p) {
    uint8_t* ip = ip::network_header_20(p);
    if (!ip) return Verdict::Malformed;
    const uint32_t hlen = uint32_t(ip[0] & 15) * 4;
    const uint32_t total = ip::load_be16(ip + 2);
    if ((ip[0] >> 4) != 4 || hlen < 20 || total < hlen || total > uint32_t(p->end_data() - ip)) return Verdict::Malformed;
    if (ip[9] != 1) return Verdict::NotEcho;                   // not ICMP
    if (ip::load_be16(ip + 6) & 0x3fff) return Verdict::NotEcho;  // a fragment (MF or offset)
    if (total - hlen < 8) return Verdict::Malformed;            // no complete ICMP header
    uint8_t* icmp = ip + hlen;
    if (icmp[0] != 8) return Verdict::NotEcho;

    // ICMP: type 8 -> 0, checksum updated incrementally (a wrong one stays wrong).
    const uint16_t type_before = ip::load16(icmp);
    icmp[0] = 0;
    uint16_t ck = ip::update16(ip::load16(icmp + 2), type_before, ip::load16(icmp));
    // Eqn. 3 yields 0x0000 where the data sums to one's-complement zero; for a message that is
    // all zero bytes (type 0, code 0, identifier 0, sequence 0, no data) the right checksum is
    // 0xffff. Rare, so the scan is cheap.
    if (ck == 0 && all_zero(icmp, total - hlen)) ck = 0xffff;
    ip::store16(icmp + 2, ck);
    // IP: swap the addresses (the one's-complement sum does not change), TTL 64.
    uint8_t a[4];
    std::memcpy(a, ip + 12, 4);
    std::memmove(ip + 12, ip + 16, 4);
    std::memcpy(ip + 16, a, 4);
    const uint16_t ttl_before = ip::load16(ip + 8);
    ip[8] = kReplyTTL;
    ip::store16(ip + 10, ip::update16(ip::load16(ip + 10), ttl_before, ip::load16(ip + 8)));
    std::memcpy(&p->anno().dst_ip4, ip + 16, 4);
    return Verdict::Reply;
  }

  // Whether the ICMP message of `len` bytes at m is zero apart from its checksum.
  static bool all_zero(const uint8_t* m, uint32_t len) {
    for (uint32_t i = 0; i < len; i++)
      if (m[i] && i != 2 && i != 3) return false;
    return true;
  }

  static constexpr uint8_t kReplyTTL = 64;
  uint32_t c_replies_ = 0, c_not_echo_dropped_ = 0, c_malformed_ = 0, c_not_echo_ = 0;
};

PG_ELEMENT(ICMPPingResponder);

}  // namespace pg
