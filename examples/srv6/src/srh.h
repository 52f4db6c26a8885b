// RFC 8754 Segment Routing Header: where it is in an IPv6 packet and whether it is well formed
// (RFC 8754 4.3.1.1, RFC 8986 4.1 S08-S09), shared by SRv6Encap and SRv6LocalSIDs.
#pragma once
#include <cstdint>
#include <cstring>

namespace srv6 {

constexpr uint8_t kHopByHop = 0, kIPv4 = 4, kRouting = 43, kIPv6 = 41, kDestOpts = 60;
constexpr uint8_t kSrhType = 4;
constexpr uint32_t kIPv6Header = 40, kSrhFixed = 8, kSid = 16;

// Offsets (from the IPv6 header) of what follows it: the SRH, when there is one, and the first
// header that is not an extension header we walk (HBH, destination options, routing).
struct Headers {
  uint32_t srh = 0;        // 0: no SRH
  uint32_t payload = 0;    // the upper-layer or inner packet
  uint8_t payload_proto = 0;
};

enum class Parse { Ok, Short, BadLength, BadSegmentsLeft, BadRouting };

// `ip` is an IPv6 header with `len` bytes of the packet from it (already at least 40, and no more
// than the header's payload length says). At most 8 extension headers are walked.
inline Parse find_headers(const uint8_t* ip, uint32_t len, Headers& h) {
  uint8_t nh = ip[6];
  uint32_t off = kIPv6Header;
  for (int i = 0; i < 8 && (nh == kHopByHop || nh == kDestOpts || nh == kRouting); i++) {
    if (off + 8 > len) return Parse::Short;
    const uint32_t hlen = (uint32_t(ip[off + 1]) + 1) * 8;
    if (off + hlen > len) return nh == kRouting ? Parse::BadLength : Parse::Short;
    if (nh == kRouting) {
      const uint8_t type = ip[off + 2], sl = ip[off + 3];
      if (type == kSrhType) {
        if (h.srh) return Parse::BadRouting;  // two SRHs
        // S08-S09: Last Entry within the header, Segments Left at most Last Entry + 1.
        const int max_le = int(ip[off + 1] / 2) - 1;
        const uint8_t le = ip[off + 4];
        if (max_le < 0 || le > max_le) return Parse::BadLength;
        if (sl > le + 1) return Parse::BadSegmentsLeft;
        h.srh = off;
      } else if (sl != 0) {
        return Parse::BadRouting;  // RFC 8200 4.4: an unknown routing type with segments left
      }
    }
    nh = ip[off];
    off += hlen;
  }
  h.payload = off;
  h.payload_proto = nh;
  return Parse::Ok;
}

inline uint8_t segments_left(const uint8_t* srh) { return srh[3]; }
inline const uint8_t* segment(const uint8_t* srh, uint32_t i) { return srh + kSrhFixed + kSid * i; }

}  // namespace srv6
