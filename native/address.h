// The one native parser and printer of address text. Configs reach the engine typed (the
// compiler parses their text with src/util/address.ts, which accepts exactly what these do);
// text is parsed here only where it comes at run time: write handlers (ARPResponder's add,
// the resolvers' insert, the lookups' lookup) and route files and route handlers
// (native/fib/routes.cc).
#pragma once
#include <arpa/inet.h>

#include <cstdint>
#include <cstdio>
#include <string>

namespace pg {

// Dotted-quad IPv4 as inet_pton reads it: four decimal parts 0-255, no leading zeros. The
// value has the first byte most significant (host order: 198.18.0.1 is 0xc6120001).
inline bool parse_ipv4(const char* s, size_t n, uint32_t& out) {
  uint32_t v = 0;
  size_t i = 0;
  for (int part = 0; part < 4; part++) {
    if (part > 0) {
      if (i >= n || s[i] != '.') return false;
      i++;
    }
    const size_t b = i;
    uint32_t p = 0;
    while (i < n && s[i] >= '0' && s[i] <= '9' && i - b < 3) p = p * 10 + uint32_t(s[i++] - '0');
    if (i == b || p > 255 || (i - b > 1 && s[b] == '0') || (i < n && s[i] >= '0' && s[i] <= '9')) return false;
    v = v << 8 | p;
  }
  if (i != n) return false;
  out = v;
  return true;
}
inline bool parse_ipv4(const std::string& s, uint32_t& out) { return parse_ipv4(s.data(), s.size(), out); }

// Any RFC 4291 IPv6 text form, as inet_pton reads it.
inline bool parse_ipv6(const std::string& s, uint8_t out[16]) {
  return s.size() <= 45 && s.find('\0') == std::string::npos && inet_pton(AF_INET6, s.c_str(), out) == 1;
}

// An Ethernet address: six colon-separated pairs of hex digits, like 02:00:00:00:00:01.
inline bool parse_mac(const std::string& s, uint8_t out[6]) {
  if (s.size() != 17) return false;
  uint8_t b[6];
  for (int i = 0; i < 6; i++) {
    if (i > 0 && s[3 * i - 1] != ':') return false;
    int v = 0;
    for (int k = 0; k < 2; k++) {
      const char c = s[3 * i + k];
      const int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
      if (d < 0) return false;
      v = v * 16 + d;
    }
    b[i] = uint8_t(v);
  }
  for (int i = 0; i < 6; i++) out[i] = b[i];
  return true;
}

inline std::string format_ipv4(uint32_t a) {  // host order, as parse_ipv4 gives it
  char buf[16];
  std::snprintf(buf, sizeof buf, "%u.%u.%u.%u", a >> 24, (a >> 16) & 255, (a >> 8) & 255, a & 255);
  return buf;
}
inline std::string format_ipv6(const uint8_t a[16]) {  // RFC 5952, as inet_ntop prints it
  char buf[INET6_ADDRSTRLEN];
  inet_ntop(AF_INET6, a, buf, sizeof buf);
  return buf;
}
inline std::string format_mac(const uint8_t m[6]) {
  char buf[18];
  std::snprintf(buf, sizeof buf, "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5]);
  return buf;
}

}  // namespace pg
