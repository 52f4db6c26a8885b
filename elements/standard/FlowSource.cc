// FlowSource: Ethernet frames carrying IPv4 or IPv6 and UDP or TCP, spread over many
// flows, every checksum right. Documentation (fields, flow mapping): FlowSource.ts.
//
// Speed: configure() builds one template frame of the largest length (headers with the
// per-packet fields zeroed, then the payload pattern) and the constant parts of the
// checksums: the IPv4 header sum without length/id/source, the L4 sum of the pseudo-header
// and header without the per-packet fields, and the payload's running sum for every
// payload length. Each packet is then one copy of the template's first `len` bytes, a few
// patched fields and two checksums finished from those sums (RFC 1071 one's-complement
// arithmetic; adding a field's words to a precomputed sum is RFC 1624's incremental
// update from a zero field). No allocation, lock or system call per packet.
//
// Destinations (dstFlows > 1 or dstRandom): the varying bits of the destination address
// (low 32, or for random IPv6 low 64) are zero in the template and left out of the
// constant sums, and each packet adds its own, like the source. The mode is a template
// parameter chosen at configure, so the default fixed destination runs the same code as
// before.
#include <arpa/inet.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <string>
#include <vector>

#include "element.h"
#include "source_pacing.h"
#include "splitmix64.h"

namespace pg {
namespace {

constexpr uint32_t kEtherLen = 14;
constexpr uint32_t kFlowPortSpan = 1024;  // source ports cycle through this many values
constexpr uint8_t kProtoTcp = 6, kProtoUdp = 17;
constexpr uint8_t kTcpAck = 0x10;

// How destination addresses vary: fixed (dstIp), sequential (dstIp + k mod dstFlows on
// the low 32 bits) or random (any IPv4 address; IPv6: random low 64 bits).
enum DstMode { kDstFixed, kDstSeq, kDstRandom };

inline void put16(uint8_t* p, uint32_t v) {
  uint16_t be = __builtin_bswap16(uint16_t(v));
  std::memcpy(p, &be, 2);
}
inline void put32(uint8_t* p, uint32_t v) {
  uint32_t be = __builtin_bswap32(v);
  std::memcpy(p, &be, 4);
}

// Sum of big-endian 16-bit words (an odd last byte is the high byte of a word), unfolded.
uint64_t sum_words(const uint8_t* p, size_t n) {
  uint64_t s = 0;
  for (size_t i = 0; i + 1 < n; i += 2) s += uint32_t(p[i]) << 8 | p[i + 1];
  if (n & 1) s += uint32_t(p[n - 1]) << 8;
  return s;
}

// Fold a one's-complement sum below 2^32 to 16 bits. The per-packet sums stay far below
// that: at most ~30 header words (< 2^21) plus a payload sum of at most 1472 bytes (< 2^27).
inline uint32_t fold(uint64_t s) {
  s = (s & 0xffff) + (s >> 16);  // < 0x1ffff
  s = (s & 0xffff) + (s >> 16);  // <= 0xffff
  return uint32_t(s);
}
inline uint32_t checksum_of(uint64_t s) { return ~fold(s) & 0xffff; }

// An address of the family (kind "ip": the compiler filled in the family's default for '').
void family_ip(const Config& conf, const char* field, bool v6, uint8_t out[16]) {
  if (conf.ip(field, out) != (v6 ? 16 : 4))
    throw ConfigError(std::string("config field '") + field + "' must be an " + (v6 ? "IPv6" : "IPv4") + " address (family is " +
                      (v6 ? "ipv6" : "ipv4") + ")");
}

// A uniform value in [0, n) from 32 random bits (Lemire's multiply-shift).
inline uint32_t below(uint32_t random32, uint32_t n) { return uint32_t((uint64_t(random32) * n) >> 32); }

}  // namespace

class FlowSource final : public Element {
 public:
  void configure(const Config& conf) override {
    // The getters accept only the values the descriptor declares.
    const std::string family = conf.string("family"), protocol = conf.string("protocol"), order = conf.string("order");
    v6_ = family == "ipv6";
    tcp_ = protocol == "tcp";
    random_order_ = order == "random";
    ip_hdr_ = v6_ ? 40 : 20;
    l4_hdr_ = tcp_ ? 20 : 8;
    l4_off_ = kEtherLen + ip_hdr_;
    const uint32_t headers = l4_off_ + l4_hdr_;

    int64_t length = conf.integer("length");
    int64_t length_max = conf.integer("lengthMax");
    if (uint64_t(length) < headers)
      throw ConfigError("config field 'length' must be at least " + std::to_string(headers) + " for " + family + "/" +
                        protocol + " frames (14 Ethernet + " + std::to_string(ip_hdr_) + " " + (v6_ ? "IPv6" : "IPv4") +
                        " + " + std::to_string(l4_hdr_) + " " + (tcp_ ? "TCP" : "UDP") + " header bytes), got " +
                        std::to_string(length));
    if (length_max != 0 && length_max < length)
      throw ConfigError("config field 'lengthMax' must be 0 (every frame 'length' bytes) or at least 'length' (" +
                        std::to_string(length) + "), got " + std::to_string(length_max));
    len_min_ = uint32_t(length);
    len_max_ = length_max ? uint32_t(length_max) : len_min_;
    len_span_ = len_max_ - len_min_ + 1;
    const uint64_t room = pool().buffer_size() > pool().headroom() ? pool().buffer_size() - pool().headroom() : 0;
    if (len_max_ > room)
      throw ConfigError(std::string("config field '") + (length_max ? "lengthMax" : "length") + "' (" +
                        std::to_string(len_max_) + ") exceeds the pool's buffer room of " + std::to_string(room) + " bytes");

    uint8_t src_mac[6], dst_mac[6];
    conf.mac("srcEther", src_mac);
    conf.mac("dstEther", dst_mac);
    uint8_t src_ip[16] = {}, dst_ip[16] = {};
    family_ip(conf, "srcIp", v6_, src_ip);
    family_ip(conf, "dstIp", v6_, dst_ip);
    src_port_ = uint32_t(conf.integer("srcPort"));
    const uint32_t dst_port = uint32_t(conf.integer("dstPort"));
    flows_ = uint32_t(conf.integer("flows"));
    const int64_t dst_flows = conf.integer("dstFlows");
    const bool dst_random = conf.boolean("dstRandom");
    if (dst_random && dst_flows > 1)
      throw ConfigError("config field 'dstRandom' cannot be combined with 'dstFlows' > 1 (got dstFlows " +
                        std::to_string(dst_flows) + "): choose random or sequential destinations");
    dst_last_ = uint32_t(dst_flows - 1);
    const DstMode dst_mode = dst_random ? kDstRandom : dst_flows > 1 ? kDstSeq : kDstFixed;
    const uint32_t tcp_flags = uint32_t(conf.integer("tcpFlags"));
    seed_ = uint64_t(conf.integer("seed"));
    pacing_.configure(conf);

    // The low 32 bits of the source address are per flow; the template holds zeros there.
    const uint32_t addr_len = v6_ ? 16 : 4;
    uint8_t* low = src_ip + addr_len - 4;
    src_low_ = uint32_t(low[0]) << 24 | uint32_t(low[1]) << 16 | uint32_t(low[2]) << 8 | low[3];
    std::memset(low, 0, 4);
    // Likewise the destination's varying bits, when it varies: the low 32 bits (sequential;
    // random IPv4) or the low 64 bits (random IPv6).
    if (dst_mode != kDstFixed) {
      uint8_t* dlow = dst_ip + addr_len - 4;
      dst_low_ = uint32_t(dlow[0]) << 24 | uint32_t(dlow[1]) << 16 | uint32_t(dlow[2]) << 8 | dlow[3];
      const uint32_t vary = dst_mode == kDstRandom && v6_ ? 8 : 4;
      std::memset(dst_ip + addr_len - vary, 0, vary);
    }

    // The template: headers with per-packet fields zero, then the payload pattern.
    const uint32_t rounded = (len_max_ + 31) & ~31u;
    template_.assign(rounded, 0);
    chunked_copy_ = room >= rounded;
    uint8_t* t = template_.data();
    std::memcpy(t, dst_mac, 6);
    std::memcpy(t + 6, src_mac, 6);
    put16(t + 12, v6_ ? 0x86dd : 0x0800);
    uint8_t* ip = t + kEtherLen;
    const uint8_t proto = tcp_ ? kProtoTcp : kProtoUdp;
    if (!v6_) {
      ip[0] = 0x45;  // version 4, 20-byte header; TOS 0; total length, id, flags+fragment 0 (DF clear)
      ip[8] = 64;    // TTL
      ip[9] = proto;
      std::memcpy(ip + 12, src_ip, 4);
      std::memcpy(ip + 16, dst_ip, 4);
      ip_base_ = sum_words(ip, 20);  // without total length, id, source and checksum
    } else {
      ip[0] = 0x60;  // version 6, traffic class 0, flow label 0; payload length per packet
      ip[6] = proto;
      ip[7] = 64;  // hop limit
      std::memcpy(ip + 8, src_ip, 16);
      std::memcpy(ip + 24, dst_ip, 16);
    }
    uint8_t* l4 = t + l4_off_;
    put16(l4 + 2, dst_port);
    if (tcp_) {
      put32(l4 + 8, (tcp_flags & kTcpAck) ? 1 : 0);  // acknowledgment number
      l4[12] = 0x50;                                 // data offset: 5 words
      l4[13] = uint8_t(tcp_flags);
      put16(l4 + 14, 0xffff);  // window
    }
    // Pseudo-header (addresses with the source's low 32 bits zero, protocol) + L4 header
    // without source port, length, sequence number and checksum.
    l4_base_ = sum_words(src_ip, addr_len) + sum_words(dst_ip, addr_len) + proto + sum_words(l4, l4_hdr_);
    const uint32_t max_payload = len_max_ - headers;
    payload_sum_.assign(size_t(max_payload) + 1, 0);
    uint8_t* payload = l4 + l4_hdr_;
    uint32_t running = 0;
    for (uint32_t k = 0; k < max_payload; k++) {
      payload[k] = uint8_t(k);  // the pattern: byte k of the payload is k mod 256
      running += (k & 1) ? payload[k] : uint32_t(payload[k]) << 8;
      payload_sum_[k + 1] = running;
    }

    fill_ = dst_mode == kDstSeq ? pick_fill<kDstSeq>() : dst_mode == kDstRandom ? pick_fill<kDstRandom>() : pick_fill<kDstFixed>();
    restart();
    c_packets_ = counter("packets");
    c_bytes_ = counter("bytes");
    c_pool_empty_ = counter("pool_empty");
    c_rate_shortfall_ = counter("rate_shortfall");
    request_task();
  }

  bool run_task() override {
    uint32_t gen = restart_gen_.load(std::memory_order_relaxed);
    if (gen != seen_gen_) {
      seen_gen_ = gen;
      restart();
    }
    uint64_t late;
    uint32_t n = pacing_.budget(late);
    if (late) count(c_rate_shortfall_, late);
    if (n == 0) return false;
    Batch b;
    b.count = pool().alloc(b.pkts, n);
    if (b.count < n) count(c_pool_empty_);
    if (b.count == 0) return false;
    uint64_t bytes = (this->*fill_)(b);
    pacing_.commit(b.count);
    count(c_packets_, b.count);
    count(c_bytes_, bytes);
    output_push(0, b);
    return true;
  }

  // Hot reconfiguration: the count towards the limit, the pacing and the position in the flow
  // sequence go on (positions past a smaller flow count start that sequence again).
  void take_state(Element& old) override {
    auto& o = static_cast<FlowSource&>(old);
    pacing_.take(o.pacing_);
    rng_ = o.rng_;
    ip_id_ = o.ip_id_;
    tcp_seq_ = o.tcp_seq_;
    cursor_ = o.cursor_ < flows_ ? o.cursor_ : 0;
    dst_cursor_ = o.dst_cursor_ <= dst_last_ ? o.dst_cursor_ : 0;
  }

  SourceState source_state() const override { return pacing_.state(); }

  void add_handlers(std::vector<Handler>& h) override {
    // reset also restarts the flow sequence, the random generator, IPv4 ids and TCP
    // sequence numbers (on the worker, before its next round), so the output repeats.
    pacing_.add_handlers(h, [this] { restart_gen_.fetch_add(1); });
  }

 private:
  using Fill = uint64_t (FlowSource::*)(Batch&);
  template <DstMode D>
  Fill pick_fill() const {
    return v6_ ? (tcp_ ? &FlowSource::fill<true, true, D> : &FlowSource::fill<true, false, D>)
               : (tcp_ ? &FlowSource::fill<false, true, D> : &FlowSource::fill<false, false, D>);
  }

  // Worker state back to its configured start.
  void restart() {
    rng_.state = seed_;
    cursor_ = 0;
    dst_cursor_ = 0;
    ip_id_ = 0;
    tcp_seq_ = 0;
  }

  // Build every packet of the batch; returns the bytes built. The worker state lives in
  // locals for the loop (the copy would otherwise force reloads from memory).
  template <bool V6, bool TCP, DstMode D>
  uint64_t fill(Batch& b) {
    constexpr uint32_t kIpHdr = V6 ? 40 : 20;
    constexpr uint32_t kL4Off = kEtherLen + kIpHdr;
    constexpr uint32_t kL4Hdr = TCP ? 20 : 8;
    const uint8_t* const tmpl = template_.data();
    const uint32_t* const psum = payload_sum_.data();
    const uint32_t len_min = len_min_, len_span = len_span_, flows = flows_;
    const uint32_t src_low = src_low_, src_port = src_port_;
    const uint32_t dst_low = dst_low_, dst_last = dst_last_;
    const uint64_t ip_base = ip_base_, l4_base = l4_base_;
    const bool fixed_len = len_span == 1, random_order = random_order_, chunked = chunked_copy_;
    SplitMix64 rng = rng_;
    uint32_t cursor = cursor_, ip_id = ip_id_, tcp_seq = tcp_seq_, dst_cursor = dst_cursor_;
    uint64_t bytes = 0;
    for (uint32_t i = 0; i < b.count; i++) {
      Packet* p = b.pkts[i];
      uint32_t len = len_min;
      uint32_t flow = cursor;
      if (random_order || !fixed_len) {
        uint64_t r = rng.next();
        if (!fixed_len) len += below(uint32_t(r), len_span);
        if (random_order) flow = below(uint32_t(r >> 32), flows);
      }
      if (!random_order && ++cursor == flows) cursor = 0;

      uint8_t* d = p->data();
      if (chunked && len <= 128) {
        // Small frames: whole 32-byte blocks (inlined vector moves, no call); the template
        // and the buffer room were sized for the rounded-up length at configure.
        for (uint32_t off = 0; off < len; off += 32) std::memcpy(d + off, tmpl + off, 32);
      } else {
        std::memcpy(d, tmpl, len);
      }
      p->set_length(len);  // fits: len_max_ was checked against the buffer room
      const uint32_t l3len = len - kEtherLen;
      const uint32_t l4len = l3len - kIpHdr;
      const uint32_t src = src_low + flow;
      const uint32_t sport = (src_port + (flow % kFlowPortSpan)) & 0xffff;
      uint64_t src_sum = (src >> 16) + (src & 0xffff);
      uint8_t* ip = d + kEtherLen;
      if constexpr (D != kDstFixed) {
        // The destination's varying bits: written into the frame (zero in the template) and
        // their words added to both sums with the source's (the pseudo-header has both).
        constexpr uint32_t kDstLow = V6 ? 36 : 16;  // offset of the address's last 4 bytes
        uint32_t dst;
        if constexpr (D == kDstSeq) {
          dst = dst_low + dst_cursor;
          dst_cursor = dst_cursor == dst_last ? 0 : dst_cursor + 1;
        } else {
          const uint64_t r = rng.next();
          dst = uint32_t(r);
          if constexpr (V6) {
            const uint32_t hi = uint32_t(r >> 32);
            put32(ip + 32, hi);
            src_sum += (hi >> 16) + (hi & 0xffff);
          }
        }
        put32(ip + kDstLow, dst);
        src_sum += (dst >> 16) + (dst & 0xffff);
      }
      uint64_t s = l4_base + src_sum + l4len + sport + psum[l4len - kL4Hdr];
      if constexpr (!V6) {
        const uint32_t id = ip_id++ & 0xffff;
        put16(ip + 2, l3len);
        put16(ip + 4, id);
        put32(ip + 12, src);
        put16(ip + 10, checksum_of(ip_base + l3len + id + src_sum));
      } else {
        put16(ip + 4, l4len);
        put32(ip + 20, src);  // the low 32 bits of the source address
      }
      uint8_t* l4 = d + kL4Off;
      put16(l4, sport);
      if constexpr (TCP) {
        const uint32_t seq = tcp_seq;
        tcp_seq += l4len - kL4Hdr;
        put32(l4 + 4, seq);
        put16(l4 + 16, checksum_of(s + (seq >> 16) + (seq & 0xffff)));
      } else {
        put16(l4 + 4, l4len);
        uint32_t c = checksum_of(s + l4len);
        put16(l4 + 6, c ? c : 0xffff);  // 0 means "no checksum" in UDP: send all ones
      }
      p->set_mac_header(d);
      p->set_network_header(ip);
      p->set_transport_header(l4);
      bytes += len;
    }
    rng_ = rng;
    cursor_ = cursor;
    ip_id_ = ip_id;
    tcp_seq_ = tcp_seq;
    if constexpr (D == kDstSeq) dst_cursor_ = dst_cursor;
    return bytes;
  }

  SourcePacing pacing_;
  bool v6_ = false, tcp_ = false, random_order_ = false;
  uint32_t ip_hdr_ = 20, l4_hdr_ = 8, l4_off_ = 34;
  uint32_t len_min_ = 60, len_max_ = 60, len_span_ = 1;
  uint32_t flows_ = 1;
  uint32_t src_low_ = 0, src_port_ = 0;
  uint64_t seed_ = 1;
  uint64_t ip_base_ = 0, l4_base_ = 0;
  std::vector<uint8_t> template_;  // len_max_ bytes, zero-padded to a multiple of 32
  bool chunked_copy_ = false;      // the buffer room takes len_max_ rounded up to 32
  std::vector<uint32_t> payload_sum_;  // [n]: unfolded sum of the first n payload bytes
  uint32_t dst_low_ = 0;   // varying destinations: the low 32 bits of dstIp
  uint32_t dst_last_ = 0;  // dstFlows - 1
  Fill fill_ = &FlowSource::fill<false, false, kDstFixed>;

  // Worker state.
  SplitMix64 rng_;
  uint32_t cursor_ = 0;   // round-robin: the next flow
  uint32_t ip_id_ = 0;    // IPv4 identification of the next packet
  uint32_t tcp_seq_ = 0;  // TCP sequence number of the next packet
  uint32_t dst_cursor_ = 0;  // sequential destinations: k mod dstFlows of the next packet
  std::atomic<uint32_t> restart_gen_{0};
  uint32_t seen_gen_ = 0;

  uint32_t c_packets_ = 0, c_bytes_ = 0, c_pool_empty_ = 0, c_rate_shortfall_ = 0;
};

PG_ELEMENT(FlowSource);

}  // namespace pg
