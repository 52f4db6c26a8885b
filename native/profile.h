// Per-element profiling: where a graph's time goes, element by element.
//
// Zero cost when off: nothing on the packet path tests a flag. Turning profiling on
// rewires the graph (while it is off the workers) so that every push link, pull link and
// task points at a ProfileProbe standing in for the real element; the probe reads the
// TSC around the real call and forwards it. Turning it off points everything back.
//
// Self (exclusive) time: elements call each other synchronously, so a probe subtracts
// the time spent in nested probed calls (kept in a thread-local accumulator that each
// probe saves, zeroes and restores, a stack in effect) from its own elapsed time.
// Per element and worker the probe counts calls, packets and self ticks in a per-graph
// arena with one row per worker (as the counters), summed when read. TSC intervals are
// wall time; Engine::profile takes out the time a worker spent preempted (schedstat).
// docs/architecture.md has the figures (clock costs, cost per probed call).
#pragma once
#include <x86intrin.h>

#include <cstdint>

#include "element.h"

namespace pg {

// Slots per element in the profile arena: calls; packets pushed into it, pulled from it,
// and moved by its task (pushed or pulled by it, whichever is more); self time.
enum ProfileSlot : uint32_t { kProfCalls, kProfPushed, kProfPulled, kProfMoved, kProfTicks, kProfSlots };

// The current probe frame of a thread: TSC ticks spent in nested probed calls, and
// packets those calls pushed and pulled (a task's packets are what it moved).
struct ProfileFrame {
  uint64_t child_ticks = 0;
  uint64_t pushed = 0;
  uint64_t pulled = 0;
};
// Per thread: the frame, and the worker index (tls_worker) cached on first use, so that a
// probe call looks up thread-local storage once (in a shared object each lookup is a call).
struct ProfileThread {
  ProfileFrame frame;
  int worker = kUnknownWorker;
  static constexpr int kUnknownWorker = -2;
};
extern constinit thread_local ProfileThread tls_profile;
// The address, made opaque so the compiler keeps it in a register across the timed call
// instead of looking it up again (GCC otherwise recomputes it, a __tls_get_addr each time).
inline ProfileThread& profile_thread() {
  ProfileThread* p = &tls_profile;
  asm("" : "+r"(p));
  return *p;
}

// rdtsc: about 10 ns here against 35 ns for clock_gettime (see docs/architecture.md);
// the TSC is invariant (constant_tsc, nonstop_tsc) on the machines we run on.
inline uint64_t profile_ticks() { return __rdtsc(); }

// Nanoseconds per TSC tick, measured against CLOCK_MONOTONIC over everything since the
// baseline was taken (by profile_clock_start(), or the first call, which then waits
// 20 ms), so the ratio gets more exact the longer the process runs.
void profile_clock_start();
double profile_ns_per_tick();

class ProfileProbe final : public Element {
 public:
  ProfileProbe(Element* target, CounterArena* arena, uint32_t base) : target_(target), prof_(arena), base_(base) {}
  Element* target() const { return target_; }


  void push(int port, Batch& batch) override {
    ProfileThread& th = profile_thread();
    const uint32_t n = batch.count;
    const ProfileFrame saved = enter(th);
    const uint64_t t0 = profile_ticks();
    target_->push(port, batch);
    leave(th, saved, t0, kProfPushed, n);
    th.frame.pushed = saved.pushed + n;
  }

  uint32_t pull(int port, Batch& batch, uint32_t max) override {
    ProfileThread& th = profile_thread();
    const ProfileFrame saved = enter(th);
    const uint64_t t0 = profile_ticks();
    const uint32_t got = target_->pull(port, batch, max);
    leave(th, saved, t0, kProfPulled, got);
    th.frame.pulled = saved.pulled + got;
    return got;
  }

  bool run_task() override {
    ProfileThread& th = profile_thread();
    const ProfileFrame saved = enter(th);
    const uint64_t t0 = profile_ticks();
    const bool worked = target_->run_task();
    const uint64_t moved = th.frame.pushed > th.frame.pulled ? th.frame.pushed : th.frame.pulled;
    leave(th, saved, t0, kProfMoved, moved);
    return worked;
  }

 private:
  static ProfileFrame enter(ProfileThread& th) {
    ProfileFrame saved = th.frame;
    th.frame = ProfileFrame{};
    return saved;
  }
  // Account this call and hand its whole elapsed time to the enclosing frame as child time.
  void leave(ProfileThread& th, const ProfileFrame& saved, uint64_t t0, ProfileSlot packet_slot, uint64_t packets) {
    const uint64_t t1 = profile_ticks();
    // A thread moved between CPUs may see a slightly earlier TSC: clamp, never wrap.
    const uint64_t total = t1 > t0 ? t1 - t0 : 0;
    const uint64_t child = th.frame.child_ticks;
    const uint64_t self = total > child ? total - child : 0;
    if (th.worker == ProfileThread::kUnknownWorker) th.worker = tls_worker;
    uint64_t* row = prof_->row(th.worker >= 0 ? uint32_t(th.worker) : prof_->rows - 1) + base_;
    bump(row[kProfCalls], 1);
    bump(row[packet_slot], packets);
    bump(row[kProfTicks], self);
    th.frame = saved;
    th.frame.child_ticks = saved.child_ticks + total;
  }
  static void bump(uint64_t& cell, uint64_t n) {
    std::atomic_ref<uint64_t> c(cell);
    c.store(c.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }

  Element* target_;
  CounterArena* prof_;  // the graph's profile arena
  uint32_t base_;
};

}  // namespace pg
