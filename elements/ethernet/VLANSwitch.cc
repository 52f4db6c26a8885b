// VLANSwitch: a VLAN-aware learning switch with port ACLs and a mirror. Documentation:
// VLANSwitch.ts.
//
// Inside the switch a frame is untagged, its VLAN (and priority bits) in the VLAN annotation's
// TCI (the annotation's present flag stays clear: nothing downstream sees it). The tag is taken
// off on arrival and put back per leaving port, so a flood copies the untagged frame. ACLs run
// on the frame as it is on the port's wire, with the header annotations set so the filter
// program reads it as tcpdump would (filter_program.h).
//
// A batch is switched under one spin lock (ports may be pushed from several workers) into a
// list of (frame, port) on the stack; the lock is released before the frames are pushed on,
// one batch per port in arrival order. So a port's output may lead back into the switch (a
// DHCP server or a host TAP on a port): that push takes the lock afresh. A frame never leaves
// by its arrival port, so such a pair of ports cannot loop; a loop through two ports (a
// switching loop) is cut by a nesting limit, counted.
#include <algorithm>
#include <atomic>
#include <bitset>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "element.h"
#include "filter_program.h"
#include "mac_table.h"
#include "spin_lock.h"
#include "vlan_tag.h"

namespace pg {

class VLANSwitch final : public Element {
 public:
  void configure(const Config& conf) override {
    if (ninputs() != noutputs())
      throw ConfigError("a VLANSwitch port is an input and an output: " + std::to_string(ninputs()) + " input(s) but " +
                        std::to_string(noutputs()) + " output(s) are connected");
    const auto& ports = conf.checked("ports").as_array();
    const uint32_t n = uint32_t(noutputs());
    if (ports.size() != n)
      throw ConfigError("config field 'ports': " + std::to_string(ports.size()) + " entries for " + std::to_string(n) + " connected ports");
    const auto& programs = conf.checked("programs").as_array();
    if (programs.size() != 2 * n && !programs.empty())
      throw ConfigError("config field 'programs': one in and one out program per port (compile the graph with pktgraph's compiler)");
    ports_.assign(n, Port{});
    for (uint32_t i = 0; i < n; i++) {
      const json::Value& p = ports[i];
      const std::string what = "config field 'ports." + std::to_string(i) + "'";
      auto num = [&](const char* k) {
        const json::Value* v = p.find(k);
        if (!v || !v->is_number()) throw ConfigError(what + ": '" + k + "' is missing");
        return int32_t(v->as_number());
      };
      const json::Value* mode = p.find("mode");
      if (!mode || !mode->is_string()) throw ConfigError(what + ": 'mode' is missing");
      Port& q = ports_[i];
      if (mode->as_string() == "trunk") {
        q.mode = kTrunk;
        const json::Value* allowed = p.find("allowed");
        if (!allowed || !allowed->is_array()) throw ConfigError(what + ": 'allowed' is missing");
        for (const auto& v : allowed->as_array()) q.allowed.set(size_t(v.as_number()) & 0xfff);
        if (allowed->as_array().empty()) all_vlans(q);
        q.native = num("nativeVlan");
        if (q.native > 0) q.allowed.set(size_t(q.native));
      } else {
        q.mode = kAccess;
        q.vlan = uint16_t(num("vlan"));
      }
      for (int d = 0; d < 2; d++) {
        const std::string text = programs.empty() ? "" : programs[2 * i + d].as_string();
        if (text.empty()) continue;
        q.acl[d].load(text, 1, "config field 'programs." + std::to_string(2 * i + d) + "'");
        q.has_acl[d] = true;
      }
    }
    table_.init(uint32_t(conf.integer("capacity")), conf.number("timeout"));
    const json::Value& m = conf.checked("mirror");
    const json::Value* mp = m.find("port");
    const int32_t mport = mp ? int32_t(mp->as_number()) : -1;
    if (mport >= int32_t(n)) throw ConfigError("config field 'mirror.port': " + std::to_string(mport) + " is not a port");
    std::vector<uint32_t> sources;
    if (const json::Value* s = m.find("sources"))
      for (const auto& v : s->as_array()) {
        if (v.as_number() >= n || int32_t(v.as_number()) == mport)
          throw ConfigError("config field 'mirror.sources': " + v.dump() + " is not a port other than the mirror port");
        sources.push_back(uint32_t(v.as_number()));
      }
    const json::Value* dir = m.find("direction");
    set_mirror(mport, sources, dir ? dir->as_string() : "both");

    c_forwarded_ = counter("forwarded");
    c_flooded_ = counter("flooded");
    c_mirrored_ = counter("mirrored");
    c_vlan_ = counter("drops_vlan");
    c_acl_[0] = counter("drops_acl_in");
    c_acl_[1] = counter("drops_acl_out");
    c_same_port_ = counter("drops_same_port");
    c_flood_none_ = counter("drops_flood_none");
    c_mirror_port_ = counter("drops_mirror_port");
    c_short_ = counter("drops_short");
    c_headroom_ = counter("drops_no_headroom");
    c_pool_empty_ = counter("drops_pool_empty");
    c_table_full_ = counter("table_full");
    c_loop_ = counter("drops_loop");
    members_.reserve(n);
  }

  void push(int port, Batch& b) override {
    if (b.count == 0) return;
    if (depth >= kMaxDepth) {  // a switching loop through two ports
      count(c_loop_, b.count);
      drop(b);
      return;
    }
    depth++;
    const uint64_t now = now_ns();
    const uint32_t worst = 2 * uint32_t(ports_.size()) + 1;  // one frame: a copy per port, each mirrored
    Emits e;
    for (uint32_t i = 0; i < b.count;) {
      {
        SpinLock::Guard lock(lock_);
        const uint64_t timeout = table_.timeout();
        for (; i < b.count && e.n + worst <= kMaxEmit; i++) switch_one(b.pkts[i], uint32_t(port), now, timeout, e);
      }
      flush(e);
    }
    b.count = 0;
    depth--;
  }

  void take_state(Element& old) override {
    table_.take(
        static_cast<VLANSwitch&>(old).table_,
        [&](uint64_t key, const MacTable::Entry& e) { return e.port < ports_.size() && member(e.port, uint16_t(key >> 48)); },
        [&] { count(c_table_full_); });
  }

  void add_handlers(std::vector<Handler>& h) override {
    h.push_back({"table", [this] { return table_.text(lock_, true); }, nullptr});
    h.push_back({"vlans", [this] { return ports_text(); }, nullptr});
    h.push_back({"port", nullptr, [this](const std::string& v) { set_port(v); }, true});
    h.push_back({"mirror", [this] { return mirror_text(); }, [this](const std::string& v) { parse_mirror(v); }, true});
    h.push_back({"timeout", [this] { return format_number(double(table_.timeout()) / 1e9); },
                 [this](const std::string& v) { table_.set_timeout(parse_field_number(v, "timeout")); }});
  }

 private:
  enum Mode : uint8_t { kAccess, kTrunk, kMirror };
  struct Port {
    Mode mode = kAccess;
    uint16_t vlan = 1;   // access
    int32_t native = -1;  // trunk
    std::bitset<4096> allowed;
    filter::Program acl[2];  // in, out
    bool has_acl[2] = {false, false};
    bool mirror_in = false, mirror_out = false;
  };

  static void all_vlans(Port& q) {
    q.allowed.set();
    q.allowed.reset(0);
    q.allowed.reset(4095);
  }

  bool member(uint32_t o, uint16_t vid) const {
    const Port& q = ports_[o];
    return q.mode == kAccess ? q.vlan == vid : q.mode == kTrunk && q.allowed.test(vid);
  }

  // Sets the frame's header annotations for the filter program (tagged: 4 bytes more) and runs
  // the port's ACL in direction d: true when it lets the frame through.
  bool acl_pass(Packet* p, uint32_t port, int d) {
    const Port& q = ports_[port];
    if (!q.has_acl[d]) return true;
    uint8_t* f = p->data();
    const bool tagged = p->length() >= 18 && f[12] == 0x81 && f[13] == 0x00;
    p->set_mac_header(f);
    p->set_network_header(f + (tagged ? 18 : 14));
    return q.acl[d].run(p) == 0;
  }

  // Frames switched but not yet pushed on, with their ports, in order.
  struct Emits {
    uint32_t n = 0;
    Packet* pkts[1024];
    uint16_t port[1024];
  };
  static constexpr uint32_t kMaxEmit = 1024;
  static constexpr int kMaxDepth = 8;
  static inline thread_local int depth = 0;

  static void emit(Emits& e, uint32_t o, Packet* p) {
    e.pkts[e.n] = p;
    e.port[e.n++] = uint16_t(o);
  }
  // One batch per port, in order of first appearance; frames in arrival order.
  void flush(Emits& e) {
    uint32_t done = 0;
    for (uint32_t k = 0; k < e.n; k++) {
      if (!e.pkts[k]) continue;
      const uint16_t o = e.port[k];
      Batch out;
      for (uint32_t j = k; j < e.n; j++) {
        if (!e.pkts[j] || e.port[j] != o) continue;
        out.add(e.pkts[j]);
        e.pkts[j] = nullptr;
        done++;
        if (out.full()) {
          output_push(int(o), out);
          out.count = 0;
        }
      }
      if (out.count) output_push(int(o), out);
      if (done == e.n) break;
    }
    e.n = 0;
  }

  void mirror_copy(Packet* p, Emits& e) {
    Packet* c;
    if (pool().alloc(&c, 1) != 1) {
      count(c_pool_empty_);
      return;
    }
    copy_packet(p, c);
    count(c_mirrored_);
    emit(e, uint32_t(mirror_port_), c);
  }

  void switch_one(Packet* p, uint32_t in, uint64_t now, uint64_t timeout, Emits& e) {
    const Port& q = ports_[in];
    if (q.mode == kMirror) return drop_one(p, c_mirror_port_);
    if (p->length() < 14) return drop_one(p, c_short_);
    uint8_t* d = p->data();
    const bool tagged = vlantag::has_8021q(d);
    if (tagged && p->length() < 18) return drop_one(p, c_short_);
    const uint16_t tci = tagged ? vlantag::tci(d) : 0;
    uint16_t vid = tci & 0xfff;
    if (q.mode == kAccess) {
      if (vid != 0) return drop_one(p, c_vlan_);  // tagged on an access port
      vid = q.vlan;
    } else if (vid == 0) {  // untagged or priority-tagged: the native VLAN
      if (q.native <= 0) return drop_one(p, c_vlan_);
      vid = uint16_t(q.native);
    } else if (!q.allowed.test(vid) || int32_t(vid) == q.native) {
      return drop_one(p, c_vlan_);  // a VLAN the trunk does not carry (or its native one, tagged)
    }
    if (q.mirror_in) mirror_copy(p, e);
    if (!acl_pass(p, in, 0)) return drop_one(p, c_acl_[0]);
    if (tagged) d = vlantag::pop_tag(p);
    p->anno().vlan_tci = uint16_t((tci & 0xf000) | vid);
    p->anno().flags &= uint8_t(~kVlanPresent);

    if (!(d[6] & 1) && !table_.learn(MacTable::key(d + 6, vid), in, now, timeout)) count(c_table_full_);
    int64_t out = -1;
    if (!(d[0] & 1)) {
      const MacTable::Entry* x = table_.find(MacTable::key(d, vid), now, timeout);
      if (x && member(x->port, vid)) out = x->port;
    }
    if (out == int64_t(in)) return drop_one(p, c_same_port_);
    if (out >= 0) {
      count(c_forwarded_);
      return leave(p, uint32_t(out), e);
    }
    members_.clear();
    for (uint32_t o = 0; o < ports_.size(); o++)
      if (o != in && member(o, vid)) members_.push_back(o);
    if (members_.empty()) return drop_one(p, c_flood_none_);
    count(c_flooded_);
    for (size_t k = 0; k + 1 < members_.size(); k++) {
      Packet* c;
      if (pool().alloc(&c, 1) != 1) {
        count(c_pool_empty_);
        continue;
      }
      copy_packet(p, c);
      leave(c, members_[k], e);
    }
    leave(p, members_.back(), e);
  }

  // The frame (untagged, its VLAN in the annotation) leaves by port o: tagged for a trunk's
  // non-native VLAN, through the out-ACL, copied to the mirror, then queued for o.
  void leave(Packet* p, uint32_t o, Emits& e) {
    const Port& q = ports_[o];
    const uint16_t tci = p->anno().vlan_tci;
    p->anno().vlan_tci = 0;
    if (q.mode == kTrunk && int32_t(tci & 0xfff) != q.native && !vlantag::push_tag(p, vlantag::kTpid8021Q, tci)) return drop_one(p, c_headroom_);
    if (!acl_pass(p, o, 1)) return drop_one(p, c_acl_[1]);
    // Headers for what follows the port (a classifier), whatever they were on arrival.
    uint8_t* f = p->data();
    p->set_mac_header(f);
    p->set_network_header(f + (vlantag::has_8021q(f) ? 18 : 14));
    if (q.mirror_out) mirror_copy(p, e);
    emit(e, o, p);
  }

  void drop_one(Packet* p, uint32_t c) {
    count(c);
    pool().free(&p, 1);
  }

  void set_mirror(int32_t port, const std::vector<uint32_t>& sources, const std::string& direction) {
    for (uint32_t i = 0; i < ports_.size(); i++) {
      ports_[i].mirror_in = ports_[i].mirror_out = false;
      if (ports_[i].mode == kMirror) ports_[i].mode = kAccess;  // a former mirror port: VLAN 1 until set
    }
    mirror_port_ = port;
    if (port < 0) return;
    ports_[size_t(port)].mode = kMirror;
    for (uint32_t s : sources) {
      ports_[s].mirror_in = direction != "out";
      ports_[s].mirror_out = direction != "in";
    }
    table_.forget_port(uint32_t(port));
  }


  // 'N access VLAN' | 'N trunk VLANS|all [native V]'
  void set_port(const std::string& v) {
    const std::string usage = "port: write 'N access VLAN' or 'N trunk VLANS|all [native V]' (VLANs 1 to 4094, comma-separated)";
    char mode[16] = {0}, list[4096] = {0}, word[16] = {0};
    unsigned n = 0;
    int native = -1;
    const int got = std::sscanf(v.c_str(), "%u %15s %4095s %15s %d", &n, mode, list, word, &native);
    if (got < 3 || n >= ports_.size()) throw HandlerError(usage + ", got '" + v + "'");
    if (int32_t(n) == mirror_port_) throw HandlerError("port: port " + std::to_string(n) + " is the mirror port: turn the mirror off first (write mirror 'off')");
    Port q;
    auto vlan = [&](const std::string& s) {
      char* e = nullptr;
      const long x = std::strtol(s.c_str(), &e, 10);
      if (s.empty() || *e || x < 1 || x > 4094) throw HandlerError(usage + ": '" + s + "' is not a VLAN");
      return uint16_t(x);
    };
    if (std::string(mode) == "access" && got == 3) {
      q.vlan = vlan(list);
    } else if (std::string(mode) == "trunk" && (got == 3 || (got == 5 && std::string(word) == "native"))) {
      q.mode = kTrunk;
      if (std::string(list) == "all") {
        all_vlans(q);
      } else {
        std::string s = list;
        for (size_t a = 0; a <= s.size();) {
          size_t b = s.find(',', a);
          if (b == std::string::npos) b = s.size();
          q.allowed.set(vlan(s.substr(a, b - a)));
          a = b + 1;
        }
      }
      if (got == 5) q.native = vlan(std::to_string(native));
      if (q.native > 0) q.allowed.set(size_t(q.native));
    } else {
      throw HandlerError(usage + ", got '" + v + "'");
    }
    Port& p = ports_[n];
    p.mode = q.mode;
    p.vlan = q.vlan;
    p.native = q.native;
    p.allowed = q.allowed;
    table_.forget_port(n);
  }

  void parse_mirror(const std::string& v) {
    const std::string usage = "mirror: write 'PORT SOURCES in|out|both' (sources comma-separated port numbers) or 'off'";
    if (v == "off" || v == "off\n") return set_mirror(-1, {}, "both");
    unsigned port = 0;
    char list[1024] = {0}, dir[8] = {0};
    if (std::sscanf(v.c_str(), "%u %1023s %7s", &port, list, dir) != 3 || port >= ports_.size()) throw HandlerError(usage + ", got '" + v + "'");
    const std::string direction = dir;
    if (direction != "in" && direction != "out" && direction != "both") throw HandlerError(usage + ": '" + direction + "' is not a direction");
    std::vector<uint32_t> sources;
    std::string s = list;
    for (size_t a = 0; a <= s.size();) {
      size_t b = s.find(',', a);
      if (b == std::string::npos) b = s.size();
      char* e = nullptr;
      const std::string item = s.substr(a, b - a);
      const long x = std::strtol(item.c_str(), &e, 10);
      if (item.empty() || *e || x < 0 || x >= long(ports_.size()) || x == long(port))
        throw HandlerError(usage + ": source '" + item + "' is not a port other than the mirror port");
      sources.push_back(uint32_t(x));
      a = b + 1;
    }
    set_mirror(int32_t(port), sources, direction);
  }

  std::string vlan_list(const Port& q) const {
    std::bitset<4096> all;
    all.set();
    all.reset(0);
    all.reset(4095);
    if (q.allowed == all) return "all";
    std::string s;
    for (size_t v = 1; v < 4095; v++)
      if (q.allowed.test(v) && int32_t(v) != q.native) s += (s.empty() ? "" : ",") + std::to_string(v);
    return s.empty() ? "none" : s;
  }

  std::string ports_text() {
    SpinLock::Guard lock(lock_);
    std::string s;
    for (uint32_t i = 0; i < ports_.size(); i++) {
      const Port& q = ports_[i];
      s += std::to_string(i);
      if (q.mode == kMirror) s += " mirror";
      else if (q.mode == kAccess) s += " access " + std::to_string(q.vlan);
      else s += " trunk " + vlan_list(q) + (q.native > 0 ? " native " + std::to_string(q.native) : "");
      s += "\n";
    }
    return s;
  }

  std::string mirror_text() {
    SpinLock::Guard lock(lock_);
    if (mirror_port_ < 0) return "off\n";
    std::string src, dir = "both";
    for (uint32_t i = 0; i < ports_.size(); i++)
      if (ports_[i].mirror_in || ports_[i].mirror_out) {
        src += (src.empty() ? "" : ",") + std::to_string(i);
        dir = ports_[i].mirror_in && ports_[i].mirror_out ? "both" : ports_[i].mirror_in ? "in" : "out";
      }
    return std::to_string(mirror_port_) + " " + (src.empty() ? "none" : src) + " " + dir + "\n";
  }

  std::vector<Port> ports_;
  int32_t mirror_port_ = -1;
  MacTable table_;
  SpinLock lock_;
  std::vector<uint32_t> members_;
  uint32_t c_forwarded_ = 0, c_flooded_ = 0, c_mirrored_ = 0, c_vlan_ = 0, c_acl_[2] = {0, 0}, c_same_port_ = 0, c_flood_none_ = 0,
           c_mirror_port_ = 0, c_short_ = 0, c_headroom_ = 0, c_pool_empty_ = 0, c_table_full_ = 0, c_loop_ = 0;
};

PG_ELEMENT(VLANSwitch);

}  // namespace pg
