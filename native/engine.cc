#include "engine.h"

#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <stdexcept>

#include "profile.h"

namespace pg {

thread_local LoopClock tls_clock;
thread_local uint64_t tls_wake_ns = UINT64_MAX;
thread_local WaitFds tls_wait_fds;
thread_local uint32_t tls_fd_waits = 0;

// An idle worker's wait when tasks named fds (wake_on_fd): poll() on them and its kick eventfd
// for at most `ns`, so a frame arriving on a device's ring ends the wait at once.
static void wait_on_fds(uint64_t ns, int kick_fd) {
  pollfd p[kMaxWaitFds + 1];
  uint32_t n = tls_wait_fds.n;
  for (uint32_t i = 0; i < n; i++) p[i] = {tls_wait_fds.fd[i], POLLIN, 0};
  if (kick_fd >= 0) p[n++] = {kick_fd, POLLIN, 0};
  timespec ts{time_t(ns / 1000000000ull), long(ns % 1000000000ull)};
  if (ppoll(p, n, &ts, nullptr) > 0 && kick_fd >= 0 && (p[n - 1].revents & POLLIN)) {
    uint64_t v;
    (void)!read(kick_fd, &v, sizeof v);
  }
}

// The longest idle wait of a worker whose every idle task waits on an fd (device receivers):
// nothing else can give it work but the control thread, which kicks it. Bounded all the same:
// a timer a handler arms from the control thread waits for the next round (at most this late). Was idle_sleep_us (200 µs) like every idle wait:
// 5,000 wake-ups a second, 14% of a CPU on this VM for an idle bridge.
constexpr uint64_t kFdIdleNs = 2000000;

// An idle worker spins at most this long after its last busy round, then yields at most
// until kIdleYieldNs (64 and 256 rounds of a small graph take about as long).
constexpr uint64_t kIdleSpinNs = 20000;
constexpr uint64_t kIdleYieldNs = 200000;

// The most of a graph's hot arena prefetched before one of its tasks runs (4 KB).
constexpr uint32_t kPrefetchLines = 64;

// The calling thread's user and system CPU time (one system call; a worker calls it every
// 10 ms, never per packet).
static void sample_rusage(std::atomic<uint64_t>& user_ns, std::atomic<uint64_t>& sys_ns) {
  rusage ru;
  if (getrusage(RUSAGE_THREAD, &ru) != 0) return;
  user_ns.store(uint64_t(ru.ru_utime.tv_sec) * 1000000000ull + uint64_t(ru.ru_utime.tv_usec) * 1000ull, std::memory_order_relaxed);
  sys_ns.store(uint64_t(ru.ru_stime.tv_sec) * 1000000000ull + uint64_t(ru.ru_stime.tv_usec) * 1000ull, std::memory_order_relaxed);
}

// A thread's time on a CPU and waiting on a run queue, ns (/proc schedstat), for the profiler.
static bool read_schedstat(const char* path, Graph::WorkerSched& out) {
  FILE* f = fopen(path, "r");
  if (!f) return false;
  unsigned long long run, wait;
  bool ok = fscanf(f, "%llu %llu", &run, &wait) == 2;
  fclose(f);
  if (ok) {
    out.run_ns = run;
    out.wait_ns = wait;
  }
  return ok;
}

Engine::Engine(const EngineOptions& options) : options_(options) {
  if (options_.threads < 1 || options_.threads > kMaxWorkers - 1)
    throw std::invalid_argument("threads must be from 1 to " + std::to_string(kMaxWorkers - 1));
  pool_ = std::make_unique<PacketPool>(options_.pool_buffers, options_.buffer_size, kDefaultHeadroom, uint32_t(options_.threads));
  workers_.reset(new Worker[size_t(options_.threads)]);
  lists_.resize(size_t(options_.threads));
  for (auto& l : lists_) l = std::make_unique<TaskList>();
  virtual_now_.store(options_.virtual_clock_ns);
  for (int i = 0; i < options_.threads; i++) workers_[size_t(i)].tasks.store(lists_[size_t(i)].get());
}

Engine::~Engine() {
  try {
    stop();
  } catch (const EngineStuck&) {
  }
  std::lock_guard<std::mutex> lock(control_);
  if (wedged_) {
    // A worker still runs inside these: leave them to the process's exit.
    for (auto& [id, g] : graphs_) g.release();
    for (auto& g : kept_) g.release();
    for (auto& l : lists_) l.release();
    drop_retired();
    pool_.release();
    workers_.release();
    return;
  }
  graphs_.clear();
  for (int i = 0; i < options_.threads; i++)
    if (workers_[size_t(i)].kick_fd >= 0) close(workers_[size_t(i)].kick_fd);
}

void Engine::start() {
  std::lock_guard<std::mutex> lock(control_);
  if (running_) return;
  if (wedged_) throw EngineStuck("this engine cannot start again: one of its workers never stopped");
  stop_.store(false);
  for (int i = 0; i < options_.threads; i++) {
    Worker& w = workers_[size_t(i)];
    if (w.kick_fd < 0) w.kick_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);  // -1: no long waits, the old cadence
    w.in_loop.store(false);
    w.exited.store(false);
    w.thread = std::thread(&Engine::worker_main, this, i);
    w.handle = w.thread.native_handle();
  }
  for (int i = 0; i < options_.threads; i++)
    while (!workers_[size_t(i)].in_loop.load()) std::this_thread::yield();
  running_ = true;
  reaper_quit_ = false;
  reaper_ = std::thread(&Engine::reaper_main, this);
}

void Engine::stop() {
  std::lock_guard<std::mutex> lock(control_);
  if (!running_) return;
  {
    // The reaper only ever try_locks control_, so it cannot be waiting for us here.
    std::lock_guard<std::mutex> quit(reaper_mu_);
    reaper_quit_ = true;
  }
  reaper_cv_.notify_one();
  reaper_.join();
  const Watch watch = start_watch();
  stop_.store(true);
  kick_workers();
  std::string stuck;
  for (int i = 0; i < options_.threads; i++) {
    Worker& w = workers_[size_t(i)];
    while (!w.exited.load(std::memory_order_acquire) && !hung(watch, i)) {
      timespec ts{0, 1000000};
      nanosleep(&ts, nullptr);
    }
    if (w.exited.load(std::memory_order_acquire)) {
      w.thread.join();
      continue;
    }
    w.thread.detach();
    stuck += (stuck.empty() ? "" : "; ") + where(i);
  }
  running_ = false;
  if (stuck.empty()) reap_retired();  // no worker reads any list or retired object now
  if (!stuck.empty()) {
    wedged_ = true;
    throw EngineStuck("the engine did not stop within " + std::to_string(kStopTimeoutNs / 1000000) + " ms: " + stuck +
                      ", which has not returned (a packet loop, or a bug in the element); its packets are lost and the process must exit");
  }
}

void Engine::worker_main(int index) {
  tls_worker = index;
  Worker& self = workers_[size_t(index)];
  self.tid.store(int(gettid()));
  {
    char name[16];
    snprintf(name, sizeof name, "pktgraph-w%d", index);
    pthread_setname_np(pthread_self(), name);
  }
  if (options_.pin_threads) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(index % int(sysconf(_SC_NPROCESSORS_ONLN)), &set);
    pthread_setaffinity_np(pthread_self(), sizeof set, &set);
  }
  sample_rusage(self.user_ns, self.sys_ns);
  uint64_t next_rusage_ns = 0;
  self.in_loop.store(true);
  uint32_t idle = 0;
  uint64_t busy_ns = 0;  // when the last busy round ended
  while (!stop_.load(std::memory_order_relaxed)) {
    // On the test clock, a full fence between the last round's `rounds` store and this clock
    // read (and set_virtual_time's seq_cst store) make the epoch wait exact: once the control
    // thread has seen a round end after its store, every later round reads the new time.
    // Without it, x86 may let this read pass the buffered `rounds` store, and a round counted
    // as "after the move" could still run at the old time.
    if (options_.virtual_clock_ns) std::atomic_thread_fence(std::memory_order_seq_cst);
    const uint64_t virtual_now = virtual_now_.load(std::memory_order_acquire);
    tls_clock.mono_ns = virtual_now ? virtual_now : monotonic_ns();
    tls_clock.real_ns = realtime_ns();
    tls_wake_ns = UINT64_MAX;
    tls_wait_fds.n = 0;
    if (tls_clock.mono_ns >= next_rusage_ns) {
      sample_rusage(self.user_ns, self.sys_ns);
      next_rusage_ns = tls_clock.mono_ns + 10000000;
    }
    const TaskList* list = self.tasks.load(std::memory_order_acquire);
    bool busy = false, polled = false;
    const size_t n = list->tasks.size();
    const Slot* slots = list->tasks.data();
    // Two tasks ahead (wrapping into the next round), the graph's hot state and counter row
    // are fetched into the cache while this task runs: with many graphs on the worker, that
    // state is rarely still cached from the last round, and fetching it only when the task
    // dereferences it costs a chain of misses per task (docs/architecture.md, "Many graphs").
    // One task ahead, the lines its graph's elements noted as read last time (WarmLines: the
    // FIB walk's), found through that hot state, which is in the cache by then.
    const size_t ahead = n > 2 ? 2 : 0;
    for (size_t i = 0; i < n; i++) {
      if (ahead) {
        const Slot& a = slots[i + ahead < n ? i + ahead : i + ahead - n];
        for (uint32_t l = 0; l < a.hot_lines; l++) __builtin_prefetch(a.hot + size_t(l) * 64, 1);
        for (uint32_t l = 0; l < a.counter_lines; l++) __builtin_prefetch(a.counters + size_t(l) * 64, 1);
        const Slot& b = slots[i + 1 < n ? i + 1 : 0];
        for (uint32_t k = 0; k < b.warm_count; k++) {
          const WarmLines* w = b.warm[k];
          for (uint32_t l = 0; l < w->n; l++) __builtin_prefetch(w->at[l]);
        }
      }
      const Slot& t = slots[i];
      self.in_task.store(t.element, std::memory_order_relaxed);
      const uint32_t fd_waits = tls_fd_waits;
      if (t.element->run_task()) {
        busy = true;
        Graph::note_activity(t.activity);
      } else if (tls_fd_waits == fd_waits) {
        polled = true;  // it found nothing and waits on no fd: poll it at the usual cadence
      }
    }
    self.in_task.store(nullptr, std::memory_order_relaxed);
    for (Timer* t : list->timers) busy |= t->run_if_due(tls_clock.mono_ns);
    self.rounds.store(self.rounds.load(std::memory_order_relaxed) + 1, std::memory_order_release);
    if (busy) {
      self.busy_rounds.store(self.busy_rounds.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
      idle = 0;
      busy_ns = tls_clock.mono_ns;
      continue;
    }
    // Idle: spin a little, then yield, then sleep briefly (bounded, so epochs stay short),
    // the spin and the yields bounded in time as well as in rounds: a round over a thousand
    // graphs takes tens of microseconds, and a worker whose paced sources have a packet due
    // every few rounds never reached 64 idle rounds, so it spun for good (a CPU taken from
    // the service's thread on a small machine);
    // but never past the time a task or timer asked to be woken at. When that time is within
    // one sleep (a paced source or RatedUnqueue between packets), sleep towards it at once
    // instead of yielding: on a busy machine a yield can hand the CPU to another thread for
    // its whole time slice, while a thread waking from a short sleep is run promptly.
    // When tasks named fds to wake on (a device's receive ring), the sleep is a poll() on them
    // and the yields are skipped: the worker sleeps until a frame arrives, then runs at once;
    // when every idle task waits on an fd (none must be polled), that poll lasts up to
    // kFdIdleNs, ended early by a frame, a time asked for, or the control thread's kick.
    const uint64_t until_wake = tls_wake_ns > tls_clock.mono_ns ? tls_wake_ns - tls_clock.mono_ns : 0;
    const bool hinted = until_wake <= uint64_t(options_.idle_sleep_us) * 1000;
    const bool fds = tls_wait_fds.n > 0;
    const uint64_t idle_ns = tls_clock.mono_ns - busy_ns;
    if (until_wake == 0 && idle >= 64) {
      // A task asked to be run again at once (a device ring's bounded busy-poll) and a short
      // spin found nothing: look again after offering the CPU to any thread that wants it (on
      // a small machine, the sender and the receiver of the very traffic being polled for);
      // with nothing else runnable the yield returns at once.
      sched_yield();
    } else if ((++idle < 64 && idle_ns < kIdleSpinNs) || until_wake < 30000) {
      __builtin_ia32_pause();
    } else if (idle < 256 && idle_ns < kIdleYieldNs && !hinted && !fds) {
      sched_yield();
    } else {
      uint64_t ns = uint64_t(idle < 1024 && !hinted ? 20 : options_.idle_sleep_us) * 1000;
      if (fds && !polled) ns = kFdIdleNs;  // a frame on a named fd ends the wait at once
      ns = std::min(ns, until_wake - 20000);  // the sleep overshoots by tens of microseconds
      if (fds) {
        wait_on_fds(ns, self.kick_fd);
      } else {
        timespec ts{0, long(ns)};
        nanosleep(&ts, nullptr);
      }
    }
  }
  pool_->flush_cache();
  sample_rusage(self.user_ns, self.sys_ns);
  self.exit_sched.tid = self.tid.load();
  read_schedstat("/proc/thread-self/schedstat", self.exit_sched);
  tls_clock = LoopClock{};
  tls_worker = -1;
  self.exited.store(true, std::memory_order_release);
}

void Engine::publish(bool wait) {
  std::vector<std::unique_ptr<TaskList>> fresh(size_t(options_.threads));
  for (auto& l : fresh) l = std::make_unique<TaskList>();
  for (auto& [id, g] : graphs_) {
    if (g->paused) continue;
    // The hot arena (chunks' data start on a cache line) and the worker's counter row.
    const uint32_t hot_lines = uint32_t(std::min<size_t>(kPrefetchLines, (g->hot_bytes() + 63) / 64));
    CounterArena& counters = *g->counters();
    for (const TaskRef& t : g->tasks()) {
      if (g->stopped && !t.element->drains_while_stopped()) continue;
      const char* row = reinterpret_cast<const char*>(counters.row(uint32_t(t.worker)));
      // The row is prefetched on its own only where the hot lines do not cover it (a graph
      // whose counters did not fit its first hot chunk).
      const bool covered = row >= g->hot_begin() && row + counters.stride * 8 <= g->hot_begin() + size_t(hot_lines) * 64;
      fresh[size_t(t.worker)]->tasks.push_back(Slot{t.element, g->activity_cell(t.worker), g->hot_begin(), row, g->warm_lines(), hot_lines, covered ? 0 : counters.stride / 8, g->warm_count()});
    }
    if (g->stopped) continue;
    for (const TimerRef& t : g->timers()) fresh[size_t(t.worker)]->timers.push_back(t.timer);
  }
  for (int i = 0; i < options_.threads; i++) workers_[size_t(i)].tasks.store(fresh[size_t(i)].get(), std::memory_order_release);
  kick_workers();  // a worker in a long idle wait runs the new list at once
  if (!wait && running_ && !wedged_) {
    Retired r{std::move(lists_), {}, {}};
    for (int i = 0; i < options_.threads; i++) r.rounds.push_back(workers_[size_t(i)].rounds.load(std::memory_order_acquire));
    retired_.push_back(std::move(r));
    lists_ = std::move(fresh);
    reap_retired();
    return;
  }
  try {
    wait_epoch();
  } catch (const EngineStuck&) {
    for (auto& l : lists_) l.release();  // a worker that never finishes its round may still read its old list
    drop_retired();
    lists_ = std::move(fresh);
    throw;
  }
  if (wedged_) {
    for (auto& l : lists_) l.release();
    drop_retired();
  }
  reap_retired();  // older still than the lists just replaced: no worker reads them either
  lists_ = std::move(fresh);  // the old lists are no longer read by any worker
}

void Engine::drop_retired() {
  for (auto& r : retired_) {
    for (auto& l : r.lists) l.release();
    r.free = nullptr;  // its object is leaked, not freed
  }
  retired_.clear();
  has_retired_.store(false, std::memory_order_relaxed);
}

void Engine::retire(std::function<void()> free) {
  if (wedged_) return;  // a worker may still read it: leak it
  if (!running_) {
    free();  // no worker reads anything
    return;
  }
  Retired r{{}, {}, std::move(free)};
  for (int i = 0; i < options_.threads; i++) r.rounds.push_back(workers_[size_t(i)].rounds.load(std::memory_order_acquire));
  retired_.push_back(std::move(r));
  reap_retired();
  if (!retired_.empty() && !has_retired_.load(std::memory_order_relaxed)) {
    {
      std::lock_guard<std::mutex> wake(reaper_mu_);  // so the reaper cannot miss the wake-up
      has_retired_.store(true, std::memory_order_relaxed);
    }
    reaper_cv_.notify_one();
  }
}

void Engine::reaper_main() {
  std::unique_lock<std::mutex> lock(reaper_mu_);
  while (!reaper_quit_) {
    // Idle until something is retired, then a look every millisecond (two worker rounds
    // take up to about twice the idle sleep, 0.4 ms by default).
    if (has_retired_.load(std::memory_order_relaxed))
      reaper_cv_.wait_for(lock, std::chrono::milliseconds(1));
    else
      reaper_cv_.wait(lock, [this] { return reaper_quit_ || has_retired_.load(std::memory_order_relaxed); });
    if (reaper_quit_ || !control_.try_lock()) continue;  // a control operation holds it: it reaps too
    reap_retired();
    control_.unlock();
  }
}

void Engine::reap_retired() {
  std::erase_if(retired_, [this](Retired& r) {
    if (running_)
      for (int i = 0; i < options_.threads; i++)
        if (workers_[size_t(i)].rounds.load(std::memory_order_acquire) < r.rounds[size_t(i)] + 2) return false;
    if (r.free) r.free();
    return true;
  });
  has_retired_.store(!retired_.empty(), std::memory_order_relaxed);
}

void Engine::kick_workers() {
  const uint64_t one = 1;
  for (int i = 0; i < options_.threads; i++)
    if (const int fd = workers_[size_t(i)].kick_fd; fd >= 0) (void)!write(fd, &one, sizeof one);
}

void Engine::wait_epoch() {
  if (!running_) return;
  kick_workers();
  std::vector<uint64_t> seen(size_t(options_.threads));
  for (int i = 0; i < options_.threads; i++) seen[size_t(i)] = workers_[size_t(i)].rounds.load(std::memory_order_acquire);
  // Two rounds: the one in progress when we published may have read the old list.
  const Watch watch = start_watch();
  std::string stuck;
  for (int i = 0; i < options_.threads; i++)
    while (workers_[size_t(i)].rounds.load(std::memory_order_acquire) < seen[size_t(i)] + 2) {
      if (hung(watch, i)) {
        stuck += (stuck.empty() ? "" : "; ") + where(i);
        break;
      }
      timespec ts{0, 20000};
      nanosleep(&ts, nullptr);
    }
  if (!stuck.empty()) {
    wedged_ = true;
    throw EngineStuck("a worker did not finish its round within " + std::to_string(kStopTimeoutNs / 1000000) + " ms: " + stuck +
                      ", which has not returned (a packet loop, or a bug in the element); the engine cannot change its graphs any more and the process must exit");
  }
}

// A worker is hung when, waited for kStopTimeoutNs, it has also spent a quarter of that on a
// CPU without finishing its round (which takes microseconds): one that was merely not
// scheduled on a busy machine is waited for longer.
Engine::Watch Engine::start_watch() const {
  Watch w{monotonic_ns(), {}};
  for (int i = 0; i < options_.threads; i++) w.cpu_ns.push_back(thread_cpu_ns(i));
  return w;
}

bool Engine::hung(const Watch& watch, int index) const {
  return monotonic_ns() - watch.start_ns >= kStopTimeoutNs && thread_cpu_ns(index) - watch.cpu_ns[size_t(index)] >= kStopTimeoutNs / 4;
}

uint64_t Engine::thread_cpu_ns(int index) const {
  clockid_t cid;
  timespec ts;
  if (pthread_getcpuclockid(workers_[size_t(index)].handle, &cid) != 0 || clock_gettime(cid, &ts) != 0) return 0;
  return uint64_t(ts.tv_sec) * 1000000000ull + uint64_t(ts.tv_nsec);
}

std::string Engine::where(int index) const {
  const Element* e = workers_[size_t(index)].in_task.load(std::memory_order_relaxed);
  return "worker " + std::to_string(index) + " is still inside " + (e ? "the task of element '" + e->name() + "' (" + e->class_name() + ")" : "a timer");
}

uint32_t Engine::add_graph(const std::string& plan_json, const std::string* image, bool stopped, bool counters) {
  std::lock_guard<std::mutex> lock(control_);
  auto g = std::make_unique<Graph>(plan_json, *pool_, options_.threads, next_worker_, nullptr, image, counters);
  for (auto& [id, other] : graphs_)
    if (other->name() == g->name())
      throw PlanError("a graph named '" + g->name() + "' is already running in this engine; graph names must be unique");
  g->synchronize = [this] { wait_epoch(); };
  g->retire = [this](std::function<void()> free) { retire(std::move(free)); };
  if (stopped) g->set_stopped(true);
  uint32_t id = next_graph_id_++;
  graphs_[id] = std::move(g);
  publish(false);  // only adds tasks: no need to wait for the other graphs' round
  return id;
}

uint32_t Engine::replace_graph(uint32_t id, const std::string& plan_json, uint64_t* swap_ns, size_t* taken) {
  std::lock_guard<std::mutex> lock(control_);
  Graph& old = graph(id);
  // Everything that can fail happens here, with the old graph still on the workers.
  auto g = std::make_unique<Graph>(plan_json, *pool_, options_.threads, next_worker_, &old);
  for (auto& [other_id, other] : graphs_)
    if (other_id != id && other->name() == g->name())
      throw PlanError("a graph named '" + g->name() + "' is already running in this engine; graph names must be unique");
  g->synchronize = [this] { wait_epoch(); };
  g->retire = [this](std::function<void()> free) { retire(std::move(free)); };
  // The swap: the workers leave the old graph at the end of the round they are in (a batch
  // is never split), the state moves, and the next round runs the new graph.
  const uint64_t t0 = monotonic_ns();
  const bool was_paused = old.paused;
  if (!was_paused) {
    old.paused = true;
    publish();  // throws EngineStuck only if a worker never returns (then nothing can be swapped)
  }
  const size_t n = g->take_state_from(old);
  g->paused = was_paused;
  g->set_stopped(old.stopped);
  const uint32_t new_id = next_graph_id_++;
  graphs_[new_id] = std::move(g);
  std::unique_ptr<Graph> gone = std::move(graphs_[id]);
  graphs_.erase(id);
  // Publishing stores the new task lists at once, then waits an epoch to free the old lists.
  const uint64_t t1 = monotonic_ns();
  if (!was_paused) publish(false);  // the old graph left the lists in the first publish
  if (swap_ns) *swap_ns = t1 - t0;
  if (taken) *taken = n;
  if (wedged_) kept_.push_back(std::move(gone));
  return new_id;  // `gone` is destroyed here: its cleanup() frees what its elements still hold
}

Graph& Engine::graph(uint32_t id) {
  auto it = graphs_.find(id);
  if (it == graphs_.end()) throw std::out_of_range("no graph with id " + std::to_string(id) + " in this engine");
  return *it->second;
}

void Engine::remove_graph(uint32_t id) {
  std::lock_guard<std::mutex> lock(control_);
  Graph& g = graph(id);
  g.paused = true;
  publish();  // no worker runs any of its tasks after this
  if (wedged_) kept_.push_back(std::move(graphs_[id]));  // unless one never stopped
  graphs_.erase(id);  // elements' cleanup() returns held packets to the pool
}

std::string Engine::save_state(uint32_t id) {
  std::lock_guard<std::mutex> lock(control_);
  return graph(id).save_state();
}

void Engine::pause_graph(uint32_t id) {
  std::lock_guard<std::mutex> lock(control_);
  Graph& g = graph(id);
  if (g.paused) return;
  g.paused = true;
  publish();
}

void Engine::resume_graph(uint32_t id) {
  std::lock_guard<std::mutex> lock(control_);
  Graph& g = graph(id);
  if (!g.paused) return;
  g.paused = false;
  publish(false);
}

void Engine::set_graph_stopped(uint32_t id, bool on) {
  std::lock_guard<std::mutex> lock(control_);
  Graph& g = graph(id);
  if (g.stopped == on) return;
  g.set_stopped(on);  // before publishing: a receiver drops from its first stopped round
  publish(on);  // stopping waits until its tasks are off the workers; starting only adds
}

static const Handler& find_handler(Graph& g, const std::string& element, const std::string& handler, int& index) {
  index = g.element_index(element);
  if (index < 0) throw std::out_of_range("graph '" + g.name() + "' has no element named '" + element + "'");
  for (const Handler& h : g.handlers(index))
    if (h.name == handler) return h;
  throw std::out_of_range("element '" + element + "' (" + g.elements()[size_t(index)]->class_name() +
                          ") has no native handler '" + handler + "'");
}

std::string Engine::read_handler(uint32_t id, const std::string& element, const std::string& handler) {
  std::lock_guard<std::mutex> lock(control_);
  int index;
  const Handler& h = find_handler(graph(id), element, handler, index);
  if (!h.read) throw std::invalid_argument("handler '" + element + "." + handler + "' is write-only");
  return h.read();
}

void Engine::write_handler(uint32_t id, const std::string& element, const std::string& handler, const std::string& value) {
  std::lock_guard<std::mutex> lock(control_);
  Graph& g = graph(id);
  int index;
  const Handler& h = find_handler(g, element, handler, index);
  if (!h.write) throw std::invalid_argument("handler '" + element + "." + handler + "' is read-only");
  if (!h.exclusive || g.paused) {
    h.write(value);
    return;
  }
  // Structural change: take the graph off the workers, change it, put it back.
  g.paused = true;
  publish();
  try {
    h.write(value);
  } catch (...) {
    g.paused = false;
    publish();
    throw;
  }
  g.paused = false;
  publish();
}

GraphState Engine::graph_state(uint32_t id) {
  std::lock_guard<std::mutex> lock(control_);
  Graph& g = graph(id);
  return GraphState{g.has_sources(), g.sources_finished(), g.held_packets(), g.activity()};
}

void Engine::set_profiling(uint32_t id, bool on) {
  std::lock_guard<std::mutex> lock(control_);
  Graph& g = graph(id);
  const bool was_paused = g.paused;
  if (!was_paused) {
    g.paused = true;
    publish();  // no worker is inside the graph now: its links can be rewired
  }
  g.set_profiling(on);
  g.profile_sched_base.clear();
  for (int i = 0; i < options_.threads; i++) g.profile_sched_base.push_back(worker_sched(i));
  if (!was_paused) {
    g.paused = false;
    publish();
  }
}

Graph::WorkerSched Engine::worker_sched(int index) const {
  const Worker& w = workers_[size_t(index)];
  if (running_) {
    Graph::WorkerSched s{w.tid.load(), 0, 0};
    char path[64];
    snprintf(path, sizeof path, "/proc/self/task/%d/schedstat", s.tid);
    if (read_schedstat(path, s)) return s;
  }
  return w.exit_sched;
}

Engine::Profile Engine::profile(uint32_t id) {
  std::lock_guard<std::mutex> lock(control_);
  Graph& g = graph(id);
  Profile p{g.profiling(), profile_ns_per_tick(), {}, {}};
  // Self times are TSC (wall) intervals: a worker preempted inside an element would charge
  // the element for another thread's time. Preemption strikes in proportion to the time
  // spent, so scale each worker's times by the share of its runnable time that it ran.
  std::vector<double> scale;
  for (int i = 0; i < options_.threads; i++) {
    Graph::WorkerSched now = worker_sched(i), base{now.tid, 0, 0};
    if (size_t(i) < g.profile_sched_base.size() && g.profile_sched_base[size_t(i)].tid == now.tid) base = g.profile_sched_base[size_t(i)];
    Graph::WorkerSched d{now.tid, now.run_ns - std::min(now.run_ns, base.run_ns), now.wait_ns - std::min(now.wait_ns, base.wait_ns)};
    p.workers.push_back(d);
    scale.push_back(d.run_ns + d.wait_ns ? double(d.run_ns) / double(d.run_ns + d.wait_ns) : 1.0);
  }
  p.elements = g.profile(scale);
  return p;
}

void Engine::set_virtual_time(uint64_t ns) {
  std::lock_guard<std::mutex> lock(control_);
  if (virtual_now_.load() == 0) throw std::logic_error("this engine runs on the real clock (no virtualClockNs option)");
  if (ns < virtual_now_.load()) throw std::invalid_argument("the virtual clock never goes back");
  virtual_now_.store(ns, std::memory_order_seq_cst);  // pairs with the worker loop's fence
  wait_epoch();  // two rounds: the second began after the store
}

uint64_t Engine::min_rounds() const {
  uint64_t m = UINT64_MAX;
  for (int i = 0; i < options_.threads; i++) m = std::min(m, workers_[size_t(i)].rounds.load(std::memory_order_acquire));
  return m;
}

std::vector<WorkerStats> Engine::worker_stats() const {
  std::vector<WorkerStats> out;
  for (int i = 0; i < options_.threads; i++) {
    const Worker& w = workers_[size_t(i)];
    const uint64_t cpu = running_ ? thread_cpu_ns(i) : 0;
    const bool live = running_;
    out.push_back({w.rounds.load(), w.busy_rounds.load(), cpu, live ? w.user_ns.load() : 0, live ? w.sys_ns.load() : 0});
  }
  return out;
}

}  // namespace pg
