// ICMP6Error: builds an ICMPv6 error message (RFC 4443) about each input packet and frees
// the original. Documentation: ICMP6Error.ts.
#include <arpa/inet.h>

#include <atomic>
#include <cstring>
#include <string>

#include "ip_util.h"
#include "element.h"

namespace pg {

namespace {

constexpr uint32_t kIP6Header = 40, kICMP6Header = 8;
constexpr uint32_t kMaxError = 1280;  // RFC 4443 2.4 (c): the error must not exceed the minimum MTU

// The one's-complement sum of the IPv6 pseudo-header (RFC 8200 section 8.1) of the IPv6
// header at ip, for an upper-layer packet of `length` bytes with next header `nh`.
inline uint64_t err6_pseudo_sum(const uint8_t* ip, uint32_t length, uint8_t nh) {
  return ip::sum_bytes(ip + 8, 32) + ip::net16(uint16_t(length >> 16)) + ip::net16(uint16_t(length)) + ip::net16(nh);
}

inline bool all_zero16(const uint8_t* a) {
  uint64_t x, y;
  std::memcpy(&x, a, 8);
  std::memcpy(&y, a + 8, 8);
  return (x | y) == 0;
}

inline void put_be32(uint8_t* p, uint32_t v) {
  p[0] = uint8_t(v >> 24);
  p[1] = uint8_t(v >> 16);
  p[2] = uint8_t(v >> 8);
  p[3] = uint8_t(v);
}

}  // namespace

class ICMP6Error final : public Element {
 public:
  void configure(const Config& conf) override {
    conf.ipv6("src", src_);
    if (src_[0] == 0xff) throw ConfigError("config field 'src': " + format_ipv6(src_) + " is a multicast address; give the router's unicast address");
    if (all_zero16(src_)) throw ConfigError("config field 'src': :: is the unspecified address; give the router's unicast address");
    type_ = uint8_t(conf.integer("type"));
    code_ = uint8_t(conf.integer("code"));
    mtu_ = uint32_t(conf.integer("mtu"));
    pointer_ = uint32_t(conf.integer("pointer"));
    const uint64_t rate = uint64_t(conf.integer("rateLimit"));
    if (rate) {
      interval_ns_ = 1000000000ull / rate;
      tolerance_ns_ = (rate - 1) * interval_ns_;  // a bucket of `rate` tokens
    }
    c_errors_ = counter("errors");
    c_icmp_error_ = counter("suppressed_icmp_error");
    c_bad_source_ = counter("suppressed_bad_source");
    c_bad_destination_ = counter("suppressed_bad_destination");
    c_rate_ = counter("rate_limited");
    c_malformed_ = counter("drops_malformed");
    c_no_buffer_ = counter("drops_no_buffer");
  }

  void push(int, Batch& b) override {
    uint32_t want[kMaxBatch];
    uint32_t nwant = 0;
    uint32_t reasons[kMaxCounters] = {};
    for (uint32_t i = 0; i < b.count; i++) {
      const uint32_t r = classify(b.pkts[i]);
      if (r == kKeep)
        want[nwant++] = i;
      else
        reasons[r]++;
    }
    const uint32_t allowed = take_tokens(nwant);
    reasons[c_rate_] += nwant - allowed;

    Batch outb;
    if (allowed) {
      Packet* fresh[kMaxBatch];
      const uint32_t got = pool().alloc(fresh, allowed);
      for (uint32_t k = 0; k < got; k++) {
        if (build(b.pkts[want[k]], fresh[k])) {
          outb.add(fresh[k]);
        } else {
          reasons[c_no_buffer_]++;
          pool().free_one(fresh[k]);
        }
      }
      reasons[c_no_buffer_] += allowed - got;
    }
    drop(b);  // every original is freed
    for (uint32_t r = 0; r < kMaxCounters; r++)
      if (reasons[r]) count(r, reasons[r]);
    if (outb.count) {
      count(c_errors_, outb.count);
      output_push(0, outb);
    }
  }

 private:
  static constexpr uint32_t kKeep = ~0u;
  static constexpr uint32_t kMaxCounters = 8;

  // Up to n tokens from the bucket (generic cell rate algorithm: tat_ is the theoretical
  // arrival time of the next error; an error may go when tat_ is at most tolerance_ns_ ahead
  // of now). One compare-and-swap per batch, exact across threads.
  uint32_t take_tokens(uint32_t n) {
    if (n == 0 || interval_ns_ == 0) return n;
    const uint64_t now = now_ns();
    uint64_t tat = tat_.load(std::memory_order_relaxed);
    for (;;) {
      const uint64_t t0 = tat > now ? tat : now;
      const uint64_t ahead = t0 - now;
      if (ahead > tolerance_ns_) return 0;
      uint64_t k = (tolerance_ns_ - ahead) / interval_ns_ + 1;
      if (k > n) k = n;
      if (tat_.compare_exchange_weak(tat, t0 + k * interval_ns_, std::memory_order_relaxed)) return uint32_t(k);
    }
  }

  // kKeep when the packet deserves an error, else the counter it is dropped under.
  uint32_t classify(Packet* p) const {
    const uint8_t* ip = p->network_header();
    if (!ip || ip < p->data() || ip + kIP6Header > p->end_data()) return c_malformed_;
    const uint8_t* end = p->end_data();
    const uint32_t avail = uint32_t(end - ip);
    // An ICMPv6 error message? Walk the extension headers that may come before it.
    uint8_t nh = ip[6];
    uint32_t off = kIP6Header;
    for (int i = 0; i < 8; i++) {
      if (nh == 0 || nh == 43 || nh == 60) {  // hop-by-hop, routing, destination options
        if (off + 2 > avail) break;
        const uint8_t next = ip[off];
        off += (uint32_t(ip[off + 1]) + 1) * 8;
        nh = next;
      } else if (nh == 44) {  // fragment: only the first fragment shows the upper layer
        if (off + 8 > avail || (ip::load_be16(ip + off + 2) & 0xfff8)) break;
        nh = ip[off];
        off += 8;
      } else {
        break;
      }
    }
    if (nh == 58 && off < avail && ip[off] < 128) return c_icmp_error_;
    if (ip[8] == 0xff || all_zero16(ip + 8)) return c_bad_source_;
    // Nor about one sent to a multicast address, at the IP or the link level (RFC 4443 2.4 e),
    // except packet too big and parameter problem code 2.
    const bool multicast = ip[24] == 0xff || p->anno().packet_type == kBroadcast || p->anno().packet_type == kMulticast;
    if (multicast && type_ != 2 && !(type_ == 4 && code_ == 2)) return c_bad_destination_;
    return kKeep;
  }

  // Writes the error about p into q (a fresh packet). False if it does not fit.
  bool build(Packet* p, Packet* q) {
    const uint8_t* ip = p->network_header();
    const uint32_t avail = uint32_t(p->end_data() - ip);
    const uint32_t datagram = kIP6Header + ip::load_be16(ip + 4);
    uint32_t quote = datagram < avail ? datagram : avail;
    uint32_t room = q->capacity() - q->headroom();
    if (room > kMaxError) room = kMaxError;
    if (room < kIP6Header + kICMP6Header) return false;
    if (quote > room - kIP6Header - kICMP6Header) quote = room - kIP6Header - kICMP6Header;
    const uint32_t len = kIP6Header + kICMP6Header + quote;
    if (!q->set_length(len) || !ip::offsets_fit(q, q->data())) return false;
    uint8_t* h = q->data();
    const uint32_t plen = kICMP6Header + quote;
    h[0] = 0x60;
    h[1] = h[2] = h[3] = 0;
    h[4] = uint8_t(plen >> 8);
    h[5] = uint8_t(plen);
    h[6] = 58;
    h[7] = 64;
    std::memcpy(h + 8, src_, 16);
    std::memcpy(h + 24, ip + 8, 16);

    uint8_t* m = h + kIP6Header;
    m[0] = type_;
    m[1] = code_;
    m[2] = m[3] = 0;
    put_be32(m + 4, type_ == 2 ? mtu_ : type_ == 4 ? pointer_ : 0);
    std::memcpy(m + kICMP6Header, ip, quote);
    ip::store16(m + 2, ip::checksum(m, plen, err6_pseudo_sum(h, plen, 58)));

    Annotations& a = q->anno();
    a.timestamp_ns = p->anno().timestamp_ns;
    a.table_id = p->anno().table_id;
    std::memcpy(a.dst_ip6, h + 24, 16);
    q->set_network_header(h);
    q->set_transport_header(m);
    return true;
  }

  uint8_t src_[16] = {};
  uint8_t type_ = 0, code_ = 0;
  uint32_t mtu_ = 0, pointer_ = 0;
  uint64_t interval_ns_ = 0, tolerance_ns_ = 0;  // interval 0: no rate limit
  std::atomic<uint64_t> tat_{0};
  uint32_t c_errors_ = 0, c_icmp_error_ = 0, c_bad_source_ = 0, c_bad_destination_ = 0, c_rate_ = 0, c_malformed_ = 0,
           c_no_buffer_ = 0;
};

PG_ELEMENT(ICMP6Error);

}  // namespace pg
