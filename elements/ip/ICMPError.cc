// ICMPError: builds an ICMP error message (RFC 792, RFC 1812 section 4.3.2) about each input
// packet and frees the original. Documentation: ICMPError.ts.
#include <arpa/inet.h>

#include <atomic>
#include <cstring>
#include <string>

#include "ip_util.h"

namespace pg {

namespace {

struct Name {
  const char* name;
  int value;
};
// The same tables as ICMPError.ts.
constexpr Name kTypes[] = {{"unreachable", 3}, {"redirect", 5}, {"timeexceeded", 11}, {"parameterproblem", 12}};
constexpr Name kUnreachable[] = {{"net", 0},         {"host", 1},        {"protocol", 2},    {"port", 3},
                                 {"needfrag", 4},    {"srcroutefail", 5}, {"netunknown", 6}, {"hostunknown", 7},
                                 {"adminprohibited", 13}};
constexpr Name kRedirect[] = {{"net", 0}, {"host", 1}, {"tosnet", 2}, {"toshost", 3}};
constexpr Name kTimeExceeded[] = {{"transit", 0}, {"reassembly", 1}};
constexpr Name kParameterProblem[] = {{"erroratptr", 0}, {"missingoption", 1}, {"length", 2}};

template <size_t N>
int lookup(const Name (&table)[N], const std::string& s) {
  for (const Name& n : table)
    if (s == n.name) return n.value;
  return -1;
}

int code_by_name(int type, const std::string& s) {
  switch (type) {
    case 3: return lookup(kUnreachable, s);
    case 5: return lookup(kRedirect, s);
    case 11: return lookup(kTimeExceeded, s);
    case 12: return lookup(kParameterProblem, s);
    default: return -1;
  }
}

constexpr uint32_t kIPHeader = 20, kICMPHeader = 8;
constexpr uint32_t kMaxError = 576;  // RFC 1812 4.3.2.3: the whole error at most 576 bytes
constexpr uint64_t kTokenNs = 1000000000ull;  // one token, in token-nanoseconds

// The offset of the datagram's first loose or strict source route option (types 0x83, 0x89)
// whose pointer is sane (a multiple of 4, from 4 to its length + 1), or 0. Options are walked
// as far as they are well-formed, as Click does.
uint32_t source_route(const uint8_t* ip, uint32_t hlen) {
  for (uint32_t i = 20; i < hlen;) {
    const uint8_t type = ip[i];
    if (type == 0) return 0;  // end of options
    if (type == 1) {          // no-op
      i++;
      continue;
    }
    if (i + 1 >= hlen) return 0;
    const uint32_t len = ip[i + 1];
    if (len < 2 || i + len > hlen) return 0;
    if ((type == 0x83 || type == 0x89) && len >= 3) {
      const uint32_t ptr = ip[i + 2];
      if (ptr >= 4 && ptr % 4 == 0 && ptr <= len + 1) return i;
    }
    i += len;
  }
  return 0;
}

}  // namespace

class ICMPError final : public Element {
 public:
  void configure(const Config& conf) override {
    const uint32_t a = conf.ipv4("src");
    std::memcpy(src_, &a, 4);

    const json::Value& t = conf.value("type");
    if (t.is_string()) {
      type_ = lookup(kTypes, t.as_string());
      if (type_ < 0) throw ConfigError("type: unknown ICMP error type '" + t.as_string() + "'");
    } else {
      type_ = int(conf.integer("type"));
    }
    const json::Value& c = conf.value("code");
    if (c.is_string()) {
      code_ = code_by_name(type_, c.as_string());
      if (code_ < 0) throw ConfigError("code: '" + c.as_string() + "' is not a code name of ICMP type " + std::to_string(type_));
    } else {
      code_ = int(conf.integer("code"));
    }
    mtu_ = uint32_t(conf.integer("mtu"));
    if (type_ == 3 && code_ == 4 && mtu_ < 68) throw ConfigError("mtu: fragmentation needed (type 3, code 4) needs the next-hop MTU, 68 to 65535");
    pointer_ = uint32_t(conf.integer("pointer"));
    rate_ = uint64_t(conf.integer("rateLimit"));
    tos_ = uint8_t(conf.integer("tos"));
    ttl_ = uint8_t(conf.integer("ttl"));

    c_errors_ = counter("errors");
    c_icmp_error_ = counter("suppressed_icmp_error");
    c_bad_source_ = counter("suppressed_bad_source");
    c_bad_destination_ = counter("suppressed_bad_destination");
    c_fragment_ = counter("suppressed_fragment");
    c_source_routed_ = counter("suppressed_source_routed");
    c_rate_ = counter("rate_limited");
    c_malformed_ = counter("drops_malformed");
    c_no_buffer_ = counter("drops_no_buffer");
  }

  void initialize() override {
    tokens_.store(rate_ * kTokenNs, std::memory_order_relaxed);  // the bucket starts full
    last_ns_.store(now_ns(), std::memory_order_relaxed);
  }

  void push(int, Batch& b) override {
    // Which packets deserve an error (their index in `want`); the rest are counted.
    uint32_t want[kMaxBatch];
    uint32_t nwant = 0;
    uint32_t reasons[kCounters] = {};
    uint64_t tokens = 0;
    if (rate_) tokens = refill();
    for (uint32_t i = 0; i < b.count; i++) {
      uint32_t r = classify(b.pkts[i]);
      if (r == kKeep && rate_) {
        if (tokens >= kTokenNs)
          tokens -= kTokenNs;
        else
          r = c_rate_;
      }
      if (r == kKeep)
        want[nwant++] = i;
      else
        reasons[r]++;
    }
    if (rate_) tokens_.store(tokens, std::memory_order_relaxed);

    Batch outb;
    if (nwant) {
      Packet* fresh[kMaxBatch];
      const uint32_t got = pool().alloc(fresh, nwant);
      for (uint32_t k = 0; k < got; k++) {
        if (build(b.pkts[want[k]], fresh[k]))
          outb.add(fresh[k]);
        else
          reasons[c_no_buffer_]++, pool().free_one(fresh[k]);
      }
      reasons[c_no_buffer_] += nwant - got;
    }
    drop(b);  // every original is freed
    for (uint32_t r = 0; r < kCounters; r++)
      if (reasons[r]) count(r, reasons[r]);
    if (outb.count) {
      count(c_errors_, outb.count);
      output_push(0, outb);
    }
  }

 private:
  static constexpr uint32_t kKeep = ~0u;
  static constexpr uint32_t kCounters = 9;  // configure declares 9 counters; reasons are their indexes

  // Tokens (in token-nanoseconds) after refilling for the time since the last batch.
  uint64_t refill() {
    const uint64_t now = now_ns(), last = last_ns_.load(std::memory_order_relaxed);
    uint64_t tokens = tokens_.load(std::memory_order_relaxed);
    if (now > last) {
      uint64_t elapsed = now - last;
      if (elapsed > kTokenNs) elapsed = kTokenNs;  // a full second refills the bucket anyway
      tokens += elapsed * rate_;
      if (tokens > rate_ * kTokenNs) tokens = rate_ * kTokenNs;
      last_ns_.store(now, std::memory_order_relaxed);
    }
    return tokens;
  }

  // kKeep when the packet deserves an error, else the counter it is dropped under.
  uint32_t classify(Packet* p) const {
    const uint8_t* ip = ip::network_header_20(p);
    if (!ip) return c_malformed_;
    const uint32_t hlen = uint32_t(ip[0] & 15) * 4;
    const uint32_t total = ip::load_be16(ip + 2);
    const uint32_t avail = uint32_t(p->end_data() - ip);
    if ((ip[0] >> 4) != 4 || hlen < 20 || hlen > avail || total < hlen) return c_malformed_;
    if (ip::load_be16(ip + 6) & 0x1fff) return c_fragment_;
    // The source must name one host: not 0.0.0.0 (0/8), loopback (127/8), multicast
    // (224/4) or class E and broadcast (240/4) (RFC 1122 3.2.2, RFC 1812 4.3.2.7).
    if (ip[12] == 0 || ip[12] == 127 || ip[12] >= 224) return c_bad_source_;
    // Nor about a datagram sent to a multicast address or the limited broadcast.
    if ((ip[16] & 0xf0) == 0xe0 || (ip[16] == 255 && ip[17] == 255 && ip[18] == 255 && ip[19] == 255)) return c_bad_destination_;
    // Nor about one that came as a link-level broadcast or multicast (RFC 1812 4.3.2.7, as Click).
    if (p->anno().packet_type == kBroadcast || p->anno().packet_type == kMulticast) return c_bad_destination_;
    if (ip[9] == 1) {
      if (avail < hlen + 1 || total < hlen + 1) return c_malformed_;  // no ICMP type to look at
      const uint8_t t = ip[hlen];
      if (t == 3 || t == 4 || t == 5 || t == 11 || t == 12) return c_icmp_error_;
    }
    // No redirect about a source-routed datagram (RFC 1812 5.2.7.2).
    if (type_ == 5 && source_route(ip, hlen)) return c_source_routed_;
    return kKeep;
  }

  // The parameter-problem pointer for p: IPGWOptions' per-packet one, else the configured one.
  uint8_t pointer_for(const Packet* p) const {
    const Annotations& pa = p->anno();
    return (pa.flags & kParamProblem) ? pa.user[kParamProblemByte] : uint8_t(pointer_);
  }

  // Writes the error about p into q (a fresh packet). False if it does not fit.
  bool build(Packet* p, Packet* q) {
    const uint8_t* ip = p->network_header();
    const uint32_t total = ip::load_be16(ip + 2);
    const uint32_t avail = uint32_t(p->end_data() - ip);
    // A source-routed datagram's error goes back along the route it came by (RFC 1812
    // 4.3.2.6): a route option of the same type holding the addresses recorded so far,
    // reversed; not when a parameter problem is about the route option itself.
    uint32_t sr = source_route(ip, uint32_t(ip[0] & 15) * 4);
    if (sr && type_ == 12) {
      const uint32_t at = pointer_for(p);
      if (at >= sr && at < sr + ip[sr + 1]) sr = 0;
    }
    const uint32_t olen = sr ? ip[sr + 2] - 1u : 0;  // type, length, pointer and the recorded addresses
    const uint32_t hlen = kIPHeader + ((olen + 3) & ~3u);
    uint32_t quote = total < avail ? total : avail;
    if (quote > kMaxError - hlen - kICMPHeader) quote = kMaxError - hlen - kICMPHeader;
    const uint32_t len = hlen + kICMPHeader + quote;
    if (!q->set_length(len) || !ip::offsets_fit(q, q->data())) return false;
    uint8_t* h = q->data();
    h[0] = uint8_t(0x40 | hlen / 4);
    h[1] = tos_;
    h[2] = uint8_t(len >> 8);
    h[3] = uint8_t(len);
    const uint16_t id = id_.fetch_add(1, std::memory_order_relaxed);
    h[4] = uint8_t(id >> 8);
    h[5] = uint8_t(id);
    h[6] = h[7] = 0;
    h[8] = ttl_;
    h[9] = 1;
    h[10] = h[11] = 0;
    std::memcpy(h + 12, src_, 4);
    std::memcpy(h + 16, ip + 12, 4);
    if (sr) {
      const uint8_t* r = ip + sr;
      uint8_t* o = h + kIPHeader;
      o[0] = r[0];
      o[1] = uint8_t(olen);
      o[2] = 4;
      for (uint32_t k = 0, n = (olen - 3) / 4; k < n; k++) std::memcpy(o + 3 + 4 * k, r + 3 + 4 * (n - 1 - k), 4);
      std::memset(o + olen, 0, hlen - kIPHeader - olen);  // end of options
    }
    ip::store16(h + 10, ip::checksum(h, hlen));

    uint8_t* m = h + hlen;
    m[0] = uint8_t(type_);
    m[1] = uint8_t(code_);
    std::memset(m + 2, 0, 6);
    if (type_ == 3 && code_ == 4) {
      m[6] = uint8_t(mtu_ >> 8);
      m[7] = uint8_t(mtu_);
    } else if (type_ == 12) {
      m[4] = pointer_for(p);
    } else if (type_ == 5) {
      std::memcpy(m + 4, &p->anno().dst_ip4, 4);  // the gateway: the next hop
    }
    std::memcpy(m + kICMPHeader, ip, quote);
    ip::store16(m + 2, ip::checksum(m, kICMPHeader + quote));

    Annotations& a = q->anno();
    a.timestamp_ns = p->anno().timestamp_ns;
    a.table_id = p->anno().table_id;
    std::memcpy(&a.dst_ip4, h + 16, 4);
    a.flags |= kFixIPSrc;  // FixIPSrc on the way out gives it the outgoing interface's address
    q->set_network_header(h);
    q->set_transport_header(m);
    return true;
  }

  uint8_t src_[4] = {};
  int type_ = 0, code_ = 0;
  uint32_t mtu_ = 0, pointer_ = 0;
  uint8_t tos_ = 0xc0, ttl_ = 64;
  uint64_t rate_ = 0;
  std::atomic<uint64_t> tokens_{0}, last_ns_{0};
  std::atomic<uint16_t> id_{0};
  uint32_t c_errors_ = 0, c_icmp_error_ = 0, c_bad_source_ = 0, c_bad_destination_ = 0, c_fragment_ = 0, c_source_routed_ = 0,
           c_rate_ = 0, c_malformed_ = 0, c_no_buffer_ = 0;
};

PG_ELEMENT(ICMPError);

}  // namespace pg
