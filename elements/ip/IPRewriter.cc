// IPRewriter: network address and port translation (source NAT with port allocation,
// destination NAT by forwarding rules, identity "keep" mappings) for TCP, UDP and ICMP echo,
// with ICMP errors about mapped flows rewritten to match. Documentation: IPRewriter.ts.
//
// A mapping (a "flow") has two directions: forward (the packet that created it) and reply.
// Each direction has the key its packets arrive with and the tuple they leave with; the
// reply key is the reverse of the forward tuple and the reply tuple the reverse of the
// forward key. Both keys sit in one HashIndex (native/hash_table.h: linear probing,
// backward-shift deletion, at least four slots per flow so probes stay short); a slot holds
// the key's hash tag and the flow and direction, 8 bytes, and the key itself is compared in
// the flow record. Flows
// come from a free list of `capacity` records allocated at load: nothing is allocated per
// packet. Each flow is on the idle list of its timeout class (TCP established, TCP
// transitory, UDP, ICMP), kept in order of last use, so the timer expires flows from the
// list heads in O(expired) and a flow's expiry is its last use plus its class's timeout.
// Source NAT ports come from a bitmap per (address, protocol), one port per flow.
//
// Several workers may push into the element (an input per interface, each on its own
// worker, and the timer on a third): the index, the flows, the lists and the port bitmaps
// are guarded by one spin lock, taken once per batch for the lookups and mapping
// decisions only. Headers are parsed before and rewritten after it, from tuples copied out
// under the lock (a flow may be freed and reused by another worker as soon as it is
// released). Outputs are pushed after the lock is released and the batch's scratch is no
// longer used, so a path leading back into the element (configs/nat-gateway.ts sends
// time-exceeded errors about inbound packets to input 0) is fine.
#include <arpa/inet.h>

#include <array>
#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "batch_split.h"
#include "hash_table.h"
#include "ip_util.h"
#include "spin_lock.h"

namespace pg {

namespace {

constexpr uint8_t kTCP = 6, kUDP = 17, kICMP = 1;

// Addresses in network byte order, ports (and the ICMP echo identifier) in host order.
struct Tuple {
  uint32_t s = 0, d = 0;
  uint16_t sp = 0, dp = 0;
  bool operator==(const Tuple& o) const { return s == o.s && d == o.d && sp == o.sp && dp == o.dp; }
  Tuple reversed() const { return Tuple{d, s, dp, sp}; }
};

uint32_t load32(const uint8_t* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}

// Collects the 16-bit words (memory order) a rewrite changes, for RFC 1624 updates of
// every checksum that covers them.
struct Delta {
  uint64_t old_sum = 0, new_sum = 0;
  void add16(uint16_t o, uint16_t n) {
    old_sum += o;
    new_sum += n;
  }
  void add32(uint32_t o, uint32_t n) {
    old_sum += (o & 0xffff) + (o >> 16);
    new_sum += (n & 0xffff) + (n >> 16);
  }
  bool empty() const { return old_sum == new_sum; }
  // RFC 1624 eqn. 3 with m and m' the sums of the old and new words: HC' = ~(~HC + ~m + m').
  uint16_t apply(uint16_t hc) const {
    const uint64_t s = uint64_t(uint16_t(~hc)) + uint16_t(~ip::fold(old_sum)) + ip::fold(new_sum);
    return uint16_t(~ip::fold(s));
  }
};

// Writes a 16-bit field (host order value) and records the change in the deltas given.
template <class... D>
void set16(uint8_t* p, uint16_t host, D&... d) {
  const uint16_t o = ip::load16(p), n = ip::net16(host);
  if (o == n) return;
  (d.add16(o, n), ...);
  ip::store16(p, n);
}
template <class... D>
void set32(uint8_t* p, uint32_t net, D&... d) {
  const uint32_t o = load32(p);
  if (o == net) return;
  (d.add32(o, net), ...);
  std::memcpy(p, &net, 4);
}
// Applies a delta to the checksum at p; a UDP checksum of 0 (none) stays 0 and a computed 0
// is sent as 0xffff (RFC 768).
void fix_checksum(uint8_t* p, const Delta& d, bool udp) {
  if (d.empty()) return;
  const uint16_t old = ip::load16(p);
  if (udp && old == 0) return;
  uint16_t n = d.apply(old);
  if (udp && n == 0) n = 0xffff;
  ip::store16(p, n);
}

bool icmp_error_type(uint8_t t) { return t == 3 || t == 4 || t == 5 || t == 11 || t == 12; }

std::string ip_text(uint32_t a) {
  char b[INET_ADDRSTRLEN];
  inet_ntop(AF_INET, &a, b, sizeof b);
  return b;
}

}  // namespace

class IPRewriter final : public Element {
 public:
  void configure(const Config& conf) override {
    capacity_ = uint32_t(conf.integer("capacity"));
    timeout_ns_[kTcpEst] = seconds_ns(conf.number("tcpTimeout"));
    timeout_ns_[kTcpTrans] = seconds_ns(conf.number("tcpTransitoryTimeout"));
    timeout_ns_[kUdpCls] = seconds_ns(conf.number("udpTimeout"));
    timeout_ns_[kIcmpCls] = seconds_ns(conf.number("icmpTimeout"));
    min_timeout_ = *std::min_element(timeout_ns_, timeout_ns_ + kClasses);

    // The specs come normalised by the compiler in `specs` (the user's `inputs` are not read).
    const json::Value& list = conf.value("specs");
    if (!list.is_array() || list.as_array().empty()) throw ConfigError("specs: give one input spec per input, at least one");
    int i = 0;
    for (const json::Value& v : list.as_array()) specs_.push_back(parse_spec(v, "specs[" + std::to_string(i++) + "]"));
    if (int(specs_.size()) != ninputs())
      throw ConfigError("specs: " + std::to_string(specs_.size()) + " input spec(s) but " + std::to_string(ninputs()) +
                        " input(s) connected; give one spec per input");
    // DNAT ports on a source-NAT address are never handed out to source NAT.
    for (const Spec& s : specs_)
      for (const Rule& r : s.rules)
        for (Pool& p : pools_)
          if ((r.addr == 0 || r.addr == p.addr) && r.port >= p.lo && r.port <= p.hi) set_bit(p, proto_index(r.proto), r.port);

    c_rewritten_ = counter("rewritten");
    c_new_ = counter("new_mappings");
    c_passed_ = counter("passed");
    c_icmp_errors_ = counter("icmp_errors_rewritten");
    c_expired_ = counter("expired");
    c_bad_ip_ = counter("drops_bad_ip");
    c_truncated_ = counter("drops_truncated");
    c_fragment_ = counter("drops_fragment");
    c_protocol_ = counter("drops_protocol");
    c_no_mapping_ = counter("drops_no_mapping");
    c_no_port_ = counter("drops_no_port");
    c_table_full_ = counter("drops_table_full");
    c_conflict_ = counter("drops_conflict");

    flows_.assign(capacity_, Flow{});
    for (uint32_t f = 0; f < capacity_; f++) flows_[f].next = f + 1 < capacity_ ? f + 1 : kNil;
    free_ = 0;
    index_.init(2 * capacity_);  // a key per direction
    add_timer(timer_);
  }

  void push(int port, Batch& b) override {
    const uint32_t n = b.count;
    if (n == 0) return;
    const Spec& spec = specs_[size_t(port)];
    const uint64_t now = now_ns();
    uint32_t drops[kReasons] = {};
    Packet* gone[kMaxBatch];
    uint32_t ngone = 0;

    // 1. Parse (no lock).
    Parsed ps[kMaxBatch];
    uint32_t m = 0;
    for (uint32_t i = 0; i < n; i++) {
      Packet* p = b.pkts[i];
      const uint32_t r = parse(p, ps[m]);
      if (r != kKeep) {
        gone[ngone++] = p;
        drops[r]++;
        continue;
      }
      Parsed& q = ps[m++];
      q.pkt = p;
      // Hash outside the lock and start loading the index slot the lookup will read.
      if (q.kind == kMappable || q.kind == kEchoReply || q.kind == kError) {
        q.hash = hash_key(q.proto, q.key);
        index_.prefetch(q.hash);
      }
    }

    // 2. Decide under the lock: look up each packet, or apply the input's spec; copy out
    // what the rewrite needs.
    uint32_t nnew = 0;
    uint64_t nexpired = 0;
    {
      SpinLock::Guard lock(lock_);
      bool rearm = false;
      for (uint32_t i = 0; i < m; i++) {
        Parsed& q = ps[i];
        q.act = kActDrop;
        if (q.kind == kError) {
          decide_error(q, now);
        } else if (q.kind == kMappable || q.kind == kEchoReply) {
          uint32_t dir;
          int32_t f = lookup(q.proto, q.key, dir, now, q.hash);
          if (f < 0 && q.kind == kMappable && spec.kind != Spec::kNone) {
            f = create(spec, q, now);
            dir = 0;
            if (f >= 0) nnew++;
            else if (q.act == kActDropReason) continue;
          }
          if (f >= 0) {
            Flow& fl = flows_[size_t(f)];
            if (touch(fl, uint32_t(f), dir, q.tcp_flags, now)) rearm = true;
            q.act = kActRewrite;
            q.out = fl.out[dir];
            q.to = fl.xlat[dir];
          }
        }
        if (q.act == kActDrop) {
          if (spec.pass >= 0) {
            q.act = kActPass;
            q.out = uint16_t(spec.pass);
          } else {
            q.act = kActDropReason;
            q.reason = uint8_t(q.kind == kOther ? kRProtocol : kRNoMapping);
          }
        }
      }
      if (nnew || rearm) arm(now + min_timeout_);
      nexpired = pending_expired_;
      pending_expired_ = 0;
    }

    // 3. Rewrite (no lock) and send.
    uint32_t out[kMaxBatch];
    uint32_t kept = 0, nrew = 0, npass = 0, nerr = 0;
    for (uint32_t i = 0; i < m; i++) {
      Parsed& q = ps[i];
      switch (q.act) {
        case kActRewrite:
          rewrite(q);
          nrew++;
          break;
        case kActError:
          rewrite_error(q);
          nerr++;
          break;
        case kActPass:
          npass++;
          break;
        default:
          gone[ngone++] = q.pkt;
          drops[q.reason]++;
          continue;
      }
      b.pkts[kept] = q.pkt;
      out[kept++] = q.out;
    }
    b.count = kept;
    if (ngone) pool().free(gone, ngone);
    for (uint32_t r = 0; r < kReasons; r++)
      if (drops[r]) count(reason_counter(r), drops[r]);
    if (nrew) count(c_rewritten_, nrew);
    if (nnew) count(c_new_, nnew);
    if (npass) count(c_passed_, npass);
    if (nerr) count(c_icmp_errors_, nerr);
    if (nexpired) count(c_expired_, nexpired);
    split_push(b, out, uint32_t(noutputs()), [this](uint32_t o, Batch& sub) { output_push(int(o), sub); });
  }

  // Hot reconfiguration: the mappings carry over whole (flows, their ports in the pools, their
  // idle order and ages), so connections through the NAT go on. That needs the same table
  // (capacity), the same pools (addresses and port ranges) and every output a flow may use:
  // otherwise the replacement is refused, and the running graph keeps its mappings.
  void prepare_take(const Element& old) override {
    auto& o = static_cast<const IPRewriter&>(old);
    bool same_pools = o.pools_.size() == pools_.size();
    for (size_t i = 0; same_pools && i < pools_.size(); i++)
      same_pools = o.pools_[i].addr == pools_[i].addr && o.pools_[i].lo == pools_[i].lo && o.pools_[i].hi == pools_[i].hi;
    if (o.capacity_ != capacity_ || !same_pools || noutputs() < o.noutputs())
      throw ConfigError("its NAT mappings carry over only to the same capacity (" + std::to_string(o.capacity_) +
                        "), the same source-NAT addresses and port ranges, and at least its " + std::to_string(o.noutputs()) +
                        " output(s); keep those, or remove the graph and add it again (the mappings are then lost)");
  }
  void take_state(Element& old) override {
    auto& o = static_cast<IPRewriter&>(old);
    // The new specs' forwarded ports stay reserved in the pools taken over.
    std::vector<Pool> mine = std::move(pools_);
    pools_ = std::move(o.pools_);
    for (size_t i = 0; i < pools_.size(); i++)
      for (int k = 0; k < 3; k++)
        for (size_t w = 0; w < mine[i].bits[k].size() && w < pools_[i].bits[k].size(); w++) pools_[i].bits[k][w] |= mine[i].bits[k][w];
    o.pools_ = std::move(mine);
    std::swap(flows_, o.flows_);
    std::swap(index_, o.index_);
    used_ = o.used_;
    free_ = o.free_;
    std::copy(std::begin(o.head_), std::end(o.head_), head_);
    std::copy(std::begin(o.tail_), std::end(o.tail_), tail_);
    pending_expired_ = o.pending_expired_;
    o.used_ = 0;
    if (o.timer_.scheduled()) timer_.schedule_at(o.timer_.expiry());
  }

  // vr.save / vr.restore: every mapping with its ports, TCP state, outputs and age, oldest
  // first in each timeout class, as of one instant (the lock). A restore needs the same
  // source-NAT addresses and port ranges, room for the mappings and the outputs they use.
  // Format (docs/router-file.md): u8 1; u32 pools, each u32 address, u16 low, u16 high, u32
  // rover[3]; u64 flows, each u8 proto, class, tcp; the forward key and its translation (u32
  // s, u32 d, u16 sp, u16 dp each); u16 out[2]; u16 pool (0xffff none); u16 port; u64 age ns.
  void save_state(StateWriter& out) override {
    const uint64_t now = monotonic_ns();
    SpinLock::Guard lock(lock_);
    out.u8(1);
    out.u32(uint32_t(pools_.size()));
    for (const Pool& p : pools_) {
      out.u32(p.addr);
      out.u16(p.lo);
      out.u16(p.hi);
      for (uint32_t r : p.rover) out.u32(r);
    }
    out.u64(used_);
    for (uint32_t c = 0; c < kClasses; c++)
      for (uint32_t f = head_[c]; f != kNil; f = flows_[f].next) {
        const Flow& fl = flows_[f];
        out.u8(fl.proto);
        out.u8(fl.cls);
        out.u8(fl.tcp);
        for (const Tuple* t : {&fl.key[0], &fl.xlat[0]}) {
          out.u32(t->s);
          out.u32(t->d);
          out.u16(t->sp);
          out.u16(t->dp);
        }
        out.u16(fl.out[0]);
        out.u16(fl.out[1]);
        out.u16(uint16_t(fl.pool));
        out.u16(fl.port);
        out.u64(now - std::min(now, fl.last));
      }
  }
  void restore_state(StateReader& in) override {
    const uint8_t format = in.u8("the NAT table's format");
    if (format != 1) throw StateError("the NAT table is in format " + std::to_string(format) + "; this engine reads format 1");
    const uint32_t npools = in.u32("the pool count");
    bool same = npools == pools_.size();
    std::vector<std::array<uint32_t, 3>> rovers;
    for (uint32_t i = 0; i < npools; i++) {
      const uint32_t addr = in.u32("a pool's address");
      const uint16_t lo = in.u16("a pool's low port"), hi = in.u16("a pool's high port");
      rovers.push_back({in.u32("a pool's rover"), in.u32("a pool's rover"), in.u32("a pool's rover")});
      same = same && pools_[i].addr == addr && pools_[i].lo == lo && pools_[i].hi == hi;
    }
    if (!same) throw StateError("its source-NAT addresses or port ranges differ from the saved ones; NAT mappings carry only to the same ones");
    const size_t n = in.count("the mapping count", 39);
    if (n > capacity_) throw StateError(std::to_string(n) + " saved mappings do not fit in its capacity (" + std::to_string(capacity_) + ")");
    const uint64_t now = monotonic_ns();
    SpinLock::Guard lock(lock_);
    for (uint32_t i = 0; i < npools; i++)
      for (int k = 0; k < 3; k++) pools_[i].rover[k] = std::clamp<uint32_t>(rovers[i][size_t(k)], pools_[i].lo, pools_[i].hi);
    for (size_t i = 0; i < n; i++) {
      Flow fl;
      fl.proto = in.u8("a mapping's protocol");
      fl.cls = in.u8("a mapping's class");
      fl.tcp = in.u8("a mapping's TCP state");
      for (Tuple* t : {&fl.key[0], &fl.xlat[0]}) {
        t->s = in.u32("a mapping's address");
        t->d = in.u32("a mapping's address");
        t->sp = in.u16("a mapping's port");
        t->dp = in.u16("a mapping's port");
      }
      fl.out[0] = in.u16("a mapping's output");
      fl.out[1] = in.u16("a mapping's output");
      const uint16_t pool = in.u16("a mapping's pool");
      fl.port = in.u16("a mapping's port");
      const uint64_t age = in.u64("a mapping's age");
      if ((fl.proto != kTCP && fl.proto != kUDP && fl.proto != kICMP) || fl.cls >= kClasses)
        throw StateError("mapping " + std::to_string(i) + " has protocol " + std::to_string(fl.proto) + " and class " + std::to_string(fl.cls));
      if (fl.out[0] >= noutputs() || fl.out[1] >= noutputs())
        throw StateError("mapping " + std::to_string(i) + " sends to output " + std::to_string(std::max(fl.out[0], fl.out[1])) + " but the element has " +
                         std::to_string(noutputs()));
      if (pool != 0xffff && pool >= npools) throw StateError("mapping " + std::to_string(i) + " names pool " + std::to_string(pool));
      fl.pool = pool == 0xffff ? -1 : int16_t(pool);
      fl.key[1] = fl.xlat[0].reversed();
      fl.xlat[1] = fl.key[0].reversed();
      uint32_t dir;
      if (find(fl.proto, fl.key[0], dir) >= 0 || find(fl.proto, fl.key[1], dir) >= 0 || (fl.key[0] == fl.key[1]))
        throw StateError("mapping " + std::to_string(i) + " repeats a key of another");
      fl.used = true;
      fl.last = now - std::min(now, age);
      const uint32_t f = free_;
      free_ = flows_[f].next;
      used_++;
      flows_[f] = fl;
      insert_key(f, 0);
      insert_key(f, 1);
      list_append(f);
      if (fl.pool >= 0) set_bit(pools_[size_t(fl.pool)], proto_index(fl.proto), fl.port);
    }
    if (n) arm(now + min_timeout_);
  }

  void add_handlers(std::vector<Handler>& h) override {
    h.push_back({"mappings", [this] {
                   SpinLock::Guard lock(lock_);
                   return to_string_u64(used_);
                 },
                 nullptr});
    h.push_back({"table", [this] { return table_text(); }, nullptr});
    h.push_back({"clear", nullptr, [this](const std::string&) {
                   SpinLock::Guard lock(lock_);
                   for (uint32_t c = 0; c < kClasses; c++)
                     while (head_[c] != kNil) remove(head_[c]);
                 }});
  }

 private:
  static constexpr uint32_t kNil = 0xffffffffu;
  static constexpr uint32_t kKeep = ~0u;
  enum : uint8_t { kTcpEst = 0, kTcpTrans, kUdpCls, kIcmpCls, kClasses };
  // Drop reasons (indexes into the per-batch tally).
  enum : uint32_t { kRBadIp = 0, kRTruncated, kRFragment, kRProtocol, kRNoMapping, kRNoPort, kRTableFull, kRConflict, kReasons };
  // TCP state bits of a flow.
  enum : uint8_t { kSeenReply = 1, kFinFwd = 2, kFinRev = 4, kRst = 8 };
  // What a parsed packet is.
  enum : uint8_t { kMappable, kEchoReply, kError, kUnmappable, kOther };
  enum : uint8_t { kActDrop, kActDropReason, kActRewrite, kActError, kActPass };

  struct Rule {
    uint8_t proto;
    uint32_t addr;  // 0: any destination address
    uint16_t port;
    uint32_t to;
    uint16_t to_port;
  };
  struct Spec {
    enum Kind : uint8_t { kNone, kKeep, kSnat, kDnat } kind = kNone;
    int32_t forward = -1, reply = -1, pass = -1;
    int32_t pool = -1;  // kSnat
    bool preserve = true;  // kSnat: keep the flow's own source port when it is free
    std::vector<Rule> rules;  // kDnat
  };
  struct Pool {
    uint32_t addr;
    uint16_t lo, hi;
    uint32_t rover[3];
    std::vector<uint64_t> bits[3];  // TCP, UDP, ICMP: 65536 bits each
  };
  struct Flow {
    Tuple key[2];   // what packets of each direction arrive with
    Tuple xlat[2];  // what they leave with
    uint64_t last = 0;
    uint32_t prev = kNil, next = kNil;  // the idle list of cls (free: next is the free list)
    uint16_t out[2] = {0, 0};
    int16_t pool = -1;  // the pool its source port came from, or -1
    uint16_t port = 0;
    uint8_t proto = 0, cls = 0, tcp = 0;
    bool used = false;
  };
  struct Parsed {
    Packet* pkt;
    uint8_t* ip;
    uint8_t* l4;     // the transport header (ICMP errors: the ICMP header)
    uint8_t* inner;  // ICMP errors: the quoted IPv4 header
    uint8_t* il4;    // ICMP errors: the quoted transport header
    uint32_t iavail;  // ICMP errors: quoted bytes from il4
    Tuple key;        // this packet's key (ICMP errors: the reversed quoted packet's key)
    Tuple to;         // the tuple of the direction it belongs to
    Tuple from;       // ICMP errors: the key of that direction
    uint64_t hash;    // of (proto, key)
    uint8_t proto;    // (ICMP errors: the quoted packet's protocol)
    uint8_t kind, tcp_flags, act, reason;
    uint16_t out;
  };


  static uint64_t seconds_ns(double s) {
    const uint64_t ns = uint64_t(s * 1e9);
    return ns ? ns : 1;
  }
  static uint32_t proto_index(uint8_t proto) { return proto == kTCP ? 0 : proto == kUDP ? 1 : 2; }
  static void set_bit(Pool& p, uint32_t pi, uint32_t port) { p.bits[pi][port >> 6] |= uint64_t(1) << (port & 63); }
  static void clear_bit(Pool& p, uint32_t pi, uint32_t port) { p.bits[pi][port >> 6] &= ~(uint64_t(1) << (port & 63)); }
  static bool bit(const Pool& p, uint32_t pi, uint32_t port) { return p.bits[pi][port >> 6] >> (port & 63) & 1; }

  uint32_t reason_counter(uint32_t r) const {
    switch (r) {
      case kRBadIp: return c_bad_ip_;
      case kRTruncated: return c_truncated_;
      case kRFragment: return c_fragment_;
      case kRProtocol: return c_protocol_;
      case kRNoMapping: return c_no_mapping_;
      case kRNoPort: return c_no_port_;
      case kRTableFull: return c_table_full_;
      default: return c_conflict_;
    }
  }

  // ---------------- configuration ----------------

  // An output number, or -1 (none) where the spec may leave it out.
  int32_t parse_output(const json::Value& obj, const char* key, const std::string& what, bool required) const {
    const int64_t o = parse_int(obj, key, what, required ? 0 : -1, 65535);
    if (o >= noutputs())
      throw ConfigError(what + "." + key + ": output " + std::to_string(o) + " does not exist (" + std::to_string(noutputs()) +
                        " output(s) connected)");
    return int32_t(o);
  }
  static int64_t parse_int(const json::Value& obj, const char* key, const std::string& what, int64_t lo, int64_t hi) {
    const json::Value* v = obj.find(key);
    if (!v || !v->is_number() || v->as_number() != double(int64_t(v->as_number())) || v->as_number() < double(lo) ||
        v->as_number() > double(hi))
      throw ConfigError(what + "." + key + ": an integer from " + std::to_string(lo) + " to " + std::to_string(hi));
    return int64_t(v->as_number());
  }

  // One spec as the compiler normalised it (IPRewriter.ts, planSpec): every field present,
  // addresses as numbers in host order. Checked again, never parsed from text.
  Spec parse_spec(const json::Value& v, const std::string& what) {
    if (!v.is_object()) throw ConfigError(what + ": an input spec object");
    const json::Value* kind = v.find("kind");
    if (!kind || !kind->is_string()) throw ConfigError(what + ".kind: one of 'drop', 'pass', 'keep', 'snat', 'dnat'");
    const std::string k = kind->as_string();
    Spec s;
    if (k == "drop") return s;
    if (k == "pass") {
      s.pass = parse_output(v, "pass", what, true);
      return s;
    }
    if (k == "keep") s.kind = Spec::kKeep;
    else if (k == "snat") s.kind = Spec::kSnat;
    else if (k == "dnat") s.kind = Spec::kDnat;
    else throw ConfigError(what + ".kind: '" + k + "' is not one of 'drop', 'pass', 'keep', 'snat', 'dnat'");
    s.forward = parse_output(v, "forward", what, true);
    s.reply = parse_output(v, "reply", what, true);
    s.pass = parse_output(v, "pass", what, false);
    if (s.kind == Spec::kSnat) {
      const uint32_t addr = htonl(uint32_t(parse_int(v, "address", what, 0, 0xffffffffll)));
      const uint32_t lo = uint32_t(parse_int(v, "low", what, 1, 65535));
      const uint32_t hi = uint32_t(parse_int(v, "high", what, lo, 65535));
      const json::Value* pp = v.find("preservePort");
      if (!pp || !pp->is_bool()) throw ConfigError(what + ".preservePort: true or false");
      s.preserve = pp->as_bool();
      for (size_t i = 0; i < pools_.size(); i++)
        if (pools_[i].addr == addr) {
          if (pools_[i].lo != lo || pools_[i].hi != hi)
            throw ConfigError(what + ".ports: another snat spec uses address " + ip_text(addr) + " with a different port range");
          s.pool = int32_t(i);
        }
      if (s.pool < 0) {
        Pool p{addr, uint16_t(lo), uint16_t(hi), {lo, lo, lo}, {}};
        for (auto& b : p.bits) b.assign(1024, 0);
        pools_.push_back(std::move(p));
        s.pool = int32_t(pools_.size() - 1);
      }
    }
    if (s.kind == Spec::kDnat) {
      const json::Value* rules = v.find("rules");
      if (!rules || !rules->is_array() || rules->as_array().empty()) throw ConfigError(what + ".rules: give at least one forwarding rule");
      int j = 0;
      for (const json::Value& r : rules->as_array()) {
        const std::string rw = what + ".rules[" + std::to_string(j++) + "]";
        if (!r.is_object()) throw ConfigError(rw + ": a rule object");
        Rule rule{};
        rule.proto = uint8_t(parse_int(r, "proto", rw, 0, 255));
        if (rule.proto != kTCP && rule.proto != kUDP) throw ConfigError(rw + ".proto: 6 (TCP) or 17 (UDP)");
        rule.port = uint16_t(parse_int(r, "port", rw, 1, 65535));
        rule.to = htonl(uint32_t(parse_int(r, "to", rw, 0, 0xffffffffll)));
        rule.to_port = uint16_t(parse_int(r, "toPort", rw, 1, 65535));
        rule.addr = htonl(uint32_t(parse_int(r, "address", rw, 0, 0xffffffffll)));
        s.rules.push_back(rule);
      }
    }
    return s;
  }

  // ---------------- parsing (no lock) ----------------

  // Fills q from the packet; returns kKeep or a drop reason.
  uint32_t parse(Packet* p, Parsed& q) const {
    uint8_t* ip = p->network_header();
    if (!ip) ip = p->data();
    if (ip < p->data() || ip + 20 > p->end_data()) return kRBadIp;
    const uint32_t hlen = uint32_t(ip[0] & 15) * 4, total = ip::load_be16(ip + 2);
    if ((ip[0] >> 4) != 4 || hlen < 20 || total < hlen || ip + total > p->end_data()) return kRBadIp;
    if (ip::load_be16(ip + 6) & 0x1fff) return kRFragment;  // no transport header to map by
    q.ip = ip;
    q.l4 = ip + hlen;
    q.proto = ip[9];
    q.tcp_flags = 0;
    const uint32_t len = total - hlen;
    std::memcpy(&q.key.s, ip + 12, 4);
    std::memcpy(&q.key.d, ip + 16, 4);
    if (q.proto == kTCP || q.proto == kUDP) {
      if (len < (q.proto == kTCP ? 20u : 8u)) return kRTruncated;
      q.key.sp = ip::load_be16(q.l4);
      q.key.dp = ip::load_be16(q.l4 + 2);
      if (q.proto == kTCP) q.tcp_flags = q.l4[13];
      q.kind = kMappable;
      return kKeep;
    }
    if (q.proto != kICMP) {
      q.kind = kOther;
      return kKeep;
    }
    if (len < 8) return kRTruncated;
    const uint8_t type = q.l4[0];
    if (type == 8 || type == 0) {  // echo request / reply: the identifier is the "port"
      const uint16_t id = ip::load_be16(q.l4 + 4);
      q.key.sp = type == 8 ? id : 0;
      q.key.dp = type == 8 ? 0 : id;
      q.kind = type == 8 ? kMappable : kEchoReply;
      return kKeep;
    }
    if (!icmp_error_type(type)) {
      q.kind = kUnmappable;
      return kKeep;
    }
    // An error: the quoted datagram's IPv4 header and first 8 bytes must be there.
    uint8_t* in = q.l4 + 8;
    const uint32_t avail = len - 8;
    if (avail < 20) return kRTruncated;
    const uint32_t ihl = uint32_t(in[0] & 15) * 4;
    if ((in[0] >> 4) != 4 || ihl < 20 || avail < ihl + 8) return kRTruncated;
    q.kind = kError;
    q.inner = in;
    q.il4 = in + ihl;
    q.iavail = avail - ihl;
    q.proto = in[9];
    if (ip::load_be16(in + 6) & 0x1fff) {
      q.kind = kUnmappable;  // about a later fragment: no ports to map by
      return kKeep;
    }
    // The key of the direction the error travels: the quoted packet's, reversed.
    Tuple t;
    std::memcpy(&t.s, in + 12, 4);
    std::memcpy(&t.d, in + 16, 4);
    if (q.proto == kTCP || q.proto == kUDP) {
      t.sp = ip::load_be16(q.il4);
      t.dp = ip::load_be16(q.il4 + 2);
    } else if (q.proto == kICMP && (q.il4[0] == 8 || q.il4[0] == 0)) {
      const uint16_t id = ip::load_be16(q.il4 + 4);
      t.sp = q.il4[0] == 8 ? id : 0;
      t.dp = q.il4[0] == 8 ? 0 : id;
    } else {
      q.kind = kUnmappable;
      return kKeep;
    }
    q.key = t.reversed();
    return kKeep;
  }

  // ---------------- the table (lock held) ----------------

  // The index's hash of a key (its high 32 bits are the slot tag and home).
  static uint64_t hash_key(uint8_t proto, const Tuple& t) {
    uint64_t a = uint64_t(t.s) << 32 | t.d;
    uint64_t b = uint64_t(t.sp) << 24 | uint64_t(t.dp) << 8 | proto;
    uint64_t h = (a ^ (b * 0xc2b2ae3d27d4eb4full)) * 0x9e3779b97f4a7c15ull;
    h ^= h >> 29;
    return h * 0xbf58476d1ce4e5b9ull;
  }
  // An index reference: a flow and a direction (never 0).
  static uint32_t ref_of(uint32_t f, uint32_t dir) { return (f << 1 | dir) + 1; }

  int32_t find(uint8_t proto, const Tuple& k, uint32_t& dir) const { return find(proto, k, dir, hash_key(proto, k)); }
  int32_t find(uint8_t proto, const Tuple& k, uint32_t& dir, uint64_t h) const {
    const uint32_t ref = index_.find(h, [&](uint32_t r) {
      const Flow& fl = flows_[(r - 1) >> 1];
      return fl.proto == proto && fl.key[(r - 1) & 1] == k;
    });
    if (ref == 0) return -1;
    dir = (ref - 1) & 1;
    return int32_t((ref - 1) >> 1);
  }

  bool expired(const Flow& f, uint64_t now) const { return now - std::min(now, f.last) >= timeout_ns_[f.cls]; }

  // The live flow of a key; an expired one found here is removed at once.
  int32_t lookup(uint8_t proto, const Tuple& k, uint32_t& dir, uint64_t now, uint64_t h) {
    const int32_t f = find(proto, k, dir, h);
    if (f < 0) return -1;
    if (expired(flows_[size_t(f)], now)) {
      remove(uint32_t(f));
      pending_expired_++;
      return -1;
    }
    return f;
  }

  // The index holds two keys a flow and was sized for every flow: an insert never fails.
  void insert_key(uint32_t f, uint32_t dir) {
    const Flow& fl = flows_[f];
    index_.insert(hash_key(fl.proto, fl.key[dir]), ref_of(f, dir));
  }

  void erase_key(uint32_t f, uint32_t dir) {
    const Flow& fl = flows_[f];
    index_.erase(hash_key(fl.proto, fl.key[dir]), ref_of(f, dir));
  }

  void list_unlink(uint32_t f) {
    Flow& fl = flows_[f];
    if (fl.prev != kNil) flows_[fl.prev].next = fl.next;
    else head_[fl.cls] = fl.next;
    if (fl.next != kNil) flows_[fl.next].prev = fl.prev;
    else tail_[fl.cls] = fl.prev;
    fl.prev = fl.next = kNil;
  }
  void list_append(uint32_t f) {
    Flow& fl = flows_[f];
    const uint32_t t = tail_[fl.cls];
    // Keep each list ordered by last use even when workers' loop clocks differ slightly.
    if (t != kNil && flows_[t].last > fl.last) fl.last = flows_[t].last;
    fl.prev = t;
    fl.next = kNil;
    if (t != kNil) flows_[t].next = f;
    else head_[fl.cls] = f;
    tail_[fl.cls] = f;
  }

  void remove(uint32_t f) {
    Flow& fl = flows_[f];
    erase_key(f, 0);
    erase_key(f, 1);
    list_unlink(f);
    if (fl.pool >= 0) clear_bit(pools_[size_t(fl.pool)], proto_index(fl.proto), fl.port);
    fl = Flow{};
    fl.next = free_;
    free_ = f;
    used_--;
  }

  static uint8_t tcp_class(uint8_t st) {
    if ((st & kRst) || ((st & kFinFwd) && (st & kFinRev)) || !(st & kSeenReply)) return kTcpTrans;
    return kTcpEst;
  }

  // A packet of flow f went by in direction dir: note TCP flags, refresh, and move the flow to
  // the end of its (perhaps new) idle list. Returns whether it moved to another class.
  bool touch(Flow& fl, uint32_t f, uint32_t dir, uint8_t flags, uint64_t now) {
    uint8_t cls = fl.cls;
    if (fl.proto == kTCP) {
      if (dir == 0 && (flags & 0x12) == 0x02) fl.tcp = 0;  // a fresh SYN: the connection starts over
      if (dir == 1) fl.tcp |= kSeenReply;
      if (flags & 0x04) fl.tcp |= kRst;
      if (flags & 0x01) fl.tcp |= dir ? kFinRev : kFinFwd;
      cls = tcp_class(fl.tcp);
    }
    list_unlink(f);
    const bool moved = cls != fl.cls;
    fl.cls = cls;
    fl.last = now;
    list_append(f);
    return moved;
  }

  // Expire flows idle past their timeout; returns the earliest expiry left (0: no flows).
  uint64_t expire(uint64_t now) {
    uint64_t next = 0;
    for (uint32_t c = 0; c < kClasses; c++) {
      while (head_[c] != kNil && expired(flows_[head_[c]], now)) {
        remove(head_[c]);
        pending_expired_++;
      }
      if (head_[c] != kNil) {
        const uint64_t e = flows_[head_[c]].last + timeout_ns_[c];
        if (!next || e < next) next = e;
      }
    }
    return next;
  }

  int32_t alloc_flow(uint64_t now) {
    if (free_ == kNil) expire(now);
    if (free_ == kNil) return -1;
    const uint32_t f = free_;
    free_ = flows_[f].next;
    used_++;
    return int32_t(f);
  }

  // A free port of pool p for protocol pi whose reply key is not taken, or -1: the flow's own
  // source port when `preserve` and it is free, else a search from where the last search
  // stopped, a whole word of used ports at a time.
  int32_t alloc_port(Pool& p, uint32_t pi, uint8_t proto, const Tuple& fwd, bool preserve) {
    const auto free_port = [&](uint32_t port) {
      const Tuple reply{fwd.d, p.addr, fwd.dp, uint16_t(port)};
      uint32_t dir;
      return !bit(p, pi, port) && find(proto, reply, dir) < 0;
    };
    if (preserve && fwd.sp >= p.lo && fwd.sp <= p.hi && free_port(fwd.sp)) {
      set_bit(p, pi, fwd.sp);
      return fwd.sp;
    }
    const uint32_t span = uint32_t(p.hi) - p.lo + 1;
    uint32_t port = p.rover[pi];
    for (uint32_t tried = 0; tried < span;) {
      uint32_t step = 1;
      if (p.bits[pi][port >> 6] == ~uint64_t(0)) {
        step = 64 - (port & 63);
      } else if (free_port(port)) {
        set_bit(p, pi, port);
        p.rover[pi] = port == p.hi ? p.lo : port + 1;
        return int32_t(port);
      }
      if (port + step > p.hi) {
        tried += p.hi - port + 1;
        port = p.lo;
      } else {
        tried += step;
        port += step;
      }
    }
    return -1;
  }

  // A new mapping for q by spec s, or -1 (q.act then says why it was dropped, or kActDrop to
  // leave it to the spec's pass output).
  int32_t create(const Spec& s, Parsed& q, uint64_t now) {
    Tuple x = q.key;
    int32_t pool = -1, port = -1;
    if (s.kind == Spec::kDnat) {
      const Rule* hit = nullptr;
      for (const Rule& r : s.rules)
        if (r.proto == q.proto && r.port == q.key.dp && (r.addr == 0 || r.addr == q.key.d)) {
          hit = &r;
          break;
        }
      if (!hit) return -1;  // left to the pass output, or dropped as unmapped
      x.d = hit->to;
      x.dp = hit->to_port;
    } else if (s.kind == Spec::kSnat) {
      Pool& p = pools_[size_t(s.pool)];
      if (used_ >= capacity_ && free_ == kNil) expire(now);
      if (free_ == kNil) return fail(q, kRTableFull);
      port = alloc_port(p, proto_index(q.proto), q.proto, q.key, s.preserve);
      if (port < 0) return fail(q, kRNoPort);
      pool = s.pool;
      x.s = p.addr;
      x.sp = uint16_t(port);  // for ICMP echo, the identifier
    }
    uint32_t dir;
    if (find(q.proto, x.reversed(), dir) >= 0) {
      if (pool >= 0) clear_bit(pools_[size_t(pool)], proto_index(q.proto), uint32_t(port));
      return fail(q, kRConflict);
    }
    const int32_t f = alloc_flow(now);
    if (f < 0) {
      if (pool >= 0) clear_bit(pools_[size_t(pool)], proto_index(q.proto), uint32_t(port));
      return fail(q, kRTableFull);
    }
    Flow& fl = flows_[size_t(f)];
    fl.used = true;
    fl.proto = q.proto;
    fl.key[0] = q.key;
    fl.xlat[0] = x;
    fl.key[1] = x.reversed();
    fl.xlat[1] = q.key.reversed();
    fl.out[0] = uint16_t(s.forward);
    fl.out[1] = uint16_t(s.reply);
    fl.pool = int16_t(pool);
    fl.port = uint16_t(port < 0 ? 0 : port);
    fl.tcp = 0;
    fl.cls = q.proto == kTCP ? kTcpTrans : q.proto == kUDP ? kUdpCls : kIcmpCls;
    fl.last = now;
    insert_key(uint32_t(f), 0);
    insert_key(uint32_t(f), 1);
    list_append(uint32_t(f));
    return f;
  }
  static int32_t fail(Parsed& q, uint32_t reason) {
    q.act = kActDropReason;
    q.reason = uint8_t(reason);
    return -1;
  }

  void decide_error(Parsed& q, uint64_t now) {
    uint32_t dir;
    const int32_t f = lookup(q.proto, q.key, dir, now, q.hash);
    if (f < 0) return;  // unmapped: the spec's pass output, or dropped
    const Flow& fl = flows_[size_t(f)];
    q.act = kActError;
    q.out = fl.out[dir];
    q.from = fl.key[dir];
    q.to = fl.xlat[dir];
  }

  // The timer should fire no later than `when` (lock held).
  void arm(uint64_t when) {
    if (!timer_.scheduled() || timer_.expiry() > when) timer_.schedule_at(when);
  }

  void on_timer() {
    const uint64_t now = monotonic_ns();
    uint64_t n;
    {
      SpinLock::Guard lock(lock_);
      const uint64_t next = expire(now);
      n = pending_expired_;
      pending_expired_ = 0;
      if (next) timer_.schedule_at(std::max(next, now + 1000000));  // at most 1000 wake-ups a second
    }
    if (n) count(c_expired_, n);
  }

  // ---------------- rewriting (no lock) ----------------

  void rewrite(Parsed& q) {
    uint8_t* ip = q.ip;
    uint8_t* l4 = q.l4;
    Delta iph, pseudo, ports;
    set32(ip + 12, q.to.s, iph, pseudo);
    set32(ip + 16, q.to.d, iph, pseudo);
    fix_checksum(ip + 10, iph, false);
    if (q.proto == kTCP || q.proto == kUDP) {
      set16(l4, q.to.sp, ports);
      set16(l4 + 2, q.to.dp, ports);
      Delta all = pseudo;
      all.old_sum += ports.old_sum;
      all.new_sum += ports.new_sum;
      fix_checksum(l4 + (q.proto == kTCP ? 16 : 6), all, q.proto == kUDP);
    } else {  // ICMP echo: no pseudo-header; the identifier is the request's source "port"
      set16(l4 + 4, l4[0] == 8 ? q.to.sp : q.to.dp, ports);
      fix_checksum(l4 + 2, ports, false);
    }
  }

  // An ICMP error about a packet of the flow, travelling in direction D (key q.from, tuple
  // q.to): the outer destination (and the source, when it is the flow's own endpoint) as
  // packets of D are rewritten; the quoted packet, which went the other way, reversed.
  void rewrite_error(Parsed& q) {
    uint8_t* ip = q.ip;
    uint8_t* icmp = q.l4;
    uint8_t* in = q.inner;
    uint8_t* il4 = q.il4;
    Delta outer, msg, inner_ip, inner_l4;
    if (load32(ip + 12) == q.from.s) set32(ip + 12, q.to.s, outer);
    if (load32(ip + 16) == q.from.d) set32(ip + 16, q.to.d, outer);
    fix_checksum(ip + 10, outer, false);
    const bool ports = q.proto == kTCP || q.proto == kUDP;
    if (ports) {
      set32(in + 12, q.to.d, msg, inner_ip, inner_l4);
      set32(in + 16, q.to.s, msg, inner_ip, inner_l4);
      set16(il4, q.to.dp, msg, inner_l4);
      set16(il4 + 2, q.to.sp, msg, inner_l4);
    } else {
      set32(in + 12, q.to.d, msg, inner_ip);
      set32(in + 16, q.to.s, msg, inner_ip);
      set16(il4 + 4, il4[0] == 8 ? q.to.dp : q.to.sp, msg, inner_l4);
    }
    // The quoted header checksums, as far as they were quoted; their changes are changes
    // of the ICMP message too.
    auto fix_quoted = [&](uint8_t* p, const Delta& d, bool udp) {
      const uint16_t before = ip::load16(p);
      fix_checksum(p, d, udp);
      msg.add16(before, ip::load16(p));
    };
    fix_quoted(in + 10, inner_ip, false);
    const uint32_t ck = q.proto == kTCP ? 16 : q.proto == kUDP ? 6 : 2;
    if (q.iavail >= ck + 2) fix_quoted(il4 + ck, inner_l4, q.proto == kUDP);
    fix_checksum(icmp + 2, msg, false);
  }

  // ---------------- handlers ----------------

  std::string table_text() {
    std::string s;
    const uint64_t now = monotonic_ns();
    SpinLock::Guard lock(lock_);
    static const char* const kState[] = {"established", "transitory", "udp", "icmp"};
    for (uint32_t c = 0; c < kClasses; c++)
      for (uint32_t f = head_[c]; f != kNil; f = flows_[f].next) {
        const Flow& fl = flows_[f];
        const char* proto = fl.proto == kTCP ? "tcp" : fl.proto == kUDP ? "udp" : "icmp";
        const bool icmp = fl.proto == kICMP;  // ICMP: the identifier, and no destination port
        char a[4][INET_ADDRSTRLEN], dp[2][8] = {"", ""}, line[256];
        const uint32_t addrs[4] = {fl.key[0].s, fl.key[0].d, fl.xlat[0].s, fl.xlat[0].d};
        for (int k = 0; k < 4; k++) inet_ntop(AF_INET, &addrs[k], a[k], INET_ADDRSTRLEN);
        if (!icmp) {
          std::snprintf(dp[0], sizeof dp[0], ":%u", fl.key[0].dp);
          std::snprintf(dp[1], sizeof dp[1], ":%u", fl.xlat[0].dp);
        }
        std::snprintf(line, sizeof line, "%s %s:%u %s%s => %s:%u %s%s out %u reply %u %s idle %.3f\n", proto, a[0], fl.key[0].sp, a[1], dp[0], a[2],
                      fl.xlat[0].sp, a[3], dp[1], fl.out[0], fl.out[1], fl.proto == kTCP ? kState[fl.cls] : "-",
                      double(now - std::min(now, fl.last)) / 1e9);
        s += line;
      }
    return s;
  }

  // ---------------- state ----------------

  std::vector<Spec> specs_;
  std::vector<Pool> pools_;
  std::vector<Flow> flows_;
  HashIndex index_;  // (proto, key) -> ref_of(flow, direction)
  uint32_t capacity_ = 0, used_ = 0, free_ = kNil;
  uint32_t head_[kClasses] = {kNil, kNil, kNil, kNil}, tail_[kClasses] = {kNil, kNil, kNil, kNil};
  uint64_t timeout_ns_[kClasses] = {};
  uint64_t min_timeout_ = 0;
  uint64_t pending_expired_ = 0;  // expiries not yet counted (counted by the timer)
  SpinLock lock_;
  Timer timer_{[this] { on_timer(); }};
  uint32_t c_rewritten_ = 0, c_new_ = 0, c_passed_ = 0, c_icmp_errors_ = 0, c_expired_ = 0, c_bad_ip_ = 0, c_truncated_ = 0,
           c_fragment_ = 0, c_protocol_ = 0, c_no_mapping_ = 0, c_no_port_ = 0, c_table_full_ = 0, c_conflict_ = 0;
};

PG_ELEMENT(IPRewriter);

}  // namespace pg
