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
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "batch_split.h"
#include "element.h"

namespace pg::filter {

enum Op : uint32_t { kConst = 0, kLoad, kCtx, kAdd, kSub, kMul, kDiv, kMod, kAnd, kOr, kXor, kShl, kShr, kNeg };
enum Cmp : uint32_t { kEq = 0, kNe, kLt, kLe, kGt, kGe };
enum CtxValue : uint32_t { kLen = 0, kFamily, kVid0, kVid1 };
constexpr uint32_t kDrop = 65535;      // no rule took the packet
constexpr uint32_t kDropRule = 65534;  // a drop/deny rule took it (IPFilter)
constexpr uint32_t kFamilyTag = 0x10000;
constexpr int kMaxStack = 16;

struct Node {
  uint32_t cmp;
  int32_t yes, no, fail;
  uint32_t code, ncode;  // into Program::code
  // The common shapes, evaluated without the stack machine: `ctx[arg] CMP k` and
  // `(load(base, off, size) & mask) CMP k`.
  enum Kind : uint8_t { kGeneric, kCtxConst, kLoadConst } kind = kGeneric;
  uint8_t base = 0, size = 0;
  uint32_t arg = 0, off = 0, mask = 0, k = 0;
};

// What the program sees of one packet, computed once per packet.
struct View {
  const uint8_t* nh = nullptr;  // network header
  uint32_t nlen = 0;            // bytes from nh to the packet's end
  uint32_t thoff = 0;           // IPv4 transport header offset from nh: IHL * 4 (BPF's ldxb 4*([nh]&0xf))
  uint32_t ctx[4] = {0, 0, 0, 0};
};

inline uint16_t be16(const uint8_t* p) { return uint16_t(p[0] << 8 | p[1]); }

inline bool is_tpid(uint16_t t) { return t == 0x8100 || t == 0x88a8 || t == 0x9100; }

// The family: from the EtherType just before the network header when the MAC header
// annotation says a link header is there, checked against the IP version; otherwise from
// the IP version alone. VLAN tags: the annotation's (outermost, a VLANDecap'd tag), then
// tags still in the frame between the MAC and network headers.
inline void make_view(Packet* p, View& v) {
  uint8_t* nh = p->network_header();
  uint8_t* end = p->end_data();
  uint8_t* mac = p->mac_header();
  const bool anno_tag = (p->anno().flags & kVlanPresent) != 0;
  uint32_t tags = 0;
  uint32_t vids[2] = {0, 0};
  if (anno_tag) vids[tags++] = p->anno().vlan_tci & 0xfff;
  uint32_t family = 0;
  const uint8_t* frame = mac && (!nh || mac <= nh) ? mac : nh ? nh : p->data();
  if (nh && nh < end && nh >= p->buffer()) {
    v.nh = nh;
    v.nlen = uint32_t(end - nh);
    const uint32_t version = nh[0] >> 4;
    if (mac && mac < nh && nh - mac >= 14) {
      for (const uint8_t* t = mac + 12; t + 6 <= nh && is_tpid(be16(t)); t += 4) {
        if (tags < 2) vids[tags] = be16(t + 2) & 0xfff;
        tags++;
      }
      const uint16_t et = be16(nh - 2);
      if (et == 0x0800 && version == 4) family = 4;
      else if (et == 0x86dd && version == 6) family = 6;
      else if (et == 0x0806 || et == 0x8035) family = et;
    } else if (version == 4 || version == 6) {
      family = version;
    }
    v.thoff = uint32_t(nh[0] & 15) * 4;
  } else {
    v.nh = nullptr;
    v.nlen = 0;
    v.thoff = 0;
  }
  v.ctx[kLen] = uint32_t(end - frame) + (anno_tag && mac ? 4 : 0);
  v.ctx[kFamily] = family + (tags > 15 ? 15 : tags) * kFamilyTag;
  v.ctx[kVid0] = vids[0];
  v.ctx[kVid1] = vids[1];
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
            const uint32_t base = (w >> 8) & 0xff, size = w >> 16;
            if (base > 1 || (size != 1 && size != 2 && size != 4)) bad("a load has a bad base or size");
            if (depth < 1) bad("a load has no offset");
            break;
          }
          case kCtx:
            if ((w >> 8) > kVid1) bad("unknown context value");
            depth++;
            break;
          case kNeg:
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
    make_view(p, v);
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
    static const char* ops[] = {"const", "load", "ctx", "+", "-", "*", "/", "%", "&", "|", "^", "<<", ">>", "neg"};
    static const char* cmps[] = {"==", "!=", "<", "<=", ">", ">="};
    static const char* ctxs[] = {"len", "family", "vlan0", "vlan1"};
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
        else if ((w & 0xff) == kLoad) c += std::string((w >> 8 & 0xff) ? "trans" : "net") + "[" + std::to_string(w >> 16) + "]";
        else if ((w & 0xff) == kCtx) c += ctxs[w >> 8];
        else c += ops[w & 0xff];
      }
      out += std::to_string(i) + ": " + c + " " + cmps[n.cmp] + " ? " + target(n.yes) + " : " + target(n.no) +
             " (out of bounds: " + target(n.fail) + ")\n";
    }
    return out;
  }

  size_t size() const { return nodes_.size(); }

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
      n.base = uint8_t(c[2] >> 8 & 0xff);
      n.size = uint8_t(c[2] >> 16);
      n.mask = n.ncode == 8 ? c[4] : 0xffffffffu;
      n.k = c[n.ncode - 1];
    }
  }

  static uint32_t read(const uint8_t* q, uint32_t size) {
    return size == 1 ? q[0] : size == 2 ? uint32_t(q[0] << 8 | q[1]) : uint32_t(q[0]) << 24 | uint32_t(q[1]) << 16 | uint32_t(q[2]) << 8 | q[3];
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
    if (n.kind == Node::kCtxConst) return compare(n.cmp, v.ctx[n.arg], n.k);
    if (n.kind == Node::kLoadConst) {
      const uint64_t off = uint64_t(n.off) + (n.base ? v.thoff : 0);
      if (off + n.size > v.nlen) return -1;
      return compare(n.cmp, read(v.nh + off, n.size) & n.mask, n.k);
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
          st[sp++] = v.ctx[w >> 8];
          break;
        case kLoad: {
          const uint32_t size = w >> 16;
          const uint64_t off = uint64_t(st[sp - 1]) + ((w >> 8 & 0xff) ? v.thoff : 0);
          if (off + size > v.nlen) return -1;
          st[sp - 1] = read(v.nh + off, size);
          break;
        }
        case kNeg:
          st[sp - 1] = 0u - st[sp - 1];
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
  int32_t entry_ = -65536;
};

// The element half both IPClassifier and IPFilter are: read the program, classify each
// batch whole, push one sub-batch per output, drop and count the rest.
class FilterElement : public Element {
 public:
  const char* port_count() const override { return "1/1-"; }
  const char* processing() const override { return "h/h"; }

  void configure(const Config& conf) override {
    program_.load(conf.string("program"), uint32_t(noutputs()), "config field 'program'");
    c_packets_ = counter("packets");
    c_no_match_ = counter("no_match");
    if (counts_rule_drops()) c_dropped_ = counter("dropped");
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
