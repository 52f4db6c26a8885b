// SRv6Encap: RFC 8986 H.Encaps and H.Encaps.Red. Documentation: SRv6Encap.ts.
#include <cstring>
#include <vector>

#include "element.h"
#include "srh.h"

namespace srv6 {

using namespace pg;

class SRv6Encap final : public Element {
 public:
  void configure(const Config& conf) override {
    const json::Value& segs = conf.checked("segments");
    const bool reduced = conf.boolean("reduced");
    const uint32_t n = uint32_t(segs.as_array().size());
    std::vector<uint8_t> sids(n * kSid);
    for (uint32_t i = 0; i < n; i++)
      typed_ipv6(segs.as_array()[i], "config field 'segments." + std::to_string(i) + "'", &sids[i * kSid]);
    // H.Encaps.Red leaves the first SID out of the SRH (it is the destination address), and a
    // reduced policy of one segment needs no SRH at all (RFC 8986 5.2).
    const uint32_t listed = reduced ? n - 1 : n;
    srh_ = listed > 0;
    header_.assign(kIPv6Header + (srh_ ? kSrhFixed + kSid * listed : 0), 0);
    uint8_t* ip = header_.data();
    ip[0] = 0x60;
    ip[6] = srh_ ? kRouting : 0;  // the inner protocol is filled in per packet
    ip[7] = uint8_t(conf.integer("hopLimit"));
    conf.ipv6("src", ip + 8);
    std::memcpy(ip + 24, &sids[0], kSid);
    if (srh_) {
      uint8_t* srh = ip + kIPv6Header;
      srh[1] = uint8_t(2 * listed);
      srh[2] = kSrhType;
      srh[3] = uint8_t(n - 1);       // Segments Left
      srh[4] = uint8_t(listed - 1);  // Last Entry
      // Segment List[0] is the last segment of the path.
      for (uint32_t i = 0; i < listed; i++) std::memcpy(srh + kSrhFixed + kSid * i, &sids[(n - 1 - i) * kSid], kSid);
    }
    c_packets_ = counter("packets");
    c_not_ip_ = counter("drops_not_ip");
    c_short_ = counter("drops_short");
    c_headroom_ = counter("drops_headroom");
  }

  void push(int, Batch& b) override {
    uint32_t kept = 0;
    for (uint32_t i = 0; i < b.count; i++) {
      Packet* p = b.pkts[i];
      if (encap(p)) b.pkts[kept++] = p;
      else drop(p);
    }
    count(c_packets_, kept);
    b.count = kept;
    output_push(0, b);
  }

 private:
  bool encap(Packet* p) {
    const uint8_t* in = p->data();
    const uint32_t len = p->length();
    uint32_t inner;
    uint8_t proto, tc;
    if (len >= 20 && (in[0] >> 4) == 4) {
      inner = uint32_t(in[2]) << 8 | in[3];
      proto = kIPv4;
      tc = in[1];
    } else if (len >= kIPv6Header && (in[0] >> 4) == 6) {
      inner = kIPv6Header + (uint32_t(in[4]) << 8 | in[5]);
      proto = kIPv6;
      tc = uint8_t(in[0] << 4 | in[1] >> 4);
    } else {
      count(len < 20 ? c_short_ : c_not_ip_);
      return false;
    }
    // The inner length is its header's (a frame's Ethernet padding is not part of it).
    if (inner > len || inner < 20) {
      count(c_short_);
      return false;
    }
    p->take(len - inner);
    const uint32_t hl = uint32_t(header_.size());
    // The outer payload length is 16 bits (no jumbograms); the headroom check comes first
    // since buffers are far smaller.
    if (!p->push(hl) || hl - kIPv6Header + inner > 0xffff) {
      count(c_headroom_);
      return false;
    }
    uint8_t* ip = p->data();
    std::memcpy(ip, header_.data(), hl);
    // The inner packet's traffic class goes to the outer header (RFC 8986 5.1: per local
    // policy; the kernel's seg6 does the same).
    ip[0] = uint8_t(0x60 | tc >> 4);
    ip[1] = uint8_t(tc << 4);
    const uint32_t payload = hl - kIPv6Header + inner;
    ip[4] = uint8_t(payload >> 8);
    ip[5] = uint8_t(payload);
    if (srh_) ip[kIPv6Header] = proto;
    else ip[6] = proto;
    p->set_network_header(ip);
    return true;
  }

  std::vector<uint8_t> header_;  // the outer IPv6 header and SRH, made once in configure
  bool srh_ = false;
  uint32_t c_packets_ = 0, c_not_ip_ = 0, c_short_ = 0, c_headroom_ = 0;
};

PG_ELEMENT(SRv6Encap);

}  // namespace srv6
