// The element API: what every element, built in or out of tree, derives from.
//
// The element's TypeScript descriptor (elements/<group>/Name.ts) is the one declaration of
// its ports, processing, counters, config fields with their ranges and defaults, and whether
// it ends push cycles; the plan carries those facts once per class (ClassFacts) and the
// native side takes them from there, never restating them.
// An element is configured from its plan entry (a JSON object whose fields the
// TypeScript descriptor already validated and filled with defaults; the native side
// checks them again against the plan's class facts), connected to its neighbours, then
// moves batches:
//   push(port, batch)        a batch arrives on a push input; the element owns its packets
//   pull(port, batch, max)   a neighbour pulls from this element's pull output: append up
//                            to max packets to the batch and return how many
//   run_task()               for elements that own a task (sources, Unqueue, ...): do one
//                            round of work, return whether anything was done
// Counters are the descriptor's, in its order: counter("name") gives a declared counter's
// index (an undeclared name is a ConfigError), count() bumps it; they live in a per-graph
// arena that TypeScript reads without copies. Handlers are named read/write
// functions. Register a class with PG_ELEMENT(ClassName).
#pragma once
#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "address.h"
#include "clock.h"
#include "json.h"
#include "packet.h"
#include "pool.h"
#include "state_arena.h"
#include "state.h"

// The element API's version. Bump it whenever a change to these headers (element.h and what
// it includes) changes the binary interface an out-of-tree element is compiled against: a
// member or virtual function added, removed or reordered, a signature or struct layout
// changed. The engine refuses a plugin built against any other version (native/plugin.h).
// 2: Element::save_state, restore_state and restoring() (vr.save, vr.restore).
#define PG_ELEMENT_API_VERSION 2
#define PG_STRINGIFY_(x) #x
#define PG_STRINGIFY(x) PG_STRINGIFY_(x)

// A plugin (built with native/plugin.gypi, which defines PG_PLUGIN) carries the version it was
// built against as text the engine finds in the file before loading it, so a plugin of another
// version is refused without running any of its code. Weak: every translation unit has one,
// the linker keeps one.
#ifdef PG_PLUGIN
extern "C" __attribute__((weak, used, visibility("default"))) const char pg_element_api_version[] =
    "pktgraph-element-api-version=" PG_STRINGIFY(PG_ELEMENT_API_VERSION) ";";
#endif

namespace pg {

class Graph;
class Element;

// A configuration problem; the graph loader prefixes the element's name and class.
struct ConfigError : std::runtime_error {
  using std::runtime_error::runtime_error;
};
// A write handler refused its value.
struct HandlerError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// One config field's type and range as the descriptor's schema declares it (the plan's
// classes.<Class>.fields.<name>; docs/plan.md). Bounds absent from the schema are the
// limits of an exact JSON integer.
struct FieldSpec {
  static constexpr double kMaxExact = 9007199254740991.0;  // 2^53 - 1
  double minimum = -kMaxExact, maximum = kMaxExact;
  bool exclusive_min = false, exclusive_max = false;
  std::vector<std::string> values;  // a string field's allowed values; empty: any
  // An array field's (or a union's array branch's) item count bounds and its items' spec
  // (null: the descriptor declares none).
  double min_items = 0, max_items = kMaxExact;
  std::shared_ptr<const FieldSpec> items;
  // The JSON types the value may have ("integer", "number", "string", "boolean", "array",
  // "object", "null"; empty: any), and an object's properties' specs (empty: not an object
  // with declared properties).
  std::vector<std::string> types;
  std::map<std::string, std::shared_ptr<const FieldSpec>> properties;
  // An address field's kind ("ipv4", "ipv6", "ip", "mac", "ipv4prefix"; empty: none): the
  // plan holds it typed, read by the getter of that kind (for an array field, each item).
  std::string kind;

  bool in_range(double v) const {
    return (exclusive_min ? v > minimum : v >= minimum) && (exclusive_max ? v < maximum : v <= maximum);
  }
  std::string range_text() const;  // "from 1 to 256", "more than 0 and at most 31536000"
};

// The descriptor's facts for one element class, read from the plan's `classes`.
struct ClassFacts {
  std::string name;
  std::string inputs, outputs, processing;  // Click notation: "1", "-", "1-2"; "h/l", "a/a", "hl/h"
  std::vector<std::string> counters;         // in declared order: the counter indexes
  bool ends_push_cycles = false;
  bool hop_limited = false;     // it ends push cycles by a hop count (up to 255 passes)
  bool copies_packets = false;  // a push cycle through it must pass a non-hop-limited ender
  bool script = false;          // written in TypeScript: native/script.h serves the class
  std::map<std::string, FieldSpec> fields;
  // The field's spec; a ConfigError if the descriptor declares no such field.
  const FieldSpec& field(const std::string& key) const;
};

// Typed reads of an element's config object; each getter checks the value's type and the
// range the descriptor declares for the field, and names the field in its error.
class Config {
 public:
  Config(const json::Value* object, const ClassFacts& facts) : obj_(object), facts_(&facts) {}
  bool has(const char* key) const;
  int64_t integer(const char* key) const;
  // integer(), also at most `native_max`: a limit the C++ relies on for memory safety (the
  // batch size for a burst, a table's last index), so a hand-made plan declaring a wider range
  // is refused rather than trusted. Not a restated descriptor range: the descriptor matches it.
  int64_t bounded(const char* key, int64_t native_max) const;
  double number(const char* key) const;
  bool boolean(const char* key) const;
  std::string string(const char* key) const;  // one of the field's values, when it declares them
  // A string of hex digits (spaces and colons ignored) as bytes.
  std::vector<uint8_t> hex_bytes(const char* key) const;
  const json::Value& value(const char* key) const;  // any type; must be present
  // A value of any shape (arrays of objects: Classifier's clauses) checked whole against the
  // field's facts: types, ranges and string values, item counts and items, and an object's
  // properties (present ones checked, undeclared ones refused); the error names the path.
  const json::Value& checked(const char* key) const;
  // An array of integers, its length and each item checked against the field's declared item
  // count and item range; each item also at most `native_max` (as bounded()).
  std::vector<int64_t> integers(const char* key, int64_t native_max = INT64_MAX) const;
  // An array whose items are integers or arrays of integers (VLANClassifier's vlans: 10 or
  // [20, 21]), a lone integer read as a list of one; checked as integers() does, at each level.
  std::vector<std::vector<int64_t>> integer_lists(const char* key, int64_t native_max = INT64_MAX) const;
  // Address fields (the descriptor's ipv4Address, ipv6Address, ipAddress, etherAddress,
  // ipv4Prefix; docs/plan.md): typed in the plan, never text. Each getter checks the kind the
  // descriptor declares for the field and the value. A field that may be '' is null then:
  // test it with has().
  uint32_t ipv4(const char* key) const;                    // network byte order
  void ipv6(const char* key, uint8_t out[16]) const;
  void mac(const char* key, uint8_t out[6]) const;
  int ip(const char* key, uint8_t out[16]) const;          // kind "ip": 4 (IPv4 in out[0..3]) or 16
  uint32_t ipv4_prefix(const char* key, int& len) const;   // the address (network order) and length
  std::vector<uint32_t> ipv4_list(const char* key) const;  // an array of IPv4 addresses
  const ClassFacts& facts() const { return *facts_; }

 private:
  const json::Value& need(const char* key) const;
  const json::Value& address(const char* key, const char* kind) const;
  const json::Value* obj_;
  const ClassFacts* facts_;
};

std::vector<uint8_t> parse_hex(const std::string& text, const std::string& what);

// Typed addresses inside a field a plan hook derived (entries, routes): IPv4 a number (the
// first byte most significant), IPv6 and Ethernet arrays of 16 and 6 bytes. A ConfigError
// naming `what` (the path, like "config field 'table.2.mac'") when the value is not one.
uint32_t typed_ipv4(const json::Value& v, const std::string& what);  // network byte order
void typed_ipv6(const json::Value& v, const std::string& what, uint8_t out[16]);
void typed_mac(const json::Value& v, const std::string& what, uint8_t out[6]);
uint32_t typed_ipv4_prefix(const json::Value& v, const std::string& what, int& len);  // {addr, len}: network order

struct Handler {
  std::string name;
  std::function<std::string()> read;                  // empty: not readable
  std::function<void(const std::string&)> write;      // empty: not writable; throws HandlerError
  bool exclusive = false;  // the write runs while the graph is paused (structural changes)
};

// A write handler's value for config field `field` of a class, checked against the field's
// declared range (HandlerError naming `what`, the field when null). Elements call their
// members of the same names; helpers that hold handlers for an element (SourcePacing) these.
int64_t parse_field_integer(const ClassFacts& facts, const std::string& text, const char* field, const char* what = nullptr);
double parse_field_number(const ClassFacts& facts, const std::string& text, const char* field, const char* what = nullptr);

enum class Processing : uint8_t { Push, Pull };

// A one-shot timer owned by an element. It fires on one worker thread (the one that
// runs the element's task, if any); fire() may re-arm it. Arm and disarm from any thread.
class Timer {
 public:
  explicit Timer(std::function<void()> fire) : fire_(std::move(fire)) {}
  void schedule_at(uint64_t monotonic_ns) { expiry_.store(monotonic_ns ? monotonic_ns : 1, std::memory_order_release); }
  void schedule_after(uint64_t ns) { schedule_at(now_ns() + ns); }
  void unschedule() { expiry_.store(0, std::memory_order_release); }
  bool scheduled() const { return expiry_.load(std::memory_order_acquire) != 0; }
  uint64_t expiry() const { return expiry_.load(std::memory_order_acquire); }

  // Worker side: fire if due. Returns whether it fired.
  bool run_if_due(uint64_t now) {
    uint64_t e = expiry_.load(std::memory_order_acquire);
    if (e == 0) return false;
    if (e > now) {
      wake_at(e);
      return false;
    }
    if (!expiry_.compare_exchange_strong(e, 0, std::memory_order_acq_rel)) return false;
    fire_();
    return true;
  }

 private:
  std::atomic<uint64_t> expiry_{0};
  std::function<void()> fire_;
};
enum class SourceState : uint8_t { NotASource, Running, Finished };

// Per-graph counter storage: one row of uint64 per worker thread plus one for other
// threads. Each thread writes only its own row; readers sum the rows.
struct CounterArena {
  CounterArena(uint32_t rows, uint32_t slots);
  ~CounterArena();
  uint64_t* row(uint32_t r) { return data + size_t(r) * stride; }
  uint64_t sum(uint32_t slot) const;
  void zero(uint32_t first, uint32_t n);
  uint32_t rows, slots, stride;  // stride in uint64 words, a multiple of 8 (64 bytes)
  uint64_t* data;
  size_t bytes;
};

class Element {
 public:
  virtual ~Element() = default;
  // Elements live in their graph's arena (state_arena.h) when the graph loader makes them.
  PG_STATE_OBJECT

  // ---- lifecycle (control thread) ----
  virtual void configure(const Config& conf) {}
  virtual void initialize() {}   // after all connections are made
  virtual void cleanup() {}      // before destruction, no worker inside the graph: free held packets

  // ---- packet path (worker threads) ----
  virtual void push(int port, Batch& batch);
  virtual uint32_t pull(int port, Batch& batch, uint32_t max);
  virtual bool run_task() { return false; }

  // ---- state the engine asks about ----
  virtual SourceState source_state() const { return SourceState::NotASource; }
  virtual uint64_t held_packets() const { return 0; }  // packets the element stores (queues)
  virtual void add_handlers(std::vector<Handler>& handlers) {}

  // ---- hot reconfiguration (Engine::replace_graph; docs/writing-elements.md) ----
  // A replacement graph's element with the same name and class as one of the running graph's
  // is its successor: the engine carries its counters over by name, and these hooks let the
  // class carry the rest (queued packets, tables, positions). Defaults: nothing more carries.
  // prepare_take: control thread, once this element is initialised, while the old graph still
  // runs (no handler runs meanwhile); throw ConfigError to refuse the replacement, and the old
  // graph keeps running untouched. Do the slow work here (copies, builds).
  virtual void prepare_take(const Element& old) {}
  // take_state: neither graph on any worker (between their batches); must not throw, and
  // should take microseconds (moves, swaps): it is the forwarding gap. `old` is destroyed
  // (cleanup(), then its destructor) after it, so whatever is swapped into it is freed then.
  virtual void take_state(Element& old) {}

  // ---- save and restore (vr.save, vr.restore, vr.clone; docs/writing-elements.md) ----
  // The engine saves every element's counters; these carry the rest (a table). Defaults: nothing.
  // save_state: control thread, the graph may be running: write the state as of one instant
  // (take the lock the workers take) and begin with a format byte of your own.
  virtual void save_state(StateWriter& out) {}
  // restore_state: control thread, after initialize(), before the graph reaches the workers;
  // read back what save_state wrote (by a graph of the same name and class, perhaps with
  // other config); throw ConfigError or StateError to refuse, and nothing is loaded.
  virtual void restore_state(StateReader& in) {}
  // True from configure() on when restore_state will follow: skip loading what the saved
  // state replaces (a route file that may not exist on this host).
  bool restoring() const { return restoring_; }

  // ---- a stopped graph (Engine::set_graph_stopped: a stopped virtual router) ----
  // Its tasks and timers leave the workers, except those of elements that answer true here:
  // device receivers, which go on reading their ring or queue and drop (and count) what they
  // read while stopped(), so no stale frames wait in the kernel for the start.
  virtual bool drains_while_stopped() const { return false; }
  bool stopped() const { return stopped_.load(std::memory_order_relaxed); }
  void set_stopped(bool on) { stopped_.store(on, std::memory_order_relaxed); }

  // ---- identity and wiring (set by the graph loader) ----
  const std::string& name() const { return name_; }
  const std::string& class_name() const { return class_name_; }
  int ninputs() const { return int(inputs_.size()); }
  int noutputs() const { return int(outputs_.size()); }
  Processing input_processing(int port) const { return inputs_[port].processing; }
  Processing output_processing(int port) const { return outputs_[port].processing; }
  bool wants_task() const { return wants_task_; }
  // The workers this element's tasks run on, in task order (set once the graph is loaded,
  // after initialize()); one entry per task placed.
  const std::vector<int>& task_workers() const { return task_workers_; }
  int thread_hint() const { return thread_hint_; }
  Graph* graph() const { return graph_; }
  PacketPool& pool() const { return *pool_; }
  // The descriptor's facts for this element's class (ports, processing, counters, fields).
  const ClassFacts& facts() const { return *facts_; }
  const std::vector<std::string>& counter_names() const { return facts_->counters; }
  uint32_t counter_base() const { return counter_base_; }
  // While a replacement graph loads (configure, initialize, prepare_take): the running
  // graph's element this one succeeds (same name and class), else null. A device element
  // keeps the old one's socket instead of opening a second one when it names the same device.
  Element* predecessor() const { return predecessor_; }

 protected:
  // The index for count() of a counter the descriptor declares (in configure or later, not
  // in the constructor);
  // a ConfigError naming the declared ones if it does not.
  uint32_t counter(const std::string& name) const;
  void count(uint32_t index, uint64_t n = 1) {
    uint64_t& cell = arena_->row(tls_row())[counter_base_ + index];
    std::atomic_ref<uint64_t> c(cell);
    c.store(c.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }
  uint64_t counter_value(uint32_t index) const { return arena_->sum(counter_base_ + index); }
  void reset_counter(uint32_t index) { arena_->zero(counter_base_ + index, 1); }

  // A write handler's value for config field `field`, checked against the field's declared
  // range; the HandlerError names `what` (the handler; the field when null).
  int64_t parse_field_integer(const std::string& text, const char* field, const char* what = nullptr) const {
    return pg::parse_field_integer(*facts_, text, field, what);
  }
  double parse_field_number(const std::string& text, const char* field, const char* what = nullptr) const {
    return pg::parse_field_number(*facts_, text, field, what);
  }

  // This element owns a task (call in configure or initialize).
  void request_task() { wants_task_ = true; }
  // This element owns n tasks, placed on n different workers (as many as the engine has,
  // when it has fewer): each calls run_task() on its own worker, which tells them apart by
  // tls_worker (see task_workers()). For work that splits by worker, like the queues of a
  // multi-queue device.
  void request_tasks(int n) {
    wants_task_ = true;
    task_count_ = n < 1 ? 1 : n;
  }
  // Register a timer (in configure or initialize); it runs on this element's worker.
  void add_timer(Timer& t) { timers_.push_back(&t); }
  // Control thread only (handlers): wait until every worker has finished the round it was
  // in, so no worker still holds a pointer it loaded before the call. Publish a new
  // read-mostly structure, synchronize(), then free the old one (RCU's synchronize).
  void synchronize() const;
  // Control thread only: the non-waiting form. Free `old` (just replaced by a new published
  // object) once every worker has finished the round it was in, without waiting for that
  // here: a stream of small changes then costs no epoch wait each.
  template <class T>
  void retire(std::unique_ptr<T> old) const {
    if (old) retire_fn([p = old.release()] { delete p; });
  }
  void retire_fn(std::function<void()> free) const;

  void output_push(int port, Batch& batch) {
    if (batch.count) {
      const Link& l = outputs_[port];
      l.peer->push(l.port, batch);
    }
  }
  uint32_t input_pull(int port, Batch& batch, uint32_t max) {
    const Link& l = inputs_[port];
    return l.peer->pull(l.port, batch, max);
  }
  void drop(Batch& batch) {
    pool_->free(batch.pkts, batch.count);
    batch.count = 0;
  }
  void drop(Packet* p) { pool_->free_one(p); }

  // Workers write their own counter row; every other thread writes the last one.
  uint32_t tls_row() const { return tls_worker >= 0 ? uint32_t(tls_worker) : arena_->rows - 1; }

 private:
  friend class Graph;
  struct Link {
    Element* peer = nullptr;  // push output: downstream element; pull input: upstream element
    int port = -1;
    Processing processing = Processing::Push;
  };
  // What the packet path reads first, so that it shares the object's first cache line with
  // the vtable pointer; the links themselves are in the graph's hot arena.
  StateVector<Link> outputs_, inputs_;
  CounterArena* arena_ = nullptr;
  PacketPool* pool_ = nullptr;
  uint32_t counter_base_ = 0;
  std::string name_, class_name_;
  std::shared_ptr<const ClassFacts> facts_;
  Graph* graph_ = nullptr;
  std::vector<Timer*> timers_;
  bool wants_task_ = false;
  int thread_hint_ = -1;
  int task_count_ = 1;
  std::vector<int> task_workers_;
  Element* predecessor_ = nullptr;
  bool restoring_ = false;
  std::atomic<bool> stopped_{false};  // written by the control thread, read by a worker
};

// ---- registry: built-in and out-of-tree elements register the same way ----
using ElementFactory = std::unique_ptr<Element> (*)();
void register_element(const char* class_name, ElementFactory factory);
ElementFactory find_element(const std::string& class_name);
std::vector<std::string> element_classes();

struct ElementRegistrar {
  ElementRegistrar(const char* name, ElementFactory f) { register_element(name, f); }
};

// Through a second macro so that a class name given by a macro registers under its expansion
// (test/fixtures/plugin builds the built-in Counter as a plugin class named PluginCounter).
#define PG_ELEMENT(Class) PG_ELEMENT_(Class)
#define PG_ELEMENT_(Class)                                             \
  static ::pg::ElementRegistrar pg_register_##Class(#Class, []() -> std::unique_ptr<::pg::Element> { \
    return std::make_unique<Class>();                                  \
  })

// Small helpers for handler values.
std::string to_string_u64(uint64_t v);
std::string format_number(double v);  // shortest exact-ish decimal
uint64_t parse_u64(const std::string& s, uint64_t min, uint64_t max, const char* what);
double parse_double(const std::string& s, double min, double max, const char* what);
bool parse_bool(const std::string& s, const char* what);

}  // namespace pg
