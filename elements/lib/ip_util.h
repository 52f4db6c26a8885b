// Shared helpers for the IPv4 elements: Internet checksums (RFC 1071 sums, RFC 1624
// incremental updates), bounds-checked header access, and a base class for agnostic
// one-in one-out elements that act on each packet and drop with a named reason.
//
// Checksum arithmetic is done on 16-bit words exactly as they lie in memory (native byte
// order): one's-complement addition commutes with byte swapping (RFC 1071 section 2B), so a
// checksum computed this way and stored back with memcpy has the right bytes on the wire.
#pragma once
#include <bit>
#include <cstdint>
#include <cstring>

#include "element.h"

namespace pg::ip {

// ---- checksums ----

// Adds the bytes [p, p + len) as 16-bit words to a wide one's-complement accumulator.
inline uint64_t sum_bytes(const uint8_t* p, size_t len, uint64_t acc = 0) {
  while (len >= 4) {
    uint32_t w;
    std::memcpy(&w, p, 4);
    acc += w;
    p += 4;
    len -= 4;
  }
  if (len >= 2) {
    uint16_t w;
    std::memcpy(&w, p, 2);
    acc += w;
    p += 2;
    len -= 2;
  }
  if (len) {
    const uint8_t last[2] = {p[0], 0};  // an odd byte is padded with a zero byte after it
    uint16_t w;
    std::memcpy(&w, last, 2);
    acc += w;
  }
  return acc;
}

// Folds a wide accumulator to 16 bits with end-around carries. A non-zero sum never folds
// to 0 (one's-complement "negative zero" 0xffff is produced instead).
inline uint16_t fold(uint64_t acc) {
  acc = (acc & 0xffffffffu) + (acc >> 32);
  acc = (acc & 0xffffu) + (acc >> 16);
  acc = (acc & 0xffffu) + (acc >> 16);
  acc = (acc & 0xffffu) + (acc >> 16);
  return uint16_t(acc);
}

// The Internet checksum of [p, p + len) plus acc (complemented, memory order).
inline uint16_t checksum(const uint8_t* p, size_t len, uint64_t acc = 0) { return uint16_t(~fold(sum_bytes(p, len, acc))); }

// A 16-bit value in network byte order as it lies in memory (for adding to sums).
inline uint16_t net16(uint16_t host) {
  if constexpr (std::endian::native == std::endian::little) return uint16_t(host >> 8 | host << 8);
  return host;
}

inline uint16_t load16(const uint8_t* p) {
  uint16_t v;
  std::memcpy(&v, p, 2);
  return v;
}
inline void store16(uint8_t* p, uint16_t v) { std::memcpy(p, &v, 2); }
inline uint16_t load_be16(const uint8_t* p) { return uint16_t(p[0] << 8 | p[1]); }

// RFC 1624 eqn. 3: the checksum field `hc` after one 16-bit word of the covered data
// changes from m to m2 (all in memory order): HC' = ~(~HC + ~m + m').
inline uint16_t update16(uint16_t hc, uint16_t m, uint16_t m2) {
  uint32_t s = uint32_t(uint16_t(~hc)) + uint16_t(~m) + m2;
  s = (s & 0xffff) + (s >> 16);
  s = (s & 0xffff) + (s >> 16);
  return uint16_t(~s);
}

// The one's-complement sum of the IPv4 pseudo-header (source, destination, protocol,
// length) of the IPv4 header at ip, for a transport segment of `length` bytes.
inline uint64_t pseudo_sum(const uint8_t* ip, uint8_t proto, uint32_t length) {
  return sum_bytes(ip + 12, 8) + net16(proto) + net16(uint16_t(length));
}

// ---- header access ----

// The IPv4 header at the network-header annotation, if it is set and its first 20 bytes
// lie inside the packet's data; nullptr otherwise.
inline uint8_t* network_header_20(Packet* p) {
  uint8_t* ip = p->network_header();
  if (!ip || ip < p->data() || ip + 20 > p->end_data()) return nullptr;
  return ip;
}

// Whether the header offsets of a header at ip (plus up to 60 bytes) fit the 16-bit
// offset annotations.
inline bool offsets_fit(Packet* p, const uint8_t* ip) { return ip - p->buffer() <= 32767 - 60; }

// The transport segment of a UDP or TCP packet over IPv4, for checksumming: the IPv4
// header at the network-header annotation (20 bytes inside the packet, IHL >= 5, total
// length from the header start at least the header length and inside the packet), the
// segment from the transport-header annotation (or, unset, the end of the IPv4 header) to
// the end of the datagram (the total length). Reasons a packet has no usable segment:
enum class L4Status : uint8_t { Ok, NoHeader, BadHeader, WrongProtocol, Fragment, Short };
struct L4Segment {
  uint8_t* ip;
  uint8_t* l4;
  uint32_t length;  // bytes from l4 to the end of the datagram
};
inline L4Status l4_segment(Packet* p, uint8_t proto, uint32_t min_length, L4Segment& s) {
  uint8_t* ip = network_header_20(p);
  if (!ip) return L4Status::NoHeader;
  const uint32_t hlen = uint32_t(ip[0] & 15) * 4;
  const uint32_t total = load_be16(ip + 2);
  if (hlen < 20 || total < hlen || ip + total > p->end_data()) return L4Status::BadHeader;
  if (ip[9] != proto) return L4Status::WrongProtocol;
  if (load_be16(ip + 6) & 0x3fff) return L4Status::Fragment;  // MF set or a non-zero offset
  uint8_t* l4 = p->transport_header();
  if (!l4) l4 = ip + hlen;
  if (l4 < ip + 20 || l4 > ip + total) return L4Status::BadHeader;
  const uint32_t length = uint32_t(ip + total - l4);
  if (length < min_length) return L4Status::Short;
  s = {ip, l4, length};
  return L4Status::Ok;
}

}  // namespace pg::ip
