// The decision program IPClassifier and IPFilter evaluate: tcpdump expressions compiled in
// TypeScript (src/filter/compile.ts) into a DAG of comparison nodes, carried in the plan as
// text: `pgf1 NODES ENTRY` then per node `CMP YES NO FAIL NCODE CODE...`.
//
// A node compares two 32-bit values computed by a small postfix program (constants,
// loads from the network or transport header, per-packet context, arithmetic) and moves
// to `yes`, `no`, or `fail` when a load runs past the packet's end or divides by zero (as
// BPF rejects). Successors are node indexes, always smaller than the node's own (checked
// here, so evaluation ends), or leaves -(output + 1); outputs 65535 and 65534 mean drop
// (no rule matched; a drop rule matched).
#pragma once
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "batch_split.h"
#include "element.h"

namespace pg::filter {

enum Op : uint32_t { kConst = 0, kLoad, kCtx, kAdd, kSub, kMul, kDiv, kMod, kAnd, kOr, kXor, kShl, kShr, kNeg, kChain };
enum Cmp : uint32_t { kEq = 0, kNe, kLt, kLe, kGt, kGe };
// The frame length; the type field after 0, 1, 2 VLAN tags (EtherType or TPID); the VLAN id
// of the first and second tag (src/filter/parse.ts, CTX).
enum CtxValue : uint32_t { kLen = 0, kType0, kType1, kType2, kVid0, kVid1, kNumCtx };
enum Base : uint32_t { kNet = 0, kTrans, kLink };
constexpr uint32_t kDrop = 65535;      // no rule took the packet
constexpr uint32_t kDropRule = 65534;  // a drop/deny rule took it (IPFilter)
constexpr int kMaxStack = 16;

struct Node {
  uint32_t cmp;
  int32_t yes, no, fail;
  uint32_t code, ncode;  // into Program::code
  // The common shapes, evaluated without the stack machine: `ctx[arg] CMP k` and
  // `(load(base, off, size) & mask) CMP k`.
  enum Kind : uint8_t { kGeneric, kCtxConst, kLoadConst } kind = kGeneric;
  uint8_t base = 0, depth = 0, size = 0;
  uint32_t arg = 0, off = 0, mask = 0, k = 0;
};

// What the program sees of one packet, computed once per packet by make_view (which sets
// every field, so nothing is zeroed twice).
struct View {
  const uint8_t* nh;  // network header
  uint32_t nlen;      // bytes from nh to the packet's end
  uint32_t thoff;     // IPv4 transport header offset from nh: IHL * 4 (BPF's ldxb 4*([nh]&0xf))
  // The link frame as tcpdump would have seen it: the MAC header annotation on, with a tag
  // VLANDecap moved into the VLAN annotation put back at offset 12 (`tag`, valid when ltag).
  const uint8_t* lh;
  uint32_t llen;
  bool ltag;
  uint8_t tag[4];
  uint32_t ctx[kNumCtx];
  uint32_t missing;  // bit i: ctx[i] is not in the frame (reading it fails)
  // Bit d: a primitive inside d VLAN tags reads the network header annotation. Otherwise
  // (the frame has another number of tags) it reads where tcpdump would: the frame's bytes
  // from 14 + 4 * d.
  uint32_t direct;
};

inline uint16_t be16(const uint8_t* p) { return uint16_t(p[0] << 8 | p[1]); }

inline bool is_tpid(uint16_t t) { return t == 0x8100 || t == 0x88a8 || t == 0x9100; }

inline uint32_t read_be(const uint8_t* q, uint32_t size) {
  return size == 1 ? q[0] : size == 2 ? uint32_t(q[0] << 8 | q[1]) : uint32_t(q[0]) << 24 | uint32_t(q[1]) << 16 | uint32_t(q[2]) << 8 | q[3];
}

// `size` bytes at `off` of the link frame; the caller checked off + size <= llen.
inline uint32_t link_read(const View& v, uint32_t off, uint32_t size) {
  if (!v.ltag || off + size <= 12) return read_be(v.lh + off, size);
  if (off >= 16) return read_be(v.lh + off - 4, size);
  uint32_t x = 0;  // straddles the re-inserted tag
  for (uint32_t i = off; i < off + size; i++) x = x << 8 | (i < 12 ? v.lh[i] : i < 16 ? v.tag[i - 12] : v.lh[i - 4]);
  return x;
}

// Two cases. When the network header sits right after the link header and its VLAN tags
// (or is not set: then it is put there), the frame is what tcpdump reads: the types and
// VLAN ids are the frame's bytes at 12 + 4d and 14 + 4d, missing when the frame is
// shorter. Otherwise (no MAC header annotation: raw IP, a decapsulated inner packet), the
// IP version nibble gives the type (IPv4 0x0800, IPv6 0x86dd) and the VLAN annotation is
// the only tag. `len` is the frame length from the MAC header (or the network header),
// plus 4 for a tag in the annotation.
// `depth`: the deepest type field the program reads (0-2); deeper ones are left out.
inline void make_view(Packet* p, View& v, uint32_t depth) {
  uint8_t* end = p->end_data();
  uint8_t* nh = p->network_header();
  uint8_t* mac = p->mac_header();
  if (nh && (nh < p->buffer() || nh > end)) nh = nullptr;
  if (mac && (mac < p->buffer() || mac > end)) mac = nullptr;
  const bool anno_tag = (p->anno().flags & kVlanPresent) != 0;
  const uint16_t tci = p->anno().vlan_tci;
  v.missing = 0;
  v.ctx[kType1] = v.ctx[kType2] = v.ctx[kVid0] = v.ctx[kVid1] = 0;
  bool link_mode = false;
  if (mac && (!nh || mac <= nh)) {
    v.lh = mac;
    v.ltag = anno_tag;
    v.llen = uint32_t(end - mac) + (anno_tag ? 4 : 0);
    if (anno_tag) {
      v.tag[0] = 0x81;
      v.tag[1] = 0x00;
      v.tag[2] = uint8_t(tci >> 8);
      v.tag[3] = uint8_t(tci);
    }
    // The type fields at 12, 16, 20 (whatever they hold: `vlan or ip` reads 16 of an
    // untagged frame, as tcpdump), a VLAN id only after a tag (nothing reads it otherwise),
    // and how many leading tags there are (at most 8: a frame of nothing but tags must not
    // cost a walk over all of it).
    uint32_t tags = 0;
    bool tagged = true;
    for (uint32_t d = 0; d < 8 && (tagged || d <= depth); d++) {
      if (14 + 4 * d > v.llen) {
        for (uint32_t e = d; e < 3; e++) v.missing |= 1u << (kType0 + e);
        break;
      }
      const uint32_t type = v.ltag ? link_read(v, 12 + 4 * d, 2) : be16(mac + 12 + 4 * d);
      if (d < 3) v.ctx[kType0 + d] = type;
      tagged = tagged && is_tpid(uint16_t(type));
      if (!tagged) continue;
      tags++;
      if (d < 2 && 16 + 4 * d <= v.llen) v.ctx[kVid0 + d] = link_read(v, 14 + 4 * d, 2) & 0xfff;
    }
    for (uint32_t d = 0; d < 2; d++)
      if (16 + 4 * d > v.llen) v.missing |= 1u << (kVid0 + d);
    uint8_t* after = mac + 14 + 4 * tags - (anno_tag ? 4 : 0);  // where the link header ends in memory
    if (!nh) {
      link_mode = true;
      if (after <= end) nh = after;
    } else {
      link_mode = nh == after;
    }
    v.direct = link_mode ? (tags < 3 ? 1u << tags : 0u) : 7u;
  } else {
    v.lh = nullptr;
    v.llen = 0;
    v.ltag = false;
    v.direct = 7;
  }
  if (!link_mode) {
    const uint32_t version = nh && nh < end ? nh[0] >> 4 : 0;
    const uint32_t type = version == 4 ? 0x0800 : version == 6 ? 0x86dd : 0;
    v.missing = 0;
    v.ctx[kType2] = v.ctx[kVid1] = 0;
    if (anno_tag) {
      v.ctx[kType0] = 0x8100;
      v.ctx[kVid0] = tci & 0xfff;
      v.ctx[kType1] = type;
    } else {
      v.ctx[kType0] = type;
      v.ctx[kType1] = v.ctx[kVid0] = 0;
    }
  }
  if (nh) {
    v.nh = nh;
    v.nlen = uint32_t(end - nh);
    v.thoff = nh < end ? uint32_t(nh[0] & 15) * 4 : 0;
  } else {
    v.nh = nullptr;
    v.nlen = 0;
    v.thoff = 0;
  }
  const uint8_t* frame = v.lh ? mac : nh ? nh : p->data();
  v.ctx[kLen] = uint32_t(end - frame) + (anno_tag && v.lh ? 4 : 0);
}

// `size` bytes at `off` of the network layer as a primitive inside `depth` tags sees it
// (View::direct); false past the end.
inline bool net_read(const View& v, uint32_t depth, uint64_t off, uint32_t size, uint32_t& out) {
  if (v.direct >> depth & 1) {
    if (off + size > v.nlen) return false;
    out = read_be(v.nh + off, size);
    return true;
  }
  off += 14 + 4 * depth;
  if (off + size > v.llen) return false;
  out = link_read(v, uint32_t(off), size);
  return true;
}

// The IPv4 transport header's offset from the network layer at `depth`: 4 * the low nibble
// of its first byte (BPF's ldxb 4*([k]&0xf)); false when that byte is past the end.
inline bool trans_offset(const View& v, uint32_t depth, uint32_t& x) {
  if (v.direct >> depth & 1) {
    x = v.thoff;
    return v.nlen > 0;
  }
  uint32_t b;
  if (!net_read(v, depth, 0, 1, b)) return false;
  x = (b & 15) * 4;
  return true;
}

// tcpdump's protochain (libpcap's gen_protochain): from the IPv4 protocol field (the
// transport header at IHL * 4) or the IPv6 next header (at 40), step over IPv6 hop-by-hop,
// destination options, routing and fragment headers ((len + 1) * 8 bytes) and AH until the
// protocol is `want`, 59 (no next header) or anything else; that protocol, or false when a
// header runs past the end. After AH, libpcap's code goes on at (len + 2) * 4 bytes from
// the network header, not from the AH (its BPF sets X instead of adding to it): kept, so
// verdicts are tcpdump's. That can loop (tcpdump then never returns); the walk here stops
// after kMaxChain headers and rejects the packet.
constexpr uint32_t kMaxChain = 256;
inline bool protochain(const View& v, uint32_t family, uint32_t depth, uint32_t want, uint32_t& out) {
  uint64_t x;
  uint32_t a, b0, b1;
  if (family == 4) {
    uint32_t t;
    if (!net_read(v, depth, 9, 1, a) || !trans_offset(v, depth, t)) return false;
    x = t;
  } else {
    if (!net_read(v, depth, 6, 1, a)) return false;
    x = 40;
  }
  for (uint32_t steps = 0;; steps++) {
    if (a == want || a == 59) break;
    if (steps == kMaxChain) return false;
    const bool ext6 = family == 6 && (a == 0 || a == 60 || a == 43 || a == 44);
    if (!ext6 && a != 51) break;
    if (!net_read(v, depth, x, 1, b0) || !net_read(v, depth, x + 1, 1, b1)) return false;
    x = ext6 ? x + (uint64_t(b1) + 1) * 8 : (uint64_t(b1) + 2) * 4;
    a = b0;
  }
  out = a;
  return true;
}

class Program {
 public:
  // Parses and checks the text; throws ConfigError naming `what` on any problem.
  void load(const std::string& text, uint32_t noutputs, const std::string& what) {
    const char* s = text.c_str();
    auto bad = [&](const std::string& why) { throw ConfigError(what + ": " + why + " (compile the graph with pktgraph's compiler, which fills it in)"); };
    auto num = [&](int64_t lo, int64_t hi) -> int64_t {
      while (*s == ' ') s++;
      char* e = nullptr;
      long long x = std::strtoll(s, &e, 10);
      if (e == s) bad("the program is truncated or malformed");
      if (x < lo || x > hi) bad("a program value is out of range");
      s = e;
      return x;
    };
    while (*s == ' ') s++;
    if (std::strncmp(s, "pgf1", 4) != 0) bad("the program does not start with 'pgf1'");
    s += 4;
    const int64_t nnodes = num(0, 65536);
    auto target_ok = [&](int64_t t, int64_t self) {
      if (t >= 0) return t < self;
      const int64_t out = -t - 1;
      return out == kDrop || out == kDropRule || out < int64_t(noutputs);
    };
    entry_ = int32_t(num(-65536, nnodes - 1));
    if (!target_ok(entry_, nnodes)) bad("the entry leads to an output the element does not have");
    nodes_.clear();
    code_.clear();
    depth_ = 0;
    for (int64_t i = 0; i < nnodes; i++) {
      Node n{};
      n.cmp = uint32_t(num(0, kGe));
      n.yes = int32_t(num(-65536, i - 1));
      n.no = int32_t(num(-65536, i - 1));
      n.fail = int32_t(num(-65536, i - 1));
      if (!target_ok(n.yes, i) || !target_ok(n.no, i) || !target_ok(n.fail, i)) bad("a node leads to an output the element does not have");
      n.ncode = uint32_t(num(1, 1 << 20));
      n.code = uint32_t(code_.size());
      int depth = 0, maxd = 0;
      for (uint32_t k = 0; k < n.ncode; k++) {
        const uint32_t w = uint32_t(num(0, 0xffffffffll));
        code_.push_back(w);
        switch (w & 0xff) {
          case kConst:
            if (++k >= n.ncode) bad("a constant lacks its value");
            code_.push_back(uint32_t(num(0, 0xffffffffll)));
            depth++;
            break;
          case kLoad: {
            const uint32_t base = (w >> 8) & 0xf, ldepth = (w >> 12) & 0xf, size = w >> 16;
            if (base > kLink || ldepth > 2 || (size != 1 && size != 2 && size != 4)) bad("a load has a bad base, depth or size");
            if (depth < 1) bad("a load has no offset");
            break;
          }
          case kCtx:
            if ((w >> 8) >= kNumCtx) bad("unknown context value");
            if ((w >> 8) == kType1 || (w >> 8) == kVid1) depth_ = std::max(depth_, 1u);
            if ((w >> 8) == kType2) depth_ = 2;
            depth++;
            break;
          case kNeg:
            if (depth < 1) bad("the code underflows its stack");
            break;
          case kChain:
            if (((w >> 8) & 0xf) != 4 && ((w >> 8) & 0xf) != 6) bad("a protochain walk has a bad family");
            if (((w >> 12) & 0xf) > 2 || (w >> 16)) bad("a protochain walk has a bad depth");
            if (depth < 1) bad("the code underflows its stack");
            break;
          default:
            if ((w & 0xff) > kNeg) bad("unknown operation");
            if (depth < 2) bad("the code underflows its stack");
            depth--;
        }
        if (depth > maxd) maxd = depth;
      }
      if (depth != 2 || maxd > kMaxStack) bad("a node's code must leave two values within the stack limit");
      classify(n);
      nodes_.push_back(n);
    }
    while (*s == ' ') s++;
    if (*s) bad("unexpected text after the program");
  }

  // The output for one packet (kDrop to drop).
  uint32_t run(Packet* p) const {
    if (entry_ < 0) return uint32_t(-entry_ - 1);
    View v;
    make_view(p, v, depth_);
    int32_t t = entry_;
    while (t >= 0) {
      const Node& n = nodes_[t];
      const int r = eval(n, v);
      t = r > 0 ? n.yes : r == 0 ? n.no : n.fail;
    }
    return uint32_t(-t - 1);
  }

  // One line per node, for the `program` handler.
  std::string describe() const {
    static const char* ops[] = {"const", "load", "ctx", "+", "-", "*", "/", "%", "&", "|", "^", "<<", ">>", "neg", "protochain"};
    static const char* cmps[] = {"==", "!=", "<", "<=", ">", ">="};
    static const char* ctxs[] = {"len", "type0", "type1", "type2", "vlan0", "vlan1"};
    static const char* bases[] = {"net", "trans", "link"};
    auto target = [](int32_t t) {
      if (t >= 0) return "node " + std::to_string(t);
      if (-t - 1 == int32_t(kDrop)) return std::string("drop (no match)");
      if (-t - 1 == int32_t(kDropRule)) return std::string("drop (rule)");
      return "output " + std::to_string(-t - 1);
    };
    std::string out = "entry: " + target(entry_) + "\n";
    for (size_t i = nodes_.size(); i-- > 0;) {
      const Node& n = nodes_[i];
      std::string c;
      for (uint32_t k = n.code; k < n.code + n.ncode; k++) {
        const uint32_t w = code_[k];
        if (!c.empty()) c += ' ';
        if ((w & 0xff) == kConst) c += std::to_string(code_[++k]);
        else if ((w & 0xff) == kLoad) c += std::string(bases[w >> 8 & 0xf]) + depth_tag(w) + "[" + std::to_string(w >> 16) + "]";
        else if ((w & 0xff) == kCtx) c += ctxs[w >> 8];
        else if ((w & 0xff) == kChain) c += std::string((w >> 8 & 0xf) == 4 ? "protochain4" : "protochain6") + depth_tag(w);
        else c += ops[w & 0xff];
      }
      out += std::to_string(i) + ": " + c + " " + cmps[n.cmp] + " ? " + target(n.yes) + " : " + target(n.no) +
             " (out of bounds: " + target(n.fail) + ")\n";
    }
    return out;
  }

  size_t size() const { return nodes_.size(); }

  // "@D" for a load or walk inside D VLAN tags.
  static std::string depth_tag(uint32_t w) { return (w >> 12 & 0xf) ? "@" + std::to_string(w >> 12 & 0xf) : ""; }

 private:
  void classify(Node& n) const {
    const uint32_t* c = code_.data() + n.code;
    if (n.ncode == 3 && (c[0] & 0xff) == kCtx && c[1] == kConst) {
      n.kind = Node::kCtxConst;
      n.arg = c[0] >> 8;
      n.k = c[2];
    } else if ((n.ncode == 5 || n.ncode == 8) && c[0] == kConst && (c[2] & 0xff) == kLoad && c[n.ncode - 2] == kConst &&
               (n.ncode == 5 || (c[3] == kConst && c[5] == kAnd))) {
      n.kind = Node::kLoadConst;
      n.off = c[1];
      n.base = uint8_t(c[2] >> 8 & 0xf);
      n.depth = uint8_t(c[2] >> 12 & 0xf);
      n.size = uint8_t(c[2] >> 16);
      n.mask = n.ncode == 8 ? c[4] : 0xffffffffu;
      n.k = c[n.ncode - 1];
    }
  }

  // A load from a base (network and transport ones inside `depth` tags): false past the end.
  static bool load_at(const View& v, uint32_t base, uint32_t depth, uint64_t off, uint32_t size, uint32_t& out) {
    if (base == kLink) {
      if (off + size > v.llen) return false;
      out = link_read(v, uint32_t(off), size);
      return true;
    }
    if (base == kTrans) {
      uint32_t x;
      if (!trans_offset(v, depth, x)) return false;
      off += x;
    }
    return net_read(v, depth, off, size, out);
  }

  static int compare(uint32_t cmp, uint32_t a, uint32_t b) {
    switch (cmp) {
      case kEq: return a == b;
      case kNe: return a != b;
      case kLt: return a < b;
      case kLe: return a <= b;
      case kGt: return a > b;
      default: return a >= b;
    }
  }

  // 1 true, 0 false, -1 a read past the end (or a division by zero).
  int eval(const Node& n, const View& v) const {
    if (n.kind == Node::kCtxConst) return v.missing >> n.arg & 1 ? -1 : compare(n.cmp, v.ctx[n.arg], n.k);
    if (n.kind == Node::kLoadConst) {
      uint32_t x;
      if (n.base != kLink && (v.direct >> n.depth & 1)) {  // the common case, inline
        const uint64_t off = uint64_t(n.off) + (n.base == kTrans ? v.thoff : 0);
        if (off + n.size > v.nlen) return -1;
        x = read_be(v.nh + off, n.size);
      } else if (!load_at(v, n.base, n.depth, n.off, n.size, x)) {
        return -1;
      }
      return compare(n.cmp, x & n.mask, n.k);
    }
    uint32_t st[kMaxStack];
    int sp = 0;
    const uint32_t* c = code_.data() + n.code;
    const uint32_t* e = c + n.ncode;
    while (c < e) {
      const uint32_t w = *c++;
      switch (w & 0xff) {
        case kConst:
          st[sp++] = *c++;
          break;
        case kCtx:
          if (v.missing >> (w >> 8) & 1) return -1;
          st[sp++] = v.ctx[w >> 8];
          break;
        case kLoad:
          if (!load_at(v, w >> 8 & 0xf, w >> 12 & 0xf, st[sp - 1], w >> 16, st[sp - 1])) return -1;
          break;
        case kNeg:
          st[sp - 1] = 0u - st[sp - 1];
          break;
        case kChain:
          if (!protochain(v, w >> 8 & 0xf, w >> 12 & 0xf, st[sp - 1], st[sp - 1])) return -1;
          break;
        default: {
          const uint32_t b = st[--sp];
          uint32_t& a = st[sp - 1];
          switch (w & 0xff) {
            case kAdd: a += b; break;
            case kSub: a -= b; break;
            case kMul: a *= b; break;
            case kDiv: if (!b) return -1; a /= b; break;
            case kMod: if (!b) return -1; a %= b; break;
            case kAnd: a &= b; break;
            case kOr: a |= b; break;
            case kXor: a ^= b; break;
            case kShl: a = b >= 32 ? 0 : a << b; break;
            case kShr: a = b >= 32 ? 0 : a >> b; break;
          }
        }
      }
    }
    return compare(n.cmp, st[0], st[1]);
  }

  std::vector<Node> nodes_;
  std::vector<uint32_t> code_;
  uint32_t depth_ = 0;  // the deepest type field a node reads (make_view computes no more)
  int32_t entry_ = -65536;
};

// The element half both IPClassifier and IPFilter are: read the program, classify each
// batch whole, push one sub-batch per output, drop and count the rest.
class FilterElement : public Element {
 public:
  void configure(const Config& conf) override {
    program_.load(conf.string("program"), uint32_t(noutputs()), "config field 'program'");
    c_packets_ = counter("packets");
    c_no_match_ = counter("drops_no_match");
    if (counts_rule_drops()) c_dropped_ = counter("drops_denied");
  }

  void push(int, Batch& b) override {
    const uint32_t n = b.count;
    if (n == 0) return;
    const uint32_t nout = uint32_t(noutputs());
    uint32_t out[kMaxBatch];
    uint32_t nomatch = 0, dropped = 0;
    for (uint32_t i = 0; i < n; i++) {
      uint32_t o = program_.run(b.pkts[i]);
      if (o == kDrop) {
        o = nout;
        nomatch++;
      } else if (o == kDropRule) {
        o = nout + 1;
        dropped++;
      }
      out[i] = o;
    }
    count(c_packets_, n);
    if (nomatch) count(c_no_match_, nomatch);
    if (dropped) count(c_dropped_, dropped);
    split_push(b, out, nout + 2, [&](uint32_t port, Batch& sub) {
      if (port < nout) output_push(int(port), sub);
      else drop(sub);
    });
  }

  void add_handlers(std::vector<Handler>& h) override {
    h.push_back({"program", [this] { return program_.describe(); }, nullptr});
  }

 protected:
  virtual bool counts_rule_drops() const { return false; }

 private:
  Program program_;
  uint32_t c_packets_ = 0, c_no_match_ = 0, c_dropped_ = 0;
};

}  // namespace pg::filter
