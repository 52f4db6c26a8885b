// IP6NDSolicitor: resolves IPv6 next hops with Neighbor Discovery (RFC 4861) and
// encapsulates IPv6 packets in Ethernet. Documentation: IP6NDSolicitor.ts. The table,
// queues, timer and handlers are ARPQuerier's (elements/lib/resolver.h), keyed by 16-byte
// addresses; this file holds what is Neighbor Discovery's own.
#include <arpa/inet.h>

#include <cstring>

#include "resolver.h"
#include "ip_util.h"

namespace pg {

class IP6NDSolicitor final : public NeighbourResolver<IP6NDSolicitor, 16> {
 public:
  static constexpr const char* kFamily = "IPv6";
  static constexpr const char* kIgnoredCounter = "na_ignored";
  static constexpr const char* kInsertExample = "fd00::2";
  static constexpr uint16_t kEtherType = 0x86dd;

  static void config_addr(const Config& conf, Addr& out) { conf.ipv6("ip", out.data()); }
  static bool parse_addr(const std::string& s, Addr& out) { return parse_ipv6(s, out.data()); }
  static const char* refused(const Addr& a) { return a[0] == 0xff ? "a multicast address" : nullptr; }
  static void format_addr(const Addr& a, std::string& out) {
    char text[INET6_ADDRSTRLEN];
    inet_ntop(AF_INET6, a.data(), text, sizeof text);
    out += text;
  }
  // A multicast next hop maps to 33:33 and its low 32 bits (RFC 2464), without ND.
  static bool multicast_mac(const Addr& a, uint8_t* mac) {
    if (a[0] != 0xff) return false;
    mac[0] = 0x33, mac[1] = 0x33;
    std::memcpy(mac + 2, a.data() + 12, 4);
    return true;
  }

  // The destination annotation (when not ::), else the IPv6 header's destination.
  static bool destination(Packet* p, Addr& out) {
    static const uint8_t zero[16] = {};
    const uint8_t* d = p->anno().dst_ip6;
    if (std::memcmp(d, zero, 16) == 0) {
      const uint8_t* ip = p->network_header();
      if (!ip) ip = p->data();
      if (ip < p->data() || ip + 40 > p->end_data()) return false;
      d = ip + 24;
    }
    std::memcpy(out.data(), d, 16);
    return true;
  }

  // A Neighbor Advertisement teaches its target's link-layer address (the target link-layer
  // address option, else the frame's source). Frames that are not advertisements teach
  // nothing; advertisements that fail a check are malformed.
  static Reply parse_reply(const Packet* p, Learned& out) {
    const uint8_t* d = p->data();
    if (p->length() < 54 || d[12] != 0x86 || d[13] != 0xdd) return Reply::Ignored;
    const uint8_t* ip = d + 14;
    const uint32_t plen = ip::load_be16(ip + 4);
    if ((ip[0] >> 4) != 6 || plen > p->length() - 54 || ip[6] != 58) return Reply::Ignored;
    const uint8_t* icmp = ip + 40;
    if (plen < 24 || icmp[0] != 136) return Reply::Ignored;
    if (icmp[1] != 0 || ip[7] != 255) return Reply::Malformed;
    if (ip::fold(ip::sum_bytes(icmp, plen, pseudo(ip, plen))) != 0xffff) return Reply::Malformed;
    if (icmp[8] == 0xff) return Reply::Malformed;  // a multicast target
    const uint8_t* mac = d + 6;
    for (uint32_t off = 24; off < plen;) {
      if (off + 2 > plen) return Reply::Malformed;
      const uint32_t olen = uint32_t(icmp[off + 1]) * 8;
      if (olen == 0 || off + olen > plen) return Reply::Malformed;
      if (icmp[off] == 2) mac = icmp + off + 2;
      off += olen;
    }
    static const uint8_t zero[6] = {};
    if ((mac[0] & 1) || std::memcmp(mac, zero, 6) == 0) return Reply::Malformed;
    out.mac = mac;
    std::memcpy(out.addr.data(), icmp + 8, 16);
    std::memcpy(out.to.data(), ip + 24, 16);
    return Reply::Valid;
  }

  // A Neighbor Solicitation (86 bytes) for `target`, to its solicited-node multicast address
  // ff02::1:ffXX:XXXX (33:33:ff:XX:XX:XX), with the source link-layer address option.
  void build_request(Packet* p, const Addr& target) const {
    const uint8_t* t = target.data();
    p->put(86);
    uint8_t* d = p->data();
    d[0] = 0x33, d[1] = 0x33, d[2] = 0xff, d[3] = t[13], d[4] = t[14], d[5] = t[15];
    std::memcpy(d + 6, my_mac_, 6);
    d[12] = 0x86, d[13] = 0xdd;
    uint8_t* ip = d + 14;
    ip[0] = 0x60, ip[1] = 0, ip[2] = 0, ip[3] = 0, ip[4] = 0, ip[5] = 32, ip[6] = 58, ip[7] = 255;
    std::memcpy(ip + 8, my_ip_.data(), 16);
    static const uint8_t snm[13] = {0xff, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0xff};
    std::memcpy(ip + 24, snm, 13);
    std::memcpy(ip + 37, t + 13, 3);
    uint8_t* ns = ip + 40;
    std::memset(ns, 0, 8);
    ns[0] = 135;
    std::memcpy(ns + 8, t, 16);
    ns[24] = 1, ns[25] = 1;
    std::memcpy(ns + 26, my_mac_, 6);
    ip::store16(ns + 2, ip::checksum(ns, 32, pseudo(ip, 32)));
    p->set_mac_header(d);
    p->set_network_header(ip);
  }

 private:
  static uint64_t pseudo(const uint8_t* ip, uint32_t length) {
    return ip::sum_bytes(ip + 8, 32) + ip::net16(uint16_t(length >> 16)) + ip::net16(uint16_t(length)) + ip::net16(58);
  }
};

PG_ELEMENT(IP6NDSolicitor);

}  // namespace pg
