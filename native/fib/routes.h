// The routing-table side shared by IPLookup (IPv4) and LookupIP6Route (IPv6): route text,
// the authoritative route set the control thread keeps, and the immutable snapshot
// (LPM table + next hops) that workers read through a Publisher.
//
// Route text (one route per line or config entry; '#' starts a comment):
//   PREFIX OUTPUT                         e.g. 10.0.0.0/8 1
//   PREFIX GATEWAY OUTPUT                 Click's StaticIPLookup form: 10.0.0.0/8 10.0.0.1 1
//   PREFIX [via GATEWAY] [dev OUTPUT]     iproute2 form (at least one of the two; dev 0 if omitted)
//   PREFIX nexthop [via GW] [dev OUT] nexthop ...    ECMP (iproute2 multipath form)
// PREFIX is ADDRESS/LEN, a bare ADDRESS (a host route), or `default` (/0). Host bits beyond
// LEN are refused. OUTPUT is the element's output number.
#pragma once
#include <functional>
#include <algorithm>
#include <map>
#include <unordered_map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "fib/lpm.h"
#include "state.h"

namespace pg::fib {

struct Hop {
  uint32_t port = 0;
  bool has_gw = false;
  uint8_t gw[16] = {};  // IPv4: the first 4 bytes, network order
  bool operator<(const Hop& o) const {
    if (port != o.port) return port < o.port;
    if (has_gw != o.has_gw) return has_gw < o.has_gw;
    return std::memcmp(gw, o.gw, 16) < 0;
  }
  bool operator==(const Hop& o) const { return port == o.port && has_gw == o.has_gw && std::memcmp(gw, o.gw, 16) == 0; }
};

// What workers read: immutable once published.
struct Snapshot {
  PG_STATE_OBJECT  // with its next hops, in its graph's hot state when built as the graph loads
  std::unique_ptr<LpmTable> lpm;
  NextHopTable nexthops;  // next-hop index -> members (indexes into hops)
  StateVector<Hop> hops;
  size_t memory() const { return lpm->memory() + nexthops.memory() + hops.capacity() * sizeof(Hop) + sizeof(Snapshot); }
  // A private copy with the same spare room (RouteSet::patch can bring it up to date).
  std::unique_ptr<Snapshot> copy() const {
    auto s = std::make_unique<Snapshot>();
    s->lpm = lpm->copy();
    s->nexthops = nexthops.copy();
    s->hops.reserve(hops.capacity());
    s->hops.assign(hops.begin(), hops.end());
    return s;
  }
};

struct Prefix {
  u128 key;
  unsigned len;
  bool operator==(const Prefix& o) const { return key == o.key && len == o.len; }
  // (key, len) order: a prefix comes after every prefix that covers it (LpmTable's build order).
  bool operator<(const Prefix& o) const { return key != o.key ? key < o.key : len < o.len; }
};

// The route set's map from prefix to hop list id, in prefix order, in 24 bytes a route (a full
// IPv4 table: about 22 MB, where a std::map node takes 96): a sorted array, and an ordered map
// of the changes made since the array was last rewritten, merged into it once they are many.
// Routes added in order (a table file) are appended to the array directly.
class RouteMap {
 public:
  size_t size() const { return size_; }
  void clear() {
    base_.clear();
    base_.shrink_to_fit();
    delta_.clear();
    size_ = 0;
  }
  // The id of a prefix, or nullptr.
  const uint32_t* find(const Prefix& p) const;
  // Add a prefix; false (and no change) if it is there already.
  bool insert(const Prefix& p, uint32_t id);
  // Add a prefix or replace its id.
  void assign(const Prefix& p, uint32_t id);
  // Add or replace many prefixes in one merge pass (a prefix given twice: the later wins).
  // Returns the number of routes that makes; when more than `limit`, nothing is changed.
  size_t assign_all(std::vector<std::pair<Prefix, uint32_t>> items, size_t limit = SIZE_MAX);
  // Remove a prefix; false if it is not there.
  bool erase(const Prefix& p);
  // Call f(prefix, id) for every prefix from `from` on, in order, until it returns false.
  template <class F>
  void for_each_from(const Prefix& from, F f) const;
  template <class F>
  void for_each(F f) const { for_each_from(Prefix{0, 0}, f); }
  // Replace every id by map[id].
  void remap(const std::vector<uint32_t>& map);
  // Fold the changes kept aside into the sorted base: a table's worth of routes there costs 24
  // bytes each, against about 100 in the ordered map (a loaded router's 1000 routes stayed there).
  void compact() {
    if (!delta_.empty()) merge();
  }

 private:
  struct Entry {
    uint64_t hi, lo;
    uint32_t id;
    uint8_t len;
    Prefix prefix() const { return Prefix{u128(hi) << 64 | lo, len}; }
  };
  static Entry entry(const Prefix& p, uint32_t id) { return Entry{uint64_t(p.key >> 64), uint64_t(p.key), id, uint8_t(p.len)}; }
  static constexpr uint32_t kGone = 0xffffffffu;  // in delta_: the prefix was removed from base_
  const Entry* in_base(const Prefix& p) const;
  void maybe_merge();
  void merge();
  std::vector<Entry> base_;              // sorted by prefix
  std::map<Prefix, uint32_t> delta_;     // overrides base_: a new id, a new prefix, or kGone
  size_t size_ = 0;
};

template <class F>
void RouteMap::for_each_from(const Prefix& from, F f) const {
  auto b = std::lower_bound(base_.begin(), base_.end(), from, [](const Entry& e, const Prefix& p) { return e.prefix() < p; });
  auto d = delta_.lower_bound(from);
  while (b != base_.end() || d != delta_.end()) {
    if (d == delta_.end() || (b != base_.end() && b->prefix() < d->first)) {
      if (!f(b->prefix(), b->id)) return;
      ++b;
      continue;
    }
    if (b != base_.end() && b->prefix() == d->first) ++b;  // overridden
    if (d->second != kGone && !f(d->first, d->second)) return;
    ++d;
  }
}

class RouteSet {
 public:
  RouteSet(unsigned width, uint32_t noutputs) : width_(width), noutputs_(noutputs) {}

  // Parse one route; throws std::runtime_error with the reason (not naming the route).
  void parse(std::string_view text, u128& key, unsigned& len, std::vector<Hop>& hops) const;

  // Add routes: each entry is (label, text); errors name the label and the text, e.g.
  // "route 3 ('10.0.0.0/33 1'): prefix length '33' must be ...".
  // replace: an existing prefix is replaced; otherwise a prefix given twice is an error.
  // All or nothing: on an error nothing changes. limit: the most routes the set may hold
  // afterwards (SIZE_MAX: no limit); a change beyond it is refused whole.
  void add_lines(const std::vector<std::pair<std::string, std::string>>& lines, bool replace, size_t limit = SIZE_MAX);
  // The same for route text (one per line, '#' comments; errors name "route N"), and for a
  // route file (errors name the file and the line), read line by line: labels are made only for
  // an error, so a bulk change costs a parse and a map operation a route.
  void add_text(const std::string& text, bool replace, size_t limit = SIZE_MAX);
  void add_file_all_or_nothing(const std::string& path, bool replace, size_t limit = SIZE_MAX);
  // Add the routes of a file, read line by line (never whole; see for_each_route_line); errors
  // name the file and the line. For a set being configured: on an error it is left part-filled.
  void add_file(const std::string& path);
  // One route already parsed (the plan's typed routes): false, and no change, when its prefix is
  // there already.
  bool insert(u128 key, unsigned len, const std::vector<Hop>& hops) {
    const Prefix k{key, len};
    if (!routes_.insert(k, intern(hops))) return false;
    changed_.push_back(k);
    return true;
  }
  void remove_prefixes(const std::vector<std::string>& prefixes);  // all or nothing
  void clear() {
    routes_.clear();
    changed_.clear();
    changed_all_ = true;
  }

  // A new snapshot of the current routes (next hops numbered afresh, unused ones dropped),
  // with spare room for patch().
  std::unique_ptr<Snapshot> build();
  // Bring the snapshot build() last made (and published) up to date with the changes made
  // since, in place while workers read it (LpmTable::update; new next hops are appended).
  // False when it cannot (no spare room, or too many changes at once to be worth it): then
  // build and publish a new snapshot instead. Either way the changes count as applied once
  // build() or a successful patch() has run.
  bool patch(Snapshot& s);
  std::string table() const;  // canonical text, one route per line, sorted by prefix
  size_t size() const { return routes_.size(); }
  // Prefixes changed since the last build() or patch() (every one: SIZE_MAX).
  size_t pending() const { return changed_all_ ? SIZE_MAX : changed_.size(); }
  // The highest output a route sends to (-1: no route), and the output count routes are
  // checked against: a set moves to a hot-reconfigured element that has at least that many.
  int64_t highest_output() const {
    int64_t top = -1;
    routes_.for_each([&](const Prefix&, uint32_t id) {
      for (const Hop& h : lists_[id]) top = std::max<int64_t>(top, h.port);
      return true;
    });
    return top;
  }
  void set_outputs(uint32_t n) { noutputs_ = n; }
  std::string hops_text(const std::vector<Hop>& hops) const;
  // The saved table (vr.save; native/fib/state.cc, docs/router-file.md): its hop lists and its
  // routes in prefix order, as columns (keys, lengths, list ids) that compress well. restore()
  // fills an empty set, checking each route as the plan's are (length, host bits, outputs
  // below the element's, no prefix twice), and throws StateError naming what is wrong.
  void save(StateWriter& out) const;
  void restore(StateReader& in);
  std::string prefix_text(u128 key, unsigned len) const { return format_prefix(key, len, width_); }

 private:
  // A parsed route waiting to be applied; `at`: where it came from, for an error's label.
  struct Parsed {
    Prefix prefix;
    uint32_t id;
    size_t at;
  };
  Parsed parse_one(std::string_view text, size_t at, std::vector<Hop>& scratch) {
    u128 key;
    unsigned len;
    parse(text, key, len, scratch);
    return Parsed{Prefix{key, len}, intern(scratch), at};
  }
  template <class Lines>
  void parse_apply(const Lines& lines, const std::function<std::string(size_t)>& name, bool replace, size_t limit);
  // Apply parsed routes, all or nothing (see add_lines); name(at) labels a route for an error.
  void apply(const std::vector<Parsed>& routes, bool replace, size_t limit, const std::function<std::string(size_t)>& name);
  struct PrefixHash {
    size_t operator()(const Prefix& p) const { return flow_hash(uint64_t(p.key >> 64) ^ p.len, uint64_t(p.key)); }
  };
  bool parse_gw(std::string_view s, Hop& h) const;
  uint32_t intern(const std::vector<Hop>& hops);  // hop list -> id in lists_
  // The next-hop index of hop list `id` in s, added to s if new; false when s has no room.
  bool next_hop_of(Snapshot& s, uint32_t id, uint32_t& nh);
  // LpmTable::RegionFn over the route set.
  bool region(Snapshot& s, u128 key, unsigned len, std::vector<Route>& out, uint32_t& def);
  unsigned width_;
  uint32_t noutputs_;
  // prefix -> hop list id, ordered so that the routes inside a prefix are one range.
  RouteMap routes_;
  std::vector<std::vector<Hop>> lists_;                      // interned hop lists
  struct HopsHash {
    size_t operator()(const std::vector<Hop>& hs) const {
      uint64_t h = hs.size();
      for (const Hop& x : hs) {
        uint64_t a, b;
        std::memcpy(&a, x.gw, 8);
        std::memcpy(&b, x.gw + 8, 8);
        h = flow_hash(h ^ x.port ^ (uint64_t(x.has_gw) << 32), a ^ b);
      }
      return h;
    }
  };
  std::unordered_map<std::vector<Hop>, uint32_t, HopsHash> list_index_;  // one lookup a parsed route
  // Changed prefixes not yet in the published snapshot (changed_all_: every prefix).
  std::vector<Prefix> changed_;
  bool changed_all_ = true;
  // For the published snapshot: hop list id -> next-hop index (kNoRoute: not in it), and
  // hop -> index in its hops.
  std::vector<uint32_t> nh_of_;
  std::map<Hop, uint32_t> hop_index_;
  // Spare room build() reserves: 1/spare_div_ of the table. It starts at an eighth and
  // doubles (to a half at most) each time updates use it up, so a table that is updated
  // often is rebuilt less often, and one that is not costs little.
  unsigned spare_div_ = 8;
};

// The refusal of a change that would leave more routes than a table's limit.
std::string over_limit(size_t would, size_t limit);

// Split text into lines, dropping comments ('#' to the end of the line) and blank lines.
// Each kept line comes with its 1-based line number.
std::vector<std::pair<size_t, std::string_view>> route_lines(const std::string& text);
// Call fn(line number, route text) for every route of a file (comments and blank lines
// dropped) until it returns false, read block by block: plain text, or gzip when the name ends in .gz (a corrupt or
// truncated one is an error naming the file).
void for_each_route_line(const std::string& path, const std::function<bool(size_t, const std::string&)>& fn);

}  // namespace pg::fib
