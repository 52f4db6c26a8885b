// The engine without Node, for the sanitizers: scripts/native-tests.mjs builds this program
// with AddressSanitizer and UndefinedBehaviorSanitizer from the engine's core and the few
// built-in elements test/plugins-sanitized.test.ts's plans use, and builds plugin libraries
// with the same sanitizers, so that test loads, uses and refuses plugins and fuzzes packets
// through them under the sanitizers without instrumenting Node.
// For each plan file in turn (all in one engine, as graphs of one process): load it, run it
// until it drains (Runtime's rule: every source finished, nothing held, no activity for two
// worker rounds), remove it, and print one JSON line: the counters of every element, or the
// error that refused the plan; with the plugin libraries mapped into the process afterwards.
// Usage: plan_runner [--threads N] PLAN.json...
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <set>
#include <sstream>
#include <string>
#include <thread>

#include "engine.h"

using namespace pg;

namespace {

std::string quoted(const std::string& s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') out += '\\', out += char(c);
    else if (c < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      out += buf;
    } else out += char(c);
  }
  return out + "\"";
}

// Libraries mapped into this process that are neither the system's nor the sanitizers' (plugins).
std::string mapped_plugins() {
  std::ifstream maps("/proc/self/maps");
  std::set<std::string> files;
  for (std::string line; std::getline(maps, line);) {
    const size_t at = line.find('/');
    if (at == std::string::npos) continue;
    const std::string f = line.substr(at);
    if ((f.ends_with(".so") || f.ends_with(".node")) && !f.starts_with("/usr/") && !f.starts_with("/lib")) files.insert(f);
  }
  std::string out = "[";
  for (const auto& f : files) out += (out.size() > 1 ? "," : "") + quoted(f);
  return out + "]";
}

// Every element's counters, by name.
std::string counters_of(Graph& g) {
  std::string out = "{";
  for (const auto& e : g.elements()) {
    out += (out.size() > 1 ? "," : "") + quoted(e->name()) + ":{";
    const auto& names = e->counter_names();
    for (size_t i = 0; i < names.size(); i++) out += (i ? "," : "") + quoted(names[i]) + ":" + std::to_string(g.counters()->sum(e->counter_base() + uint32_t(i)));
    out += "}";
  }
  return out + "}";
}

bool drained(Engine& engine, uint32_t id) {
  uint64_t activity = ~0ull, rounds = 0;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  while (std::chrono::steady_clock::now() < deadline) {
    const GraphState s = engine.graph_state(id);
    if (!s.has_sources || !s.sources_finished || s.held != 0) activity = ~0ull;
    else if (s.activity != activity) activity = s.activity, rounds = engine.min_rounds();
    else if (engine.min_rounds() >= rounds + 2) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return false;
}

}  // namespace

int main(int argc, char** argv) {
  EngineOptions opt;
  int first = 1;
  if (argc > 2 && std::strcmp(argv[1], "--threads") == 0) opt.threads = std::atoi(argv[2]), first = 3;
  if (first >= argc) {
    std::cerr << "usage: plan_runner [--threads N] PLAN.json...\n";
    return 2;
  }
  Engine engine(opt);
  engine.start();
  for (int i = first; i < argc; i++) {
    std::ifstream in(argv[i]);
    std::stringstream plan;
    plan << in.rdbuf();
    std::string line = "{\"plan\":" + quoted(argv[i]);
    try {
      const uint32_t id = engine.add_graph(plan.str());
      const bool ok = drained(engine, id);
      line += ",\"drained\":" + std::string(ok ? "true" : "false") + ",\"counters\":" + counters_of(engine.graph(id));
      engine.remove_graph(id);
    } catch (const std::exception& e) {
      line += ",\"error\":" + quoted(e.what());
    }
    std::cout << line << ",\"plugins\":" << mapped_plugins() << "}" << std::endl;
  }
  engine.stop();
  return 0;
}
