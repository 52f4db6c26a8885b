// What IPLookup and LookupIP6Route share: configuration from `routes` and `file`, the
// route-editing handlers, and publication of new snapshots to the packet path.
// Each element supplies its address width and its batch loop.
#pragma once
#include <malloc.h>

#include <mutex>

#include "element.h"
#include "fib/routes.h"
#include "graph.h"

namespace pg::fib {

class RouteLookupElement : public Element {
 public:
  void configure(const Config& conf) override {
    routes_ = std::make_unique<RouteSet>(width(), uint32_t(noutputs()));
    // A restored element's saved table replaces its configured routes (the file may not exist here).
    if (!restoring()) add_typed_routes(conf.value("compiledRoutes"));  // `routes`, parsed by the compiler
    const std::string file = restoring() ? "" : conf.string("file");
    try {
      if (!file.empty()) routes_->add_file(file);  // streamed: the file's text is never whole in memory
      retire(pub_.replace(routes_->build()));
      trim_after(routes_->size());
    } catch (const std::runtime_error& e) {
      throw ConfigError(e.what());
    }
    c_no_route_ = counter("drops_no_route");
    c_short_ = counter("drops_short");
    graph()->add_warm_lines(&warm_);
  }

  // Hot reconfiguration: the old element's table carries over whole, with every change its
  // handlers made since it loaded; this element's configured routes give way to it (change
  // routes on a running graph with the add, remove and set handlers). Refused when a route
  // sends to an output this element does not have.
  void prepare_take(const Element& old) override {
    const int64_t top = static_cast<const RouteLookupElement&>(old).routes_->highest_output();
    if (top >= noutputs())
      throw ConfigError("a route of the running element sends to output " + std::to_string(top) + " but this one has " +
                        std::to_string(noutputs()) + " output(s); remove those routes first (the remove handler) or keep the outputs");
  }
  void take_state(Element& old) override {
    auto& o = static_cast<RouteLookupElement&>(old);
    std::swap(routes_, o.routes_);
    routes_->set_outputs(uint32_t(noutputs()));
    pub_.swap(o.pub_);
    max_routes_ = o.max_routes_;
  }

  // vr.save / vr.restore: the whole table (RouteSet::save), as of one instant (the handlers' lock).
  void save_state(StateWriter& out) override {
    std::lock_guard<std::mutex> lock(mu_);
    routes_->save(out);
  }
  void restore_state(StateReader& in) override {
    auto fresh = std::make_unique<RouteSet>(width(), uint32_t(noutputs()));
    fresh->restore(in);
    routes_ = std::move(fresh);
    retire(pub_.replace(routes_->build()));
    trim_after(routes_->size());
  }

  void add_handlers(std::vector<Handler>& hs) override {
    auto writer = [this](const char* name, auto fn) {
      Handler h;
      h.name = name;
      h.write = [this, fn](const std::string& v) {
        std::lock_guard<std::mutex> lock(mu_);
        try {
          fn(v);
        } catch (const std::runtime_error& e) {
          throw HandlerError(e.what());
        }
      };
      return h;
    };
    auto reader = [this](const char* name, auto fn) {
      Handler h;
      h.name = name;
      h.read = [this, fn]() {
        std::lock_guard<std::mutex> lock(mu_);
        return fn();
      };
      return h;
    };
    // add and replace: a route for an existing prefix replaces it; insert: new prefixes only.
    for (const char* name : {"add", "replace", "insert"}) {
      const bool replace = name[0] != 'i';
      hs.push_back(writer(name, [this, replace](const std::string& v) {
        routes_->add_text(v, replace, max_routes_);
        commit();
      }));
    }
    hs.push_back(writer("remove", [this](const std::string& v) {
      std::vector<std::string> prefixes;
      for (auto& [n, text] : route_lines(v)) prefixes.emplace_back(text);
      routes_->remove_prefixes(prefixes);
      commit();
    }));
    hs.push_back(writer("set", [this](const std::string& v) {
      RouteSet fresh(width(), uint32_t(noutputs()));
      fresh.add_text(v, false);
      set_table(std::move(fresh));
    }));
    // "MODE PATH": the file's routes (read here, plain or gzip) inserted, replacing, or as the whole table.
    hs.push_back(writer("load", [this](const std::string& v) {
      const size_t sp = v.find(' ');
      const std::string mode = v.substr(0, sp);
      std::string path = sp == std::string::npos ? "" : v.substr(sp + 1);
      while (!path.empty() && (path.back() == '\n' || path.back() == '\r')) path.pop_back();
      if ((mode != "insert" && mode != "replace" && mode != "set") || path.empty())
        throw std::runtime_error("load: write 'insert PATH', 'replace PATH' or 'set PATH', got '" + v + "'");
      if (mode == "set") {
        RouteSet fresh(width(), uint32_t(noutputs()));
        fresh.add_file(path);  // an error leaves `fresh` part-filled, and it is dropped
        set_table(std::move(fresh));
        return;
      }
      routes_->add_file_all_or_nothing(path, mode == "replace", max_routes_);
      commit();
    }));
    Handler limit;
    limit.name = "max_routes";
    limit.read = [this]() { return max_routes_ == SIZE_MAX ? std::string("none") : std::to_string(max_routes_); };
    limit.write = [this](const std::string& v) {
      std::lock_guard<std::mutex> lock(mu_);
      if (v == "none" || v == "none\n") {
        max_routes_ = SIZE_MAX;
        return;
      }
      char* end = nullptr;
      const unsigned long long n = std::strtoull(v.c_str(), &end, 10);
      if (v.empty() || v[0] < '0' || v[0] > '9' || (*end && *end != '\n')) throw HandlerError("max_routes: write a number of routes, or 'none' for no limit, got '" + v + "'");
      if (routes_->size() > n)
        throw HandlerError("max_routes: the table holds " + std::to_string(routes_->size()) + " routes, more than " + std::to_string(n) + "; remove routes first");
      max_routes_ = size_t(n);
    };
    hs.push_back(limit);
    hs.push_back(writer("lookup", [this](const std::string& v) { last_lookup_ = lookup_text(v); }));
    hs.push_back(reader("lookup_result", [this]() { return last_lookup_; }));
    hs.push_back(reader("table", [this]() { return routes_->table(); }));
    hs.push_back(reader("count", [this]() { return std::to_string(routes_->size()); }));
    hs.push_back(reader("memory", [this]() { return std::to_string(pub_.get()->memory()); }));
  }

 protected:
  virtual unsigned width() const = 0;

  // The plan's typed routes (each [ADDR, LEN, GW, OUTPUT, GW, OUTPUT, ...], docs/plan.md),
  // checked as route text is: the length, no host bits, outputs that exist, no prefix twice.
  void add_typed_routes(const json::Value& arr) {
    if (!arr.is_array()) throw ConfigError("config field 'compiledRoutes' must be an array of routes, got " + arr.dump());
    std::vector<Hop> hops;
    for (size_t i = 0; i < arr.as_array().size(); i++) {
      const json::Value& r = arr.as_array()[i];
      const std::string what = "config field 'compiledRoutes." + std::to_string(i);
      const size_t n = r.is_array() ? r.as_array().size() : 0;
      const json::Value* l = n ? &r.as_array()[1] : nullptr;
      if (n < 4 || n % 2 || n > 2 + 2 * 1024 || !l->is_number() || l->as_number() != double(unsigned(l->as_number())) || l->as_number() > width())
        throw ConfigError(what + "' must be [ADDRESS, LEN (0 to " + std::to_string(width()) + "), GATEWAY or null, OUTPUT, ...] (1 to 1024 next hops), got " + r.dump());
      const unsigned len = unsigned(l->as_number());
      const u128 key = typed_key(r.as_array()[0], what + ".0'");
      if (key & ~prefix_mask(len))
        throw ConfigError(what + "': " + routes_->prefix_text(key, len) + " has bits set beyond its length");
      hops.clear();
      for (size_t h = 2; h < n; h += 2) {
        const json::Value& gw = r.as_array()[h];
        const json::Value& out = r.as_array()[h + 1];
        const std::string hw = what + "." + std::to_string(h + 1) + "'";
        if (!out.is_number() || out.as_number() != double(uint32_t(out.as_number())))
          throw ConfigError(hw + " must be an output number, got " + out.dump());
        Hop hop;
        hop.port = uint32_t(out.as_number());
        if (hop.port >= uint32_t(noutputs()))
          throw ConfigError(hw + ": output " + std::to_string(hop.port) + " does not exist: the element has " + std::to_string(noutputs()) + " output(s)");
        if (!gw.is_null()) {
          const u128 g = typed_key(gw, what + "." + std::to_string(h) + "'");
          for (int b = 0; b < 16; b++) hop.gw[b] = uint8_t(g >> (120 - 8 * b));
          hop.has_gw = true;
        }
        hops.push_back(hop);
      }
      if (!routes_->insert(key, len, hops)) throw ConfigError(what + "': prefix " + routes_->prefix_text(key, len) + " is given twice");
    }
  }
  // A typed address of the element's family as an LPM key.
  u128 typed_key(const json::Value& v, const std::string& what) const {
    if (width() == 32) return key4(ntohl(typed_ipv4(v, what)));
    uint8_t b[16];
    typed_ipv6(v, what, b);
    return key6(b);
  }

  // The published snapshot's answer for an address, as route text without the prefix.
  std::string lookup_text(const std::string& addr_text) {
    std::string a = addr_text;
    while (!a.empty() && (a.back() == '\n' || a.back() == ' ' || a.back() == '\r')) a.pop_back();
    while (!a.empty() && a.front() == ' ') a.erase(a.begin());
    const Snapshot* s = pub_.get();
    uint32_t nh;
    if (width() == 32) {
      uint32_t x;
      if (!parse_ipv4(a, x)) throw std::runtime_error("'" + a + "' is not an IPv4 address");
      nh = s->lpm->lookup(x);
    } else {
      uint8_t b[16];
      if (!parse_ipv6(a, b)) throw std::runtime_error("'" + a + "' is not an IPv6 address");
      nh = s->lpm->lookup6(b);
    }
    if (nh == kNoRoute) return "no route";
    uint32_t n;
    const uint32_t* m = s->nexthops.members(nh, n);
    std::vector<Hop> hops;
    for (uint32_t i = 0; i < n; i++) hops.push_back(s->hops[m[i]]);
    return routes_->hops_text(hops);
  }

  Publisher<Snapshot> pub_;
  uint32_t c_no_route_ = 0, c_short_ = 0;
  // What the last batch read of the table (the snapshot, its table's header and the first
  // packet's walk), for the worker to prefetch before the next (state_arena.h).
  WarmLines warm_;

 private:
  // After loading a table, hand the parsing's freed heap back to the system (a full table: tens
  // of MB): after a large one always; after small ones at most every kTrimEveryNs, since
  // malloc_trim walks the whole heap (milliseconds once a thousand routers' state is in it),
  // yet never trimming let a thousand creates leave some 170 MB more resident.
  static void trim_after(size_t routes) {
    static std::atomic<uint64_t> last{0};
    const uint64_t now = monotonic_ns();
    if (routes < kTrimRoutes && now - last.load(std::memory_order_relaxed) < kTrimEveryNs) return;
    last.store(now, std::memory_order_relaxed);
    malloc_trim(0);
  }
  static constexpr size_t kTrimRoutes = 100000;
  static constexpr uint64_t kTrimEveryNs = 100'000'000;

  // After a change to the route set: patch the published snapshot in place (microseconds), or,
  // when it cannot be patched, build a new one and publish it. A replaced snapshot is retired
  // (freed by the engine once the workers have moved past it), so no write waits for their round.
  // A change of several prefixes is patched into a private copy of the snapshot (a memory copy,
  // milliseconds for a full table) and published whole, so workers see all of it at one instant,
  // never a part; one prefix is patched in place (each lookup sees it before or after).
  void commit() {
    const size_t n = routes_->pending();
    if (n <= 1) {
      if (routes_->patch(*pub_.writable())) return;
    } else if (n != SIZE_MAX) {
      auto next = pub_.get()->copy();
      if (routes_->patch(*next)) {
        retire(pub_.replace(std::move(next)));
        return;
      }
    }
    retire(pub_.replace(routes_->build()));
  }
  // Replace the whole table (set, load set), within the limit; nothing changes on a refusal.
  void set_table(RouteSet&& fresh) {
    if (fresh.size() > max_routes_) throw std::runtime_error(over_limit(fresh.size(), max_routes_));
    *routes_ = std::move(fresh);
    retire(pub_.replace(routes_->build()));
  }

  std::unique_ptr<RouteSet> routes_;
  std::mutex mu_;  // control thread only: handlers
  size_t max_routes_ = SIZE_MAX;  // the most routes the table may hold (SIZE_MAX: no limit): a virtual router's routes quota
  std::string last_lookup_ = "no lookup yet";
};

}  // namespace pg::fib
