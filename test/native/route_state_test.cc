// Unit test of a route set saved and restored whole (native/fib/state.cc, vr.save and
// vr.restore): random IPv4 and IPv6 tables with gateways and ECMP round-trip to the same
// table text and the same lookups; an image cut at every length, and images with random bytes
// changed, are refused with a StateError or restore a valid table, never a crash (the
// sanitized build checks every read); a route to an output the restoring set lacks, a wrong
// address width and routes out of order are refused.
// Usage: route_state_test [SEED]
#include "fib/routes.h"

#include <random>
#include <string>
#include <vector>

#include "check.h"

using namespace pg;
using namespace pg::fib;

namespace {

std::string v4(uint32_t a) {
  return std::to_string(a >> 24) + "." + std::to_string((a >> 16) & 255) + "." + std::to_string((a >> 8) & 255) + "." + std::to_string(a & 255);
}

// Random routes: prefixes of random lengths with host bits cleared, some with gateways, some ECMP.
std::vector<std::pair<std::string, std::string>> random_routes(unsigned width, size_t n, std::mt19937_64& rng) {
  std::vector<std::pair<std::string, std::string>> out;
  for (size_t i = 0; i < n; i++) {
    const unsigned len = unsigned(rng() % (width + 1));
    std::string prefix, gw;
    if (width == 32) {
      uint32_t a = uint32_t(rng());
      a = len ? a & (~uint32_t(0) << (32 - len)) : 0;
      prefix = v4(a) + "/" + std::to_string(len);
      gw = v4(0xc6120000u | uint32_t(rng() % 65536));
    } else {
      char b[64];
      const uint64_t hi = rng();
      const uint64_t masked = len >= 64 ? hi : len ? hi & (~uint64_t(0) << (64 - len)) : 0;
      uint64_t lo = len > 64 ? rng() & (~uint64_t(0) << (128 - len)) : 0;
      if (len == 128) lo = rng();
      std::snprintf(b, sizeof b, "%x:%x:%x:%x:%x:%x:%x:%x", unsigned(masked >> 48), unsigned(masked >> 32) & 0xffff, unsigned(masked >> 16) & 0xffff,
                    unsigned(masked) & 0xffff, unsigned(lo >> 48), unsigned(lo >> 32) & 0xffff, unsigned(lo >> 16) & 0xffff, unsigned(lo) & 0xffff);
      prefix = std::string(b) + "/" + std::to_string(len);
      gw = "fd00::" + std::to_string(1 + rng() % 9000);
    }
    const int kind = int(rng() % 3);
    std::string text = prefix;
    if (kind == 0) text += " dev " + std::to_string(rng() % 4);
    else if (kind == 1) text += " via " + gw + " dev " + std::to_string(rng() % 4);
    else text += " nexthop via " + gw + " dev 1 nexthop dev " + std::to_string(rng() % 4);
    out.emplace_back("route " + std::to_string(i), text);
  }
  return out;
}

// A set with the routes, their prefixes made unique (the last of a prefix wins).
RouteSet make(unsigned width, size_t n, std::mt19937_64& rng) {
  RouteSet s(width, 4);
  s.add_lines(random_routes(width, n, rng), true);
  return s;
}

std::string save(const RouteSet& s) {
  StateWriter w;
  s.save(w);
  return w.data();
}

// Restores `image` into a fresh set; "" when it succeeded, else the StateError's message.
std::string restore(const std::string& image, unsigned width, uint32_t outputs, RouteSet* into = nullptr) {
  RouteSet fresh(width, outputs);
  RouteSet& s = into ? *into : fresh;
  StateReader r(reinterpret_cast<const uint8_t*>(image.data()), image.size());
  try {
    s.restore(r);
    s.build();  // a restored set must make a valid snapshot
    return r.left() ? "bytes left over" : "";
  } catch (const StateError& e) {
    return e.what();
  }
}

void round_trip(unsigned width, size_t n, std::mt19937_64& rng) {
  const long before = unit::failures;
  RouteSet s = make(width, n, rng);
  const std::string image = save(s);
  RouteSet back(width, 4);
  CHECK(restore(image, width, 4, &back).empty(), "the saved table restores");
  CHECK(back.table() == s.table(), "the same table text");
  CHECK(back.size() == s.size(), std::to_string(back.size()) + " routes, saved " + std::to_string(s.size()));
  auto a = s.build(), b = back.build();
  for (int i = 0; i < 20000; i++) {
    uint8_t addr[16];
    for (auto& x : addr) x = uint8_t(rng());
    uint32_t x4;
    std::memcpy(&x4, addr, 4);
    const uint32_t na = width == 32 ? a->lpm->lookup(x4) : a->lpm->lookup6(addr);
    const uint32_t nb = width == 32 ? b->lpm->lookup(x4) : b->lpm->lookup6(addr);
    uint32_t ca = 0, cb = 0;
    const bool same = (na == kNoRoute) == (nb == kNoRoute);
    if (!CHECK(same, "the same lookup answer")) break;
    if (na == kNoRoute) continue;
    const uint32_t* ma = a->nexthops.members(na, ca);
    const uint32_t* mb = b->nexthops.members(nb, cb);
    bool eq = ca == cb;
    for (uint32_t k = 0; eq && k < ca; k++) eq = a->hops[ma[k]] == b->hops[mb[k]];
    if (!CHECK(eq, "the same next hops")) break;
  }
  CHECK(restore(image, width == 32 ? 128 : 32, 4).find("-bit addresses") != std::string::npos, "another address width is refused");
  if (n) CHECK(restore(image, width, 2).find("output") != std::string::npos, "an output the set lacks is refused");
  unit::section(std::string("IPv") + (width == 32 ? "4" : "6") + " table of " + std::to_string(n) + " routes round-trips", before);
}

void damaged(unsigned width, std::mt19937_64& rng) {
  const long before = unit::failures;
  RouteSet s = make(width, 60, rng);
  const std::string image = save(s);
  for (size_t len = 0; len < image.size(); len++)
    if (!CHECK(!restore(image.substr(0, len), width, 4).empty(), "an image cut at " + std::to_string(len) + " bytes is refused")) break;
  size_t refused = 0;
  for (int i = 0; i < 3000; i++) {
    std::string bad = image;
    for (int k = 0; k < 1 + int(rng() % 4); k++) bad[rng() % bad.size()] = char(rng());
    refused += !restore(bad, width, 4).empty();  // refused, or a valid table: never a crash
  }
  CHECK(refused > 0, "some damaged images are refused");
  // Routes out of order: swap the first two keys of a table of two /8s.
  RouteSet two(width, 4);
  two.add_lines({{"a", width == 32 ? "10.0.0.0/8 dev 0" : "fd00::/8 dev 0"}, {"b", width == 32 ? "11.0.0.0/8 dev 0" : "fe00::/8 dev 0"}}, false);
  std::string img = save(two);
  const size_t kb = width / 8, keys = img.size() - 2 * (kb + 5);
  std::swap_ranges(img.begin() + long(keys), img.begin() + long(keys + kb), img.begin() + long(keys + kb));
  CHECK(restore(img, width, 4).find("out of prefix order") != std::string::npos, "routes out of order are refused: " + restore(img, width, 4));
  unit::section(std::string("damaged IPv") + (width == 32 ? "4" : "6") + " images are refused, never read past their end", before);
}

// A bulk replace (one merge pass) against the table's limit: refused with nothing changed when
// the routes it makes are over the limit, applied when they fit; prefixes already there count once.
void bulk_replace_limit() {
  const long before = unit::failures;
  RouteSet s(32, 4);
  std::vector<std::pair<std::string, std::string>> first, second;
  for (uint32_t i = 0; i < 2000; i++) first.emplace_back("route " + std::to_string(i), v4(0x0a000000u | i << 8) + "/24 dev 0");
  // 1500 of the same prefixes (another output) and 1500 new ones: 3500 routes in all.
  for (uint32_t i = 500; i < 3500; i++) second.emplace_back("route " + std::to_string(i), v4(0x0a000000u | i << 8) + "/24 dev 1");
  s.add_lines(first, false);
  const std::string table = s.table();
  std::string error;
  try {
    s.add_lines(second, true, 3499);
  } catch (const std::runtime_error& e) {
    error = e.what();
  }
  CHECK(error.find("would make 3500 routes, more than the table's limit of 3499") != std::string::npos, "over the limit: refused, naming the count: " + error);
  CHECK(s.table() == table && s.size() == 2000, "nothing changed");
  s.add_lines(second, true, 3500);
  CHECK(s.size() == 3500, "at the limit: applied, " + std::to_string(s.size()) + " routes");
  CHECK(s.table().find("10.0.1.0/24 dev 0") != std::string::npos && s.table().find("10.2.88.0/24 dev 1") != std::string::npos, "old routes kept, replaced ones changed");
  unit::section("a bulk replace over the table's limit is refused, nothing changed", before);
}

}  // namespace

int main(int argc, char** argv) {
  std::mt19937_64 rng(unit::seed(argc, argv, 20261202));
  round_trip(32, 0, rng);
  round_trip(32, 5000, rng);
  round_trip(128, 3000, rng);
  damaged(32, rng);
  damaged(128, rng);
  bulk_replace_limit();
  return unit::finish("route_state");
}
