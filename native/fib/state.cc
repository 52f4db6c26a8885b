// A route set saved and restored whole (vr.save, vr.restore, vr.clone): the format is in
// docs/router-file.md ("IPLookup, LookupIP6Route"). A full IPv4 table is 9 bytes a route
// before compression; restoring it appends the routes in order, with no text to parse.
#include "fib/routes.h"

namespace pg::fib {

namespace {
constexpr uint8_t kFormat = 1;
constexpr uint32_t kMaxHops = 1024;  // next hops a route (as the plan's routes)
}  // namespace

void RouteSet::save(StateWriter& out) const {
  const unsigned kb = width_ / 8;
  out.u8(kFormat);
  out.u8(uint8_t(width_));
  out.u64(lists_.size());
  for (const auto& l : lists_) {
    out.u32(uint32_t(l.size()));
    for (const Hop& h : l) {
      out.u32(h.port);
      out.u8(h.has_gw);
      out.raw(h.gw, kb);
    }
  }
  const size_t n = routes_.size();
  out.u64(n);
  out.reserve(n * (kb + 5));
  routes_.for_each([&](const Prefix& p, uint32_t) {
    uint8_t b[16];
    for (unsigned i = 0; i < kb; i++) b[i] = uint8_t(p.key >> (120 - 8 * i));
    out.raw(b, kb);
    return true;
  });
  routes_.for_each([&](const Prefix& p, uint32_t) {
    out.u8(uint8_t(p.len));
    return true;
  });
  routes_.for_each([&](const Prefix&, uint32_t id) {
    out.u32(id);
    return true;
  });
}

void RouteSet::restore(StateReader& in) {
  if (routes_.size()) throw StateError("a route set is restored only into an empty one");
  const unsigned kb = width_ / 8;
  const uint8_t format = in.u8("the route table's format");
  if (format != kFormat) throw StateError("the route table is in format " + std::to_string(format) + "; this engine reads format " + std::to_string(kFormat));
  const uint8_t width = in.u8("the route table's address width");
  if (width != width_) throw StateError("the route table holds " + std::to_string(width) + "-bit addresses; this element routes " + std::to_string(width_) + "-bit ones");
  const size_t nlists = in.count("the hop list count", 4);
  std::vector<uint32_t> id_of(nlists);
  std::vector<Hop> hops;
  for (size_t i = 0; i < nlists; i++) {
    const uint32_t n = in.u32("a hop list's length");
    if (n < 1 || n > kMaxHops) throw StateError("a hop list has " + std::to_string(n) + " next hops (1 to 1024)");
    hops.assign(n, Hop{});
    for (Hop& h : hops) {
      h.port = in.u32("a next hop's output");
      if (h.port >= noutputs_)
        throw StateError("a route sends to output " + std::to_string(h.port) + " but the element has " + std::to_string(noutputs_) + " output(s)");
      const uint8_t g = in.u8("a next hop's gateway flag");
      if (g > 1) throw StateError("a next hop's gateway flag is " + std::to_string(g));
      h.has_gw = g;
      std::memcpy(h.gw, in.take(kb, "a next hop's gateway"), kb);
    }
    id_of[i] = intern(hops);
  }
  const size_t n = in.count("the route count", kb + 5);
  const uint8_t* keys = in.take(n * kb, "the route keys");
  const uint8_t* lens = in.take(n, "the prefix lengths");
  const uint8_t* ids = in.take(n * 4, "the routes' hop lists");
  Prefix prev{0, 0};
  for (size_t i = 0; i < n; i++) {
    u128 key = 0;
    for (unsigned b = 0; b < kb; b++) key |= u128(keys[i * kb + b]) << (120 - 8 * b);
    const unsigned len = lens[i];
    uint32_t id;
    std::memcpy(&id, ids + 4 * i, 4);
    if (len > width_) throw StateError("route " + std::to_string(i) + " has prefix length " + std::to_string(len));
    if (key & ~prefix_mask(len)) throw StateError("route " + std::to_string(i) + " (" + prefix_text(key, len) + ") has bits set beyond its length");
    if (id >= nlists) throw StateError("route " + std::to_string(i) + " names hop list " + std::to_string(id) + " of " + std::to_string(nlists));
    const Prefix p{key, len};
    if (i && !(prev < p)) throw StateError("route " + std::to_string(i) + " (" + prefix_text(key, len) + ") is out of prefix order");
    routes_.insert(p, id_of[id]);  // in order: appended
    prev = p;
  }
  changed_.clear();
  changed_all_ = true;
}

}  // namespace pg::fib
