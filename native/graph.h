// A running graph: the elements of one plan, wired together, with their counters.
// One engine hosts many graphs; each is added, paused and removed on its own.
#pragma once
#include <atomic>
#include <functional>
#include <map>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "element.h"
#include "json.h"

namespace pg {

constexpr int kPlanVersion = 3;

// The plan was refused; the message names the element, port or field.
struct PlanError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct TaskRef {
  Element* element;
  int worker;
};
struct TimerRef {
  Timer* timer;
  int worker;
};

class Graph {
 public:
  // Builds, configures, connects and initializes every element. Throws PlanError.
  // With a predecessor (a running graph this one is to replace): each element with the same
  // name and class as one of its elements is that one's successor (Element::predecessor()),
  // runs on the same workers, and is asked prepare_take(old) once initialised; the
  // predecessor is only read.
  // With a saved state image (save_state's, from a graph of the same plan or another made from
  // the same source: vr.restore, vr.clone): every element with a record of the same name and
  // class is restoring() from configure() on, gets the saved counters (unless `counters` is
  // false: a clone starts counting afresh) and restore_state() once initialised; records of no
  // such element are skipped. A malformed image or a refusal is a PlanError.
  Graph(const std::string& plan_json, PacketPool& pool, int workers, int& next_worker, const Graph* predecessor = nullptr,
        const std::string* image = nullptr, bool counters = true);
  ~Graph();

  const std::string& name() const { return name_; }
  const std::vector<std::unique_ptr<Element>>& elements() const { return elements_; }
  Element* element(const std::string& name) const;
  int element_index(const std::string& name) const;
  const std::vector<TaskRef>& tasks() const { return tasks_; }
  const std::vector<TimerRef>& timers() const { return timers_; }
  const std::shared_ptr<CounterArena>& counters() const { return counters_; }

  // Handlers of one element (built once, on first use).
  const std::vector<Handler>& handlers(int element_index);

  // The swap of a replacement (Engine::replace_graph), with neither graph on the workers:
  // every successor adds its predecessor's counters (by name) to its own and takes its state
  // (Element::take_state). Never throws; returns how many elements took over. `old` is
  // destroyed afterwards.
  size_t take_state_from(Graph& old);
  // After take_state_from: the old elements that still held packets (freed with the old
  // graph), with how many: their classes do not carry packets, or the new plan lacks them.
  std::vector<std::pair<std::string, uint64_t>> dropped;

  // Every element's counters and saved state (Element::save_state), in the image format of
  // docs/router-file.md. Control thread; the graph may be running: each table is saved as of
  // one instant (its element's lock), counters as they are read.
  std::string save_state();
  // While loading from an image: whether its counters are restored (false for a clone), for
  // an element's restore_state that keeps counters of its own.
  bool restores_counters() const { return restore_counters_; }

  // Drain detection: all sources finished, nothing held, no task did any work.
  bool sources_finished() const;
  bool has_sources() const;
  uint64_t held_packets() const;
  uint64_t activity() const;
  // A worker's activity cell (the engine keeps the pointer beside each task it runs).
  uint64_t* activity_cell(int worker) { return &activity_[size_t(worker) * 8]; }
  static void note_activity(uint64_t* cell) {
    std::atomic_ref<uint64_t> a(*cell);
    a.store(a.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  }
  // The graph's hot state (elements, links, activity cells, small tables: state_arena.h),
  // which the worker prefetches before running one of its tasks.
  const char* hot_begin() const { return arena_->hot_begin(); }
  size_t hot_bytes() const { return arena_->hot_bytes(); }
  size_t arena_bytes() const { return arena_->reserved(); }
  // Warm lines (state_arena.h) of its elements, prefetched before its tasks run; an element
  // adds its own while the graph loads (configure or initialize).
  void add_warm_lines(const WarmLines* w) { warm_.push_back(w); }
  const WarmLines* const* warm_lines() const { return warm_.data(); }
  uint32_t warm_count() const { return uint32_t(warm_.size()); }

  // Profiling (native/profile.h): point every link and task at a timing probe, or back
  // at the elements, and zero the profile. Only while no worker is inside the graph
  // (paused, or the engine not started).
  void set_profiling(bool on);
  bool profiling() const { return profiling_; }
  struct ElementProfile {
    uint64_t calls, packets;
    uint64_t ticks;     // self time in TSC ticks (wall time, as measured)
    double cpu_ticks;   // the same with each worker's row scaled by its scale below
  };
  // Per element, in element order. worker_scale[w] (1 if missing) scales worker w's ticks:
  // the engine passes the share of the time the worker was runnable that it actually ran.
  std::vector<ElementProfile> profile(const std::vector<double>& worker_scale) const;
  // Engine bookkeeping: each worker's scheduler times when the profile was last zeroed.
  struct WorkerSched {
    int tid;
    uint64_t run_ns, wait_ns;
  };
  std::vector<WorkerSched> profile_sched_base;

  bool paused = false;  // engine bookkeeping: tasks withheld from the workers
  // Engine bookkeeping: only drains_while_stopped() tasks on the workers (paused wins).
  bool stopped = false;
  void set_stopped(bool on) {
    stopped = on;
    for (auto& e : elements_) e->set_stopped(on);
  }
  // Set by the engine: waits for a worker epoch (a no-op while the graph is not running).
  std::function<void()> synchronize;
  // Set by the engine: frees an object once the workers have moved past it, without waiting
  // (Engine::retire); unset (no engine), it frees at once, as synchronize() would not wait.
  std::function<void(std::function<void()>)> retire;

 private:
  // Loading by phase (graph.cc), in this order.
  void load(const json::Value& plan, PacketPool& pool, int workers, int& next_worker);
  void read_header(const json::Value& plan);
  using ClassMap = std::map<std::string, std::shared_ptr<const ClassFacts>>;
  static ClassMap read_classes(const json::Value& plan);
  std::unique_ptr<Element> create_element(const json::Value& element, const std::string& where, const std::map<std::string, int>& index,
                                          const ClassMap& classes, PacketPool& pool, int workers);
  static void set_ports(Element& e, const json::Value& inputs, const json::Value& outputs);
  void connect(const json::Value& connections, const std::map<std::string, int>& index);
  void check_cycles() const;
  void make_counters(int workers);
  void initialize_elements();
  void prepare_takes();
  // One element's record in a saved state image (read_image).
  struct SavedElement {
    std::string cls;
    std::vector<std::pair<std::string, uint64_t>> counters;
    const uint8_t* state = nullptr;  // into the image, which outlives the load
    size_t state_len = 0;
  };
  void read_image(const std::string& image);  // into saved_ (native/state.cc)
  void restore_states();                       // counters and restore_state, after initialize
  bool restoring(const std::string& element, const std::string& cls) const;
  void place_tasks(int workers, int& next_worker);
  // Where the graph's elements and small tables are allocated while it loads; freed (chunk by
  // chunk) once they are, so it is declared before everything allocated in it.
  std::unique_ptr<StateArena> arena_ = std::make_unique<StateArena>();
  std::string name_;
  const Graph* predecessor_ = nullptr;  // while loading a replacement
  std::map<std::string, std::unique_ptr<SavedElement>> saved_;  // while loading from an image
  bool restore_counters_ = true;
  std::vector<std::unique_ptr<Element>> elements_;
  std::vector<std::vector<Handler>> handlers_;
  std::vector<TaskRef> tasks_;
  std::vector<TimerRef> timers_;
  std::shared_ptr<CounterArena> counters_;
  std::unique_ptr<uint64_t[], StateFree> activity_;  // per worker, a cache line apart
  StateVector<const WarmLines*> warm_;
  int workers_ = 1;
  bool profiling_ = false;
  std::vector<std::unique_ptr<Element>> probes_;  // ProfileProbe per element, made on first use
  std::unique_ptr<CounterArena> profile_arena_;    // kProfSlots per element, a row per worker
};

}  // namespace pg
