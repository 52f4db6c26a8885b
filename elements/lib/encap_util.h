// Shared helpers for the tunnel elements (IPEncap, UDPIPEncap, GREEncap/GREDecap,
// VXLANEncap/VXLANDecap): outer IPv4 header templates with a precomputed partial checksum,
// the outer UDP header, a base for encapsulating elements that hands out IP ids (one atomic
// add per batch), and a bounds-checked parse of an outer IPv4 header for the decapsulators.
#pragma once
#include <arpa/inet.h>

#include <atomic>
#include <cstdint>
#include <cstring>
#include <string>

#include "element.h"
#include "per_packet.h"
#include "ip_util.h"

namespace pg::encap {

// A 20-byte IPv4 header with total length, id and checksum zero, and the one's-complement
// sum of its other words (memory order), so finishing it costs three additions.
struct Ip4Template {
  uint8_t h[20] = {};
  uint64_t sum = 0;

  void init(uint8_t proto, uint32_t src, uint32_t dst, uint8_t tos, uint8_t ttl, bool df) {
    std::memset(h, 0, sizeof h);
    h[0] = 0x45;
    h[1] = tos;
    h[6] = df ? 0x40 : 0;
    h[8] = ttl;
    h[9] = proto;
    std::memcpy(h + 12, &src, 4);
    std::memcpy(h + 16, &dst, 4);
    sum = ip::sum_bytes(h, 20);
  }
  // init() from the config's `src`, `dst`, `tos`, `ttl` and `df` (encapFields.ts).
  void configure(const Config& conf, uint8_t proto) {
    init(proto, conf.ipv4("src"), conf.ipv4("dst"), uint8_t(conf.integer("tos")), uint8_t(conf.integer("ttl")), conf.boolean("df"));
  }
  // Writes the header at ip with this total length and id (host order).
  void write(uint8_t* ip, uint16_t total, uint16_t id) const {
    std::memcpy(ip, h, 20);
    const uint16_t t = ip::net16(total), i = ip::net16(id);
    ip::store16(ip + 2, t);
    ip::store16(ip + 4, i);
    ip::store16(ip + 10, uint16_t(~ip::fold(sum + t + i)));
  }
};

// Writes the UDP header at u, right after the IPv4 header at ip, for a datagram of ulen bytes
// (header included) whose payload is already in place; with `checksum`, the checksum over the
// pseudo-header and the datagram (a sum of 0 goes out as 0xffff: 0 means "none", RFC 768).
inline void write_udp(const uint8_t* ip, uint8_t* u, uint16_t sport, uint16_t dport, uint16_t ulen, bool checksum) {
  u[0] = uint8_t(sport >> 8);
  u[1] = uint8_t(sport);
  u[2] = uint8_t(dport >> 8);
  u[3] = uint8_t(dport);
  u[4] = uint8_t(ulen >> 8);
  u[5] = uint8_t(ulen);
  u[6] = u[7] = 0;
  if (!checksum) return;
  uint16_t ck = ip::checksum(u, ulen, ip::pseudo_sum(ip, 17, ulen));
  if (ck == 0) ck = 0xffff;
  ip::store16(u + 6, ck);
}

// A base for agnostic one-in one-out encapsulators: PerPacketElement, plus the IP ids of a
// whole batch reserved with one atomic add. Derived implements
// `uint32_t encap(Packet*, uint16_t id)` returning kKeep or a counter index (< 8).
template <class Derived>
class EncapElement : public PerPacketElement<Derived> {
 public:
  void begin_batch(uint32_t n) { cursor_ = uint16_t(next_id_.fetch_add(n, std::memory_order_relaxed)); }
  uint32_t action(Packet* p) { return static_cast<Derived*>(this)->encap(p, cursor_++); }

 private:
  std::atomic<uint32_t> next_id_{0};
  // The id cursor of the batch in hand. Thread-local because several workers may push at
  // once; one thread never nests two batches of one class (nothing is pushed on inside
  // the per-packet loop).
  static inline thread_local uint16_t cursor_ = 0;
};

// The outer IPv4 header of a tunnel packet: at the network-header annotation if it is set
// and inside the data, else at the data start.
enum class OuterStatus : uint8_t { Ok, Short, BadHeader, Fragment };
struct Outer {
  uint8_t* ip;
  uint32_t hlen;
  uint32_t total;  // the datagram's total length
};
// Checks version 4, IHL >= 5, header and total length inside the packet, the header
// checksum, and that the datagram is not a fragment.
inline OuterStatus outer_ip4(Packet* p, Outer& o) {
  uint8_t* ip = ip::network_header_20(p);
  if (!ip) {
    if (p->length() < 20) return OuterStatus::Short;
    ip = p->data();
  }
  const uint32_t avail = uint32_t(p->end_data() - ip);
  if ((ip[0] >> 4) != 4) return OuterStatus::BadHeader;
  const uint32_t hlen = uint32_t(ip[0] & 15) * 4;
  if (hlen < 20) return OuterStatus::BadHeader;
  if (hlen > avail) return OuterStatus::Short;
  const uint32_t total = ip::load_be16(ip + 2);
  if (total < hlen || total > avail) return OuterStatus::BadHeader;
  if (ip::fold(ip::sum_bytes(ip, hlen)) != 0xffff) return OuterStatus::BadHeader;
  if (ip::load_be16(ip + 6) & 0x3fff) return OuterStatus::Fragment;
  o = {ip, hlen, total};
  return OuterStatus::Ok;
}

// Makes the bytes after `inner` (up to the end of the outer datagram) the packet: strips
// the outer headers and any link padding after the datagram.
inline void strip_to(Packet* p, uint8_t* inner, const Outer& o) {
  const uint32_t after = uint32_t(p->end_data() - (o.ip + o.total));
  p->take(after);
  p->pull(uint32_t(inner - p->data()));
}

}  // namespace pg::encap
