#include "graph.h"
#include "script.h"
#include "plugin.h"

#include <algorithm>
#include <cstring>
#include <map>
#include <set>
#include <unordered_map>

#include "profile.h"

namespace pg {

namespace {

std::string elem_desc(const std::string& name, const std::string& cls) {
  return "element '" + name + "' (" + cls + ")";
}

// Parse Click's port-count notation for one side ("1", "-", "1-2", "0-", "2-"): [min, max].
bool parse_count_range(const std::string& s, int& lo, int& hi) {
  if (s == "-") {
    lo = 0;
    hi = 1 << 20;
    return true;
  }
  auto dash = s.find('-');
  try {
    if (dash == std::string::npos) {
      lo = hi = std::stoi(s);
    } else {
      lo = std::stoi(s.substr(0, dash));
      hi = dash + 1 < s.size() ? std::stoi(s.substr(dash + 1)) : (1 << 20);
    }
  } catch (...) {
    return false;
  }
  return true;
}

// The processing letter for one port from a code like "hl" (last letter repeats).
char processing_letter(const std::string& side, int port) {
  if (side.empty()) return 'a';
  return side[size_t(port) < side.size() ? size_t(port) : side.size() - 1];
}

void split_code(const std::string& c, std::string& in, std::string& out) {
  auto slash = c.find('/');
  if (slash == std::string::npos) {
    in = out = c;
  } else {
    in = c.substr(0, slash);
    out = c.substr(slash + 1);
  }
}

const json::Value& member(const json::Value& obj, const char* key, const std::string& where) {
  const json::Value* v = obj.find(key);
  if (!v) throw PlanError(where + ": '" + key + "' is missing");
  return *v;
}

// One field's facts (docs/plan.md, classes.C.fields), an array's items recursively.
FieldSpec parse_field_spec(const json::Value& fj, const std::string& fw) {
  if (!fj.is_object()) throw PlanError(fw + " must be an object");
  FieldSpec spec;
  auto bound = [&](const char* k, double& to, bool* exclusive) {
    const json::Value* v = fj.find(k);
    if (!v) return;
    if (!v->is_number()) throw PlanError(fw + "." + k + " must be a number, got " + v->dump());
    to = v->as_number();
    if (exclusive) *exclusive = true;
  };
  bound("minimum", spec.minimum, nullptr);
  bound("maximum", spec.maximum, nullptr);
  bound("exclusiveMinimum", spec.minimum, &spec.exclusive_min);
  bound("exclusiveMaximum", spec.maximum, &spec.exclusive_max);
  bound("minItems", spec.min_items, nullptr);
  bound("maxItems", spec.max_items, nullptr);
  if (const json::Value* vals = fj.find("values")) {
    if (!vals->is_array()) throw PlanError(fw + ".values must be an array of strings");
    for (const json::Value& v : vals->as_array()) {
      if (!v.is_string()) throw PlanError(fw + ".values must be an array of strings, got " + v.dump());
      spec.values.push_back(v.as_string());
    }
  }
  if (const json::Value* k = fj.find("kind"); k && !k->is_null()) {
    static const char* const kinds[] = {"ipv4", "ipv6", "ip", "mac", "ipv4prefix"};
    if (!k->is_string() || std::find(std::begin(kinds), std::end(kinds), k->as_string()) == std::end(kinds))
      throw PlanError(fw + ".kind must be \"ipv4\", \"ipv6\", \"ip\", \"mac\" or \"ipv4prefix\", got " + k->dump());
    spec.kind = k->as_string();
  }
  if (const json::Value* items = fj.find("items")) spec.items = std::make_shared<const FieldSpec>(parse_field_spec(*items, fw + ".items"));
  if (const json::Value* t = fj.find("type")) {
    for (const json::Value& x : t->is_array() ? t->as_array() : std::vector<json::Value>{*t}) {
      if (!x.is_string()) throw PlanError(fw + ".type must be a string or an array of strings, got " + t->dump());
      spec.types.push_back(x.as_string());
    }
  }
  if (const json::Value* props = fj.find("properties")) {
    if (!props->is_object()) throw PlanError(fw + ".properties must be an object");
    for (const auto& [k, pj] : props->as_object()) spec.properties[k] = std::make_shared<const FieldSpec>(parse_field_spec(pj, fw + ".properties." + k));
  }
  return spec;
}

int port_number(const json::Value& v, const std::string& where) {
  if (!v.is_number() || v.as_number() < 0 || v.as_number() > 65535 || v.as_number() != double(int(v.as_number())))
    throw PlanError(where + " must be a port number from 0 to 65535, got " + v.dump());
  return int(v.as_number());
}

}  // namespace

Graph::Graph(const std::string& plan_json, PacketPool& pool, int workers, int& next_worker, const Graph* predecessor,
             const std::string* image, bool counters)
    : predecessor_(predecessor), restore_counters_(counters), workers_(workers) {
  if (image) read_image(*image);
  json::Value plan;
  try {
    plan = json::Value::parse(plan_json);
  } catch (const json::ParseError& e) {
    throw PlanError(std::string("plan is not valid JSON: ") + e.what());
  }
  ArenaScope scope(arena_.get());  // what the elements allocate while they load is the graph's
  load(plan, pool, workers, next_worker);
}

Graph::~Graph() {
  for (auto& e : elements_) e->cleanup();
}

// Loading, phase by phase; each phase throws PlanError naming what it refuses.
void Graph::load(const json::Value& plan, PacketPool& pool, int workers, int& next_worker) {
  read_header(plan);
  const ClassMap classes = read_classes(plan);
  const json::Value& elems = member(plan, "elements", "plan");
  if (!elems.is_array()) throw PlanError("plan: 'elements' must be an array");
  if (elems.as_array().empty()) throw PlanError("plan: the graph has no elements");
  std::map<std::string, int> index;
  for (size_t i = 0; i < elems.as_array().size(); i++) {
    std::unique_ptr<Element> e = create_element(elems.as_array()[i], "plan: elements[" + std::to_string(i) + "]", index, classes, pool, workers);
    index[e->name()] = int(elements_.size());
    elements_.push_back(std::move(e));
  }
  connect(member(plan, "connections", "plan"), index);
  check_cycles();
  make_counters(workers);
  initialize_elements();
  restore_states();
  prepare_takes();
  place_tasks(workers, next_worker);
  handlers_.resize(elements_.size());
  predecessor_ = nullptr;
}

void Graph::read_header(const json::Value& plan) {
  if (!plan.is_object()) throw PlanError("plan must be a JSON object");
  const json::Value* format = plan.find("format");
  if (!format || !format->is_string() || format->as_string() != "pktgraph-plan")
    throw PlanError("plan: 'format' must be \"pktgraph-plan\" (is this a pktgraph plan?)");
  const json::Value& version = member(plan, "version", "plan");
  if (!version.is_number() || int(version.as_number()) != kPlanVersion)
    throw PlanError("plan: version " + version.dump() + " is not supported; this engine reads version " +
                    std::to_string(kPlanVersion) + " (recompile the graph with the matching pktgraph)");
  const json::Value& name = member(plan, "name", "plan");
  if (!name.is_string() || name.as_string().empty()) throw PlanError("plan: 'name' must be a non-empty string");
  name_ = name.as_string();
}

// The plan's `classes`: each class's descriptor facts (docs/plan.md), checked for shape here
// and for meaning where they are used (port counts in set_ports, ranges by the getters).
Graph::ClassMap Graph::read_classes(const json::Value& plan) {
  const json::Value& cj = member(plan, "classes", "plan");
  if (!cj.is_object()) throw PlanError("plan: 'classes' must be an object of element classes");
  ClassMap out;
  for (const auto& [cls, c] : cj.as_object()) {
    const std::string where = "plan: classes." + cls;
    if (!c.is_object()) throw PlanError(where + " must be an object");
    auto f = std::make_shared<ClassFacts>();
    f->name = cls;
    auto text = [&](const char* key) {
      const json::Value& v = member(c, key, where);
      if (!v.is_string()) throw PlanError(where + "." + key + " must be a string, got " + v.dump());
      return v.as_string();
    };
    f->inputs = text("inputs");
    f->outputs = text("outputs");
    f->processing = text("processing");
    int lo, hi;
    if (!parse_count_range(f->inputs, lo, hi) || !parse_count_range(f->outputs, lo, hi))
      throw PlanError(where + ": bad port count '" + f->inputs + "/" + f->outputs + "' (Click notation: 1, -, 1-2, 2-)");
    if (f->processing.find_first_not_of("ahl/") != std::string::npos || std::count(f->processing.begin(), f->processing.end(), '/') > 1)
      throw PlanError(where + ": bad processing '" + f->processing + "' (Click notation: letters a, h, l per port, like h/l or a/a)");
    const json::Value& counters = member(c, "counters", where);
    if (!counters.is_array()) throw PlanError(where + ".counters must be an array of names");
    for (const json::Value& n : counters.as_array()) {
      if (!n.is_string()) throw PlanError(where + ".counters must be an array of names, got " + n.dump());
      f->counters.push_back(n.as_string());
    }
    if (const json::Value* e = c.find("endsPushCycles"); e && !e->is_null()) {
      if (!e->is_bool()) throw PlanError(where + ".endsPushCycles must be true or false, got " + e->dump());
      f->ends_push_cycles = e->as_bool();
    }
    auto flag = [&](const char* k, bool& to) {
      if (const json::Value* e = c.find(k); e && !e->is_null()) {
        if (!e->is_bool()) throw PlanError(where + "." + k + " must be true or false, got " + e->dump());
        to = e->as_bool();
      }
    };
    // An out-of-tree class names its plugin library, loaded (once per process) before any
    // element is made; a refused plugin fails this graph only.
    if (const json::Value* lib = c.find("library"); lib && !lib->is_null()) {
      if (!lib->is_string() || lib->as_string().empty()) throw PlanError(where + ".library must be the path of a plugin library, got " + lib->dump());
      try {
        load_plugin(lib->as_string());
      } catch (const std::exception& err) {
        throw PlanError(where + ": " + err.what());
      }
      if (!find_element(cls))
        throw PlanError(where + ": plugin " + lib->as_string() + " does not register class '" + cls +
                        "' (its .cc must end with PG_ELEMENT(" + cls + "))");
    }
    flag("hopLimited", f->hop_limited);
    flag("copiesPackets", f->copies_packets);
    flag("script", f->script);
    const json::Value& fields = member(c, "fields", where);
    if (!fields.is_object()) throw PlanError(where + ".fields must be an object");
    for (const auto& [key, fj] : fields.as_object()) f->fields[key] = parse_field_spec(fj, where + ".fields." + key);
    out[cls] = std::move(f);
  }
  return out;
}

// One element of the plan: made from its class, its ports checked against the class, its
// thread hint read and its config applied.
std::unique_ptr<Element> Graph::create_element(const json::Value& ej, const std::string& where, const std::map<std::string, int>& index,
                                               const ClassMap& classes, PacketPool& pool, int workers) {
  if (!ej.is_object()) throw PlanError(where + " must be an object");
  const json::Value& en = member(ej, "name", where);
  const json::Value& ec = member(ej, "class", where);
  if (!en.is_string() || en.as_string().empty()) throw PlanError(where + ": 'name' must be a non-empty string");
  if (!ec.is_string()) throw PlanError(where + ": 'class' must be a string");
  const std::string& ename = en.as_string();
  const std::string& cls = ec.as_string();
  if (index.count(ename)) throw PlanError("plan: two elements are named '" + ename + "'; element names must be unique");
  auto facts = classes.find(cls);
  // A class written in TypeScript has one native half for all: the script element.
  ElementFactory factory = facts != classes.end() && facts->second->script ? &make_script_element : find_element(cls);
  if (!factory) throw PlanError(elem_desc(ename, cls) + ": no element class '" + cls + "' is registered in the engine");
  if (facts == classes.end())
    throw PlanError(elem_desc(ename, cls) + ": the plan's 'classes' has no entry for class '" + cls + "' (recompile the graph)");
  std::unique_ptr<Element> e;
  try {
    e = factory();
  } catch (const std::exception& err) {  // a plugin's constructor
    throw PlanError(elem_desc(ename, cls) + ": its constructor failed: " + err.what());
  }
  e->facts_ = facts->second;
  e->name_ = ename;
  e->class_name_ = cls;
  e->pool_ = &pool;
  e->graph_ = this;
  if (predecessor_)
    if (Element* o = predecessor_->element(ename); o && o->class_name() == cls) e->predecessor_ = o;
  e->restoring_ = restoring(ename, cls);
  set_ports(*e, member(ej, "inputs", where), member(ej, "outputs", where));

  if (const json::Value* th = ej.find("thread"); th && !th->is_null()) {
    if (!th->is_number() || th->as_number() < 0 || th->as_number() != double(int(th->as_number())))
      throw PlanError(elem_desc(ename, cls) + ": 'thread' must be a worker number, got " + th->dump());
    if (int(th->as_number()) >= workers)
      throw PlanError(elem_desc(ename, cls) + ": asks for worker thread " + th->dump() + " but the engine has " +
                      std::to_string(workers) + " (threads are numbered from 0)");
    e->thread_hint_ = int(th->as_number());
  }
  const json::Value* conf = ej.find("config");
  if (conf && !conf->is_object() && !conf->is_null()) throw PlanError(elem_desc(ename, cls) + ": 'config' must be an object");
  try {
    e->configure(Config(conf, *e->facts_));
  } catch (const std::exception& err) {  // ConfigError and anything else configure throws
    throw PlanError(elem_desc(ename, cls) + ": " + err.what());
  } catch (...) {  // a plugin may throw anything
    throw PlanError(elem_desc(ename, cls) + ": configure threw something that is not a std::exception");
  }
  return e;
}

// The plan's port lists ("push"/"pull" per port) against the class's port counts and processing
// (from its descriptor, in the plan's classes).
void Graph::set_ports(Element& e, const json::Value& ins, const json::Value& outs) {
  const std::string d = elem_desc(e.name(), e.class_name());
  if (!ins.is_array() || !outs.is_array()) throw PlanError(d + ": 'inputs' and 'outputs' must be arrays of \"push\" or \"pull\"");
  int lo_in, hi_in, lo_out, hi_out;
  const std::string& pc_in = e.facts().inputs;
  const std::string& pc_out = e.facts().outputs;
  parse_count_range(pc_in, lo_in, hi_in);  // read_classes checked both
  parse_count_range(pc_out, lo_out, hi_out);
  int nin = int(ins.as_array().size()), nout = int(outs.as_array().size());
  if (nin < lo_in || nin > hi_in) throw PlanError(d + ": has " + std::to_string(nin) + " input(s), the class takes " + pc_in);
  if (nout < lo_out || nout > hi_out) throw PlanError(d + ": has " + std::to_string(nout) + " output(s), the class takes " + pc_out);
  std::string pr_in, pr_out;
  split_code(e.facts().processing, pr_in, pr_out);
  auto side = [&](const json::Value& arr, StateVector<Element::Link>& links, const std::string& code, const char* what) {
    for (size_t p = 0; p < arr.as_array().size(); p++) {
      const json::Value& v = arr.as_array()[p];
      if (!v.is_string() || (v.as_string() != "push" && v.as_string() != "pull"))
        throw PlanError(d + ": " + what + " " + std::to_string(p) + " must be \"push\" or \"pull\", got " + v.dump());
      Element::Link l;
      l.processing = v.as_string() == "push" ? Processing::Push : Processing::Pull;
      char letter = processing_letter(code, int(p));
      if ((letter == 'h' && l.processing != Processing::Push) || (letter == 'l' && l.processing != Processing::Pull))
        throw PlanError(d + ": " + what + " " + std::to_string(p) + " is " + v.as_string() + " but the class only supports " +
                        (letter == 'h' ? "push" : "pull") + " there");
      links.push_back(l);
    }
  };
  side(ins, e.inputs_, pr_in, "input");
  side(outs, e.outputs_, pr_out, "output");
}

// Connections: push outputs and pull inputs have exactly one peer; all ports connected.
void Graph::connect(const json::Value& conns, const std::map<std::string, int>& index) {
  if (!conns.is_array()) throw PlanError("plan: 'connections' must be an array");
  std::vector<std::vector<int>> in_used(elements_.size()), out_used(elements_.size());
  for (size_t i = 0; i < elements_.size(); i++) {
    in_used[i].assign(size_t(elements_[i]->ninputs()), 0);
    out_used[i].assign(size_t(elements_[i]->noutputs()), 0);
  }
  for (size_t i = 0; i < conns.as_array().size(); i++) {
    const json::Value& c = conns.as_array()[i];
    std::string where = "plan: connections[" + std::to_string(i) + "]";
    if (!c.is_object()) throw PlanError(where + " must be an object");
    const json::Value& from = member(c, "from", where);
    const json::Value& to = member(c, "to", where);
    if (!from.is_string() || !index.count(from.as_string()))
      throw PlanError(where + ": 'from' names no element: " + from.dump());
    if (!to.is_string() || !index.count(to.as_string())) throw PlanError(where + ": 'to' names no element: " + to.dump());
    int fi = index.at(from.as_string()), ti = index.at(to.as_string());
    int fp = port_number(member(c, "fromPort", where), where + ": 'fromPort'");
    int tp = port_number(member(c, "toPort", where), where + ": 'toPort'");
    Element& fe = *elements_[size_t(fi)];
    Element& te = *elements_[size_t(ti)];
    if (fp >= fe.noutputs())
      throw PlanError(where + ": " + elem_desc(fe.name(), fe.class_name()) + " has no output " + std::to_string(fp));
    if (tp >= te.ninputs())
      throw PlanError(where + ": " + elem_desc(te.name(), te.class_name()) + " has no input " + std::to_string(tp));
    Processing fpr = fe.outputs_[size_t(fp)].processing, tpr = te.inputs_[size_t(tp)].processing;
    if (fpr != tpr)
      throw PlanError(where + ": " + fe.name() + "[" + std::to_string(fp) + "] is " + (fpr == Processing::Push ? "push" : "pull") +
                      " but [" + std::to_string(tp) + "]" + te.name() + " is " + (tpr == Processing::Push ? "push" : "pull"));
    if (fpr == Processing::Push) {
      if (out_used[size_t(fi)][size_t(fp)]++)
        throw PlanError(where + ": push output " + fe.name() + "[" + std::to_string(fp) + "] is connected twice");
      in_used[size_t(ti)][size_t(tp)]++;
      fe.outputs_[size_t(fp)].peer = &te;
      fe.outputs_[size_t(fp)].port = tp;
    } else {
      if (in_used[size_t(ti)][size_t(tp)]++)
        throw PlanError(where + ": pull input [" + std::to_string(tp) + "]" + te.name() + " is connected twice");
      out_used[size_t(fi)][size_t(fp)]++;
      if (out_used[size_t(fi)][size_t(fp)] > 1)
        throw PlanError(where + ": pull output " + fe.name() + "[" + std::to_string(fp) + "] is connected twice");
      te.inputs_[size_t(tp)].peer = &fe;
      te.inputs_[size_t(tp)].port = fp;
    }
  }
  for (size_t i = 0; i < elements_.size(); i++) {
    Element& e = *elements_[i];
    for (int p = 0; p < e.ninputs(); p++)
      if (!in_used[i][size_t(p)])
        throw PlanError(elem_desc(e.name(), e.class_name()) + ": input " + std::to_string(p) + " is not connected");
    for (int p = 0; p < e.noutputs(); p++)
      if (!out_used[i][size_t(p)])
        throw PlanError(elem_desc(e.name(), e.class_name()) + ": output " + std::to_string(p) + " is not connected");
  }
}

// No push cycle (a packet would go round for ever, one nested call per pass: a stack
// overflow, or a worker that never returns) unless an element on it ends push cycles (its
// descriptor's endsPushCycles, in the plan's classes) and none copies packets, and
// no pull cycle (a pull that never ends). The compiler refuses both; this is for other plans.
void Graph::check_cycles() const {
  std::unordered_map<const Element*, size_t> index;
  for (size_t i = 0; i < elements_.size(); i++) index[elements_[i].get()] = i;
  for (const bool push : {true, false}) {
    std::vector<std::vector<size_t>> next(elements_.size());
    for (size_t i = 0; i < elements_.size(); i++) {
      const Element& e = *elements_[i];
      if (push) {
        for (const Element::Link& l : e.outputs_)
          if (l.processing == Processing::Push && !e.facts().ends_push_cycles && !l.peer->facts().ends_push_cycles) next[i].push_back(index.at(l.peer));
      } else {
        for (const Element::Link& l : e.inputs_)
          if (l.processing == Processing::Pull) next[i].push_back(index.at(l.peer));
      }
    }
    // Iterative depth-first search; a link back to an element on the path closes a cycle.
    std::vector<uint8_t> state(elements_.size(), 0);  // 0 unseen, 1 on the path, 2 done
    for (size_t root = 0; root < elements_.size(); root++) {
      if (state[root]) continue;
      std::vector<std::pair<size_t, size_t>> path{{root, 0}};
      state[root] = 1;
      while (!path.empty()) {
        auto& [u, k] = path.back();
        if (k == next[u].size()) {
          state[u] = 2;
          path.pop_back();
          continue;
        }
        const size_t v = next[u][k++];
        if (state[v] == 0) {
          state[v] = 1;
          path.push_back({v, 0});
        } else if (state[v] == 1) {
          // The same sentences as the compiler's (src/compiler/compile.ts).
          std::string cycle;
          for (auto& [n, unused] : path) {
            if (!cycle.empty()) cycle += push ? " -> " : " pulls from ";
            if (!cycle.empty() || n == v) cycle += "'" + elements_[n]->name() + "' (" + elements_[n]->class_name() + ")";
          }
          const std::string& first = elements_[v]->name();
          throw PlanError(push ? "plan: push cycle: " + cycle + " -> back to '" + first +
                                     "': a packet pushed into it would go round for ever; put a Queue in the cycle (and an Unqueue after it to push its packets on)"
                               : "plan: pull cycle: " + cycle + ", which pulls from '" + first +
                                     "' again: a pull would never end; put an Unqueue and a Queue after it in the cycle");
        }
      }
    }
  }
  // Every push cycle left passes an element that ends it; one through an element that copies
  // packets (copiesPackets: Tee) that only hop counts end (hopLimited: DecIPTTL) is refused, as
  // each pass would multiply them (2^255 before DecIPTTL ends it). The shortest such cycle from
  // the copier back to it, breadth first, not through other enders (ICMPError).
  auto ends = [](const Element& e) { return e.facts().ends_push_cycles && !e.facts().hop_limited; };
  for (size_t c = 0; c < elements_.size(); c++) {
    if (!elements_[c]->facts().copies_packets) continue;
    std::vector<size_t> parent(elements_.size(), SIZE_MAX), queue{c};
    size_t last = SIZE_MAX;
    for (size_t qi = 0; qi < queue.size() && last == SIZE_MAX; qi++) {
      const Element& u = *elements_[queue[qi]];
      if (ends(u)) continue;
      for (const Element::Link& l : u.outputs_) {
        if (l.processing != Processing::Push || ends(*l.peer)) continue;
        const size_t v = index.at(l.peer);
        if (v == c) {
          last = queue[qi];
          break;
        }
        if (parent[v] == SIZE_MAX) {
          parent[v] = queue[qi];
          queue.push_back(v);
        }
      }
    }
    if (last == SIZE_MAX) continue;
    std::vector<size_t> path{last};
    while (path.front() != c) path.insert(path.begin(), parent[path.front()]);
    auto name = [&](size_t n) { return "'" + elements_[n]->name() + "' (" + elements_[n]->class_name() + ")"; };
    std::string cycle, enders;
    for (size_t n : path) {
      cycle += (cycle.empty() ? "" : " -> ") + name(n);
      if (elements_[n]->facts().ends_push_cycles) enders += (enders.empty() ? "" : " and ") + name(n);
    }
    // The same sentence as the compiler's (src/compiler/compile.ts).
    throw PlanError("plan: push cycle through a packet-copying element: " + cycle + " -> back to '" + elements_[c]->name() + "': " + name(c) +
                    " copies packets, so each pass round the cycle multiplies them, and " + enders +
                    " ends the cycle only at the hop limit (up to 255 passes: 2^255 packets); put a Queue in the cycle (and an Unqueue after it to push its packets on), or take '" + elements_[c]->name() + "' out of it");
  }
}

// Counters: one arena for the graph, a row per worker plus one for other threads.
void Graph::make_counters(int workers) {
  uint32_t slots = 0;
  for (auto& e : elements_) {
    e->counter_base_ = slots;
    slots += uint32_t(e->counter_names().size());
  }
  // The arena object too (count() reads its row pointer first): in the hot state, beside the rows.
  counters_ = std::allocate_shared<CounterArena>(StateAllocator<CounterArena>(), uint32_t(workers) + 1, slots);
  for (auto& e : elements_) e->arena_ = counters_.get();
  const size_t bytes = size_t(workers) * 8 * sizeof(uint64_t);
  activity_.reset(static_cast<uint64_t*>(state_alloc(bytes, 64, StateKind::Hot)));
  std::memset(activity_.get(), 0, bytes);
}

void Graph::initialize_elements() {
  for (auto& e : elements_) {
    try {
      e->initialize();
    } catch (const std::exception& err) {
      throw PlanError(elem_desc(e->name(), e->class_name()) + ": " + err.what());
    } catch (...) {
      throw PlanError(elem_desc(e->name(), e->class_name()) + ": initialize threw something that is not a std::exception");
    }
  }
}

// A replacement's successors check they can take their predecessors' state (and prepare it).
void Graph::prepare_takes() {
  for (auto& e : elements_) {
    if (!e->predecessor_) continue;
    try {
      e->prepare_take(*e->predecessor_);
    } catch (const std::exception& err) {
      throw PlanError(elem_desc(e->name(), e->class_name()) + ": cannot take over the running element's state: " + err.what());
    }
  }
}

size_t Graph::take_state_from(Graph& old) {
  size_t n = 0;
  CounterArena& mine = *counters_;
  uint64_t* row = mine.row(mine.rows - 1);  // the other threads' row: no worker writes it
  for (auto& e : elements_) {
    Element* o = e->predecessor_;
    if (!o) continue;
    for (size_t j = 0; j < e->counter_names().size(); j++) {
      const auto& names = o->counter_names();
      const auto it = std::find(names.begin(), names.end(), e->counter_names()[j]);
      if (it == names.end()) continue;
      std::atomic_ref<uint64_t> c(row[e->counter_base_ + j]);
      c.store(c.load(std::memory_order_relaxed) + old.counters_->sum(o->counter_base_ + uint32_t(it - names.begin())), std::memory_order_relaxed);
    }
    e->take_state(*o);
    e->predecessor_ = nullptr;
    n++;
  }
  // What the old elements still hold now (classes that do not carry their packets, elements
  // the new plan lacks) is freed with the old graph: reported, never silent.
  dropped.clear();
  for (auto& o : old.elements_)
    if (const uint64_t h = o->held_packets()) dropped.emplace_back(o->name(), h);
  return n;
}

// Tasks and timers onto workers: an element's hint, else its predecessor's workers (a
// replacement keeps each task where it ran, and a device's per-worker queues with it), else
// round robin; timers go with their element's task, else its hint, else the first task's worker.
void Graph::place_tasks(int workers, int& next_worker) {
  for (auto& e : elements_) {
    int w = -1;
    const Element* pred = e->predecessor_;
    if (e->wants_task() && e->thread_hint() < 0 && pred && !pred->task_workers_.empty() && int(pred->task_workers_.size()) == std::min(e->task_count_, workers)) {
      for (int tw : pred->task_workers_) tasks_.push_back({e.get(), tw});
      e->task_workers_ = pred->task_workers_;
      w = pred->task_workers_.front();
    } else if (e->wants_task()) {
      w = e->thread_hint() >= 0 ? e->thread_hint() : (next_worker++ % workers);
      tasks_.push_back({e.get(), w});
      e->task_workers_.assign(1, w);
      // More tasks (request_tasks): each on the next worker, never two on the same one.
      const int n = std::min(e->task_count_, workers);
      for (int k = 1; k < n; k++) {
        tasks_.push_back({e.get(), (w + k) % workers});
        e->task_workers_.push_back((w + k) % workers);
      }
      if (e->thread_hint() < 0) next_worker += n - 1;
    }
    for (Timer* t : e->timers_) {
      int tw = w >= 0 ? w : (e->thread_hint() >= 0 ? e->thread_hint() : (tasks_.empty() ? 0 : tasks_.front().worker));
      timers_.push_back({t, tw});
    }
  }
}

void Element::synchronize() const {
  if (graph_ && graph_->synchronize) graph_->synchronize();
}

void Element::retire_fn(std::function<void()> free) const {
  if (graph_ && graph_->retire)
    graph_->retire(std::move(free));
  else
    free();
}

Element* Graph::element(const std::string& n) const {
  int i = element_index(n);
  return i < 0 ? nullptr : elements_[size_t(i)].get();
}

int Graph::element_index(const std::string& n) const {
  for (size_t i = 0; i < elements_.size(); i++)
    if (elements_[i]->name() == n) return int(i);
  return -1;
}

const std::vector<Handler>& Graph::handlers(int i) {
  auto& h = handlers_[size_t(i)];
  if (h.empty()) elements_[size_t(i)]->add_handlers(h);
  return h;
}

bool Graph::has_sources() const {
  for (auto& e : elements_)
    if (e->source_state() != SourceState::NotASource) return true;
  return false;
}

bool Graph::sources_finished() const {
  bool any = false;
  for (auto& e : elements_) {
    SourceState s = e->source_state();
    if (s == SourceState::Running) return false;
    if (s == SourceState::Finished) any = true;
  }
  return any;
}

uint64_t Graph::held_packets() const {
  uint64_t n = 0;
  for (auto& e : elements_) n += e->held_packets();
  return n;
}

uint64_t Graph::activity() const {
  uint64_t n = 0;
  for (int w = 0; w < workers_; w++) n += std::atomic_ref<uint64_t>(activity_[size_t(w) * 8]).load(std::memory_order_relaxed);
  return n;
}

// ---- profiling ----

void Graph::set_profiling(bool on) {
  const uint32_t slots = uint32_t(elements_.size()) * kProfSlots;
  if (probes_.empty()) {
    profile_clock_start();
    profile_arena_ = std::make_unique<CounterArena>(uint32_t(workers_) + 1, slots);
    for (size_t i = 0; i < elements_.size(); i++) {
      Element* real = elements_[i].get();
      std::unique_ptr<Element> probe = std::make_unique<ProfileProbe>(real, profile_arena_.get(), uint32_t(i) * kProfSlots);
      probe->name_ = real->name_;  // the engine names tasks by their element
      probe->class_name_ = real->class_name_;
      probe->pool_ = real->pool_;
      probe->facts_ = real->facts_;
      probe->graph_ = this;
      probes_.push_back(std::move(probe));
    }
  }
  if (on != profiling_) {
    std::unordered_map<const Element*, size_t> index;
    for (size_t i = 0; i < elements_.size(); i++) index[elements_[i].get()] = index[probes_[i].get()] = i;
    auto point = [&](Element*& peer) {
      if (!peer) return;
      const size_t i = index.at(peer);
      peer = on ? probes_[i].get() : elements_[i].get();
    };
    // Push links lead to the downstream element, pull links to the upstream one: both are
    // the callee, the element whose work the probe times.
    for (auto& e : elements_) {
      for (Element::Link& l : e->outputs_)
        if (l.processing == Processing::Push) point(l.peer);
      for (Element::Link& l : e->inputs_)
        if (l.processing == Processing::Pull) point(l.peer);
    }
    for (TaskRef& t : tasks_) point(t.element);
    profiling_ = on;
  }
  profile_arena_->zero(0, slots);
}

std::vector<Graph::ElementProfile> Graph::profile(const std::vector<double>& worker_scale) const {
  std::vector<ElementProfile> out(elements_.size(), ElementProfile{0, 0, 0, 0});
  if (!profile_arena_) return out;
  for (size_t i = 0; i < elements_.size(); i++) {
    const uint32_t b = uint32_t(i) * kProfSlots;
    ElementProfile& p = out[i];
    p.calls = profile_arena_->sum(b + kProfCalls);
    // An element's packets: those it took in by push, gave out by pull, or moved as a task;
    // the largest, so a Queue's packets are not counted twice (once in, once out).
    p.packets = std::max({profile_arena_->sum(b + kProfPushed), profile_arena_->sum(b + kProfPulled), profile_arena_->sum(b + kProfMoved)});
    for (uint32_t r = 0; r < profile_arena_->rows; r++) {
      const uint64_t t = std::atomic_ref<uint64_t>(profile_arena_->row(r)[b + kProfTicks]).load(std::memory_order_relaxed);
      p.ticks += t;
      p.cpu_ticks += double(t) * (r < worker_scale.size() ? worker_scale[r] : 1.0);
    }
  }
  return out;
}

}  // namespace pg
