// ARPResponder: answers ARP requests for configured addresses. Documentation: ARPResponder.ts.
#include <arpa/inet.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <sstream>
#include <string>
#include <vector>

#include "per_packet.h"

namespace pg {

class ARPResponder final : public PerPacketElement<ARPResponder> {
 public:
  const char* processing() const override { return "h/h"; }

  void configure(const Config& conf) override {
    const json::Value& list = conf.value("entries");
    if (!list.is_array()) throw ConfigError("entries: must be an array of 'ADDRESS[/LEN] MAC' strings");
    if (list.as_array().empty()) throw ConfigError("entries: give at least one 'ADDRESS[/LEN] MAC'");
    for (const json::Value& v : list.as_array()) {
      if (!v.is_string()) throw ConfigError("entries: must be an array of 'ADDRESS[/LEN] MAC' strings");
      entries_.push_back(parse_entry(v.as_string()));
    }
    // Longest prefix first; stable, so among equal lengths the first listed wins.
    std::stable_sort(entries_.begin(), entries_.end(), [](const Entry& a, const Entry& b) { return a.len > b.len; });
    c_passed_ = int32_t(counter("replies"));  // 0
    counter("drops_not_request");             // 1
    counter("drops_no_entry");                // 2
    counter("drops_malformed");               // 3
  }

  uint32_t action(Packet* p) const {
    if (p->length() < 14) return kMalformed;
    uint8_t* d = p->data();
    if (d[12] != 0x08 || d[13] != 0x06) return kNotRequest;
    if (p->length() < 42) return kMalformed;
    uint8_t* a = d + 14;
    // htype 1, ptype 0x0800, hlen 6, plen 4
    if (a[0] != 0 || a[1] != 1 || a[2] != 0x08 || a[3] != 0x00 || a[4] != 6 || a[5] != 4) return kMalformed;
    if (a[6] != 0 || a[7] != 1) return kNotRequest;
    uint32_t tpa;
    std::memcpy(&tpa, a + 24, 4);
    const uint32_t target = ntohl(tpa);
    const Entry* e = nullptr;
    for (const Entry& x : entries_)
      if ((target & x.mask) == x.addr) {
        e = &x;
        break;
      }
    if (!e) return kNoEntry;
    // a: [0..8) fixed, [8..14) sha, [14..18) spa, [18..24) tha, [24..28) tpa
    uint8_t sha[6], spa[4];
    std::memcpy(sha, a + 8, 6);
    std::memcpy(spa, a + 14, 4);
    a[7] = 2;                      // reply
    std::memcpy(a + 8, e->mac, 6);  // sender: the entry's MAC ...
    std::memcpy(a + 14, &tpa, 4);   // ... and the requested address
    std::memcpy(a + 18, sha, 6);    // target: the requester
    std::memcpy(a + 24, spa, 4);
    std::memcpy(d, sha, 6);
    std::memcpy(d + 6, e->mac, 6);
    p->set_mac_header(d);
    return kKeep;
  }

 private:
  static constexpr uint32_t kNotRequest = 1, kNoEntry = 2, kMalformed = 3;

  struct Entry {
    uint32_t addr = 0, mask = 0;  // host byte order; addr already masked
    int len = 32;
    uint8_t mac[6] = {};
  };

  static Entry parse_entry(const std::string& text) {
    const std::string what = "entries: '" + text + "'";
    std::istringstream in(text);
    std::string prefix, macs, extra;
    if (!(in >> prefix >> macs) || (in >> extra))
      throw ConfigError(what + " is not 'ADDRESS[/LEN] MAC'");
    Entry e;
    std::string addr = prefix;
    const size_t slash = prefix.find('/');
    if (slash != std::string::npos) {
      addr = prefix.substr(0, slash);
      const std::string len = prefix.substr(slash + 1);
      if (len.empty() || len.size() > 2 || !std::all_of(len.begin(), len.end(), [](char c) { return std::isdigit(uint8_t(c)); }))
        throw ConfigError(what + ": bad prefix length");
      e.len = std::stoi(len);
      if (e.len > 32) throw ConfigError(what + ": a prefix length is at most 32");
    }
    const uint32_t a = config_ipv4(addr, what);
    e.mask = e.len == 0 ? 0 : ~uint32_t(0) << (32 - e.len);
    e.addr = ntohl(a) & e.mask;
    config_ether(macs, what, e.mac);
    return e;
  }

  std::vector<Entry> entries_;
};

PG_ELEMENT(ARPResponder);

}  // namespace pg
