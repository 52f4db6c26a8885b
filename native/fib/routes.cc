// Route text, the authoritative route set and snapshot building (see routes.h).
#include "fib/routes.h"

#include <zlib.h>  // Node's own zlib: the node binary exports its symbols, so the addon links with no extra library

#include <algorithm>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace pg::fib {

namespace {
std::vector<std::string> tokens(const std::string& s) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && (s[i] == ' ' || s[i] == '\t' || s[i] == '\r' || s[i] == '\n')) i++;
    const size_t b = i;
    while (i < s.size() && !(s[i] == ' ' || s[i] == '\t' || s[i] == '\r' || s[i] == '\n')) i++;
    if (i > b) out.emplace_back(s, b, i - b);
  }
  return out;
}
bool is_number(const std::string& s) { return !s.empty() && s.size() <= 10 && s.find_first_not_of("0123456789") == std::string::npos; }
std::string strip_comment(const std::string& s) {
  const size_t h = s.find('#');
  return h == std::string::npos ? s : s.substr(0, h);
}
}  // namespace

bool RouteSet::parse_gw(const std::string& s, Hop& h) const {
  if (width_ == 32) {
    uint32_t a;
    if (!parse_ip4(s, a)) return false;
    const uint8_t b[4] = {uint8_t(a >> 24), uint8_t(a >> 16), uint8_t(a >> 8), uint8_t(a)};
    std::memset(h.gw, 0, 16);
    std::memcpy(h.gw, b, 4);
  } else if (!parse_ip6(s, h.gw)) {
    return false;
  }
  h.has_gw = true;
  return true;
}

void RouteSet::parse(const std::string& text, u128& key, unsigned& len, std::vector<Hop>& hops) const {
  const std::vector<std::string> t = tokens(strip_comment(text));
  hops.clear();
  if (t.empty()) throw std::runtime_error("empty route");
  std::string error;
  if (!parse_prefix(t[0], width_, key, len, error)) throw std::runtime_error(error);
  const char* family = width_ == 32 ? "IPv4" : "IPv6";
  auto port = [&](const std::string& s) -> uint32_t {
    if (!is_number(s)) throw std::runtime_error("output '" + s + "' must be a number");
    const uint64_t p = std::stoull(s);
    if (p >= noutputs_)
      throw std::runtime_error("output " + s + " does not exist: the element has " + std::to_string(noutputs_) + " output(s)");
    return uint32_t(p);
  };
  const std::string usage = "expected 'PREFIX OUTPUT', 'PREFIX GATEWAY OUTPUT' or 'PREFIX [via GATEWAY] [dev OUTPUT]'";
  if (t.size() == 1) throw std::runtime_error("no next hop: " + usage);
  if (t.size() == 2 && is_number(t[1])) {
    Hop h;
    h.port = port(t[1]);
    hops.push_back(h);
    return;
  }
  if (t.size() == 3 && t[1] != "via" && t[1] != "dev" && t[1] != "nexthop") {
    Hop h;
    if (!parse_gw(t[1], h)) throw std::runtime_error("gateway '" + t[1] + "' is not an " + family + " address");
    h.port = port(t[2]);
    hops.push_back(h);
    return;
  }
  // Keyword form, optionally multipath.
  size_t i = 1;
  const bool multipath = t[1] == "nexthop";
  while (i < t.size()) {
    if (multipath) {
      if (t[i] != "nexthop") throw std::runtime_error("expected 'nexthop', got '" + t[i] + "'");
      i++;
    }
    Hop h;
    bool via = false, dev = false;
    while (i < t.size() && t[i] != "nexthop") {
      if (t[i] == "via" && !via) {
        if (i + 1 >= t.size()) throw std::runtime_error("'via' needs a gateway address");
        if (!parse_gw(t[i + 1], h)) throw std::runtime_error("gateway '" + t[i + 1] + "' is not an " + family + " address");
        via = true;
      } else if (t[i] == "dev" && !dev) {
        if (i + 1 >= t.size()) throw std::runtime_error("'dev' needs an output number");
        h.port = port(t[i + 1]);
        dev = true;
      } else {
        throw std::runtime_error("unexpected '" + t[i] + "': " + usage);
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

void RouteSet::add_lines(const std::vector<std::pair<std::string, std::string>>& lines, bool replace) {
  // All or nothing. replace: parse everything, then apply (only parsing can fail).
  // Otherwise insert as we go (one hash operation a route) and, on an error, erase what
  // this call inserted (all of it new).
  std::vector<std::pair<Prefix, uint32_t>> parsed;
  std::vector<Prefix> inserted;
  if (replace) parsed.reserve(lines.size());
  else inserted.reserve(lines.size());
  u128 key;
  unsigned len;
  std::vector<Hop> hops;
  auto name = [&](size_t k) { return lines[k].first + " ('" + lines[k].second + "')"; };
  size_t i = 0;
  bool duplicate = false;
  try {
    for (; i < lines.size() && !duplicate; i++) {
      parse(lines[i].second, key, len, hops);
      const Prefix k{key, len};
      const uint32_t id = intern(hops);
      const size_t before = routes_.size();
      if (replace) {
        parsed.emplace_back(k, id);
      } else if (routes_.emplace_hint(routes_.end(), k, id), routes_.size() > before) {  // sorted input: O(1) a route
        inserted.push_back(k);
      } else {
        duplicate = true;
        break;
      }
    }
  } catch (const std::runtime_error& e) {
    for (const Prefix& k : inserted) routes_.erase(k);
    throw std::runtime_error(name(i) + ": " + e.what());
  }
  if (duplicate) {
    for (const Prefix& k : inserted) routes_.erase(k);
    // Name the earlier line if it is in this call.
    for (size_t j = 0; j < i; j++) {
      u128 k2;
      unsigned l2;
      parse(lines[j].second, k2, l2, hops);
      if (k2 == key && l2 == len) throw std::runtime_error(name(i) + ": prefix " + prefix_text(key, len) + " is also " + name(j));
    }
    throw std::runtime_error(name(i) + ": prefix " + prefix_text(key, len) + " is already in the table");
  }
  for (auto& [k, id] : parsed) {
    routes_[k] = id;
    changed_.push_back(k);
  }
  changed_.insert(changed_.end(), inserted.begin(), inserted.end());
}

void RouteSet::remove_prefixes(const std::vector<std::string>& prefixes) {
  std::vector<Prefix> gone;
  std::unordered_map<Prefix, bool, PrefixHash> seen;
  for (const std::string& p : prefixes) {
    u128 key;
    unsigned len;
    std::string error;
    const std::vector<std::string> t = tokens(p);
    if (t.empty()) continue;
    if (!parse_prefix(t[0], width_, key, len, error)) throw std::runtime_error("'" + p + "': " + error);
    const Prefix k{key, len};
    if (!routes_.count(k) || !seen.emplace(k, true).second) throw std::runtime_error("no route for " + prefix_text(key, len));
    gone.push_back(k);
  }
  for (const Prefix& k : gone) routes_.erase(k);
  changed_.insert(changed_.end(), gone.begin(), gone.end());
}

std::unique_ptr<Snapshot> RouteSet::build() {
  auto s = std::make_unique<Snapshot>();
  std::map<Hop, uint32_t>& hop_index = hop_index_;
  hop_index.clear();
  std::vector<uint32_t> nh_of(lists_.size(), kNoRoute);  // hop list id -> next-hop index
  std::vector<Route> routes;
  routes.reserve(routes_.size());
  std::vector<uint32_t> members;
  for (const auto& [k, id] : routes_) {
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
  }
  s->lpm = LpmTable::build(std::move(routes), width_, spare_div_);
  s->nexthops.reserve_spare(s->nexthops.size() / spare_div_ + 4);
  s->hops.reserve(s->hops.size() + s->hops.size() / spare_div_ + 4);
  changed_.clear();
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
    for (auto& [k, id] : routes_) id = remap[id];
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
    auto it = routes_.find(Prefix{key & prefix_mask(l), l});
    if (it == routes_.end()) continue;
    uint32_t nh;
    if (!next_hop_of(s, it->second, nh)) return false;
    def = nh + 1;
    break;
  }
  out.clear();
  const u128 last = key | ~prefix_mask(len);  // the prefix's highest address
  for (auto it = routes_.lower_bound(Prefix{key, 0}); it != routes_.end() && it->first.key <= last; ++it) {
    if (it->first.len < len) continue;  // covers the prefix (same key, shorter)
    uint32_t nh;
    if (!next_hop_of(s, it->second, nh)) return false;
    out.push_back(Route{it->first.key, nh, uint8_t(it->first.len)});
  }
  return true;
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
  changed_.clear();
  return true;
}

std::string RouteSet::hops_text(const std::vector<Hop>& hops) const {
  std::string out;
  for (const Hop& h : hops) {
    if (!out.empty()) out += ' ';
    if (hops.size() > 1) out += "nexthop ";
    if (h.has_gw) {
      out += "via ";
      if (width_ == 32) out += format_ip4(uint32_t(h.gw[0]) << 24 | uint32_t(h.gw[1]) << 16 | uint32_t(h.gw[2]) << 8 | h.gw[3]);
      else out += format_ip6(h.gw);
      out += ' ';
    }
    out += "dev " + std::to_string(h.port);
  }
  return out;
}

std::string RouteSet::table() const {
  std::string out;  // routes_ is in (key, len) order already
  for (const auto& [k, id] : routes_) out += prefix_text(k.key, k.len) + " " + hops_text(lists_[id]) + "\n";
  return out;
}

std::vector<std::pair<size_t, std::string>> route_lines(const std::string& text) {
  std::vector<std::pair<size_t, std::string>> out;
  std::istringstream in(text);
  std::string line;
  size_t n = 0;
  while (std::getline(in, line)) {
    n++;
    const std::string body = strip_comment(line);
    if (body.find_first_not_of(" \t\r") == std::string::npos) continue;
    const size_t b = body.find_first_not_of(" \t"), e = body.find_last_not_of(" \t\r");
    out.emplace_back(n, body.substr(b, e - b + 1));
  }
  return out;
}

namespace {
// The decompressed contents of a gzip file (every member, as gunzip does).
std::string gunzip(const std::string& path, const std::string& data) {
  if (data.size() < 2 || uint8_t(data[0]) != 0x1f || uint8_t(data[1]) != 0x8b)
    throw std::runtime_error("file '" + path + "': not gzip data (a name ending in .gz is read as gzip)");
  z_stream z{};
  if (inflateInit2(&z, 16 + MAX_WBITS) != Z_OK) throw std::runtime_error("file '" + path + "': zlib could not start");
  std::string out;
  char buf[1 << 16];
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  z.avail_in = uInt(data.size());
  for (;;) {
    z.next_out = reinterpret_cast<Bytef*>(buf);
    z.avail_out = sizeof buf;
    const int rc = inflate(&z, Z_NO_FLUSH);
    out.append(buf, sizeof buf - z.avail_out);
    if (rc == Z_STREAM_END) {
      if (z.avail_in == 0) break;
      inflateReset(&z);  // another member follows
      continue;
    }
    if (rc == Z_OK) continue;
    if (rc == Z_BUF_ERROR && z.avail_in == 0) {
      inflateEnd(&z);
      throw std::runtime_error("file '" + path + "': the gzip data is truncated (it ends before its end marker)");
    }
    const std::string why = z.msg ? z.msg : "error " + std::to_string(rc);
    inflateEnd(&z);
    throw std::runtime_error("file '" + path + "': corrupt gzip data (" + why + ")");
  }
  inflateEnd(&z);
  return out;
}
}  // namespace

std::string read_routes_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw std::runtime_error("file '" + path + "' cannot be opened");
  std::ostringstream ss;
  ss << f.rdbuf();
  if (path.size() >= 3 && path.compare(path.size() - 3, 3, ".gz") == 0) return gunzip(path, ss.str());
  return ss.str();
}

}  // namespace pg::fib
