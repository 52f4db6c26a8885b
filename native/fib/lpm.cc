// The LPM table's builder, batched lookups, next-hop groups and address text.
// Design notes: lpm.h.
#include "fib/lpm.h"

#include <arpa/inet.h>

#include <algorithm>
#include <ctime>
#include <stdexcept>

namespace pg::fib {


// ---------------------------------------------------------------------------------
// Building. Routes are sorted by (key, len). In that order a prefix always comes after
// every prefix that covers it (a covering prefix has a smaller or equal key and, when
// equal, a shorter length), so painting routes into slots in sorted order leaves each slot
// with its longest match; and the routes below one slot (longer than the node's stride)
// form one contiguous run, which becomes that slot's child, built recursively with the
// slot's painted value as its default. One pass, no per-route rebuilds.
struct Builder {
  // Where new nodes and runs go, and the index the first of them will have in the table.
  std::vector<LpmTable::Node>& nodes;
  std::vector<uint32_t>& vals;
  uint32_t node_base = 0, val_base = 0;

  static uint32_t bits_at(u128 key, unsigned depth, unsigned bits) {
    return uint32_t(key >> (128 - depth - bits)) & ((1u << bits) - 1);
  }

  // Fill `slots` (2^bits of them, covering address bits [depth, depth+bits)) from
  // routes [b, e), all at least depth long and inside this range.
  void fill(const Route* b, const Route* e, unsigned depth, unsigned bits, uint32_t* slots) {
    const unsigned end = depth + bits;
    const Route* r = b;
    while (r < e) {
      const uint32_t first = bits_at(r->key, depth, bits);
      if (r->len <= end) {
        const uint32_t count = 1u << (end - r->len);
        const uint32_t leaf = r->nh + 1;
        for (uint32_t s = first; s < first + count; s++) slots[s] = leaf;
        ++r;
        continue;
      }
      const Route* q = r + 1;
      while (q < e && q->len > end && bits_at(q->key, depth, bits) == first) ++q;
      slots[first] = node(r, q, end, slots[first]);
      r = q;
    }
  }

  // A node for address bits [depth, depth+8) over routes [b, e) with default value def.
  // Returns the encoded value: a leaf when every slot holds the same leaf.
  uint32_t node(const Route* b, const Route* e, unsigned depth, uint32_t def) {
    uint32_t slots[256];
    std::fill(slots, slots + 256, def);
    fill(b, e, depth, 8, slots);
    return encode(slots);
  }

  // The value for a node with these 256 slots (a leaf when they are one leaf).
  uint32_t encode(const uint32_t* slots) {
    bool uniform = true;
    for (int s = 1; s < 256 && uniform; s++) uniform = slots[s] == slots[0];
    if (uniform && !(slots[0] & LpmTable::kChild)) return slots[0];
    LpmTable::Node nd{};
    nd.base = val_base + uint32_t(vals.size());
    uint32_t marks = 0;
    for (int w = 0; w < 4; w++) {
      nd.cum[w] = uint8_t(marks);
      for (int bit = 0; bit < 64; bit++) {
        const int s = w * 64 + bit;
        if (s == 0 || slots[s] != slots[s - 1] || (slots[s] & LpmTable::kChild)) {
          nd.bm[w] |= 1ull << bit;
          vals.push_back(slots[s]);
          marks++;
        }
      }
    }
    if (node_base + nodes.size() >= LpmTable::kChild - 1) throw std::length_error("LPM table: too many nodes");
    nodes.push_back(nd);
    return LpmTable::kChild | uint32_t(node_base + nodes.size() - 1);
  }
};

namespace {
// `to` set to the built elements with room for `extra` more: the table's arrays are allocated
// once, at their size (the build's growing vectors stay out of the graph's arena).
template <class V, class T>
void refit(V& to, const std::vector<T>& built, size_t extra) {
  to.reserve(built.size() + extra);
  to.assign(built.begin(), built.end());
}
}  // namespace

std::unique_ptr<LpmTable> LpmTable::build(std::vector<Route> routes, unsigned width, unsigned spare_div) {
  if (width != 32 && width != 128) throw std::invalid_argument("LPM table width must be 32 or 128");
  for (const Route& r : routes) {
    if (r.len > width) throw std::invalid_argument("route longer than the address");
    if (r.nh > kMaxNextHop) throw std::invalid_argument("next-hop index too large");
    if (r.key & ~prefix_mask(r.len)) throw std::invalid_argument("route key has bits beyond its length");
  }
  std::sort(routes.begin(), routes.end(), [](const Route& a, const Route& b) { return a.key != b.key ? a.key < b.key : a.len < b.len; });
  for (size_t i = 1; i < routes.size(); i++)
    if (routes[i].key == routes[i - 1].key && routes[i].len == routes[i - 1].len) throw std::invalid_argument("duplicate prefix");
  auto t = std::unique_ptr<LpmTable>(new LpmTable());
  t->width_ = width;
  t->root_bits_ = routes.size() > kSmallRoutes ? 16 : 8;
  t->root_.assign(size_t(1) << t->root_bits_, 0);
  std::vector<Node> nodes;
  std::vector<uint32_t> vals;
  if (routes.size() > kSmallRoutes) {
    nodes.reserve(routes.size() / 16);
    vals.reserve(routes.size());
  }
  Builder b{nodes, vals};
  b.fill(routes.data(), routes.data() + routes.size(), 0, t->root_bits_, t->root_.data());
  refit(t->nodes_, nodes, spare_div ? nodes.size() / spare_div + 4 : 0);
  refit(t->vals_, vals, spare_div ? vals.size() / spare_div + 32 : 0);
  return t;
}

void LpmTable::expand(uint32_t n, uint32_t* slots) const {
  const Node& nd = nodes_[n];
  uint32_t i = nd.base - 1;
  for (uint32_t s = 0; s < 256; s++) {
    if (nd.bm[s >> 6] >> (s & 63) & 1) i++;
    slots[s] = vals_[i];
  }
}

bool LpmTable::update(u128 key, unsigned len, const RegionFn& region) {
  // The levels down the prefix's path: the root, then each node met.
  struct Level {
    uint32_t node;  // node index; unused for the root
    unsigned start, bits;
  };
  Level path[20];
  int depth = 0;
  path[0] = {0, 0, root_bits_};
  for (;;) {
    const Level& l = path[depth];
    const unsigned end = l.start + l.bits;
    if (len <= end) break;
    const uint32_t slot = Builder::bits_at(key, l.start, l.bits);
    const uint32_t v = depth == 0 ? root_[slot] : vals_[index_of(nodes_[l.node], slot)];
    if (!(v & kChild)) break;  // no node below: the change rebuilds this whole slot
    path[++depth] = {v & ~kChild, end, 8};
  }
  const Level& at = path[depth];
  const unsigned end = at.start + at.bits;
  const unsigned qlen = std::min(len, end);
  const u128 qkey = key & prefix_mask(qlen);
  const uint32_t first = Builder::bits_at(qkey, at.start, at.bits);
  const uint32_t count = 1u << (end - qlen);

  std::vector<Route> routes;
  uint32_t def = 0;
  if (!region(qkey, qlen, routes, def)) return false;
  std::vector<Node> nn;
  std::vector<uint32_t> nv;
  Builder b{nn, nv, uint32_t(nodes_.size()), uint32_t(vals_.size())};
  std::vector<uint32_t> fresh(count, def);
  b.fill(routes.data(), routes.data() + routes.size(), qlen, end - qlen, fresh.data());
  // Where the change is published: root slots, or one value in a node's runs. Every store is
  // an aligned 32-bit release store, which a reader sees whole (old value or new).
  auto store = [](uint32_t& cell, uint32_t v) {
    if (cell != v) std::atomic_ref<uint32_t>(cell).store(v, std::memory_order_release);
  };
  auto commit = [&]() {
    if (nodes_.size() + nn.size() > nodes_.capacity() || vals_.size() + nv.size() > vals_.capacity()) return false;
    // Within capacity: no reallocation, so readers' pointers into the arrays stay valid, and
    // nothing published refers to these indexes yet.
    nodes_.insert(nodes_.end(), nn.begin(), nn.end());
    vals_.insert(vals_.end(), nv.begin(), nv.end());
    return true;
  };
  if (depth == 0) {
    if (!commit()) return false;
    for (uint32_t i = 0; i < count; i++) store(root_[first + i], fresh[i]);
    return true;
  }
  // The node the change ends in. When its new slots still fit its runs (each run one value),
  // the changed runs are rewritten in place: a next-hop change, or new subtrees below, costs
  // no copy. Otherwise the node is copied once, and the one value pointing to it (a child
  // value is always a run of its own) is rewritten in its parent.
  const uint32_t n = path[depth].node;
  uint32_t old[256], slots[256];
  expand(n, old);
  std::copy(old, old + 256, slots);
  std::copy(fresh.begin(), fresh.end(), slots + first);
  const Node& nd = nodes_[n];
  bool fits = true;
  for (uint32_t s = 1; s < 256 && fits; s++) fits = (nd.bm[s >> 6] >> (s & 63) & 1) || slots[s] == slots[s - 1];
  if (fits) {
    if (!commit()) return false;
    for (uint32_t s = first; s < first + count; s++)
      if (slots[s] != old[s]) store(vals_[index_of(nd, s)], slots[s]);
    return true;
  }
  const uint32_t top = b.encode(slots);
  if (!commit()) return false;
  const Level& up = path[depth - 1];
  const uint32_t slot = Builder::bits_at(key, up.start, up.bits);
  if (depth == 1) store(root_[slot], top);
  else store(vals_[index_of(nodes_[up.node], slot)], top);
  return true;
}

std::unique_ptr<LpmTable> LpmTable::copy() const {
  auto t = std::unique_ptr<LpmTable>(new LpmTable());
  t->width_ = width_;
  t->root_bits_ = root_bits_;
  t->root_ = root_;
  t->nodes_.reserve(nodes_.capacity());  // the spare room update() appends into
  t->nodes_.assign(nodes_.begin(), nodes_.end());
  t->vals_.reserve(vals_.capacity());
  t->vals_.assign(vals_.begin(), vals_.end());
  return t;
}

size_t LpmTable::memory() const {
  return sizeof(LpmTable) + root_.capacity() * 4 + nodes_.capacity() * sizeof(Node) + vals_.capacity() * 4;
}

// ---------------------------------------------------------------------------------
// Batched lookups: a chunk of addresses goes down one level at a time. At each level the
// node of every unfinished address is prefetched, then every slot's run index is computed
// and its value prefetched, then the values are read: the memory reads of the chunk's
// addresses overlap instead of following each other.
namespace {
constexpr uint32_t kChunk = 64;
inline void prefetch_node(const void* p) {
  __builtin_prefetch(p);
  __builtin_prefetch(static_cast<const char*>(p) + 39);
}
}  // namespace

void LpmTable::lookup_batch(const uint32_t* a, uint32_t n, uint32_t* out) const {
  const uint32_t* root = root_.data();
  const Node* nodes = nodes_.data();
  const uint32_t* vals = vals_.data();
  const int rshift = 32 - int(root_bits_);
  for (uint32_t off = 0; off < n; off += kChunk) {
    const uint32_t m = std::min(kChunk, n - off);
    const uint32_t* x = a + off;
    uint32_t v[kChunk], idx[kChunk];
    uint8_t pend[kChunk];
    uint32_t np = 0;
    for (uint32_t i = 0; i < m; i++) v[i] = read(&root[x[i] >> rshift]);
    for (uint32_t i = 0; i < m; i++) {
      pend[np] = uint8_t(i);
      np += (v[i] & kChild) ? 1 : 0;
    }
    int shift = rshift;
    while (np) {
      shift -= 8;
      for (uint32_t k = 0; k < np; k++) prefetch_node(&nodes[v[pend[k]] & ~kChild]);
      for (uint32_t k = 0; k < np; k++) {
        const uint32_t i = pend[k];
        idx[k] = index_of(nodes[v[i] & ~kChild], (x[i] >> shift) & 255);
        __builtin_prefetch(&vals[idx[k]]);
      }
      uint32_t np2 = 0;
      for (uint32_t k = 0; k < np; k++) {
        const uint32_t i = pend[k];
        v[i] = read(&vals[idx[k]]);
        pend[np2] = uint8_t(i);
        np2 += (v[i] & kChild) ? 1 : 0;
      }
      np = np2;
    }
    for (uint32_t i = 0; i < m; i++) out[off + i] = v[i] - 1;
  }
}

void LpmTable::lookup6_batch(const uint8_t* a, uint32_t n, uint32_t* out) const {
  const uint32_t* root = root_.data();
  const Node* nodes = nodes_.data();
  const uint32_t* vals = vals_.data();
  const int rshift = 128 - int(root_bits_);
  for (uint32_t off = 0; off < n; off += kChunk) {
    const uint32_t m = std::min(kChunk, n - off);
    u128 k6[kChunk];
    uint32_t v[kChunk], idx[kChunk];
    uint8_t pend[kChunk];
    uint32_t np = 0;
    for (uint32_t i = 0; i < m; i++) {
      uint64_t hi, lo;
      std::memcpy(&hi, a + size_t(off + i) * 16, 8);
      std::memcpy(&lo, a + size_t(off + i) * 16 + 8, 8);
      k6[i] = (u128(__builtin_bswap64(hi)) << 64) | __builtin_bswap64(lo);
      v[i] = read(&root[uint32_t(k6[i] >> rshift)]);
    }
    for (uint32_t i = 0; i < m; i++) {
      pend[np] = uint8_t(i);
      np += (v[i] & kChild) ? 1 : 0;
    }
    int shift = rshift;
    while (np) {
      shift -= 8;
      for (uint32_t k = 0; k < np; k++) prefetch_node(&nodes[v[pend[k]] & ~kChild]);
      for (uint32_t k = 0; k < np; k++) {
        const uint32_t i = pend[k];
        idx[k] = index_of(nodes[v[i] & ~kChild], uint32_t(k6[i] >> shift) & 255);
        __builtin_prefetch(&vals[idx[k]]);
      }
      uint32_t np2 = 0;
      for (uint32_t k = 0; k < np; k++) {
        const uint32_t i = pend[k];
        v[i] = read(&vals[idx[k]]);
        pend[np2] = uint8_t(i);
        np2 += (v[i] & kChild) ? 1 : 0;
      }
      np = np2;
    }
    for (uint32_t i = 0; i < m; i++) out[off + i] = v[i] - 1;
  }
}

// ---------------------------------------------------------------------------------
uint32_t NextHopTable::add(const std::vector<uint32_t>& members) {
  if (members.empty()) throw std::invalid_argument("a next hop needs at least one member");
  auto it = index_.find(members);
  if (it != index_.end()) return it->second;
  const uint32_t id = uint32_t(entries_.size());
  entries_.push_back({uint32_t(members_.size()), uint32_t(members.size())});
  members_.insert(members_.end(), members.begin(), members.end());
  index_.emplace(members, id);
  return id;
}

// ---------------------------------------------------------------------------------
bool parse_prefix(std::string_view s, unsigned width, u128& key, unsigned& len, std::string& error) {
  if (s == "default") {
    key = 0;
    len = 0;
    return true;
  }
  const size_t slash = s.find('/');
  const std::string_view addr = s.substr(0, slash);
  if (width == 32) {
    uint32_t a;
    if (!parse_ipv4(addr.data(), addr.size(), a)) {
      error = "'" + std::string(addr) + "' is not an IPv4 address";
      return false;
    }
    key = key4(a);
  } else {
    uint8_t b[16];
    if (!parse_ipv6(std::string(addr), b)) {
      error = "'" + std::string(addr) + "' is not an IPv6 address";
      return false;
    }
    key = key6(b);
  }
  len = width;
  if (slash != std::string_view::npos) {
    const std::string_view l = s.substr(slash + 1);
    unsigned n = 0;
    bool digits = !l.empty() && l.size() <= 3;
    for (char c : l) {
      digits = digits && c >= '0' && c <= '9';
      n = n * 10 + unsigned(c - '0');
    }
    if (!digits || n > width) {
      error = "prefix length '" + std::string(l) + "' must be a number from 0 to " + std::to_string(width);
      return false;
    }
    len = n;
  }
  if (key & ~prefix_mask(len)) {
    error = "'" + std::string(s) + "' has bits set beyond its length (did you mean " + format_prefix(key & prefix_mask(len), len, width) + "?)";
    return false;
  }
  return true;
}

std::string format_prefix(u128 key, unsigned len, unsigned width) {
  if (width == 32) return format_ipv4(uint32_t(key >> 96)) + "/" + std::to_string(len);
  uint8_t b[16];
  for (int i = 15; i >= 0; i--) {
    b[i] = uint8_t(key);
    key >>= 8;
  }
  return format_ipv6(b) + "/" + std::to_string(len);
}

std::vector<Route> parse_route_lines(const std::string& text, unsigned width) {
  std::vector<Route> out;
  out.reserve(text.size() / 20);
  size_t pos = 0, line = 0;
  std::string prefix, error;
  while (pos < text.size()) {
    size_t eol = text.find('\n', pos);
    if (eol == std::string::npos) eol = text.size();
    line++;
    size_t b = pos, e = eol;
    pos = eol + 1;
    while (b < e && (text[b] == ' ' || text[b] == '\t')) b++;
    while (e > b && (text[e - 1] == ' ' || text[e - 1] == '\t' || text[e - 1] == '\r')) e--;
    if (b == e || text[b] == '#') continue;
    size_t sp = text.find_first_of(" \t", b);
    if (sp == std::string::npos || sp >= e) throw std::runtime_error("line " + std::to_string(line) + ": expected 'prefix/len nexthop'");
    prefix.assign(text, b, sp - b);
    size_t n = sp;
    while (n < e && (text[n] == ' ' || text[n] == '\t')) n++;
    uint64_t nh = 0;
    if (n == e) throw std::runtime_error("line " + std::to_string(line) + ": expected 'prefix/len nexthop'");
    for (size_t i = n; i < e; i++) {
      if (text[i] < '0' || text[i] > '9' || nh > kMaxNextHop)
        throw std::runtime_error("line " + std::to_string(line) + ": the next hop must be a number up to " + std::to_string(kMaxNextHop));
      nh = nh * 10 + uint64_t(text[i] - '0');
    }
    if (nh > kMaxNextHop) throw std::runtime_error("line " + std::to_string(line) + ": next hop too large");
    Route r{};
    unsigned len;
    if (!parse_prefix(prefix, width, r.key, len, error)) throw std::runtime_error("line " + std::to_string(line) + ": " + error);
    r.len = uint8_t(len);
    r.nh = uint32_t(nh);
    out.push_back(r);
  }
  return out;
}

}  // namespace pg::fib
