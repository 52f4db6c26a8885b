// DHCPServer: a DHCPv4 server for one subnet (RFC 2131/2132). Documentation: DHCPServer.ts.
//
// The lease table is one slot per pool address (allocated at load), found from a client's
// MAC through a HashTable; static bindings sit in their own table. Requests are rare, so the
// lowest free address is found by a scan of the pool. Answers are new packets from the pool;
// requests are always consumed.
#include <arpa/inet.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "element.h"
#include "hash_table.h"
#include "ip_util.h"
#include "spin_lock.h"

namespace pg {

class DHCPServer final : public Element {
 public:
  void configure(const Config& conf) override {
    int len = 0;
    server_ = ntohl(conf.ipv4_prefix("address", len));
    if (len > 30) throw ConfigError("config field 'address': give the subnet's prefix length (at most /30)");
    mask_ = len == 0 ? 0 : uint32_t(0xffffffffu << (32 - len));
    conf.mac("mac", mac_);
    start_ = ntohl(conf.ipv4("poolStart"));
    const uint32_t end = ntohl(conf.ipv4("poolEnd"));
    if (end < start_ || end - start_ >= 65536) throw ConfigError("config fields 'poolStart', 'poolEnd': at most 65536 addresses, start first");
    if (!in_subnet(start_) || !in_subnet(end)) throw ConfigError("config fields 'poolStart', 'poolEnd': the pool must lie inside the subnet of 'address'");
    router_ = conf.value("router").is_null() ? 0 : ntohl(conf.ipv4("router"));
    for (uint32_t d : conf.ipv4_list("dns")) dns_.push_back(ntohl(d));
    lease_ns_ = uint64_t(conf.integer("leaseTime")) * 1000000000ull;
    lease_s_ = uint32_t(conf.integer("leaseTime"));
    offer_ns_ = uint64_t(conf.integer("offerTime")) * 1000000000ull;
    leases_.assign(end - start_ + 1, Lease{});
    by_mac_.init(uint32_t(leases_.size()));
    const auto& list = conf.checked("static").as_array();
    static_by_mac_.init(uint32_t(std::max<size_t>(list.size(), 1)));
    static_ips_.init(uint32_t(std::max<size_t>(list.size(), 1)));
    for (size_t i = 0; i < list.size(); i++) {
      const std::string what = "config field 'static." + std::to_string(i);
      const json::Value* m = list[i].find("mac");
      const json::Value* a = list[i].find("ip");
      if (!m || !a) throw ConfigError(what + "': needs mac and ip");
      uint8_t mb[6];
      typed_mac(*m, what + ".mac'", mb);
      const uint32_t ip = ntohl(typed_ipv4(*a, what + ".ip'"));
      if (!in_subnet(ip) || ip == server_) throw ConfigError(what + ".ip': not an address of the subnet other than the server's");
      bool inserted;
      uint32_t* v = static_by_mac_.find_or_insert(mac_key(mb), inserted);
      if (!inserted) throw ConfigError(what + ".mac': bound twice");
      *v = ip;
      static_ips_.find_or_insert(ip, inserted);
      if (!inserted) throw ConfigError(what + ".ip': bound twice");
    }
    c_discovers_ = counter("discovers");
    c_offers_ = counter("offers");
    c_requests_ = counter("requests");
    c_acks_ = counter("acks");
    c_naks_ = counter("naks");
    c_releases_ = counter("releases");
    c_declines_ = counter("declines");
    c_informs_ = counter("informs");
    c_other_server_ = counter("other_server");
    c_not_dhcp_ = counter("drops_not_dhcp");
    c_malformed_ = counter("drops_malformed");
    c_exhausted_ = counter("drops_pool_exhausted");
    c_ignored_ = counter("drops_ignored");
    c_pool_empty_ = counter("drops_pool_empty");
    add_timer(clock_timer_);
  }

  // The first round's time, then once a second: the engine's clock for the leases handler.
  void initialize() override { clock_timer_.schedule_at(1); }

  void push(int, Batch& b) override {
    const uint64_t now = now_ns();
    clock_.store(now, std::memory_order_relaxed);
    Batch out;
    {
      SpinLock::Guard lock(lock_);
      for (uint32_t i = 0; i < b.count; i++)
        if (Packet* r = handle(b.pkts[i], now)) out.add(r);
    }
    drop(b);  // requests are consumed (counted under what became of them)
    if (out.count) output_push(0, out);
  }

  // Hot reconfiguration: leases and offers carry over (with their clients and expiry times)
  // for addresses the new pool still holds that are not now the server's or a static binding's.
  void take_state(Element& old) override {
    auto& o = static_cast<DHCPServer&>(old);
    for (uint32_t i = 0; i < o.leases_.size(); i++) {
      const Lease& l = o.leases_[i];
      const uint32_t ip = o.start_ + i;
      if (!l.mac || !in_pool(ip) || reserved(ip)) continue;
      assign(ip - start_, l.mac, l.state, l.expires);
    }
    clock_.store(o.clock_.load());
  }

  void add_handlers(std::vector<Handler>& h) override { h.push_back({"leases", [this] { return leases_text(); }, nullptr}); }

 private:
  enum State : uint8_t { kFree, kOffered, kBound, kDeclined };
  enum Type : uint8_t { kDiscover = 1, kOffer, kRequest, kDecline, kAck, kNak, kRelease, kInform };
  struct Lease {
    uint64_t mac = 0;  // 0: never assigned
    uint64_t expires = 0;
    State state = kFree;
  };
  struct Msg {
    const uint8_t* src_mac;
    const uint8_t* bootp;  // the request's BOOTP header
    uint8_t type = 0;
    uint32_t requested = 0, server_id = 0, ciaddr = 0, giaddr = 0;
    bool has_requested = false, has_server_id = false;
    uint64_t mac = 0;
  };

  static uint64_t mac_key(const uint8_t* m) {
    return uint64_t(m[0]) << 40 | uint64_t(m[1]) << 32 | uint64_t(m[2]) << 24 | uint64_t(m[3]) << 16 | uint64_t(m[4]) << 8 | m[5];
  }
  static uint32_t be32(const uint8_t* p) { return uint32_t(p[0]) << 24 | uint32_t(p[1]) << 16 | uint32_t(p[2]) << 8 | p[3]; }
  static void put32(uint8_t* p, uint32_t v) {
    p[0] = uint8_t(v >> 24);
    p[1] = uint8_t(v >> 16);
    p[2] = uint8_t(v >> 8);
    p[3] = uint8_t(v);
  }
  bool in_subnet(uint32_t ip) const { return (ip & mask_) == (server_ & mask_) && ip != (server_ & mask_) && ip != ((server_ & mask_) | ~mask_); }
  bool in_pool(uint32_t ip) const { return ip >= start_ && ip - start_ < leases_.size(); }
  bool reserved(uint32_t ip) const { return ip == server_ || static_ips_.find(ip) != nullptr; }
  bool live(const Lease& l, uint64_t now) const { return l.state != kFree && now < l.expires; }
  // Whether pool slot i may be given to `mac`.
  bool available(uint32_t i, uint64_t mac, uint64_t now) const {
    const Lease& l = leases_[i];
    if (reserved(start_ + i)) return false;
    return !live(l, now) || (l.mac == mac && l.state != kDeclined);
  }
  // The pool slot the client holds or last held (live or not), or -1.
  int64_t slot_of(uint64_t mac) const {
    const uint32_t* i = by_mac_.find(mac);
    return i && leases_[*i].mac == mac && leases_[*i].state != kDeclined ? int64_t(*i) : -1;
  }
  void assign(uint32_t i, uint64_t mac, State state, uint64_t expires) {
    Lease& l = leases_[i];
    if (l.mac != mac) {
      if (l.mac) {
        const uint32_t* old = by_mac_.find(l.mac);
        if (old && *old == i) by_mac_.erase(l.mac);
      }
      if (const uint32_t* prev = by_mac_.find(mac)) leases_[*prev].mac = leases_[*prev].state == kDeclined ? leases_[*prev].mac : 0;
      bool inserted;
      uint32_t* v = by_mac_.find_or_insert(mac, inserted);
      if (v) *v = i;
      l.mac = mac;
    }
    l.state = state;
    l.expires = expires;
  }

  // Parses a request; false (counted) when it is not one or is malformed.
  bool parse(Packet* p, Msg& m) {
    const uint8_t* d = p->data();
    const uint32_t len = p->length();
    if (len < 14 + 20 + 8 || d[12] != 0x08 || d[13] != 0x00 || (d[14] >> 4) != 4 || d[14 + 9] != 17) return count(c_not_dhcp_), false;
    const uint32_t ihl = uint32_t(d[14] & 15) * 4;
    if (ihl < 20 || 14 + ihl + 8 > len) return count(c_malformed_), false;
    const uint8_t* udp = d + 14 + ihl;
    if (ip::load_be16(udp + 2) != 67) return count(c_not_dhcp_), false;
    if ((ip::load_be16(d + 14 + 6) & 0x3fff) != 0) return count(c_malformed_), false;  // a fragment
    const uint32_t ulen = ip::load_be16(udp + 4);
    if (ulen < 8 + 240 || 14 + ihl + ulen > len) return count(c_malformed_), false;
    const uint8_t* bp = udp + 8;
    const uint32_t blen = ulen - 8;
    if (bp[0] != 1 || bp[1] != 1 || bp[2] != 6 || be32(bp + 236) != 0x63825363) return count(c_malformed_), false;
    m.src_mac = d + 6;
    m.bootp = bp;
    m.mac = mac_key(bp + 28);
    m.ciaddr = be32(bp + 12);
    m.giaddr = be32(bp + 24);
    for (uint32_t o = 240; o < blen;) {
      const uint8_t code = bp[o];
      if (code == 255) break;
      if (code == 0) {
        o++;
        continue;
      }
      if (o + 2 > blen || o + 2 + bp[o + 1] > blen) return count(c_malformed_), false;
      const uint8_t olen = bp[o + 1];
      const uint8_t* v = bp + o + 2;
      if (code == 53) {
        if (olen != 1) return count(c_malformed_), false;
        m.type = v[0];
      } else if (code == 50 || code == 54) {
        if (olen != 4) return count(c_malformed_), false;
        (code == 50 ? m.requested : m.server_id) = be32(v);
        (code == 50 ? m.has_requested : m.has_server_id) = true;
      }
      o += 2 + olen;
    }
    if (m.type < kDiscover || m.type > kInform) return count(c_malformed_), false;
    return true;
  }

  Packet* handle(Packet* p, uint64_t now) {
    Msg m;
    if (!parse(p, m)) return nullptr;
    const uint32_t* fixed = static_by_mac_.find(m.mac);
    switch (m.type) {
      case kDiscover: {
        count(c_discovers_);
        uint32_t ip = 0;
        if (fixed) {
          ip = *fixed;
        } else {
          const int64_t own = slot_of(m.mac);
          if (own >= 0 && available(uint32_t(own), m.mac, now)) ip = start_ + uint32_t(own);
          else if (m.has_requested && in_pool(m.requested) && available(m.requested - start_, m.mac, now)) ip = m.requested;
          else ip = lowest_free(m.mac, now);
          if (!ip) return count(c_exhausted_), nullptr;
          const Lease& l = leases_[ip - start_];
          // An address the client holds stays bound; otherwise it is held as an offer.
          if (!(l.mac == m.mac && l.state == kBound && live(l, now))) assign(ip - start_, m.mac, kOffered, now + offer_ns_);
        }
        count(c_offers_);
        return reply(m, kOffer, ip);
      }
      case kRequest: {
        count(c_requests_);
        if (m.has_server_id && m.server_id != server_) {  // SELECTING another server's offer
          const int64_t own = slot_of(m.mac);
          if (own >= 0 && leases_[size_t(own)].state == kOffered) {
            leases_[size_t(own)].state = kFree;
            leases_[size_t(own)].expires = 0;
          }
          count(c_other_server_);
          return nullptr;
        }
        // The address asked for: option 50 (SELECTING, INIT-REBOOT) or ciaddr (RENEWING, REBINDING).
        const uint32_t want = m.has_requested ? m.requested : m.ciaddr;
        uint32_t ip = 0;
        if (fixed) {
          if (want == *fixed) ip = want;
        } else if (in_pool(want) && !reserved(want)) {
          const Lease& l = leases_[want - start_];
          const bool mine = l.mac == m.mac && l.state != kDeclined && (live(l, now) || !m.has_server_id);
          if (mine || (!m.has_server_id && available(want - start_, m.mac, now))) ip = want;
        }
        if (!ip) {
          count(c_naks_);
          return reply(m, kNak, 0);
        }
        if (!fixed) assign(ip - start_, m.mac, kBound, now + lease_ns_);
        count(c_acks_);
        return reply(m, kAck, ip);
      }
      case kDecline: {
        if (m.has_server_id && m.server_id != server_) return count(c_ignored_), nullptr;
        const int64_t own = slot_of(m.mac);
        if (!m.has_requested || own < 0 || start_ + uint32_t(own) != m.requested) return count(c_ignored_), nullptr;
        Lease& l = leases_[size_t(own)];
        l.state = kDeclined;
        l.expires = now + lease_ns_;
        count(c_declines_);
        return nullptr;
      }
      case kRelease: {
        const int64_t own = slot_of(m.mac);
        if (own < 0 || start_ + uint32_t(own) != m.ciaddr || !live(leases_[size_t(own)], now)) return count(c_ignored_), nullptr;
        Lease& l = leases_[size_t(own)];
        l.state = kFree;
        l.expires = 0;
        count(c_releases_);
        return nullptr;
      }
      case kInform:
        count(c_informs_);
        count(c_acks_);
        return reply(m, kAck, 0);
      default:  // OFFER, ACK, NAK: server messages
        count(c_ignored_);
        return nullptr;
    }
  }

  uint32_t lowest_free(uint64_t mac, uint64_t now) const {
    // Never-assigned addresses first, so an expired lease stays its old client's a while.
    for (int pass = 0; pass < 2; pass++)
      for (uint32_t i = 0; i < leases_.size(); i++)
        if ((pass == 1 || leases_[i].mac == 0) && available(i, mac, now)) return start_ + i;
    return 0;
  }

  Packet* reply(const Msg& m, Type type, uint32_t yiaddr) {
    Packet* r;
    if (pool().alloc(&r, 1) != 1) return count(c_pool_empty_), nullptr;
    uint8_t opts[64];
    uint32_t n = 0;
    auto opt = [&](uint8_t code, uint8_t len) {
      opts[n++] = code;
      opts[n++] = len;
    };
    auto opt32 = [&](uint8_t code, uint32_t v) {
      opt(code, 4);
      put32(opts + n, v);
      n += 4;
    };
    opt(53, 1);
    opts[n++] = type;
    opt32(54, server_);
    if (type != kNak) {
      if (type != kAck || yiaddr) {
        opt32(51, lease_s_);
        opt32(58, lease_s_ / 2);
        opt32(59, uint32_t(uint64_t(lease_s_) * 7 / 8));
      }
      opt32(1, mask_);
      if (router_) opt32(3, router_);
      if (!dns_.empty()) {
        opt(6, uint8_t(4 * dns_.size()));
        for (uint32_t d : dns_) {
          put32(opts + n, d);
          n += 4;
        }
      }
    }
    opts[n++] = 255;
    const uint32_t blen = std::max<uint32_t>(240 + n, 300);  // BOOTP's customary minimum
    const uint32_t total = 14 + 20 + 8 + blen;
    if (!r->set_length(total)) {
      pool().free(&r, 1);
      return count(c_pool_empty_), nullptr;
    }
    uint8_t* d = r->data();
    std::memset(d, 0, total);
    // Where it goes (RFC 2131 4.1).
    const uint8_t* bcast_mac = reinterpret_cast<const uint8_t*>("\xff\xff\xff\xff\xff\xff");
    const bool bflag = m.bootp[10] & 0x80;
    uint32_t dst;
    uint16_t dport = 68;
    const uint8_t* dmac = m.bootp + 28;
    if (m.giaddr) {
      dst = m.giaddr;
      dport = 67;
      dmac = m.src_mac;
    } else if (type == kNak || (!m.ciaddr && bflag)) {
      dst = 0xffffffffu;
      dmac = bcast_mac;
    } else if (m.ciaddr) {
      dst = m.ciaddr;
    } else {
      dst = yiaddr;
    }
    std::memcpy(d, dmac, 6);
    std::memcpy(d + 6, mac_, 6);
    d[12] = 0x08;
    uint8_t* iph = d + 14;
    iph[0] = 0x45;
    ip::store16(iph + 2, ip::net16(uint16_t(20 + 8 + blen)));
    iph[8] = 64;
    iph[9] = 17;
    put32(iph + 12, server_);
    put32(iph + 16, dst);
    ip::store16(iph + 10, ip::checksum(iph, 20));
    uint8_t* udp = iph + 20;
    ip::store16(udp, ip::net16(67));
    ip::store16(udp + 2, ip::net16(dport));
    ip::store16(udp + 4, ip::net16(uint16_t(8 + blen)));
    uint8_t* bp = udp + 8;
    bp[0] = 2;  // BOOTREPLY
    bp[1] = 1;
    bp[2] = 6;
    std::memcpy(bp + 4, m.bootp + 4, 4);    // xid
    std::memcpy(bp + 10, m.bootp + 10, 2);  // flags
    if (type == kAck) std::memcpy(bp + 12, m.bootp + 12, 4);  // ciaddr
    if (type != kNak) put32(bp + 16, yiaddr);
    std::memcpy(bp + 24, m.bootp + 24, 4);  // giaddr
    std::memcpy(bp + 28, m.bootp + 28, 16);  // chaddr
    put32(bp + 236, 0x63825363);
    std::memcpy(bp + 240, opts, n);
    uint16_t sum = ip::checksum(udp, 8 + blen, ip::pseudo_sum(iph, 17, 8 + blen));
    ip::store16(udp + 6, sum ? sum : 0xffff);
    r->set_mac_header(d);
    r->set_network_header(iph);
    return r;
  }

  static std::string ip_text(uint32_t ip) {
    char s[16];
    std::snprintf(s, sizeof s, "%u.%u.%u.%u", ip >> 24, ip >> 16 & 255, ip >> 8 & 255, ip & 255);
    return s;
  }
  static std::string mac_text(uint64_t k) {
    char s[18];
    std::snprintf(s, sizeof s, "%02x:%02x:%02x:%02x:%02x:%02x", unsigned(k >> 40 & 0xff), unsigned(k >> 32 & 0xff), unsigned(k >> 24 & 0xff),
                  unsigned(k >> 16 & 0xff), unsigned(k >> 8 & 0xff), unsigned(k & 0xff));
    return s;
  }

  std::string leases_text() {
    SpinLock::Guard lock(lock_);
    const uint64_t now = clock_.load(std::memory_order_relaxed);
    std::vector<std::pair<uint32_t, std::string>> rows;
    static_by_mac_.for_each([&](uint64_t mac, const uint32_t& ip) { rows.push_back({ip, ip_text(ip) + " " + mac_text(mac) + " static -\n"}); });
    for (uint32_t i = 0; i < leases_.size(); i++) {
      const Lease& l = leases_[i];
      if (!l.mac || (l.state == kFree && !l.expires)) continue;
      const bool alive = live(l, now);
      const char* st = !alive ? "expired" : l.state == kOffered ? "offered" : l.state == kBound ? "bound" : "declined";
      char left[32];
      std::snprintf(left, sizeof left, "%.0f", alive ? double(l.expires - now) / 1e9 : 0.0);
      rows.push_back({start_ + i, ip_text(start_ + i) + " " + mac_text(l.mac) + " " + st + " " + left + "\n"});
    }
    std::sort(rows.begin(), rows.end());
    std::string s;
    for (auto& r : rows) s += r.second;
    return s;
  }

  uint32_t server_ = 0, mask_ = 0, start_ = 0, router_ = 0, lease_s_ = 0;
  uint8_t mac_[6] = {0};
  std::vector<uint32_t> dns_;
  uint64_t lease_ns_ = 0, offer_ns_ = 0;
  std::vector<Lease> leases_;
  HashTable<uint64_t, uint32_t> by_mac_;
  HashTable<uint64_t, uint32_t> static_by_mac_;
  HashTable<uint32_t, uint32_t> static_ips_;
  SpinLock lock_;
  // The engine's clock (virtual in tests) as the worker last saw it: handlers run on the
  // control thread, which has no engine clock of its own.
  std::atomic<uint64_t> clock_{0};
  Timer clock_timer_{[this] {
    clock_.store(now_ns(), std::memory_order_relaxed);
    clock_timer_.schedule_after(1000000000ull);
  }};
  uint32_t c_discovers_ = 0, c_offers_ = 0, c_requests_ = 0, c_acks_ = 0, c_naks_ = 0, c_releases_ = 0, c_declines_ = 0, c_informs_ = 0,
           c_other_server_ = 0, c_not_dhcp_ = 0, c_malformed_ = 0, c_exhausted_ = 0, c_ignored_ = 0, c_pool_empty_ = 0;
};

PG_ELEMENT(DHCPServer);

}  // namespace pg
