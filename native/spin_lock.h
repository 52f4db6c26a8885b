// A spin lock for element state that several workers may push into at once (EtherSwitch's
// table, the neighbour resolvers, IPRewriter's flows, IPReassembler's datagrams): taken once
// per batch and held only for the table work, so a waiter spins briefly, yielding its CPU.
#pragma once

#include <atomic>
#include <thread>

namespace pg {

class SpinLock {
 public:
  void lock() {
    while (flag_.test_and_set(std::memory_order_acquire))
      while (flag_.test(std::memory_order_relaxed)) std::this_thread::yield();
  }
  void unlock() { flag_.clear(std::memory_order_release); }

  // Holds the lock for a scope.
  class Guard {
   public:
    explicit Guard(SpinLock& l) : lock_(l) { lock_.lock(); }
    ~Guard() { lock_.unlock(); }
    Guard(const Guard&) = delete;
    Guard& operator=(const Guard&) = delete;

   private:
    SpinLock& lock_;
  };

 private:
  std::atomic_flag flag_;  // clear on construction (C++20)
};

}  // namespace pg
