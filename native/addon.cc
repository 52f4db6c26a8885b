// The JavaScript binding: an Engine object with control calls only. No call carries
// packets; counters are exposed as an ArrayBuffer over the native counter arena, so
// TypeScript reads them without copies.
#include <napi.h>

#include "engine.h"
#include "exit_watchdog.h"
#include "fib/bench.h"
#include "fib/routes.h"
#include "script.h"

namespace {

using pg::Engine;

// Run fn, turning any C++ exception into a JavaScript Error with the same message.
template <typename F>
auto guarded(const Napi::Env& env, F&& fn) -> decltype(fn()) {
  try {
    return fn();
  } catch (const Napi::Error&) {
    throw;
  } catch (const std::exception& e) {
    throw Napi::Error::New(env, e.what());
  }
}

uint32_t u32_option(const Napi::Object& o, const char* key, uint32_t def, uint32_t min, uint32_t max) {
  Napi::Value v = o.Get(key);
  if (v.IsUndefined()) return def;
  if (!v.IsNumber()) throw Napi::TypeError::New(o.Env(), std::string("engine option '") + key + "' must be a number");
  double d = v.As<Napi::Number>().DoubleValue();
  if (d < min || d > max || d != double(uint32_t(d)))
    throw Napi::RangeError::New(o.Env(), std::string("engine option '") + key + "' must be a whole number from " +
                                             std::to_string(min) + " to " + std::to_string(max));
  return uint32_t(d);
}

std::string string_arg(const Napi::CallbackInfo& info, size_t i, const char* what) {
  if (info.Length() <= i || !info[i].IsString())
    throw Napi::TypeError::New(info.Env(), std::string(what) + " must be a string");
  return info[i].As<Napi::String>().Utf8Value();
}

uint32_t id_arg(const Napi::CallbackInfo& info) {
  if (info.Length() < 1 || !info[0].IsNumber()) throw Napi::TypeError::New(info.Env(), "graph id must be a number");
  return info[0].As<Napi::Number>().Uint32Value();
}

// Wakes a script element's JavaScript side: a thread-safe function that does not keep the
// process alive (the graph does not; its owner decides when to exit). Raw Node-API rather than
// Napi::ThreadSafeFunction: a wake-up allocates nothing on the worker, and call_js cannot throw.
class TsfnNotifier : public pg::ScriptNotifier {
 public:
  TsfnNotifier(Napi::Env env, Napi::Function fn) {
    if (napi_create_threadsafe_function(env, fn, nullptr, Napi::String::New(env, "pktgraph script"), 0, 1, nullptr, nullptr, nullptr,
                                        call_js, &tsfn_) != napi_ok)
      throw Napi::Error::New(env);
    napi_unref_threadsafe_function(env, tsfn_);
  }
  // Abort: a wake-up still queued is discarded, never delivered to a script that has gone, nor
  // run while Node tears the environment down (when it ends the process with one queued).
  ~TsfnNotifier() override { napi_release_threadsafe_function(tsfn_, napi_tsfn_abort); }
  void notify() override { napi_call_threadsafe_function(tsfn_, nullptr, napi_tsfn_nonblocking); }

 private:
  // On the main thread; env is null when a discarded wake-up is dropped. Nothing here may throw
  // (a C++ exception out of this callback aborts the process): once Node is tearing the
  // environment down, napi_call_function refuses to run JavaScript and there is nothing to do;
  // a JavaScript exception stays pending and Node reports it as any callback's.
  static void call_js(napi_env env, napi_value fn, void*, void*) {
    napi_value undefined;
    if (env && fn && napi_get_undefined(env, &undefined) == napi_ok) napi_call_function(env, undefined, fn, 0, nullptr, nullptr);
  }
  napi_threadsafe_function tsfn_ = nullptr;
};

// A ring's memory as an ArrayBuffer that keeps it alive as long as JavaScript holds it.
Napi::ArrayBuffer ring_buffer(Napi::Env env, const std::shared_ptr<pg::ScriptRing>& r) {
  auto* keep = new std::shared_ptr<pg::ScriptRing>(r);
  return Napi::ArrayBuffer::New(
      env, r->mem, r->bytes, [](Napi::Env, void*, std::shared_ptr<pg::ScriptRing>* k) { delete k; }, keep);
}

class EngineWrap : public Napi::ObjectWrap<EngineWrap> {
 public:
  static Napi::Function Init(Napi::Env env) {
    return DefineClass(env, "Engine",
                       {
                           InstanceMethod("start", &EngineWrap::Start),
                           InstanceMethod("stop", &EngineWrap::Stop),
                           InstanceMethod("close", &EngineWrap::Close),
                           InstanceMethod("running", &EngineWrap::Running),
                           InstanceMethod("threads", &EngineWrap::Threads),
                           InstanceMethod("addGraph", &EngineWrap::AddGraph),
                           InstanceMethod("removeGraph", &EngineWrap::RemoveGraph),
                           InstanceMethod("saveState", &EngineWrap::SaveState),
                           InstanceMethod("replaceGraph", &EngineWrap::ReplaceGraph),
                           InstanceMethod("pauseGraph", &EngineWrap::PauseGraph),
                           InstanceMethod("resumeGraph", &EngineWrap::ResumeGraph),
                           InstanceMethod("setGraphStopped", &EngineWrap::SetGraphStopped),
                           InstanceMethod("handlers", &EngineWrap::Handlers),
                           InstanceMethod("readHandler", &EngineWrap::ReadHandler),
                           InstanceMethod("writeHandler", &EngineWrap::WriteHandler),
                           InstanceMethod("graphState", &EngineWrap::GraphState),
                           InstanceMethod("setProfiling", &EngineWrap::SetProfiling),
                           InstanceMethod("profile", &EngineWrap::Profile),
                           InstanceMethod("minRounds", &EngineWrap::MinRounds),
                           InstanceMethod("setVirtualTime", &EngineWrap::SetVirtualTime),
                           InstanceMethod("workerStats", &EngineWrap::WorkerStats),
                           InstanceMethod("poolStats", &EngineWrap::PoolStats),
                           InstanceMethod("scriptAttach", &EngineWrap::ScriptAttach),
                           InstanceMethod("scriptDetach", &EngineWrap::ScriptDetach),
                       });
  }

  explicit EngineWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<EngineWrap>(info) {
    Napi::Env env = info.Env();
    Napi::Object o = info.Length() > 0 && info[0].IsObject() ? info[0].As<Napi::Object>() : Napi::Object::New(env);
    pg::EngineOptions opt;
    opt.threads = int(u32_option(o, "threads", 1, 1, pg::kMaxWorkers - 1));
    opt.pool_buffers = u32_option(o, "poolBuffers", opt.pool_buffers, 64, 1u << 24);
    // Header offsets are 16-bit signed, so a buffer stays under 32 KiB.
    opt.buffer_size = u32_option(o, "bufferSize", opt.buffer_size, 256, 32640);
    opt.idle_sleep_us = u32_option(o, "idleSleepUs", opt.idle_sleep_us, 1, 100000);
    Napi::Value vclock = o.Get("virtualClockNs");
    if (vclock.IsNumber() && vclock.As<Napi::Number>().DoubleValue() >= 1)
      opt.virtual_clock_ns = uint64_t(vclock.As<Napi::Number>().DoubleValue());
    Napi::Value pin = o.Get("pinThreads");
    opt.pin_threads = pin.IsBoolean() && pin.As<Napi::Boolean>().Value();
    guarded(env, [&] {
      engine_ = std::make_unique<Engine>(opt);
      return 0;
    });
    if (napi_add_env_cleanup_hook(env, close_at_teardown, this) == napi_ok) hooked_ = true;
  }
  ~EngineWrap() override {
    if (hooked_) napi_remove_env_cleanup_hook(Env(), close_at_teardown, this);
  }

 private:
  // An engine still open when Node tears the environment down (the process ends without
  // close()) is closed first: its workers stop and its scripts' thread-safe functions are
  // released while they still exist. Node frees those right after the cleanup hooks run, and
  // this object only after that, when a worker's wake-up or a release would reach freed memory.
  static void close_at_teardown(void* self) {
    auto* w = static_cast<EngineWrap*>(self);
    w->hooked_ = false;
    w->engine_.reset();
  }
  bool hooked_ = false;

  Engine& engine(const Napi::Env& env) {
    if (!engine_) throw Napi::Error::New(env, "this engine has been closed");
    return *engine_;
  }

  Napi::Value Start(const Napi::CallbackInfo& info) {
    guarded(info.Env(), [&] { engine(info.Env()).start(); return 0; });
    return info.Env().Undefined();
  }
  Napi::Value Stop(const Napi::CallbackInfo& info) {
    guarded(info.Env(), [&] { engine(info.Env()).stop(); return 0; });
    return info.Env().Undefined();
  }
  // Stop the workers and destroy every graph: all packets go back to the pool, then the pool is freed.
  Napi::Value Close(const Napi::CallbackInfo& info) {
    engine_.reset();
    return info.Env().Undefined();
  }
  Napi::Value Running(const Napi::CallbackInfo& info) {
    return Napi::Boolean::New(info.Env(), engine_ && engine_->running());
  }
  Napi::Value Threads(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), engine(info.Env()).threads());
  }

  // addGraph(plan, image?, stopped?, counters?): image, a Buffer saveState made, restores the
  // graph's counters (unless counters is false) and element state before it runs; stopped:
  // it starts stopped.
  Napi::Value AddGraph(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    std::string plan = string_arg(info, 0, "plan");
    std::string image;
    const bool has_image = info.Length() > 1 && !info[1].IsUndefined() && !info[1].IsNull();
    if (has_image) {
      if (!info[1].IsBuffer()) throw Napi::TypeError::New(env, "the state image must be a Buffer");
      auto b = info[1].As<Napi::Buffer<char>>();
      image.assign(b.Data(), b.Length());
    }
    const bool stopped = info.Length() > 2 && info[2].ToBoolean().Value();
    const bool counters = info.Length() <= 3 || info[3].IsUndefined() || info[3].ToBoolean().Value();
    Engine& e = engine(env);
    uint32_t id = guarded(env, [&] { return e.add_graph(plan, has_image ? &image : nullptr, stopped, counters); });
    return graph_info(env, e, id);
  }

  // saveState(id): the graph's counters and element state as a Buffer (Engine::save_state).
  Napi::Value SaveState(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    uint32_t id = id_arg(info);
    std::string image = guarded(env, [&] { return engine(env).save_state(id); });
    return Napi::Buffer<char>::Copy(env, image.data(), image.size());
  }

  // replaceGraph(id, plan): the new graph's info (as addGraph's), with swapNs and taken.
  Napi::Value ReplaceGraph(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    uint32_t id = id_arg(info);
    std::string plan = string_arg(info, 1, "plan");
    Engine& e = engine(env);
    uint64_t swap_ns = 0;
    size_t taken = 0;
    uint32_t nid = guarded(env, [&] { return e.replace_graph(id, plan, &swap_ns, &taken); });
    Napi::Object out = graph_info(env, e, nid);
    out.Set("swapNs", double(swap_ns));
    out.Set("taken", double(taken));
    // Packets old elements still held after the swap (their classes carry none): freed.
    Napi::Array dropped = Napi::Array::New(env);
    for (const auto& [name, count] : e.graph(nid).dropped) {
      Napi::Object d = Napi::Object::New(env);
      d.Set("element", name);
      d.Set("packets", double(count));
      dropped.Set(dropped.Length(), d);
    }
    out.Set("dropped", dropped);
    return out;
  }

  Napi::Object graph_info(Napi::Env env, Engine& e, uint32_t id) {
    pg::Graph& g = e.graph(id);
    Napi::Object out = Napi::Object::New(env);
    out.Set("id", id);
    out.Set("name", g.name());
    // Counters: the arena itself, kept alive by the ArrayBuffer as long as JavaScript holds it.
    auto* keep = new std::shared_ptr<pg::CounterArena>(g.counters());
    pg::CounterArena& a = **keep;
    Napi::ArrayBuffer buf = Napi::ArrayBuffer::New(
        env, a.data, a.bytes, [](Napi::Env, void*, std::shared_ptr<pg::CounterArena>* k) { delete k; }, keep);
    Napi::Object counters = Napi::Object::New(env);
    counters.Set("buffer", buf);
    counters.Set("rows", a.rows);
    counters.Set("stride", a.stride);
    out.Set("counters", counters);
    Napi::Array elems = Napi::Array::New(env, g.elements().size());
    for (size_t i = 0; i < g.elements().size(); i++) {
      const pg::Element& el = *g.elements()[i];
      Napi::Object eo = Napi::Object::New(env);
      eo.Set("name", el.name());
      eo.Set("class", el.class_name());
      eo.Set("counterBase", el.counter_base());
      Napi::Array names = Napi::Array::New(env, el.counter_names().size());
      for (size_t j = 0; j < el.counter_names().size(); j++) names.Set(uint32_t(j), el.counter_names()[j]);
      eo.Set("counters", names);
      elems.Set(uint32_t(i), eo);
    }
    out.Set("elements", elems);
    Napi::Array tasks = Napi::Array::New(env, g.tasks().size());
    for (size_t i = 0; i < g.tasks().size(); i++) {
      Napi::Object t = Napi::Object::New(env);
      t.Set("element", g.tasks()[i].element->name());
      t.Set("worker", g.tasks()[i].worker);
      tasks.Set(uint32_t(i), t);
    }
    out.Set("tasks", tasks);
    return out;
  }

  Napi::Value RemoveGraph(const Napi::CallbackInfo& info) {
    uint32_t id = id_arg(info);
    guarded(info.Env(), [&] { engine(info.Env()).remove_graph(id); return 0; });
    return info.Env().Undefined();
  }
  Napi::Value PauseGraph(const Napi::CallbackInfo& info) {
    uint32_t id = id_arg(info);
    guarded(info.Env(), [&] { engine(info.Env()).pause_graph(id); return 0; });
    return info.Env().Undefined();
  }
  Napi::Value ResumeGraph(const Napi::CallbackInfo& info) {
    uint32_t id = id_arg(info);
    guarded(info.Env(), [&] { engine(info.Env()).resume_graph(id); return 0; });
    return info.Env().Undefined();
  }

  Napi::Value SetGraphStopped(const Napi::CallbackInfo& info) {
    uint32_t id = id_arg(info);
    if (info.Length() < 2 || !info[1].IsBoolean()) {
      Napi::TypeError::New(info.Env(), "setGraphStopped(id, stopped): stopped must be a boolean").ThrowAsJavaScriptException();
      return info.Env().Undefined();
    }
    const bool on = info[1].As<Napi::Boolean>().Value();
    guarded(info.Env(), [&] { engine(info.Env()).set_graph_stopped(id, on); return 0; });
    return info.Env().Undefined();
  }

  Napi::Value Handlers(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    uint32_t id = id_arg(info);
    std::string element = string_arg(info, 1, "element name");
    return guarded(env, [&]() -> Napi::Value {
      pg::Graph& g = engine(env).graph(id);
      int index = g.element_index(element);
      if (index < 0) throw std::out_of_range("graph '" + g.name() + "' has no element named '" + element + "'");
      const auto& hs = g.handlers(index);
      Napi::Array arr = Napi::Array::New(env, hs.size());
      for (size_t i = 0; i < hs.size(); i++) {
        Napi::Object h = Napi::Object::New(env);
        h.Set("name", hs[i].name);
        h.Set("read", bool(hs[i].read));
        h.Set("write", bool(hs[i].write));
        h.Set("exclusive", hs[i].exclusive);
        arr.Set(uint32_t(i), h);
      }
      return arr;
    });
  }

  Napi::Value ReadHandler(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    uint32_t id = id_arg(info);
    std::string element = string_arg(info, 1, "element name");
    std::string handler = string_arg(info, 2, "handler name");
    std::string v = guarded(env, [&] { return engine(env).read_handler(id, element, handler); });
    return Napi::String::New(env, v);
  }

  Napi::Value WriteHandler(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    uint32_t id = id_arg(info);
    std::string element = string_arg(info, 1, "element name");
    std::string handler = string_arg(info, 2, "handler name");
    std::string value = info.Length() > 3 && info[3].IsString() ? info[3].As<Napi::String>().Utf8Value() : "";
    guarded(env, [&] { engine(env).write_handler(id, element, handler, value); return 0; });
    return env.Undefined();
  }

  Napi::Value GraphState(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    uint32_t id = id_arg(info);
    pg::GraphState s = guarded(env, [&] { return engine(env).graph_state(id); });
    Napi::Object o = Napi::Object::New(env);
    o.Set("hasSources", s.has_sources);
    o.Set("sourcesFinished", s.sources_finished);
    o.Set("held", double(s.held));
    o.Set("activity", double(s.activity));
    return o;
  }

  Napi::Value SetProfiling(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    uint32_t id = id_arg(info);
    if (info.Length() < 2 || !info[1].IsBoolean()) throw Napi::TypeError::New(env, "setProfiling(id, on): on must be true or false");
    bool on = info[1].As<Napi::Boolean>().Value();
    guarded(env, [&] { engine(env).set_profiling(id, on); return 0; });
    return env.Undefined();
  }

  // Per element (plan order): calls, packets and self time in ns (wallNs as timed, selfNs
  // without the time its workers waited for a CPU), summed over the workers.
  Napi::Value Profile(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    uint32_t id = id_arg(info);
    pg::Engine::Profile p = guarded(env, [&] { return engine(env).profile(id); });
    Napi::Object o = Napi::Object::New(env);
    o.Set("enabled", p.enabled);
    Napi::Array arr = Napi::Array::New(env, p.elements.size());
    for (size_t i = 0; i < p.elements.size(); i++) {
      Napi::Object e = Napi::Object::New(env);
      e.Set("calls", double(p.elements[i].calls));
      e.Set("packets", double(p.elements[i].packets));
      e.Set("selfNs", p.elements[i].cpu_ticks * p.ns_per_tick);
      e.Set("wallNs", double(p.elements[i].ticks) * p.ns_per_tick);
      arr.Set(uint32_t(i), e);
    }
    o.Set("elements", arr);
    Napi::Array ws = Napi::Array::New(env, p.workers.size());
    for (size_t i = 0; i < p.workers.size(); i++) {
      Napi::Object w = Napi::Object::New(env);
      w.Set("runNs", double(p.workers[i].run_ns));
      w.Set("waitNs", double(p.workers[i].wait_ns));
      ws.Set(uint32_t(i), w);
    }
    o.Set("workers", ws);
    return o;
  }

  Napi::Value MinRounds(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), double(engine(info.Env()).min_rounds()));
  }

  Napi::Value SetVirtualTime(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (info.Length() < 1 || !info[0].IsNumber()) throw Napi::TypeError::New(env, "setVirtualTime(ns)");
    const double ns = info[0].As<Napi::Number>().DoubleValue();
    guarded(env, [&] { engine(env).set_virtual_time(uint64_t(ns)); return 0; });
    return env.Undefined();
  }

  Napi::Value WorkerStats(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    auto stats = engine(env).worker_stats();
    Napi::Array arr = Napi::Array::New(env, stats.size());
    for (size_t i = 0; i < stats.size(); i++) {
      Napi::Object o = Napi::Object::New(env);
      o.Set("rounds", double(stats[i].rounds));
      o.Set("busyRounds", double(stats[i].busy_rounds));
      o.Set("cpuNs", double(stats[i].cpu_ns));
      o.Set("userNs", double(stats[i].user_ns));
      o.Set("sysNs", double(stats[i].sys_ns));
      arr.Set(uint32_t(i), o);
    }
    return arr;
  }

  pg::ScriptElement& script_element(Napi::Env env, uint32_t id, const std::string& name) {
    pg::Graph& g = engine(env).graph(id);
    auto* e = dynamic_cast<pg::ScriptElement*>(g.element(name));
    if (!e) throw std::invalid_argument("graph '" + g.name() + "' has no TypeScript element named '" + name + "'");
    return *e;
  }

  // scriptAttach(id, element, wake): the element's two rings for its script, and `wake`
  // called (on this thread, in batches) when packets arrive in an empty rx ring.
  Napi::Value ScriptAttach(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    uint32_t id = id_arg(info);
    std::string element = string_arg(info, 1, "element name");
    if (info.Length() < 3 || !info[2].IsFunction()) throw Napi::TypeError::New(env, "scriptAttach(id, element, wake): wake must be a function");
    return guarded(env, [&]() -> Napi::Value {
      pg::ScriptElement& e = script_element(env, id, element);
      e.set_notifier(std::make_unique<TsfnNotifier>(env, info[2].As<Napi::Function>()));
      Napi::Object o = Napi::Object::New(env);
      o.Set("rx", ring_buffer(env, e.rx()));
      o.Set("tx", ring_buffer(env, e.tx()));
      o.Set("slots", e.rx()->slots);
      o.Set("slotBytes", e.rx()->slot_bytes);
      o.Set("snap", e.rx()->snap);
      return o;
    });
  }

  Napi::Value ScriptDetach(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    uint32_t id = id_arg(info);
    std::string element = string_arg(info, 1, "element name");
    guarded(env, [&] { script_element(env, id, element).set_notifier(nullptr); return 0; });
    return env.Undefined();
  }

  Napi::Value PoolStats(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    pg::PacketPool& p = engine(env).pool();
    Napi::Object o = Napi::Object::New(env);
    o.Set("capacity", double(p.capacity()));
    o.Set("available", double(p.available()));
    o.Set("bufferSize", double(p.buffer_size()));
    o.Set("headroom", double(p.headroom()));
    o.Set("allocFailures", double(p.alloc_failures()));
    return o;
  }

  std::unique_ptr<Engine> engine_;
};

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("Engine", EngineWrap::Init(env));
  exports.Set("planVersion", pg::kPlanVersion);
  exports.Set("elementClasses", Napi::Function::New(env, [](const Napi::CallbackInfo& info) {
    auto names = pg::element_classes();
    Napi::Array arr = Napi::Array::New(info.Env(), names.size());
    for (size_t i = 0; i < names.size(); i++) arr.Set(uint32_t(i), names[i]);
    return arr;
  }));
  // The compile-time parse of IPLookup's and LookupIP6Route's `routes` (elements/lib/routeText.ts),
  // by the parser route files and the route handlers use: parseRoutes(width, outputs, routes)
  // returns the first problem ("route 3 ('...'): ...", in the words a handler would use) or the
  // routes typed, flat in one Float64Array (routeText.ts makes the plan's arrays of it: building
  // them here, a value at a time through N-API, cost more than the parse): per route LEN,
  // HOPS, its address, then per next hop OUTPUT, HAS_GW, the gateway's address (0 without one);
  // an address is one number for IPv4, 16 bytes for IPv6 (network order).
  exports.Set("parseRoutes", Napi::Function::New(env, [](const Napi::CallbackInfo& info) -> Napi::Value {
    Napi::Env env = info.Env();
    if (info.Length() < 3 || !info[0].IsNumber() || !info[1].IsNumber() || !info[2].IsArray())
      throw Napi::TypeError::New(env, "parseRoutes(width, outputs, routes)");
    const Napi::Array arr = info[2].As<Napi::Array>();
    std::vector<std::pair<std::string, std::string>> lines;
    lines.reserve(arr.Length());
    for (uint32_t i = 0; i < arr.Length(); i++) {
      const Napi::Value v = arr.Get(i);
      if (!v.IsString()) return Napi::String::New(env, "route " + std::to_string(i) + " is not a string");
      lines.emplace_back("route " + std::to_string(i), v.As<Napi::String>().Utf8Value());
    }
    const unsigned width = info[0].As<Napi::Number>().Uint32Value();
    pg::fib::RouteSet set(width, info[1].As<Napi::Number>().Uint32Value());
    try {
      set.add_lines(lines, false);  // every check a load makes, duplicates included
    } catch (const std::runtime_error& e) {
      return Napi::String::New(env, e.what());
    }
    std::vector<double> flat;
    flat.reserve(lines.size() * (width == 32 ? 6 : 36));
    auto addr = [&](const uint8_t* b) {  // network order
      if (width == 32) flat.push_back(double(uint32_t(b[0]) << 24 | uint32_t(b[1]) << 16 | uint32_t(b[2]) << 8 | b[3]));
      else flat.insert(flat.end(), b, b + 16);
    };
    pg::fib::u128 key;
    unsigned len;
    std::vector<pg::fib::Hop> hops;
    for (size_t i = 0; i < lines.size(); i++) {
      set.parse(lines[i].second, key, len, hops);
      uint8_t k[16];
      for (int j = 15; j >= 0; j--, key >>= 8) k[j] = uint8_t(key);
      flat.push_back(double(len));
      flat.push_back(double(hops.size()));
      addr(k);
      for (const pg::fib::Hop& h : hops) {
        flat.push_back(double(h.port));
        flat.push_back(h.has_gw ? 1 : 0);
        addr(h.gw);
      }
    }
    Napi::Float64Array out = Napi::Float64Array::New(env, flat.size());
    std::copy(flat.begin(), flat.end(), out.Data());
    return out;
  }));
  // `pktgraph run`'s exit watchdog (native/exit_watchdog.h): armExitWatchdog({ graceMs,
  // durationMs, socketPath }) once Node's signal handlers are in place; disarmExitWatchdog().
  exports.Set("armExitWatchdog", Napi::Function::New(env, [](const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (info.Length() < 1 || !info[0].IsObject()) throw Napi::TypeError::New(env, "armExitWatchdog({ graceMs, durationMs, socketPath })");
    const Napi::Object o = info[0].As<Napi::Object>();
    pg::exit_watchdog::Options opt;
    opt.grace_ms = u32_option(o, "graceMs", 1000, 0, 60000);
    const Napi::Value d = o.Get("durationMs");
    if (d.IsNumber() && d.As<Napi::Number>().DoubleValue() >= 0) opt.duration_ms = int64_t(d.As<Napi::Number>().DoubleValue());
    const Napi::Value s = o.Get("socketPath");
    if (s.IsString()) opt.socket_path = s.As<Napi::String>().Utf8Value();
    pg::exit_watchdog::arm(opt);
  }));
  exports.Set("disarmExitWatchdog", Napi::Function::New(env, [](const Napi::CallbackInfo&) { pg::exit_watchdog::disarm(); }));
  // LPM microbenchmark (bench/fib.ts): fibBench(width 32|128, routesText, lookups).
  exports.Set("fibBench", Napi::Function::New(env, [](const Napi::CallbackInfo& info) -> Napi::Value {
    Napi::Env env = info.Env();
    if (info.Length() < 3 || !info[0].IsNumber() || !info[1].IsString() || !info[2].IsNumber())
      throw Napi::TypeError::New(env, "fibBench(width, routesText, lookups)");
    return guarded(env, [&]() -> Napi::Value {
      auto r = pg::fib::run_bench(info[0].As<Napi::Number>().Uint32Value(), info[1].As<Napi::String>().Utf8Value(),
                                  uint64_t(info[2].As<Napi::Number>().DoubleValue()));
      Napi::Object o = Napi::Object::New(env);
      o.Set("routes", double(r.routes));
      o.Set("parseNs", r.parse_ns);
      o.Set("buildNs", r.build_ns);
      o.Set("bytes", double(r.bytes));
      o.Set("nodes", double(r.nodes));
      o.Set("rootBits", double(r.root_bits));
      o.Set("randomBatchLps", r.random_batch_lps);
      o.Set("randomSingleLps", r.random_single_lps);
      o.Set("tableBatchLps", r.table_batch_lps);
      o.Set("tableSingleLps", r.table_single_lps);
      o.Set("randomHit", r.random_hit);
      o.Set("tableHit", r.table_hit);
      o.Set("checksum", double(r.checksum));
      return o;
    });
  }));
  return exports;
}

}  // namespace

NODE_API_MODULE(pktgraph, Init)
