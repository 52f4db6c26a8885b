// IP6NDAdvertiser: answers IPv6 Neighbor Solicitations for its addresses with Neighbor
// Advertisements. Documentation: IP6NDAdvertiser.ts.
#include <arpa/inet.h>

#include <cstdio>
#include <cstring>
#include <sstream>
#include <string>
#include <vector>

#include "ip_util.h"
#include "element.h"

namespace pg {

class IP6NDAdvertiser final : public Element {
 public:
  void configure(const Config& conf) override {
    // The compiler's parse of `entries`: {ip, mac}, typed.
    const json::Value& list = conf.value("compiledEntries");
    if (!list.is_array() || list.as_array().empty()) throw ConfigError("config field 'compiledEntries' must be a non-empty array of {ip, mac}");
    for (size_t i = 0; i < list.as_array().size(); i++) {
      const json::Value& x = list.as_array()[i];
      const std::string what = "config field 'compiledEntries." + std::to_string(i);
      const json::Value* ip = x.is_object() ? x.find("ip") : nullptr;
      const json::Value* mac = x.is_object() ? x.find("mac") : nullptr;
      if (!ip || !mac) throw ConfigError(what + "' must be {ip, mac}, got " + x.dump());
      Entry e{};
      typed_ipv6(*ip, what + ".ip'", e.ip);
      if (e.ip[0] == 0xff) throw ConfigError(what + ".ip': " + format_ipv6(e.ip) + " is a multicast address");
      typed_mac(*mac, what + ".mac'", e.mac);
      entries_.push_back(e);
    }
    c_adverts_ = counter("advertisements");
    c_not_ns_ = counter("drops_not_solicitation");
    c_hop_limit_ = counter("drops_hop_limit");
    c_checksum_ = counter("drops_checksum");
    c_no_entry_ = counter("drops_no_entry");
    c_malformed_ = counter("drops_malformed");
  }

  void push(int, Batch& b) override {
    Packet* dead[kMaxBatch];
    uint32_t reasons[kReasons] = {};
    uint32_t ndead = 0, keep = 0;
    for (uint32_t i = 0; i < b.count; i++) {
      Packet* p = b.pkts[i];
      const int r = answer(p);
      if (r == kAnswered) {
        b.pkts[keep++] = p;
      } else {
        reasons[r]++;
        dead[ndead++] = p;
      }
    }
    b.count = keep;
    if (ndead) pool().free(dead, ndead);
    if (keep) count(c_adverts_, keep);
    if (reasons[kNotNS]) count(c_not_ns_, reasons[kNotNS]);
    if (reasons[kHopLimit]) count(c_hop_limit_, reasons[kHopLimit]);
    if (reasons[kChecksum]) count(c_checksum_, reasons[kChecksum]);
    if (reasons[kNoEntry]) count(c_no_entry_, reasons[kNoEntry]);
    if (reasons[kMalformed]) count(c_malformed_, reasons[kMalformed]);
    if (keep) output_push(0, b);
  }

 private:
  enum : int { kNotNS = 0, kHopLimit, kChecksum, kNoEntry, kMalformed, kReasons, kAnswered };
  struct Entry {
    uint8_t ip[16];
    uint8_t mac[6];
  };

  static uint64_t pseudo(const uint8_t* ip, uint32_t length) {
    return ip::sum_bytes(ip + 8, 32) + ip::net16(uint16_t(length >> 16)) + ip::net16(uint16_t(length)) + ip::net16(58);
  }

  // Turns a solicitation into the advertisement, in place; returns kAnswered or a drop reason.
  int answer(Packet* p) const {
    if (p->length() < 14) return kMalformed;
    uint8_t* d = p->data();
    if (d[12] != 0x86 || d[13] != 0xdd) return kNotNS;
    if (p->length() < 54) return kMalformed;
    uint8_t* ip = d + 14;
    if ((ip[0] >> 4) != 6) return kMalformed;
    const uint32_t avail = p->length() - 54;
    const uint32_t plen = ip::load_be16(ip + 4);
    if (plen > avail) return kMalformed;
    if (ip[6] != 58) return kNotNS;
    const uint8_t* icmp = ip + 40;
    if (plen < 1 || icmp[0] != 135) return kNotNS;
    if (ip[7] != 255) return kHopLimit;
    if (plen < 24 || icmp[1] != 0) return kMalformed;
    if (ip::fold(ip::sum_bytes(icmp, plen, pseudo(ip, plen))) != 0xffff) return kChecksum;
    const uint8_t* target = icmp + 8;
    if (target[0] == 0xff) return kMalformed;
    // The solicitor's link-layer address: the source link-layer address option, else the
    // frame's source.
    const uint8_t* sll = d + 6;
    for (uint32_t off = 24; off < plen;) {
      if (off + 2 > plen) return kMalformed;
      const uint32_t olen = uint32_t(icmp[off + 1]) * 8;
      if (olen == 0 || off + olen > plen) return kMalformed;
      if (icmp[off] == 1 && olen >= 8) sll = icmp + off + 2;
      off += olen;
    }
    const Entry* e = nullptr;
    for (const Entry& x : entries_)
      if (std::memcmp(x.ip, target, 16) == 0) {
        e = &x;
        break;
      }
    if (!e) return kNoEntry;
    static const uint8_t zero[16] = {};
    const bool dad = std::memcmp(ip + 8, zero, 16) == 0;  // duplicate address detection
    uint8_t dst_ip[16], dst_mac[6];
    if (dad) {
      static const uint8_t all_nodes[16] = {0xff, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
      std::memcpy(dst_ip, all_nodes, 16);
      const uint8_t m[6] = {0x33, 0x33, 0, 0, 0, 1};
      std::memcpy(dst_mac, m, 6);
    } else {
      std::memcpy(dst_ip, ip + 8, 16);
      std::memcpy(dst_mac, sll, 6);
    }
    // 86 bytes: Ethernet, IPv6, the advertisement (24) and the target link-layer address option.
    if (!p->set_length(86)) return kMalformed;
    d = p->data();
    ip = d + 14;
    std::memcpy(d, dst_mac, 6);
    std::memcpy(d + 6, e->mac, 6);
    ip[0] = 0x60, ip[1] = 0, ip[2] = 0, ip[3] = 0;
    ip[4] = 0, ip[5] = 32, ip[6] = 58, ip[7] = 255;
    std::memcpy(ip + 8, e->ip, 16);
    std::memcpy(ip + 24, dst_ip, 16);
    uint8_t* na = ip + 40;
    na[0] = 136, na[1] = 0, na[2] = na[3] = 0;
    na[4] = dad ? 0x20 : 0x60;  // Solicited (not for DAD) + Override
    na[5] = na[6] = na[7] = 0;
    std::memcpy(na + 8, e->ip, 16);
    na[24] = 2, na[25] = 1;
    std::memcpy(na + 26, e->mac, 6);
    ip::store16(na + 2, ip::checksum(na, 32, pseudo(ip, 32)));
    p->set_mac_header(d);
    p->set_network_header(ip);
    p->set_transport_header(na);
    return kAnswered;
  }

  std::vector<Entry> entries_;
  uint32_t c_adverts_ = 0, c_not_ns_ = 0, c_hop_limit_ = 0, c_checksum_ = 0, c_no_entry_ = 0, c_malformed_ = 0;
};

PG_ELEMENT(IP6NDAdvertiser);

}  // namespace pg
