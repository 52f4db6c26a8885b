// ARPQuerier: resolves next hops with ARP and encapsulates IPv4 packets in Ethernet.
// Documentation: ARPQuerier.ts. The table, queues, timer and handlers: resolver.h; this
// file holds what is ARP's own (addresses, the request, the reply).
#include <arpa/inet.h>

#include <cstring>

#include "resolver.h"

namespace pg {

class ARPQuerier final : public NeighbourResolver<ARPQuerier, 4> {
 public:
  static constexpr const char* kFamily = "IPv4";
  static constexpr const char* kIgnoredCounter = "arp_ignored";
  static constexpr const char* kInsertExample = "10.0.0.2";
  static constexpr uint16_t kEtherType = 0x0800;

  void configure(const Config& conf) override {
    NeighbourResolver::configure(conf);
    const uint32_t b = conf.ipv4("broadcast");  // the compiler derives it from ip's prefix
    std::memcpy(bcast_.data(), &b, 4);
  }

  static void config_addr(const Config& conf, Addr& out) {
    int len;
    const uint32_t a = conf.ipv4_prefix("ip", len);  // the prefix gave `broadcast`, derived by the compiler
    std::memcpy(out.data(), &a, 4);
  }
  static bool parse_addr(const std::string& s, Addr& out) {
    uint32_t a;
    if (!parse_ipv4(s, a)) return false;
    a = htonl(a);
    std::memcpy(out.data(), &a, 4);
    return true;
  }
  static const char* refused(const Addr&) { return nullptr; }
  static void format_addr(const Addr& a, std::string& out) {
    char text[INET_ADDRSTRLEN];
    std::snprintf(text, sizeof text, "%u.%u.%u.%u", a[0], a[1], a[2], a[3]);
    out += text;
  }
  // 255.255.255.255 and the subnet's broadcast address go to the broadcast address,
  // 224.0.0.0/4 to 01:00:5e and its low 23 bits.
  bool multicast_mac(const Addr& a, uint8_t* mac) const {
    if ((a[0] == 0xff && a[1] == 0xff && a[2] == 0xff && a[3] == 0xff) || a == bcast_) {
      std::memset(mac, 0xff, 6);
      return true;
    }
    if ((a[0] >> 4) == 0xe) {
      mac[0] = 0x01, mac[1] = 0x00, mac[2] = 0x5e;
      mac[3] = uint8_t(a[1] & 0x7f), mac[4] = a[2], mac[5] = a[3];
      return true;
    }
    return false;
  }

  // The destination annotation, else the IPv4 header's destination.
  static bool destination(Packet* p, Addr& out) {
    uint32_t d = p->anno().dst_ip4;
    if (!d) {
      const uint8_t* ip = p->network_header();
      if (!ip) ip = p->data();
      if (ip < p->data() || ip + 20 > p->end_data()) return false;
      std::memcpy(&d, ip + 16, 4);
    }
    std::memcpy(out.data(), &d, 4);
    return true;
  }

  // An Ethernet/IPv4 ARP reply teaches its sender's addresses; other ARP frames teach nothing.
  static Reply parse_reply(const Packet* p, Learned& out) {
    const uint8_t* d = p->data();
    if (p->length() < 42 || d[12] != 0x08 || d[13] != 0x06) return Reply::Malformed;
    const uint8_t* a = d + 14;
    if (a[0] != 0 || a[1] != 1 || a[2] != 0x08 || a[3] != 0x00 || a[4] != 6 || a[5] != 4) return Reply::Malformed;
    static const uint8_t zero[6] = {};
    if ((a[8] & 1) || std::memcmp(a + 8, zero, 6) == 0) return Reply::Malformed;  // a multicast or null sender address
    if (a[6] != 0 || a[7] != 2) return Reply::Ignored;
    out.mac = a + 8;
    std::memcpy(out.addr.data(), a + 14, 4);
    std::memcpy(out.to.data(), a + 24, 4);
    return Reply::Valid;
  }

  // A 42-byte broadcast request: who has `target`, tell my_ip_.
  void build_request(Packet* p, const Addr& target) const {
    p->put(42);
    uint8_t* d = p->data();
    std::memset(d, 0xff, 6);
    std::memcpy(d + 6, my_mac_, 6);
    d[12] = 0x08, d[13] = 0x06;
    uint8_t* a = d + 14;
    a[0] = 0, a[1] = 1, a[2] = 0x08, a[3] = 0x00, a[4] = 6, a[5] = 4, a[6] = 0, a[7] = 1;
    std::memcpy(a + 8, my_mac_, 6);
    std::memcpy(a + 14, my_ip_.data(), 4);
    std::memset(a + 18, 0, 6);
    std::memcpy(a + 24, target.data(), 4);
    p->set_mac_header(d);
  }

 private:
  Addr bcast_{};  // the subnet broadcast address (255.255.255.255 when there is none)
};

PG_ELEMENT(ARPQuerier);

}  // namespace pg
