// ARPResponder: answers ARP requests for configured addresses. Documentation: ARPResponder.ts.
#include <arpa/inet.h>

#include <algorithm>
#include <bit>
#include <cctype>
#include <cstring>
#include <sstream>
#include <string>
#include <vector>

#include "per_packet.h"

namespace pg {

class ARPResponder final : public PerPacketElement<ARPResponder> {
 public:
  void configure(const Config& conf) override {
    // The compiler's parse of `entries`: one {prefix, mac} per address, typed.
    const json::Value& list = conf.value("compiledEntries");
    if (!list.is_array() || list.as_array().empty()) throw ConfigError("config field 'compiledEntries' must be a non-empty array of {prefix, mac}");
    std::vector<Entry> v;
    for (size_t i = 0; i < list.as_array().size(); i++) {
      const json::Value& x = list.as_array()[i];
      const std::string what = "config field 'compiledEntries." + std::to_string(i);
      const json::Value* prefix = x.is_object() ? x.find("prefix") : nullptr;
      const json::Value* mac = x.is_object() ? x.find("mac") : nullptr;
      if (!prefix || !mac) throw ConfigError(what + "' must be {prefix, mac}, got " + x.dump());
      Entry e;
      e.addr = ntohl(typed_ipv4_prefix(*prefix, what + ".prefix'", e.len));
      e.mask = e.len == 0 ? 0 : ~uint32_t(0) << (32 - e.len);
      e.addr &= e.mask;
      typed_mac(*mac, what + ".mac'", e.mac);
      v.push_back(e);
    }
    entries_ = merge({}, v);
    c_passed_ = int32_t(counter("replies"));  // 0
    counter("drops_not_request");             // 1
    counter("drops_no_entry");                // 2
    counter("drops_malformed");               // 3
  }

  void add_handlers(std::vector<Handler>& h) override {
    h.push_back({"table", [this] { return table_text(); }, nullptr});
    // add and remove change the entries the packet path scans: with the graph paused.
    h.push_back({"add", nullptr, [this](const std::string& v) { add(v); }, /*exclusive=*/true});
    h.push_back({"remove", nullptr, [this](const std::string& v) { remove(v); }, /*exclusive=*/true});
    h.push_back({"lookup", nullptr, [this](const std::string& v) { lookup(v); }});
    h.push_back({"lookup_result", [this] { return lookup_result_; }, nullptr});
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
    const Entry* e = find(ntohl(tpa));
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

  // The longest prefix matching a (host order): the entries are sorted longest first.
  const Entry* find(uint32_t a) const {
    for (const Entry& x : entries_)
      if ((a & x.mask) == x.addr) return &x;
    return nullptr;
  }

  static std::vector<std::string> words(const std::string& s) {
    std::istringstream in(s);
    std::vector<std::string> w;
    for (std::string x; in >> x;) w.push_back(x);
    return w;
  }

  // 'ADDRESS[/LEN]' into e (address and mask), LEN a length or a dotted netmask whose one bits
  // are together at the top (Click's 10.0.0.0/255.255.255.0); false if it is not one.
  static bool parse_prefix(const std::string& text, Entry& e) {
    std::string addr = text;
    e.len = 32;
    const size_t slash = text.find('/');
    if (slash != std::string::npos) {
      addr = text.substr(0, slash);
      const std::string len = text.substr(slash + 1);
      if (uint32_t mask; parse_ipv4(len, mask)) {  // host order
        e.len = std::countl_one(mask);
        if (e.len < 32 && (mask << e.len) != 0) return false;
      } else {
        if (len.empty() || len.size() > 2 || !std::all_of(len.begin(), len.end(), [](char c) { return std::isdigit(uint8_t(c)); })) return false;
        e.len = std::stoi(len);
        if (e.len > 32) return false;
      }
    }
    uint32_t a;
    if (!parse_ipv4(addr, a)) return false;
    e.mask = e.len == 0 ? 0 : ~uint32_t(0) << (32 - e.len);
    e.addr = a & e.mask;
    return true;
  }

  // One entry, Click's 'ADDRESS[/LEN] [ADDRESS[/LEN] ...] MAC' (every address answered with
  // MAC), appended to out; false with err set if it is not one.
  static bool parse_entry(const std::string& text, std::vector<Entry>& out, std::string& err) {
    const std::vector<std::string> w = words(text);
    Entry e;
    if (w.size() < 2 || !parse_mac(w.back(), e.mac)) {
      err = "'" + text + "' is not 'ADDRESS[/LEN] ... MAC'";
      return false;
    }
    for (size_t i = 0; i + 1 < w.size(); i++) {
      if (!parse_prefix(w[i], e)) {
        err = "'" + text + "': '" + w[i] + "' is not an IPv4 address or prefix";
        return false;
      }
      out.push_back(e);
    }
    return true;
  }

  // old plus add, an entry of add replacing one of old (or an earlier one of add) for the
  // same prefix (Click keeps the later one), sorted longest prefix first (stable).
  static std::vector<Entry> merge(std::vector<Entry> old, const std::vector<Entry>& add) {
    for (const Entry& e : add) {
      auto same = std::find_if(old.begin(), old.end(), [&](const Entry& x) { return x.addr == e.addr && x.len == e.len; });
      if (same != old.end()) *same = e;
      else old.push_back(e);
    }
    std::stable_sort(old.begin(), old.end(), [](const Entry& a, const Entry& b) { return a.len > b.len; });
    return old;
  }

  static std::vector<std::string> lines(const std::string& s) {
    std::vector<std::string> out;
    std::istringstream in(s);
    for (std::string l; std::getline(in, l);)
      if (!words(l).empty()) out.push_back(l);
    return out;
  }

  // Entries, one per line; all or nothing.
  void add(const std::string& text) {
    std::vector<Entry> v;
    std::string err;
    const std::vector<std::string> ls = lines(text);
    if (ls.empty()) throw HandlerError("add: write 'ADDRESS[/LEN] ... MAC', like '10.0.0.1 02:00:00:00:00:01'");
    for (const std::string& l : ls)
      if (!parse_entry(l, v, err)) throw HandlerError("add: " + err);
    entries_ = merge(entries_, v);
  }

  // Prefixes, one per line, each removing the entry for exactly that prefix; all or nothing.
  void remove(const std::string& text) {
    std::vector<Entry> keep = entries_;
    const std::vector<std::string> ls = lines(text);
    if (ls.empty()) throw HandlerError("remove: write 'ADDRESS[/LEN]', like '10.0.0.1' or '10.0.0.0/24'");
    for (const std::string& l : ls) {
      const std::vector<std::string> w = words(l);
      Entry e;
      if (w.size() != 1 || !parse_prefix(w[0], e)) throw HandlerError("remove: '" + l + "' is not 'ADDRESS[/LEN]'");
      auto it = std::find_if(keep.begin(), keep.end(), [&](const Entry& x) { return x.addr == e.addr && x.len == e.len; });
      if (it == keep.end()) throw HandlerError("remove: " + prefix_text(e) + " not found");
      keep.erase(it);
    }
    entries_ = std::move(keep);
  }

  void lookup(const std::string& text) {
    const std::vector<std::string> w = words(text);
    uint32_t a;
    if (w.size() != 1 || !parse_ipv4(w[0], a)) throw HandlerError("lookup: write an IPv4 address");
    const Entry* e = find(a);
    lookup_result_ = e ? format_mac(e->mac) : "";
  }

  static std::string prefix_text(const Entry& e) { return format_ipv4(e.addr) + "/" + std::to_string(e.len); }

  std::string table_text() const {
    std::string s;
    for (const Entry& e : entries_) s += prefix_text(e) + " " + format_mac(e.mac) + "\n";
    return s;
  }

  std::vector<Entry> entries_;
  std::string lookup_result_;  // control thread only
};

PG_ELEMENT(ARPResponder);

}  // namespace pg
