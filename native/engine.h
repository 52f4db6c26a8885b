// The engine: a packet pool, N worker threads and the graphs they run.
//
// Each worker owns a task list (tasks and timers of every running graph placed on it)
// and runs it round after round, to completion. The control thread never touches
// packets: to change what workers run it publishes a new task list and waits until
// every worker has finished a round since (an epoch), after which the old list, and
// any paused or removed graph, is no longer in use by any worker.
#pragma once
#include <atomic>
#include <condition_variable>
#include <functional>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "graph.h"
#include "pool.h"

namespace pg {

struct EngineStuck : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// How long to wait for a worker to finish its round before taking it for hung (if it spent a
// quarter of that on a CPU too): a round takes microseconds, an idle sleep at most 100 ms.
constexpr uint64_t kStopTimeoutNs = 400'000'000;

struct EngineOptions {
  int threads = 1;
  // The pool's capacity, not its cost: a packet's pages are touched only when it is first
  // handed out (pool.h), so a graph's memory follows the packets it has in flight at once.
  // 32768 (72 MiB of address space at 2048-byte buffers) is room for a few full Queues and
  // device rings; --pool raises or lowers it.
  uint32_t pool_buffers = 32768;
  uint32_t buffer_size = 2048;
  bool pin_threads = false;  // pin worker i to CPU i (mod cores)
  uint32_t idle_sleep_us = 200;  // longest sleep of an idle worker
  // Tests: when not 0, workers read a virtual monotonic clock that starts at this time and
  // moves only by set_virtual_time(), so pacing and timers can be checked without real time.
  // Other threads (handlers) still read the real clock.
  uint64_t virtual_clock_ns = 0;
};

struct GraphState {
  bool has_sources;
  bool sources_finished;
  uint64_t held;
  uint64_t activity;
};

struct WorkerStats {
  uint64_t rounds;
  uint64_t busy_rounds;
  uint64_t cpu_ns;  // CPU time of the worker thread
  // Its user and system (kernel) shares: getrusage(RUSAGE_THREAD) as the worker last sampled
  // it (every 10 ms of its loop), so user_ns + sys_ns trails cpu_ns by up to about 10 ms.
  uint64_t user_ns;
  uint64_t sys_ns;
};

class Engine {
 public:
  explicit Engine(const EngineOptions& options);
  ~Engine();

  void start();
  // Stops the workers. A worker that does not finish its round within kStopTimeoutNs (an
  // element's task or timer that never returns: a bug, or a packet loop the checks let
  // through) is left running, the engine is wedged (its graphs and pool are never freed,
  // since that worker still uses them) and stop() throws EngineStuck naming the element: the
  // process has to exit to end it, which it then can, instead of waiting for ever.
  void stop();
  bool running() const { return running_; }
  int threads() const { return options_.threads; }
  PacketPool& pool() { return *pool_; }

  // Throws PlanError. With `image` (save_state's, vr.restore and vr.clone): its elements'
  // counters and state are restored before the graph reaches the workers (Graph). `stopped`:
  // it starts stopped (set_graph_stopped); `counters` false: the image's counters are not restored.
  uint32_t add_graph(const std::string& plan_json, const std::string* image = nullptr, bool stopped = false, bool counters = true);
  // Graph `id`'s counters and element state as an image (Graph::save_state), with no handler
  // running meanwhile: each table as of one instant. The graph keeps running.
  std::string save_state(uint32_t id);
  void remove_graph(uint32_t id);
  Graph& graph(uint32_t id);  // throws std::out_of_range with a clear message
  // Hot reconfiguration: load `plan_json` as the successor of graph `id` (checked, configured
  // and initialised while `id` keeps running: a PlanError leaves it untouched), then swap:
  // take `id` off the workers (one epoch), let the new graph's elements take their
  // predecessors' state (Graph::take_state_from), put the new graph on, and destroy the old
  // one. Returns the new graph's id (a paused graph's successor starts paused). `swap_ns`
  // (optional) gets the time from the old graph's removal from the task lists to the new
  // one's publication, and `taken` how many elements took over.
  // The new graph's `dropped` lists packets old elements still held after the swap (freed).
  uint32_t replace_graph(uint32_t id, const std::string& plan_json, uint64_t* swap_ns = nullptr, size_t* taken = nullptr);
  void pause_graph(uint32_t id);
  void resume_graph(uint32_t id);
  // Stop (or start) a graph's traffic: its tasks and timers leave the workers but its device
  // receivers' (Element::drains_while_stopped), which drop and count what arrives; its state
  // stays. A stopped graph's successor (replace_graph) starts stopped.
  void set_graph_stopped(uint32_t id, bool on);

  std::string read_handler(uint32_t id, const std::string& element, const std::string& handler);
  void write_handler(uint32_t id, const std::string& element, const std::string& handler, const std::string& value);

  GraphState graph_state(uint32_t id);
  // Per-element profiling (native/profile.h): switch it on or off, zeroing the counts; the
  // graph leaves the workers for the change (an epoch) unless it is paused already.
  void set_profiling(uint32_t id, bool on);
  struct Profile {
    bool enabled;
    double ns_per_tick;
    std::vector<Graph::ElementProfile> elements;  // in the plan's element order
    // Per worker since the profile was zeroed: time it ran and time it waited for a CPU
    // (/proc schedstat); an element's cpu_ticks discount the waiting.
    std::vector<Graph::WorkerSched> workers;
  };
  Profile profile(uint32_t id);
  // Smallest round count over the workers: when it has grown by 2, every worker has
  // completed a whole round since it was read.
  uint64_t min_rounds() const;
  std::vector<WorkerStats> worker_stats() const;
  // Tests (virtual_clock_ns set): move the workers' clock to `ns` (never back) and return once
  // every worker has completed a whole round at that time.
  void set_virtual_time(uint64_t ns);

 private:
  // One task as a worker runs it: the element, where to count the graph's activity, and what
  // to prefetch a few tasks ahead: the graph's hot state and the worker's counter row.
  struct Slot {
    Element* element;
    uint64_t* activity;
    const char* hot;
    const char* counters;
    const WarmLines* const* warm;  // the graph's (Graph::warm_lines)
    uint32_t hot_lines, counter_lines, warm_count;
  };
  struct TaskList {
    std::vector<Slot> tasks;
    std::vector<Timer*> timers;
  };
  struct alignas(64) Worker {
    std::thread thread;
    std::atomic<const TaskList*> tasks{nullptr};
    std::atomic<uint64_t> rounds{0};
    std::atomic<uint64_t> busy_rounds{0};
    std::atomic<bool> in_loop{false};
    std::atomic<bool> exited{false};
    // The element whose task the worker is running (null between tasks: in its timers or
    // idle), read only to name an element that never returns.
    std::atomic<const Element*> in_task{nullptr};
    pthread_t handle{};
    // An eventfd the worker's long idle wait polls beside its tasks' fds: kick_workers() ends
    // the wait when the control thread needs a round (a new task list, an epoch, stop).
    int kick_fd = -1;
    std::atomic<uint64_t> user_ns{0}, sys_ns{0};  // sampled by the worker (WorkerStats)
    // For the profiler: the thread's id, and its scheduler times when it last exited.
    std::atomic<int> tid{0};
    Graph::WorkerSched exit_sched{0, 0, 0};
  };

  void worker_main(int index);
  void kick_workers();
  // Rebuild every worker's task list from the running graphs. `wait`: return once no worker
  // runs a task left out of them (an epoch), what taking a graph off the workers needs;
  // without it (a change that only adds tasks: a graph loaded or put back) the old lists are
  // retired and freed by a later publish once the workers have moved past them, so loading a
  // router does not wait for a round of all the others (a millisecond or more with a thousand).
  void publish(bool wait = true);
  void reap_retired();     // free the retired lists and objects every worker has moved past
  void wait_epoch();       // until every running worker has completed a round; throws EngineStuck
  std::string where(int index) const;  // "worker N is still inside ..." for EngineStuck
  struct Watch {
    uint64_t start_ns;
    std::vector<uint64_t> cpu_ns;  // per worker
  };
  Watch start_watch() const;
  bool hung(const Watch& watch, int index) const;  // no round finished in kStopTimeoutNs, much of it on a CPU
  uint64_t thread_cpu_ns(int index) const;
  Graph::WorkerSched worker_sched(int index) const;  // its scheduler times now (control_ held)

  EngineOptions options_;
  std::unique_ptr<PacketPool> pool_;
  std::unique_ptr<Worker[]> workers_;
  std::vector<std::unique_ptr<TaskList>> lists_;  // current lists, owned here
  // Lists replaced by a publish without a wait, with each worker's round count at the time:
  // free once every worker has completed two rounds since (wait_epoch's rule).
  // Objects an element retired (retire(): a replaced FIB snapshot) ride along as `free`; a
  // Retired dropped without being reaped (a wedged engine) leaks them, which is the point.
  struct Retired {
    std::vector<std::unique_ptr<TaskList>> lists;
    std::vector<uint64_t> rounds;
    std::function<void()> free;
  };
  std::vector<Retired> retired_;
  // An object a handler replaced, freed once the workers have moved past it (control_ held):
  // the request does not wait for their round; a later publish, retire or the reaper frees it.
  void retire(std::function<void()> free);
  void drop_retired();  // a wedged engine's: never freed, since a worker may still read them
  // The reaper: frees what is retired within about a millisecond when no later control
  // operation comes to do it (a router's last route change), off the request path.
  void reaper_main();
  std::thread reaper_;
  std::mutex reaper_mu_;
  std::condition_variable reaper_cv_;
  bool reaper_quit_ = false;  // reaper_mu_
  std::atomic<bool> has_retired_{false};
  std::map<uint32_t, std::unique_ptr<Graph>> graphs_;
  uint32_t next_graph_id_ = 1;
  int next_worker_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> virtual_now_{0};  // the test clock (0: real time)
  bool running_ = false;
  bool wedged_ = false;  // a worker never stopped: nothing it may use is ever freed
  std::vector<std::unique_ptr<Graph>> kept_;  // graphs removed while wedged
  std::mutex control_;  // serialises control operations
};

}  // namespace pg
