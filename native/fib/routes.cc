// Route text, the authoritative route set and snapshot building (see routes.h).
#include "fib/routes.h"

#include <zlib.h>  // Node's own zlib: the node binary exports its symbols, so the addon links with no extra library

#include <algorithm>
#include <cstdio>
#include <functional>
#include <memory>
#include <sstream>
#include <stdexcept>

namespace pg::fib {

namespace {
// Views into the route's text, not copies: a bulk change parses a million routes, and one
// heap allocation a token cost more than the parsing itself.
bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }
void tokens(std::string_view s, std::vector<std::string_view>& out) {
  out.clear();
  size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && is_space(s[i])) i++;
    const size_t b = i;
    while (i < s.size() && !is_space(s[i])) i++;
    if (i > b) out.push_back(s.substr(b, i - b));
  }
}
std::vector<std::string_view> tokens(std::string_view s) {
  std::vector<std::string_view> out;
  tokens(s, out);
  return out;
}
bool is_number(std::string_view s) { return !s.empty() && s.size() <= 10 && s.find_first_not_of("0123456789") == std::string_view::npos; }
std::string_view strip_comment(std::string_view s) {
  const size_t h = s.find('#');
  return h == std::string_view::npos ? s : s.substr(0, h);
}
std::string str(std::string_view s) { return std::string(s); }
}  // namespace

const RouteMap::Entry* RouteMap::in_base(const Prefix& p) const {
  auto it = std::lower_bound(base_.begin(), base_.end(), p, [](const Entry& e, const Prefix& q) { return e.prefix() < q; });
  return it != base_.end() && it->prefix() == p ? &*it : nullptr;
}

const uint32_t* RouteMap::find(const Prefix& p) const {
  auto d = delta_.find(p);
  if (d != delta_.end()) return d->second == kGone ? nullptr : &d->second;
  const Entry* e = in_base(p);
  return e ? &e->id : nullptr;
}

bool RouteMap::insert(const Prefix& p, uint32_t id) {
  if (delta_.empty() && (base_.empty() || base_.back().prefix() < p)) {
    base_.push_back(entry(p, id));  // after every prefix there is: new
  } else if (find(p)) {
    return false;
  } else {
    delta_[p] = id;  // new, or replacing a kGone
    maybe_merge();
  }
  size_++;
  return true;
}

void RouteMap::assign(const Prefix& p, uint32_t id) {
  if (!insert(p, id)) delta_[p] = id;
  maybe_merge();
}

bool RouteMap::erase(const Prefix& p) {
  if (!find(p)) return false;
  if (in_base(p)) delta_[p] = kGone;
  else delta_.erase(p);
  size_--;
  maybe_merge();
  return true;
}

size_t RouteMap::assign_all(std::vector<std::pair<Prefix, uint32_t>> items, size_t limit) {
  const auto by_prefix = [](const auto& a, const auto& b) { return a.first < b.first; };
  if (!std::is_sorted(items.begin(), items.end(), by_prefix)) std::stable_sort(items.begin(), items.end(), by_prefix);
  std::vector<Entry> merged;
  merged.reserve(size_ + items.size());
  size_t i = 0;
  // The next item, the last of its prefix (a prefix given twice: the later wins).
  auto take = [&]() {
    while (i + 1 < items.size() && items[i + 1].first == items[i].first) i++;
    merged.push_back(entry(items[i].first, items[i].second));
    i++;
  };
  for_each([&](const Prefix& p, uint32_t id) {
    while (i < items.size() && items[i].first < p) take();
    if (i < items.size() && items[i].first == p) take();
    else merged.push_back(entry(p, id));
    return true;
  });
  while (i < items.size()) take();
  if (merged.size() > limit) return merged.size();
  base_.swap(merged);
  delta_.clear();
  size_ = base_.size();
  return size_;
}

void RouteMap::remap(const std::vector<uint32_t>& map) {
  for (Entry& e : base_) e.id = map[e.id];
  for (auto& [p, id] : delta_)
    if (id != kGone) id = map[id];
}

// Rewrite the array with the changes once they are more than a sixteenth of it: each merge
// costs one pass over the array, and a change costs a map operation between merges.
void RouteMap::maybe_merge() {
  if (delta_.size() > 1024 + base_.size() / 16) merge();
}

void RouteMap::merge() {
  std::vector<Entry> merged;
  merged.reserve(size_);
  for_each([&](const Prefix& p, uint32_t id) {
    merged.push_back(entry(p, id));
    return true;
  });
  base_.swap(merged);
  delta_.clear();
}

bool RouteSet::parse_gw(std::string_view s, Hop& h) const {
  if (width_ == 32) {
    uint32_t a;
    if (!parse_ipv4(s.data(), s.size(), a)) return false;
    const uint8_t b[4] = {uint8_t(a >> 24), uint8_t(a >> 16), uint8_t(a >> 8), uint8_t(a)};
    std::memset(h.gw, 0, 16);
    std::memcpy(h.gw, b, 4);
  } else if (!parse_ipv6(str(s), h.gw)) {
    return false;
  }
  h.has_gw = true;
  return true;
}

void RouteSet::parse(std::string_view text, u128& key, unsigned& len, std::vector<Hop>& hops) const {
  thread_local std::vector<std::string_view> t;  // reused: no allocation a route
  tokens(strip_comment(text), t);
  hops.clear();
  if (t.empty()) throw std::runtime_error("empty route");
  std::string error;
  if (!parse_prefix(t[0], width_, key, len, error)) throw std::runtime_error(error);
  const char* family = width_ == 32 ? "IPv4" : "IPv6";
  auto port = [&](std::string_view s) -> uint32_t {
    if (!is_number(s)) throw std::runtime_error("output '" + str(s) + "' must be a number");
    uint64_t p = 0;
    for (char c : s) p = p * 10 + uint64_t(c - '0');  // at most 10 digits: no overflow
    if (p >= noutputs_)
      throw std::runtime_error("output " + str(s) + " does not exist: the element has " + std::to_string(noutputs_) + " output(s)");
    return uint32_t(p);
  };
  static const char* const usage = "expected 'PREFIX OUTPUT', 'PREFIX GATEWAY OUTPUT' or 'PREFIX [via GATEWAY] [dev OUTPUT]'";
  if (t.size() == 1) throw std::runtime_error(std::string("no next hop: ") + usage);
  if (t.size() == 2 && is_number(t[1])) {
    Hop h;
    h.port = port(t[1]);
    hops.push_back(h);
    return;
  }
  if (t.size() == 3 && t[1] != "via" && t[1] != "dev" && t[1] != "nexthop") {
    Hop h;
    if (!parse_gw(t[1], h)) throw std::runtime_error("gateway '" + str(t[1]) + "' is not an " + family + " address");
    h.port = port(t[2]);
    hops.push_back(h);
    return;
  }
  // Keyword form, optionally multipath.
  size_t i = 1;
  const bool multipath = t[1] == "nexthop";
  while (i < t.size()) {
    if (multipath) {
      if (t[i] != "nexthop") throw std::runtime_error("expected 'nexthop', got '" + str(t[i]) + "'");
      i++;
    }
    Hop h;
    bool via = false, dev = false;
    while (i < t.size() && t[i] != "nexthop") {
      if (t[i] == "via" && !via) {
        if (i + 1 >= t.size()) throw std::runtime_error("'via' needs a gateway address");
        if (!parse_gw(t[i + 1], h)) throw std::runtime_error("gateway '" + str(t[i + 1]) + "' is not an " + family + " address");
        via = true;
      } else if (t[i] == "dev" && !dev) {
        if (i + 1 >= t.size()) throw std::runtime_error("'dev' needs an output number");
        h.port = port(t[i + 1]);
        dev = true;
      } else {
        throw std::runtime_error("unexpected '" + str(t[i]) + "': " + usage);
      }
      i += 2;
    }
    if (!via && !dev) throw std::runtime_error(multipath ? "'nexthop' needs 'via GATEWAY' or 'dev OUTPUT'" : usage);
    hops.push_back(h);
    if (!multipath) break;
  }
  if (hops.size() > 1024) throw std::runtime_error("at most 1024 next hops per route");
}

uint32_t RouteSet::intern(const std::vector<Hop>& hops) {
  auto it = list_index_.find(hops);
  if (it != list_index_.end()) return it->second;
  const uint32_t id = uint32_t(lists_.size());
  lists_.push_back(hops);
  list_index_.emplace(hops, id);
  return id;
}

// Parse entries (their text (k).second), naming a bad one with name(k), then apply them.
template <class Lines>
void RouteSet::parse_apply(const Lines& lines, const std::function<std::string(size_t)>& name, bool replace, size_t limit) {
  std::vector<Parsed> parsed;
  parsed.reserve(lines.size());
  std::vector<Hop> scratch;
  for (size_t i = 0; i < lines.size(); i++) {
    try {
      parsed.push_back(parse_one(lines[i].second, i, scratch));
    } catch (const std::runtime_error& e) {
      throw std::runtime_error(name(i) + ": " + e.what());
    }
  }
  apply(parsed, replace, limit, name);
}

void RouteSet::add_lines(const std::vector<std::pair<std::string, std::string>>& lines, bool replace, size_t limit) {
  parse_apply(lines, [&](size_t k) { return lines[k].first + " ('" + lines[k].second + "')"; }, replace, limit);
}

void RouteSet::add_text(const std::string& text, bool replace, size_t limit) {
  const std::vector<std::pair<size_t, std::string_view>> lines = route_lines(text);
  parse_apply(lines, [&](size_t k) { return "route " + std::to_string(lines[k].first) + " ('" + str(lines[k].second) + "')"; }, replace, limit);
}

void RouteSet::add_file_all_or_nothing(const std::string& path, bool replace, size_t limit) {
  const std::string label = "file '" + path + "' line ";
  std::vector<Parsed> parsed;
  std::vector<Hop> scratch;
  for_each_route_line(path, [&](size_t n, const std::string& text) {
    try {
      parsed.push_back(parse_one(text, n, scratch));
    } catch (const std::runtime_error& e) {
      throw std::runtime_error(label + std::to_string(n) + " ('" + text + "'): " + e.what());
    }
    return true;
  });
  // A label names the line's text, read again from the file (only for an error).
  apply(parsed, replace, limit, [&](size_t n) {
    std::string text;
    for_each_route_line(path, [&](size_t m, const std::string& t) {
      if (m == n) text = t;
      return m < n;
    });
    return label + std::to_string(n) + " ('" + text + "')";
  });
}

void RouteSet::apply(const std::vector<Parsed>& routes, bool replace, size_t limit, const std::function<std::string(size_t)>& name) {
  if (replace) {
    // Only parsing and the limit can refuse: assign (the last wins) once the count of routes
    // it makes is known.
    if (routes.size() > 1024 + routes_.size() / 16) {
      // Many at once: one merge pass over the map, not a tree operation each; it counts the
      // routes it makes and changes nothing when they are over the limit.
      std::vector<std::pair<Prefix, uint32_t>> items;
      items.reserve(routes.size());
      for (const Parsed& r : routes) items.emplace_back(r.prefix, r.id);
      const size_t would = routes_.assign_all(std::move(items), limit);
      if (would > limit) throw std::runtime_error(over_limit(would, limit));
    } else {
      if (limit != SIZE_MAX) {
        std::unordered_map<Prefix, bool, PrefixHash> fresh;
        for (const Parsed& r : routes)
          if (!routes_.find(r.prefix)) fresh.emplace(r.prefix, true);
        if (routes_.size() + fresh.size() > limit) throw std::runtime_error(over_limit(routes_.size() + fresh.size(), limit));
      }
      for (const Parsed& r : routes) routes_.assign(r.prefix, r.id);
    }
    for (const Parsed& r : routes) changed_.push_back(r.prefix);
    return;
  }
  // Insert as we go (sorted input: appended, O(1) a route); on an error erase what was inserted.
  std::vector<Prefix> inserted;
  inserted.reserve(routes.size());
  for (size_t i = 0; i < routes.size(); i++) {
    const Prefix& k = routes[i].prefix;
    if (routes_.insert(k, routes[i].id)) {
      inserted.push_back(k);
      continue;
    }
    for (const Prefix& p : inserted) routes_.erase(p);
    for (size_t j = 0; j < i; j++)  // name the earlier route if it is in this call
      if (routes[j].prefix == k) throw std::runtime_error(name(routes[i].at) + ": prefix " + prefix_text(k.key, k.len) + " is also " + name(routes[j].at));
    throw std::runtime_error(name(routes[i].at) + ": prefix " + prefix_text(k.key, k.len) + " is already in the table");
  }
  if (routes_.size() > limit) {
    const size_t would = routes_.size();
    for (const Prefix& p : inserted) routes_.erase(p);
    throw std::runtime_error(over_limit(would, limit));
  }
  changed_.insert(changed_.end(), inserted.begin(), inserted.end());
}

std::string over_limit(size_t would, size_t limit) {
  return "the change would make " + std::to_string(would) + " routes, more than the table's limit of " + std::to_string(limit) + " (max_routes)";
}

void RouteSet::remove_prefixes(const std::vector<std::string>& prefixes) {
  std::vector<Prefix> gone;
  std::unordered_map<Prefix, bool, PrefixHash> seen;
  for (const std::string& p : prefixes) {
    u128 key;
    unsigned len;
    std::string error;
    const std::vector<std::string_view> t = tokens(p);
    if (t.empty()) continue;
    if (!parse_prefix(t[0], width_, key, len, error)) throw std::runtime_error("'" + p + "': " + error);
    const Prefix k{key, len};
    if (!routes_.find(k) || !seen.emplace(k, true).second) throw std::runtime_error("no route for " + prefix_text(key, len));
    gone.push_back(k);
  }
  for (const Prefix& k : gone) routes_.erase(k);
  changed_.insert(changed_.end(), gone.begin(), gone.end());
}

std::unique_ptr<Snapshot> RouteSet::build() {
  routes_.compact();  // a new table is a pass over every route already: the map's too
  auto s = std::make_unique<Snapshot>();
  std::map<Hop, uint32_t>& hop_index = hop_index_;
  hop_index.clear();
  std::vector<uint32_t> nh_of(lists_.size(), kNoRoute);  // hop list id -> next-hop index
  std::vector<Route> routes;
  routes.reserve(routes_.size());
  std::vector<uint32_t> members;
  routes_.for_each([&](const Prefix& k, uint32_t id) {
    if (nh_of[id] == kNoRoute) {
      members.clear();
      for (const Hop& h : lists_[id]) {
        auto it = hop_index.find(h);
        if (it == hop_index.end()) {
          it = hop_index.emplace(h, uint32_t(s->hops.size())).first;
          s->hops.push_back(h);
        }
        members.push_back(it->second);
      }
      nh_of[id] = s->nexthops.add(members);
    }
    routes.push_back(Route{k.key, nh_of[id], uint8_t(k.len)});
    return true;
  });
  s->lpm = LpmTable::build(std::move(routes), width_, spare_div_);
  s->nexthops.reserve_spare(s->nexthops.size() / spare_div_ + 4);
  s->hops.reserve(s->hops.size() + s->hops.size() / spare_div_ + 4);
  changed_ = {};  // its capacity too: a table's worth of prefixes, kept by every router otherwise
  changed_all_ = false;
  // Forget hop lists no route uses any more, once they are many.
  size_t used = 0;
  for (uint32_t nh : nh_of) used += nh != kNoRoute;
  if (lists_.size() > 2 * used + 1024) {
    std::vector<uint32_t> remap(lists_.size(), kNoRoute);
    std::vector<std::vector<Hop>> kept;
    list_index_.clear();
    for (uint32_t id = 0; id < lists_.size(); id++)
      if (nh_of[id] != kNoRoute) {
        remap[id] = uint32_t(kept.size());
        list_index_.emplace(lists_[id], remap[id]);
        kept.push_back(std::move(lists_[id]));
      }
    lists_.swap(kept);
    routes_.remap(remap);
    std::vector<uint32_t> moved(lists_.size(), kNoRoute);
    for (uint32_t id = 0; id < remap.size(); id++)
      if (remap[id] != kNoRoute) moved[remap[id]] = nh_of[id];
    nh_of.swap(moved);
  }
  nh_of_ = std::move(nh_of);
  return s;
}

bool RouteSet::next_hop_of(Snapshot& s, uint32_t id, uint32_t& nh) {
  if (id < nh_of_.size() && nh_of_[id] != kNoRoute) {
    nh = nh_of_[id];
    return true;
  }
  const std::vector<Hop>& list = lists_[id];
  size_t fresh = 0;
  for (const Hop& h : list) fresh += !hop_index_.count(h);
  // Appending within capacity keeps the arrays where workers read them.
  if (s.hops.size() + fresh > s.hops.capacity() || !s.nexthops.has_room(uint32_t(list.size()))) return false;
  std::vector<uint32_t> members;
  for (const Hop& h : list) {
    auto it = hop_index_.find(h);
    if (it == hop_index_.end()) {
      it = hop_index_.emplace(h, uint32_t(s.hops.size())).first;
      s.hops.push_back(h);
    }
    members.push_back(it->second);
  }
  nh = s.nexthops.add(members);
  if (nh_of_.size() <= id) nh_of_.resize(lists_.size(), kNoRoute);
  nh_of_[id] = nh;
  return true;
}

bool RouteSet::region(Snapshot& s, u128 key, unsigned len, std::vector<Route>& out, uint32_t& def) {
  def = 0;
  for (unsigned l = len; l-- > 0;) {
    const uint32_t* id = routes_.find(Prefix{key & prefix_mask(l), l});
    if (!id) continue;
    uint32_t nh;
    if (!next_hop_of(s, *id, nh)) return false;
    def = nh + 1;
    break;
  }
  out.clear();
  const u128 last = key | ~prefix_mask(len);  // the prefix's highest address
  bool ok = true;
  routes_.for_each_from(Prefix{key, 0}, [&](const Prefix& p, uint32_t id) {
    if (p.key > last) return false;
    if (p.len < len) return true;  // covers the prefix (same key, shorter)
    uint32_t nh;
    if (!next_hop_of(s, id, nh)) return ok = false;
    out.push_back(Route{p.key, nh, uint8_t(p.len)});
    return true;
  });
  return ok;
}

bool RouteSet::patch(Snapshot& s) {
  if (changed_all_) return false;
  LpmTable& t = *s.lpm;
  // A small table grown large wants the 16-bit root; many changes at once are a bulk load.
  if ((t.root_bits() == 8 && routes_.size() > kSmallRoutes) || changed_.size() > routes_.size() / 8 + 64) return false;
  std::sort(changed_.begin(), changed_.end());
  changed_.erase(std::unique(changed_.begin(), changed_.end()), changed_.end());
  const LpmTable::RegionFn fn = [this, &s](u128 key, unsigned len, std::vector<Route>& out, uint32_t& def) {
    return region(s, key, len, out, def);
  };
  for (const Prefix& p : changed_)
    if (!t.update(p.key, p.len, fn)) {
      if (spare_div_ > 2) spare_div_ /= 2;  // the spare room ran out: more next time
      return false;
    }
  changed_ = {};
  return true;
}

std::string RouteSet::hops_text(const std::vector<Hop>& hops) const {
  std::string out;
  for (const Hop& h : hops) {
    if (!out.empty()) out += ' ';
    if (hops.size() > 1) out += "nexthop ";
    if (h.has_gw) {
      out += "via ";
      if (width_ == 32) out += format_ipv4(uint32_t(h.gw[0]) << 24 | uint32_t(h.gw[1]) << 16 | uint32_t(h.gw[2]) << 8 | h.gw[3]);
      else out += format_ipv6(h.gw);
      out += ' ';
    }
    out += "dev " + std::to_string(h.port);
  }
  return out;
}

std::string RouteSet::table() const {
  std::string out;  // routes_ is in (key, len) order already
  routes_.for_each([&](const Prefix& k, uint32_t id) {
    out += prefix_text(k.key, k.len) + " " + hops_text(lists_[id]) + "\n";
    return true;
  });
  return out;
}

std::vector<std::pair<size_t, std::string_view>> route_lines(const std::string& text) {
  // No copy: each kept line's body as a view into `text` (a bulk change has a million).
  std::vector<std::pair<size_t, std::string_view>> out;
  size_t n = 0;
  for (size_t pos = 0; pos < text.size();) {
    size_t end = text.find('\n', pos);
    if (end == std::string::npos) end = text.size();
    n++;
    // '#' searched within this line only (not to the end of a text of a million lines).
    const size_t stop = size_t(std::find(text.begin() + long(pos), text.begin() + long(end), '#') - text.begin());
    size_t b = pos;
    while (b < stop && (text[b] == ' ' || text[b] == '\t' || text[b] == '\r')) b++;
    size_t e = stop;
    while (e > b && (text[e - 1] == ' ' || text[e - 1] == '\t' || text[e - 1] == '\r')) e--;
    if (e > b) out.emplace_back(n, std::string_view(text).substr(b, e - b));
    pos = end + 1;
  }
  return out;
}

namespace {
// Reads a file in blocks, inflating gzip (every member, as gunzip does) when asked, and hands
// out whole lines: the file's text is never held in memory at once.
class LineReader {
 public:
  LineReader(const std::string& path, bool gz) : path_(path), gz_(gz) {
    f_ = std::fopen(path.c_str(), "rb");
    if (!f_) throw std::runtime_error("file '" + path + "' cannot be opened");
    if (gz_ && inflateInit2(&z_, 16 + MAX_WBITS) != Z_OK) {
      std::fclose(f_);
      throw std::runtime_error("file '" + path + "': zlib could not start");
    }
  }
  ~LineReader() {
    if (gz_) inflateEnd(&z_);
    std::fclose(f_);
  }
  LineReader(const LineReader&) = delete;
  LineReader& operator=(const LineReader&) = delete;

  // The next line (without its newline); false at the end of the file.
  bool next(std::string& line) {
    for (;;) {
      const size_t nl = text_.find('\n', pos_);
      if (nl != std::string::npos) {
        line.assign(text_, pos_, nl - pos_);
        pos_ = nl + 1;
        return true;
      }
      text_.erase(0, pos_);
      pos_ = 0;
      if (!fill()) {
        if (text_.empty()) return false;
        line.swap(text_);
        text_.clear();
        return true;
      }
    }
  }

 private:
  // Append the next block of text; false at the end.
  bool fill() {
    if (!gz_) {
      const size_t n = std::fread(in_, 1, sizeof in_, f_);
      text_.append(in_, n);
      return n > 0;
    }
    for (;;) {
      if (z_.avail_in == 0 && !eof_) {
        const size_t n = std::fread(in_, 1, sizeof in_, f_);
        if (n == 0) eof_ = true;
        if (first_) {
          first_ = false;
          if (n < 2 || uint8_t(in_[0]) != 0x1f || uint8_t(in_[1]) != 0x8b)
            throw std::runtime_error("file '" + path_ + "': not gzip data (a name ending in .gz is read as gzip)");
        }
        z_.next_in = reinterpret_cast<Bytef*>(in_);
        z_.avail_in = uInt(n);
      }
      if (ended_ && z_.avail_in == 0) return false;  // the last member ended with the file
      if (ended_) {
        inflateReset(&z_);  // another member follows
        ended_ = false;
      }
      if (z_.avail_in == 0 && eof_) throw std::runtime_error("file '" + path_ + "': the gzip data is truncated (it ends before its end marker)");
      char out[1 << 16];
      z_.next_out = reinterpret_cast<Bytef*>(out);
      z_.avail_out = sizeof out;
      const int rc = inflate(&z_, Z_NO_FLUSH);
      const size_t got = sizeof out - z_.avail_out;
      text_.append(out, got);
      if (rc == Z_STREAM_END) ended_ = true;
      else if (rc != Z_OK && !(rc == Z_BUF_ERROR && z_.avail_in == 0))
        throw std::runtime_error("file '" + path_ + "': corrupt gzip data (" + (z_.msg ? std::string(z_.msg) : "error " + std::to_string(rc)) + ")");
      if (got > 0) return true;
    }
  }

  std::string path_;
  bool gz_;
  std::FILE* f_ = nullptr;
  z_stream z_{};
  bool first_ = true, eof_ = false, ended_ = false;
  char in_[1 << 16];
  std::string text_;
  size_t pos_ = 0;
};

// A line without its comment and surrounding blanks ("" if nothing is left).
std::string route_body(const std::string& line) {
  const std::string_view body = strip_comment(line);
  const size_t b = body.find_first_not_of(" \t\r");
  if (b == std::string_view::npos) return {};
  const size_t e = body.find_last_not_of(" \t\r");
  return str(body.substr(b, e - b + 1));
}
}  // namespace

void for_each_route_line(const std::string& path, const std::function<bool(size_t, const std::string&)>& fn) {
  const bool gz = path.size() >= 3 && path.compare(path.size() - 3, 3, ".gz") == 0;
  auto reader = std::make_unique<LineReader>(path, gz);
  std::string line;
  for (size_t n = 1; reader->next(line); n++) {
    const std::string body = route_body(line);
    if (!body.empty() && !fn(n, body)) return;
  }
}

void RouteSet::add_file(const std::string& path) {
  const std::string label = "file '" + path + "' line ";
  u128 key;
  unsigned len;
  std::vector<Hop> hops;
  for_each_route_line(path, [&](size_t n, const std::string& text) {
    try {
      parse(text, key, len, hops);
    } catch (const std::runtime_error& e) {
      throw std::runtime_error(label + std::to_string(n) + " ('" + text + "'): " + e.what());
    }
    const Prefix k{key, len};
    if (routes_.insert(k, intern(hops))) return true;  // sorted input: appended, O(1) a route
    // A prefix given twice: name the earlier line when it is in this file (reading it again).
    std::string earlier = "in 'routes'";
    for_each_route_line(path, [&](size_t m, const std::string& t2) {
      if (m >= n) return false;
      u128 k2;
      unsigned l2;
      std::vector<Hop> h2;
      try {
        parse(t2, k2, l2, h2);
      } catch (const std::runtime_error&) {
        return true;
      }
      if (k2 != key || l2 != len) return true;
      earlier = label + std::to_string(m) + " ('" + t2 + "')";
      return false;
    });
    throw std::runtime_error(label + std::to_string(n) + " ('" + text + "'): prefix " + prefix_text(key, len) + " is also " + earlier);
  });
  changed_all_ = true;  // a bulk load: the next snapshot is built afresh (changed_ not kept)
}

}  // namespace pg::fib
