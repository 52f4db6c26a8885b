// HTBSched: a hierarchical link-sharing scheduler with Linux HTB's borrow/lend model, leaf queues
// inside. Documentation: HTBSched.ts.
//
// The model (HTB's, from sch_htb.c and its design notes): every class has two token buckets, one
// at its rate and one at its ceil, and a mode: `send` (both non-negative), `borrow` (rate tokens
// spent, ceil tokens left) or `wait` (ceil tokens spent). A class that has packets below it is
// "active"; an active class in `send` mode sits on the row of its level, one in `borrow` mode on
// its parent's feed (the parent is then active too, and sits where its own mode puts it), one in
// `wait` mode nowhere. Levels: leaves are 0, inner classes kLevels - depth (the top ones
// highest), so a pull serves the lowest non-empty row: leaves under their rate first, then
// borrowers from the nearest lender up. From the chosen row the pull walks down feeds to a leaf,
// and charges the leaf and its ancestors: rate tokens for classes at or above the level served,
// ceil tokens for all. Each row and feed shares by weight with start-time fair queueing (Goyal
// et al.): a member's tag advances by the bytes it is served over its weight, the smallest tag
// goes next, and a member joining gets at least the list's current tag. HTB rotates deficit
// round-robin pointers instead, which loses fairness when members leave and rejoin the lists
// (a class near its rate does so at every packet); tags carry over. Rows and feeds are heaps by
// tag, and classes not in `send` mode wait in a heap keyed by the time their mode changes (due
// ones are updated at the start of each pull). So a packet's cost is its walk down and up the
// tree, a heap step per level, never a scan of the classes.
#include <algorithm>
#include <array>
#include <atomic>
#include <cctype>
#include <cmath>
#include <cstring>
#include <map>
#include <string>
#include <unordered_map>
#include <vector>

#include "element.h"
#include "graph.h"
#include "hash_table.h"
#include "spin_lock.h"
#include "token_bucket.h"

namespace pg {

namespace {

constexpr int kLevels = 8;                // HTBSched.ts: HTB_MAX_DEPTH
constexpr int32_t kNone = -1;
constexpr double kMinBurstBytes = 3028;   // two full-size frames
constexpr double kMinBurstPackets = 2;    // the same for a class counted in packets
constexpr double kBurstSeconds = 1e-3;    // the default burst: 1 ms at the rate
// Ranges of a class's fields (HTBSched.ts, ClassSpec): the handlers read classes as JSON the
// compiler never saw, so they are checked here too.
constexpr double kMaxRate = 1e12;
constexpr double kMaxBurst = 1073741824;
constexpr double kMaxWeight = 10000;
constexpr double kMaxCapacity = 1048576;
constexpr double kMaxMatch = 4294967295.0;

enum Mode : uint8_t { kSend, kBorrow, kWait };
enum Where : uint8_t { kNowhere, kRow, kFeed };
const char* const kModeNames[] = {"send", "borrow", "wait"};

// A binary min-heap of class indexes with their keys beside them, so a sift reads only this
// array; each class's position is kept in `pos` (a compact array, one int per class).
template <class K>
struct KeyHeap {
  struct Entry {
    K key;
    int32_t x;
  };
  std::vector<Entry> e;

  bool empty() const { return e.empty(); }
  int32_t top() const { return e[0].x; }
  K top_key() const { return e[0].key; }
  void push(int32_t x, K key, int32_t* pos) {
    e.push_back({key, x});  // reserved when the tree changes: no allocation on the packet path
    fix(e.size() - 1, pos);
  }
  void set_key(int32_t x, K key, int32_t* pos) {
    e[size_t(pos[x])].key = key;
    fix(size_t(pos[x]), pos);
  }
  void erase(int32_t x, int32_t* pos) {
    const size_t i = size_t(pos[x]);
    pos[x] = -1;
    const Entry last = e.back();
    e.pop_back();
    if (i == e.size()) return;
    e[i] = last;
    fix(i, pos);
  }
  void fix(size_t i, int32_t* pos) {
    const Entry v = e[i];
    while (i > 0 && v.key < e[(i - 1) / 2].key) {
      e[i] = e[(i - 1) / 2];
      pos[e[i].x] = int32_t(i);
      i = (i - 1) / 2;
    }
    for (const size_t n = e.size();;) {
      size_t m = 2 * i + 1;
      if (m >= n) break;
      if (m + 1 < n && e[m + 1].key < e[m].key) m++;
      if (!(e[m].key < v.key)) break;
      e[i] = e[m];
      pos[e[i].x] = int32_t(i);
      i = m;
    }
    e[i] = v;
    pos[v.x] = int32_t(i);
  }
};

// A class's tokens are bytes (rates in bits/s) or packets (rates in packets/s).
double default_burst(double rate, bool packets) {
  return packets ? std::max(std::ceil(rate * kBurstSeconds), kMinBurstPackets) : std::max(std::ceil(rate / 8 * kBurstSeconds), kMinBurstBytes);
}
const char* unit_name(bool packets) { return packets ? " packets/s" : " bit/s"; }

// In this anonymous namespace too: internal linkage, so the packet path's helpers are called
// directly (and inlined) rather than through the shared object's interposable symbols.
class HTBSched final : public Element {
  // A class as configured (or added, or changed).
  struct Spec {
    std::string name, parent;
    double rate = 0, ceil = 0, burst = 0, cburst = 0;  // bits/s and bytes, or packets/s and packets
    bool packets = false;                              // unit: packets (rates in packets/s)
    bool empty_start = false;                          // credit: 'none' (starts with empty buckets)
    bool ceil_auto = true;                             // defaulted: follows the rate
    bool burst_auto = true, cburst_auto = true;        // defaulted: follows the rate (ceil)
    uint32_t weight = 1, capacity = 1000;
    int64_t match = -1;  // -1: none
  };

  // A row or a feed: a heap of classes by tag, and the tag of the last one served.
  struct List {
    KeyHeap<double> heap;
    double vtime = 0;
  };

  // A queued packet with its length, read when it was pushed (and its metadata in cache), so
  // that the pull charges it without touching the packet.
  struct Slot {
    Packet* p;
    uint32_t len;
  };

  // The packet path's fields first (a class's first cache lines), the configuration last.
  struct Node {
    int32_t parent = kNone;  // kNone: under the root (the link)
    uint32_t children = 0;
    int level = 0;
    Mode mode = kSend;
    Where where = kNowhere;
    bool used = false;
    uint32_t head = 0, len = 0, capacity = 0;
    Slot* q = nullptr;       // a leaf's queue: a circle of qsize >= capacity slots (in storage)
    uint32_t qsize = 0;
    double inv_weight = 1;
    bool per_packet = false;      // tokens are packets (each costs 1), not bytes
    TokenBucket tokens, ctokens;  // bytes (or packets), at the rate and at the ceil
    double tag[2] = {0, 0};  // fair-queueing tags in its row and in its parent's feed
    uint64_t packets = 0, bytes = 0, drops = 0, borrowed = 0;
    List feed;               // borrowing children (an inner class)
    std::vector<Slot> storage;
    Spec spec;
  };

 public:
  void configure(const Config& conf) override {
    key_table_ = conf.string("key") == "table_id";
    overhead_ = uint32_t(conf.integer("overhead"));
    max_classes_ = uint32_t(conf.integer("maxClasses"));
    default_name_ = conf.string("default");
    c_enqueued_ = counter("enqueued");
    c_packets_ = counter("packets");
    c_bytes_ = counter("bytes");
    c_unclassified_ = counter("drops_unclassified");
    c_full_ = counter("drops_full");
    c_removed_ = counter("drops_class_removed");

    const json::Value& list = conf.value("classes");
    if (!list.is_array() || list.as_array().empty()) throw ConfigError("classes: give at least one class");
    std::vector<Spec> specs;
    int i = 0;
    for (const json::Value& v : list.as_array()) specs.push_back(parse_spec(v, "classes[" + std::to_string(i++) + "]", nullptr));
    if (std::string e = check_tree(specs); !e.empty()) throw ConfigError(e);

    configured_ = specs;
    build(specs);
  }

  // ---------------- packet path ----------------

  void push(int, Batch& b) override {
    Packet* unclassified[kMaxBatch];
    Packet* full[kMaxBatch];
    uint32_t nu = 0, nf = 0;
    {
      SpinLock::Guard g(lock_);
      for (uint32_t i = 0; i < b.count; i++) {
        Packet* p = b.pkts[i];
        const int32_t x = classify(p);
        if (x == kNone) {
          unclassified[nu++] = p;
          continue;
        }
        Node& c = nodes_[x];
        if (c.len >= c.capacity) {
          c.drops++;
          full[nf++] = p;
          continue;
        }
        uint32_t at = c.head + c.len;
        if (at >= c.qsize) at -= c.qsize;
        c.q[at] = {p, p->length()};
        if (c.len++ == 0) link(x);
      }
      held_.fetch_add(b.count - nu - nf, std::memory_order_relaxed);  // under the lock: never below 0
    }
    const uint32_t queued = b.count - nu - nf;
    if (queued) count(c_enqueued_, queued);
    if (nu) {
      count(c_unclassified_, nu);
      pool().free(unclassified, nu);
    }
    if (nf) {
      count(c_full_, nf);
      pool().free(full, nf);
    }
    b.count = 0;
  }

  uint32_t pull(int, Batch& b, uint32_t max) override {
    max = std::min(max, kMaxBatch - b.count);
    uint32_t got = 0;
    uint64_t bytes = 0;
    {
      SpinLock::Guard g(lock_);
      now_ = std::max(now_, now_ns());
      run_events();
      for (; got < max; got++) {
        uint32_t len;
        Packet* p = dequeue(len);
        if (!p) break;
        b.pkts[b.count++] = p;
        bytes += len;
      }
      // Packets wait for tokens: run the puller again when the first class may send.
      if (got < max && row_mask_ == 0 && !waitq_.empty() && held_.load(std::memory_order_relaxed) > got) wake_at(waitq_.top_key());
      held_.fetch_sub(got, std::memory_order_relaxed);
    }
    if (got) {
      count(c_packets_, got);
      count(c_bytes_, bytes);
    }
    return got;
  }

  uint64_t held_packets() const override { return held_.load(std::memory_order_relaxed); }

  void cleanup() override {
    for (Node& c : nodes_)
      if (c.used) purge(c, false);
  }

  // ---------------- hot reconfiguration, save and restore ----------------

  // The successor's tree is the predecessor's carried onto the new configuration (carried());
  // built here, with the old graph still running: its tree changes only through handlers, and
  // none runs now. take_state then moves what each class of the same name holds.
  void prepare_take(const Element& o) override {
    const auto& old = static_cast<const HTBSched&>(o);
    {
      SpinLock::Guard g(old.lock_);
      now_ = old.now_;  // classes new here start on the old one's clock
    }
    adopt_tree(old.configured_, old.current_specs());
    carry_.clear();
    for (int32_t x = 0; x < int32_t(nodes_.size()); x++)
      if (nodes_[x].used)
        if (auto it = old.by_name_.find(nodes_[x].spec.name); it != old.by_name_.end()) carry_.emplace_back(x, it->second);
  }

  // Per class of the same name: its counters, its credit (tokens and debt, in the same unit) and,
  // leaf to leaf, its queued packets in order (a queue the new capacity is below keeps them all,
  // as a capacity change does). No allocation: a queue's storage is swapped when it is large
  // enough, else the packets are copied into the new one (sized for at least the old). The
  // fair-queueing tags start afresh. Packets of a class that is gone, or that became an inner
  // class, stay in the old element and are freed with it (reported by the swap).
  void take_state(Element& o) override {
    auto& old = static_cast<HTBSched&>(o);
    SpinLock::Guard g(lock_), og(old.lock_);
    now_ = std::max(now_, old.now_);
    uint64_t moved = 0;
    for (const auto& [x, ox] : carry_) {
      Node& c = nodes_[x];
      Node& p = old.nodes_[ox];
      c.packets += p.packets, c.bytes += p.bytes, c.drops += p.drops, c.borrowed += p.borrowed;
      if (c.per_packet == p.per_packet) {
        c.tokens.tokens = std::min(p.tokens.tokens, c.tokens.depth), c.tokens.last_ns = p.tokens.last_ns;
        c.ctokens.tokens = std::min(p.ctokens.tokens, c.ctokens.depth), c.ctokens.last_ns = p.ctokens.last_ns;
      }
      if (c.children || p.children || !p.len) continue;
      if (p.qsize >= c.qsize) {
        std::swap(c.storage, p.storage);
        std::swap(c.qsize, p.qsize);
        c.q = c.storage.data(), p.q = p.storage.data();
        c.head = p.head;
      } else {
        for (uint32_t i = 0, at = p.head; i < p.len; i++, at = at + 1 == p.qsize ? 0 : at + 1) c.q[i] = p.q[at];
        c.head = 0;
      }
      c.len = p.len;
      moved += p.len;
      p.len = p.head = 0;
    }
    held_.fetch_add(moved, std::memory_order_relaxed);
    old.held_.fetch_sub(moved, std::memory_order_relaxed);
    settle();
  }

  // The tree as it is now beside the configuration it was loaded with (so a restore carries the
  // classes added, changed and removed at run time onto its own configuration, as a hot
  // reconfiguration does), with each class's counters. Format 1: u8 format; u32 configured
  // count, each class as a JSON object (the configuration's form); u32 class count, each its
  // JSON object and u64 packets, bytes, drops, borrowed. Not saved: queued packets, credit.
  void save_state(StateWriter& out) override {
    SpinLock::Guard g(lock_);
    out.u8(kStateFormat);
    out.u32(uint32_t(configured_.size()));
    for (const Spec& s : configured_) out.str(spec_json(s));
    uint32_t n = 0;
    for (const Node& c : nodes_) n += c.used;
    out.u32(n);
    for (const Node& c : nodes_) {
      if (!c.used) continue;
      out.str(spec_json(c.spec));
      out.u64(c.packets), out.u64(c.bytes), out.u64(c.drops), out.u64(c.borrowed);
    }
  }

  void restore_state(StateReader& in) override {
    if (const uint8_t f = in.u8("HTBSched's format"); f != kStateFormat)
      throw StateError("HTBSched state of format " + std::to_string(f) + "; this engine reads format " + std::to_string(kStateFormat));
    auto read_specs = [&](const char* what, bool counters) {
      std::vector<std::pair<Spec, std::array<uint64_t, 4>>> v;
      const uint32_t n = in.u32(what);
      if (n > max_classes_ && n > in.left() / 4) throw StateError(std::string(what) + ": " + std::to_string(n) + " classes do not fit in what is left");
      for (uint32_t i = 0; i < n; i++) {
        const std::string text = in.str("a saved class");
        json::Value o;
        try {
          o = json::Value::parse(text);
        } catch (const std::exception& e) {
          throw StateError(std::string("a saved class is not JSON: ") + e.what());
        }
        Spec s = parse_spec(o, "saved class", nullptr);  // checked as a configuration entry is
        std::array<uint64_t, 4> k{};
        if (counters)
          for (uint64_t& x : k) x = in.u64("a saved class's counters");
        v.emplace_back(std::move(s), k);
      }
      return v;
    };
    std::vector<Spec> before, now;
    for (auto& [s, k] : read_specs("the saved configured class count", false)) before.push_back(std::move(s));
    const auto saved = read_specs("the saved class count", true);
    for (const auto& [s, k] : saved) now.push_back(s);
    adopt_tree(before, now);
    if (!graph()->restores_counters()) return;  // a clone counts afresh
    for (const auto& [s, k] : saved)
      if (auto it = by_name_.find(s.name); it != by_name_.end()) {
        Node& c = nodes_[it->second];
        c.packets = k[0], c.bytes = k[1], c.drops = k[2], c.borrowed = k[3];
      }
  }

  // ---------------- handlers ----------------

  void add_handlers(std::vector<Handler>& h) override {
    h.push_back({"classes", [this] { return list_classes(); }, nullptr});
    h.push_back({"add", nullptr, [this](const std::string& v) { handle("add", v, [this](const json::Value& o) { add_class(o); }); }, true});
    h.push_back({"remove", nullptr, [this](const std::string& v) { remove_class(v); }, true});
    h.push_back({"change", nullptr, [this](const std::string& v) { handle("change", v, [this](const json::Value& o) { change_class(o); }); }, true});
  }

 private:
  // ---- classification ----

  int32_t classify(const Packet* p) const {
    int32_t x;
    if (key_table_) {
      const int32_t* v = by_table_.find(p->anno().table_id);
      x = v ? *v : kNone;
    } else {
      x = by_paint_[p->anno().paint];
    }
    return x == kNone ? default_ : x;
  }

  // ---- the active lists (rows and feeds) ----

  // Joins a list (w: 0 a row, 1 a feed) no earlier than its current tag: no credit is saved
  // while away, a debt stays.
  void list_insert(List& l, int32_t x, int w) {
    Node& c = nodes_[x];
    c.tag[w] = std::max(c.tag[w], l.vtime);
    l.heap.push(x, c.tag[w], lpos_.data());
  }

  bool active(const Node& c) const { return c.children ? !c.feed.heap.empty() : c.len != 0; }

  // An active class joins the list its mode puts it on; a borrower that is its parent's first
  // makes the parent active in turn.
  void link(int32_t x) {
    for (;;) {
      Node& c = nodes_[x];
      if (c.mode == kSend) {
        list_insert(rows_[c.level], x, 0);
        row_mask_ |= 1u << c.level;
        c.where = kRow;
        return;
      }
      if (c.mode == kWait || c.parent == kNone) return;
      Node& p = nodes_[c.parent];
      const bool was_active = !p.feed.heap.empty();
      list_insert(p.feed, x, 1);
      c.where = kFeed;
      if (was_active) return;
      x = c.parent;
    }
  }

  // The reverse: a class leaves its list; a parent left with no borrowers leaves its own.
  void unlink(int32_t x) {
    for (;;) {
      Node& c = nodes_[x];
      const Where w = c.where;
      c.where = kNowhere;
      if (w == kRow) {
        List& row = rows_[c.level];
        row.heap.erase(x, lpos_.data());
        if (row.heap.empty()) row_mask_ &= ~(1u << c.level);
        return;
      }
      if (w == kNowhere) return;
      Node& p = nodes_[c.parent];
      p.feed.heap.erase(x, lpos_.data());
      if (!p.feed.heap.empty()) return;
      x = c.parent;
    }
  }

  // ---- modes and the wait heap ----

  void update_mode(int32_t x) {
    Node& c = nodes_[x];
    uint64_t ev;
    const Mode m = mode_of(c, ev);
    if (m != c.mode) {
      const bool act = active(c);
      if (act) unlink(x);
      c.mode = m;
      if (act) link(x);
    }
    if (m == kSend) heap_remove(x);
    else heap_set(x, ev);
  }

  // The mode the class's tokens give it at now_ (refilled), and when that changes (0: never).
  Mode mode_of(Node& c, uint64_t& ev) {
    c.tokens.refill(now_);
    c.ctokens.refill(now_);
    ev = 0;
    if (c.ctokens.tokens < 0) {
      ev = c.ctokens.time_of(0);
      return kWait;
    }
    if (c.tokens.tokens < 0) {
      ev = c.tokens.time_of(0);
      return kBorrow;
    }
    return kSend;
  }

  // Every class's mode and wait from its tokens, then the lists (after take_state).
  void settle() {
    waitq_.e.clear();
    std::fill(wpos_.begin(), wpos_.end(), -1);
    for (int32_t x = 0; x < int32_t(nodes_.size()); x++) {
      if (!nodes_[x].used) continue;
      uint64_t ev;
      nodes_[x].mode = mode_of(nodes_[x], ev);
      if (nodes_[x].mode != kSend) waitq_.push(x, ev, wpos_.data());
    }
    rebuild();
  }

  void run_events() {
    while (!waitq_.empty() && waitq_.top_key() <= now_) update_mode(waitq_.top());
  }

  void heap_set(int32_t x, uint64_t ev) {
    if (wpos_[x] < 0) waitq_.push(x, ev, wpos_.data());
    else if (waitq_.e[size_t(wpos_[x])].key != ev) waitq_.set_key(x, ev, wpos_.data());
  }
  void heap_remove(int32_t x) {
    if (wpos_[x] >= 0) waitq_.erase(x, wpos_.data());
  }

  // ---- one packet ----

  // The next packet the tree allows (nullptr: none now), and its length.
  Packet* dequeue(uint32_t& len) {
    if (!row_mask_) return nullptr;
    const int level = __builtin_ctz(row_mask_);
    // Down from the row: the smallest tag of each list, to a leaf.
    int32_t path[kLevels + 1];
    List* lists[kLevels + 1];
    int n = 0;
    List* l = &rows_[level];
    int32_t x;
    for (;;) {
      x = l->heap.top();
      path[n] = x;
      lists[n++] = l;
      Node& c = nodes_[x];
      if (!c.children) break;
      l = &c.feed;  // an active inner class has borrowers
    }
    Node& leaf = nodes_[x];
    const Slot slot = leaf.q[leaf.head];
    Packet* p = slot.p;
    if (++leaf.head == leaf.qsize) leaf.head = 0;
    len = slot.len;
    const double cost = double(len + overhead_);
    for (int i = 0; i < n; i++) {
      const int w = i == 0 ? 0 : 1;
      Node& c = nodes_[path[i]];
      lists[i]->vtime = c.tag[w];
      c.tag[w] += cost * c.inv_weight;
      lists[i]->heap.set_key(path[i], c.tag[w], lpos_.data());  // the top: sifts down
    }
    if (--leaf.len == 0) unlink(x);
    // Charge the leaf and its ancestors: those below the level served borrowed (ceil tokens
    // only), the rest pay both.
    // A class's mode (and its wait) is recomputed only when these tokens could change it: a
    // sender that stays at or above zero, or a borrower whose ceil tokens do, keeps its mode.
    for (int32_t i = x; i != kNone;) {
      Node& c = nodes_[i];
      const double charge = c.per_packet ? 1.0 : cost;
      c.ctokens.refill(now_);
      c.ctokens.take(charge);
      bool same;
      if (c.level >= level) {
        c.tokens.refill(now_);
        c.tokens.take(charge);
        same = c.mode == kSend && c.tokens.tokens >= 0 && c.ctokens.tokens >= 0;
      } else {
        c.borrowed++;
        same = c.mode == kBorrow && c.ctokens.tokens >= 0;
      }
      c.packets++;
      c.bytes += len;
      if (!same) update_mode(i);
      i = c.parent;
    }
    return p;
  }

  // ---- the tree ----

  // Frees a leaf's waiting packets (counted in drops_class_removed when `count_them`).
  void purge(Node& c, bool count_them) {
    uint32_t n = 0;
    Packet* batch[kMaxBatch];
    while (c.len) {
      batch[n++] = c.q[c.head].p;
      if (++c.head == c.qsize) c.head = 0;
      c.len--;
      if (n == kMaxBatch || c.len == 0) {
        pool().free(batch, n);
        held_.fetch_sub(n, std::memory_order_relaxed);
        if (count_them) count(c_removed_, n);
        n = 0;
      }
    }
    c.head = 0;
  }

  void set_rates(Node& c) {
    c.tokens.refill(now_);
    c.ctokens.refill(now_);
    if (c.per_packet != c.spec.packets) {  // a new unit: credit (or debt) in the old one means nothing
      c.tokens.tokens = 0;
      c.ctokens.tokens = 0;
    }
    c.per_packet = c.spec.packets;
    const double per_token = c.per_packet ? 1 : 8;  // rates in packets/s, or bits/s for byte tokens
    c.tokens.rate = c.spec.rate / per_token;
    c.tokens.depth = c.spec.burst;
    c.tokens.tokens = std::min(c.tokens.tokens, c.tokens.depth);
    c.ctokens.rate = c.spec.ceil / per_token;
    c.ctokens.depth = c.spec.cburst;
    c.ctokens.tokens = std::min(c.ctokens.tokens, c.ctokens.depth);
    c.inv_weight = 1.0 / c.spec.weight;
  }

  void set_capacity(Node& c) {
    if (c.children) return;
    c.capacity = c.spec.capacity;
    if (c.qsize >= c.capacity) return;  // shrinking keeps the packets queued
    std::vector<Slot> q(std::max<uint32_t>(c.capacity, c.len));
    for (uint32_t i = 0; i < c.len; i++) q[i] = c.q[(c.head + i) % c.qsize];
    c.storage = std::move(q);
    c.q = c.storage.data();
    c.qsize = uint32_t(c.storage.size());
    c.head = 0;
  }

  // A new class's node (not yet attached to its parent). It starts with full buckets, as HTB's
  // do, or with `credit: 'none'` empty: a contender added to a busy tree then earns its credit
  // from then on instead of sending a burst above its share while the others' shares settle.
  int32_t create(const Spec& s) {
    const int32_t x = free_.back();
    free_.pop_back();
    Node& c = nodes_[x];
    c = Node{};
    c.used = true;
    c.spec = s;
    c.tokens.start(now_, 0);
    c.ctokens.start(now_, 0);
    set_rates(c);
    c.tokens.tokens = s.empty_start ? 0 : s.burst;
    c.ctokens.tokens = s.empty_start ? 0 : s.cburst;
    by_name_[s.name] = x;
    if (s.match >= 0) {
      if (key_table_) {
        bool inserted;
        *by_table_.find_or_insert(uint32_t(s.match), inserted) = x;  // sized for maxClasses
      } else {
        by_paint_[size_t(s.match)] = x;
      }
    }
    if (s.name == default_name_) default_ = x;
    return x;
  }

  void attach(int32_t x) {
    Node& c = nodes_[x];
    c.parent = c.spec.parent == "root" ? kNone : by_name_.at(c.spec.parent);
    if (c.parent != kNone) {
      Node& p = nodes_[c.parent];
      if (p.children++ == 0) {
        // A leaf becoming an inner class: its queue goes (the add was refused if packets are
        // sent to it by match or default).
        purge(p, true);
        p.storage = {};
        p.q = nullptr;
        p.qsize = p.capacity = 0;
      }
    }
    set_capacity(c);
  }

  // A tree of `specs` (checked) in place of whatever this element holds; it holds no packets
  // (configure, or a successor or a restored element before it runs).
  void build(const std::vector<Spec>& specs) {
    nodes_.assign(max_classes_, Node{});
    lpos_.assign(max_classes_, -1);
    wpos_.assign(max_classes_, -1);
    free_.clear();
    for (int32_t n = int32_t(max_classes_) - 1; n >= 0; n--) free_.push_back(n);
    by_name_.clear();
    by_paint_.fill(kNone);
    if (key_table_) by_table_.init(max_classes_);
    default_ = kNone;
    waitq_.e.clear();
    for (const Spec& s : specs) create(s);
    for (const Spec& s : specs) attach(by_name_.at(s.name));
    rebuild();
  }

  static bool same(const Spec& a, const Spec& b) {
    return a.name == b.name && a.parent == b.parent && a.rate == b.rate && a.ceil == b.ceil && a.burst == b.burst && a.cburst == b.cburst &&
           a.packets == b.packets && a.empty_start == b.empty_start && a.ceil_auto == b.ceil_auto && a.burst_auto == b.burst_auto &&
           a.cburst_auto == b.cburst_auto && a.weight == b.weight && a.capacity == b.capacity && a.match == b.match;
  }

  // The tree a successor (or a restored element) holds, from the configuration it succeeds
  // (`before`) and the tree that had at run time (`now`): each class of its own configuration,
  // as it was at run time (changed, or gone if removed) where `before` configured it the same,
  // as configured otherwise; then the classes added at run time that neither configuration
  // names. HTBSched.ts (carriedClasses) applies the same rule for the quota checks.
  // `changed`: the classes where the result differs from the configuration.
  std::vector<Spec> carried(const std::vector<Spec>& before, const std::vector<Spec>& now, std::vector<std::string>& changed) const {
    std::unordered_map<std::string, const Spec*> was, is, mine;
    for (const Spec& s : before) was[s.name] = &s;
    for (const Spec& s : now) is[s.name] = &s;
    for (const Spec& s : configured_) mine[s.name] = &s;
    std::vector<Spec> out;
    for (const Spec& s : configured_) {
      const auto o = was.find(s.name);
      if (o == was.end() || !same(*o->second, s)) {
        out.push_back(s);
        continue;
      }
      const auto l = is.find(s.name);
      if (l == is.end() || !same(*l->second, s)) changed.push_back(s.name);
      if (l != is.end()) out.push_back(*l->second);
    }
    for (const Spec& l : now)
      if (!was.count(l.name) && !mine.count(l.name)) {
        out.push_back(l);
        changed.push_back(l.name);
      }
    return out;
  }

  // This element's tree rebuilt as carried() makes it (it holds no packets yet); a ConfigError
  // names the classes changed at run time when the result breaks a rule.
  void adopt_tree(const std::vector<Spec>& before, const std::vector<Spec>& now) {
    std::vector<std::string> changed;
    std::vector<Spec> tree = carried(before, now, changed);
    if (changed.empty()) return;  // nothing changed at run time: the tree as configured
    if (std::string e = check_tree(tree); !e.empty()) {
      std::string names;
      for (const std::string& n : changed) names += (names.empty() ? "'" : ", '") + n + "'";
      throw ConfigError("the classes added, changed or removed at run time (" + names + ") cannot be kept with this configuration: " + e +
                        "; undo those changes with the add, change and remove handlers first, or put the classes in the configuration");
    }
    build(tree);
  }

  // A class as a configuration entry (JSON; numbers exact), for saved state.
  static std::string spec_json(const Spec& s) {
    auto exact = [](double v) {
      char b[32];
      std::snprintf(b, sizeof b, "%.17g", v);
      return std::string(b);
    };
    std::string j = "{\"name\":\"" + s.name + "\",\"parent\":\"" + s.parent + "\",\"unit\":\"" + (s.packets ? "packets" : "bits") + "\",\"rate\":" + exact(s.rate);
    if (!s.ceil_auto) j += ",\"ceil\":" + exact(s.ceil);
    if (!s.burst_auto) j += ",\"burst\":" + exact(s.burst);
    if (!s.cburst_auto) j += ",\"cburst\":" + exact(s.cburst);
    j += ",\"weight\":" + std::to_string(s.weight) + ",\"capacity\":" + std::to_string(s.capacity);
    if (s.match >= 0) j += ",\"match\":" + std::to_string(s.match);
    return j + ",\"credit\":\"" + (s.empty_start ? "none" : "full") + "\"}";
  }

  // Levels from depths, and the lists rebuilt from the classes that have packets: after a class
  // is added or removed (the graph is paused).
  void rebuild() {
    for (List& row : rows_) {
      row.heap.e.clear();
      row.heap.e.reserve(max_classes_);
    }
    row_mask_ = 0;
    waitq_.e.reserve(max_classes_);
    std::fill(lpos_.begin(), lpos_.end(), -1);
    for (Node& c : nodes_) {
      if (!c.used) continue;
      int depth = 1;
      for (int32_t p = c.parent; p != kNone; p = nodes_[p].parent) depth++;
      c.level = c.children ? kLevels - depth : 0;
      c.where = kNowhere;
      c.feed.heap.e.clear();
      c.feed.heap.e.reserve(c.children);
    }
    for (int32_t x = 0; x < int32_t(nodes_.size()); x++)
      if (nodes_[x].used && !nodes_[x].children && nodes_[x].len) link(x);
  }

  // ---- checks: the rules of HTBSched.ts's checkClasses, for the handlers' changes ----

  std::string check_tree(const std::vector<Spec>& specs) const {
    if (specs.size() > max_classes_)
      return "classes: " + std::to_string(specs.size()) + " classes but maxClasses is " + std::to_string(max_classes_) + "; raise maxClasses";
    std::unordered_map<std::string, const Spec*> by;
    for (const Spec& s : specs) {
      if (s.name == "root") return "class 'root': 'root' is the link itself; give the class another name";
      if (!by.emplace(s.name, &s).second) return "class '" + s.name + "': defined twice";
    }
    // Children's rates in each unit (a parent covers those in its own unit; one in the other
    // unit cannot be compared with it).
    std::unordered_map<std::string, double> child_rates[2];
    std::unordered_map<std::string, int> nchildren;
    for (const Spec& s : specs) {
      child_rates[s.packets][s.parent] += s.rate;
      nchildren[s.parent]++;
    }
    std::map<int64_t, std::string> matched;
    for (const Spec& s : specs) {
      const std::string where = "class '" + s.name + "'";
      if (s.parent != "root" && !by.count(s.parent)) return where + ".parent: no class '" + s.parent + "'; name a class, or 'root' for the link";
      const char* unit = unit_name(s.packets);
      if (s.ceil < s.rate)
        return where + ".ceil: " + format_number(s.ceil) + unit + " is below its rate " + format_number(s.rate) + unit + "; a ceil must be at least the rate";
      if (s.parent == "root" && s.ceil > s.rate)
        return where + ".ceil: a class under the root has no parent to borrow from, so its ceil (" + format_number(s.ceil) + unit +
               ") must equal its rate (" + format_number(s.rate) + unit + ")";
      int depth = 1;
      std::string p = s.parent;
      for (; p != "root" && depth <= int(specs.size()); depth++) p = by.at(p)->parent;
      if (p != "root") return where + ".parent: the parents of '" + s.name + "' go round in a cycle";
      if (depth > kLevels) return where + ".parent: the class is " + std::to_string(depth) + " levels below the link; at most " + std::to_string(kLevels);
      const auto& same_unit = child_rates[s.packets];
      const double sum = same_unit.count(s.name) ? same_unit.at(s.name) : 0;
      if (sum > s.rate * (1 + 1e-12))
        return where + ".rate: its children's rates add up to " + format_number(sum) + unit + ", above its rate " + format_number(s.rate) + unit +
               "; lower theirs or raise this one";
      if (s.match >= 0) {
        if (nchildren.count(s.name)) return where + ".match: only a leaf class (one without children) has a queue to match packets to";
        if (!key_table_ && s.match > 255) return where + ".match: " + std::to_string(s.match) + " is not a paint colour (0 to 255)";
        auto [it, fresh] = matched.emplace(s.match, s.name);
        if (!fresh) return where + ".match: " + std::to_string(s.match) + " already selects class '" + it->second + "'";
      }
    }
    if (!default_name_.empty()) {
      if (!by.count(default_name_)) return "default: no class '" + default_name_ + "'";
      if (nchildren.count(default_name_)) return "default: class '" + default_name_ + "' has children; the default must be a leaf class";
    }
    return "";
  }

  static double field_number(const json::Value& o, const char* key, const std::string& what, double lo, double hi, bool exclusive_lo, bool integer) {
    const json::Value* v = o.find(key);
    const double d = v && v->is_number() ? v->as_number() : NAN;
    if (!(exclusive_lo ? d > lo : d >= lo) || !(d <= hi) || (integer && d != std::floor(d)))
      throw ConfigError(what + "." + key + ": " + (integer ? "an integer" : "a number") + (exclusive_lo ? " above " : " from ") + format_number(lo) +
                        (exclusive_lo ? " and at most " : " to ") + format_number(hi) + (v ? ", got " + v->dump() : ", missing"));
    return d;
  }

  // A class from JSON: a configuration entry, or a handler's value (`base`: the class changed,
  // whose fields stay where the value gives none).
  Spec parse_spec(const json::Value& o, const std::string& what, const Spec* base) const {
    static const char* const kFields[] = {"name", "parent", "unit", "rate", "ceil", "burst", "cburst", "weight", "capacity", "match", "credit"};
    if (!o.is_object()) throw ConfigError(what + ": a class object, like {\"name\": \"gold\", \"parent\": \"root\", \"rate\": 1e6}");
    for (const auto& [k, v] : o.as_object()) {
      if (std::find_if(std::begin(kFields), std::end(kFields), [&](const char* f) { return k == f; }) == std::end(kFields))
        throw ConfigError(what + ": unknown field '" + k + "'; a class takes name, parent, unit, rate, ceil, burst, cburst, weight, capacity, match, credit");
      if (base && (k == "parent" || k == "match" || k == "credit"))
        throw ConfigError(what + "." + k + ": cannot be changed; remove the class and add it again");
    }
    Spec s = base ? *base : Spec{};
    const json::Value* name = o.find("name");
    if (!name || !name->is_string() || name->as_string().empty()) throw ConfigError(what + ".name: the class's name, a string");
    s.name = name->as_string();
    const std::string w = what + " (class '" + s.name + "')";
    if (!base) {
      for (char ch : s.name)
        if (!std::isalnum(uint8_t(ch)) && (ch == 0 || !std::strchr("_.:@-", ch))) throw ConfigError(w + ".name: letters, digits and _ . : @ - only");
      if (s.name.size() > 64) throw ConfigError(w + ".name: at most 64 characters");
      const json::Value* parent = o.find("parent");
      if (!parent || !parent->is_string() || parent->as_string().empty()) throw ConfigError(w + ".parent: a class name, or 'root' for the link");
      s.parent = parent->as_string();
      if (o.find("match")) s.match = int64_t(field_number(o, "match", w, 0, kMaxMatch, false, true));
      if (const json::Value* c = o.find("credit")) {
        if (!c->is_string() || (c->as_string() != "full" && c->as_string() != "none"))
          throw ConfigError(w + ".credit: 'full' (the class starts with full buckets) or 'none' (it starts empty), got " + c->dump());
        s.empty_start = c->as_string() == "none";
      }
    }
    if (const json::Value* u = o.find("unit")) {
      if (!u->is_string() || (u->as_string() != "bits" && u->as_string() != "packets"))
        throw ConfigError(w + ".unit: 'bits' (rates in bits/s, bursts in bytes) or 'packets' (packets/s and packets), got " + u->dump());
      const bool packets = u->as_string() == "packets";
      // A rate kept from before would change its meaning: 10e6 bit/s is not 10e6 packets/s.
      if (base && packets != base->packets && (!o.find("rate") || (!s.ceil_auto && !o.find("ceil")) || (!s.burst_auto && !o.find("burst")) ||
                                               (!s.cburst_auto && !o.find("cburst"))))
        throw ConfigError(w + ".unit: a change of unit gives the rate (and the ceil and bursts the class has set) in the new unit too");
      s.packets = packets;
    }
    if (!base || o.find("rate")) s.rate = field_number(o, "rate", w, 0, kMaxRate, true, false);
    if (o.find("ceil")) s.ceil = field_number(o, "ceil", w, 0, kMaxRate, true, false), s.ceil_auto = false;
    if (s.ceil_auto) s.ceil = s.rate;
    if (o.find("burst")) s.burst = field_number(o, "burst", w, 0, kMaxBurst, false, true), s.burst_auto = false;
    if (o.find("cburst")) s.cburst = field_number(o, "cburst", w, 0, kMaxBurst, false, true), s.cburst_auto = false;
    if (s.burst_auto) s.burst = default_burst(s.rate, s.packets);
    if (s.cburst_auto) s.cburst = default_burst(s.ceil, s.packets);
    if (o.find("weight")) s.weight = uint32_t(field_number(o, "weight", w, 1, kMaxWeight, false, true));
    if (o.find("capacity")) s.capacity = uint32_t(field_number(o, "capacity", w, 1, kMaxCapacity, false, true));
    return s;
  }

  std::vector<Spec> current_specs() const {
    std::vector<Spec> specs;
    for (const Node& c : nodes_)
      if (c.used) specs.push_back(c.spec);
    return specs;
  }

  template <class F>
  void handle(const char* what, const std::string& text, F&& apply) {
    json::Value o;
    try {
      o = json::Value::parse(text);
    } catch (const std::exception& e) {
      throw HandlerError(std::string(what) + ": not a JSON object (" + e.what() + "), e.g. {\"name\": \"t7\", \"parent\": \"root\", \"rate\": 1e6}");
    }
    try {
      SpinLock::Guard g(lock_);
      apply(o);
    } catch (const ConfigError& e) {
      throw HandlerError(e.what());
    }
  }

  void add_class(const json::Value& o) {
    const Spec s = parse_spec(o, "add", nullptr);
    if (by_name_.count(s.name)) throw ConfigError("add (class '" + s.name + "').name: a class of that name exists; change it or remove it first");
    std::vector<Spec> specs = current_specs();
    specs.push_back(s);
    if (std::string e = check_tree(specs); !e.empty()) throw ConfigError("add: " + e);
    attach(create(s));
    rebuild();
  }

  void remove_class(const std::string& text) {
    std::string name = text;
    while (!name.empty() && std::isspace(uint8_t(name.back()))) name.pop_back();
    SpinLock::Guard g(lock_);
    auto it = by_name_.find(name);
    if (it == by_name_.end()) throw HandlerError("remove: no class '" + name + "'");
    const int32_t x = it->second;
    Node& c = nodes_[x];
    if (c.children) throw HandlerError("remove: class '" + name + "' has " + std::to_string(c.children) + " children; remove them first");
    if (x == default_) throw HandlerError("remove: class '" + name + "' is the default class");
    purge(c, true);
    heap_remove(x);
    if (c.spec.match >= 0) {
      if (key_table_) by_table_.erase(uint32_t(c.spec.match));
      else by_paint_[size_t(c.spec.match)] = kNone;
    }
    by_name_.erase(it);
    if (c.parent != kNone) {
      Node& p = nodes_[c.parent];
      if (--p.children == 0) set_capacity(p);  // a leaf again: it gets its queue back
    }
    c = Node{};
    free_.push_back(x);
    rebuild();
  }

  void change_class(const json::Value& o) {
    const json::Value* name = o.is_object() ? o.find("name") : nullptr;
    if (!name || !name->is_string()) throw ConfigError("change.name: the class's name, a string");
    auto it = by_name_.find(name->as_string());
    if (it == by_name_.end()) throw ConfigError("change: no class '" + name->as_string() + "'");
    Node& c = nodes_[it->second];
    const Spec s = parse_spec(o, "change", &c.spec);
    std::vector<Spec> specs = current_specs();
    for (Spec& t : specs)
      if (t.name == s.name) t = s;
    if (std::string e = check_tree(specs); !e.empty()) throw ConfigError("change: " + e);
    c.spec = s;
    set_rates(c);
    set_capacity(c);
    update_mode(it->second);
  }

  std::string list_classes() {
    SpinLock::Guard g(lock_);
    std::vector<std::vector<int32_t>> kids(nodes_.size() + 1);  // the last: the root's
    for (int32_t x = 0; x < int32_t(nodes_.size()); x++)
      if (nodes_[x].used) kids[nodes_[x].parent == kNone ? nodes_.size() : size_t(nodes_[x].parent)].push_back(x);
    std::string out;
    std::vector<int32_t> stack(kids.back().rbegin(), kids.back().rend());
    while (!stack.empty()) {
      const int32_t x = stack.back();
      stack.pop_back();
      const Node& c = nodes_[x];
      const Spec& s = c.spec;
      out += s.name + " parent=" + s.parent + (s.packets ? " unit=packets" : "") + " rate=" + format_number(s.rate) + " ceil=" + format_number(s.ceil) + " burst=" + format_number(s.burst) +
             " cburst=" + format_number(s.cburst) + " weight=" + std::to_string(s.weight) + (s.match >= 0 ? " match=" + std::to_string(s.match) : "") +
             (c.children ? " inner" : " leaf capacity=" + std::to_string(s.capacity)) + " mode=" + kModeNames[c.mode] +
             " backlog=" + std::to_string(c.len) + " packets=" + to_string_u64(c.packets) + " bytes=" + to_string_u64(c.bytes) +
             " drops=" + to_string_u64(c.drops) + " borrowed=" + to_string_u64(c.borrowed) + "\n";
      stack.insert(stack.end(), kids[size_t(x)].rbegin(), kids[size_t(x)].rend());
    }
    return out;
  }

  static constexpr uint8_t kStateFormat = 1;

  // Configuration.
  std::vector<Spec> configured_;  // the classes as configured (a successor carries changes to them)
  std::vector<std::pair<int32_t, int32_t>> carry_;  // prepare_take: (class, the predecessor's of its name)
  bool key_table_ = false;
  uint32_t overhead_ = 0, max_classes_ = 0;
  std::string default_name_;
  uint32_t c_enqueued_ = 0, c_packets_ = 0, c_bytes_ = 0, c_unclassified_ = 0, c_full_ = 0, c_removed_ = 0;

  // The tree, under lock_ (pushes and pulls may come from different workers; handlers change
  // it with the graph paused).
  mutable SpinLock lock_;
  std::vector<Node> nodes_;  // maxClasses slots, allocated at load
  std::vector<int32_t> free_;
  std::unordered_map<std::string, int32_t> by_name_;
  std::array<int32_t, 256> by_paint_{};
  HashTable<uint32_t, int32_t> by_table_;
  int32_t default_ = kNone;
  std::array<List, kLevels> rows_;      // per level, the active classes in send mode
  uint32_t row_mask_ = 0;               // levels whose row is not empty
  KeyHeap<uint64_t> waitq_;             // classes not in send mode, by the time that changes
  std::vector<int32_t> lpos_, wpos_;    // each class's position in its list and in waitq_
  uint64_t now_ = 0;                    // the engine clock at the last pull (handlers use it)
  std::atomic<uint64_t> held_{0};
};

}  // namespace

PG_ELEMENT(HTBSched);

}  // namespace pg
