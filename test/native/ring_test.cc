// Unit test of PtrRing (native/ring.h): FIFO order, partial bursts at full and empty, the
// `limit` argument, the free-running counters crossing 2^32, all against a std::deque; then
// producers and consumers on several threads: every object arrives exactly once, and each
// consumer sees each producer's objects in the order they were sent.
// Usage: ring_test [SEED]
#include "ring.h"

#include <algorithm>
#include <atomic>
#include <deque>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "check.h"

using pg::PtrRing;

namespace {

void* obj(uint64_t v) { return reinterpret_cast<void*>(uintptr_t(v)); }
uint64_t val(void* p) { return uint64_t(reinterpret_cast<uintptr_t>(p)); }

void basics() {
  const long before = unit::failures;
  PtrRing r(8);
  void* in[16];
  void* out[16];
  for (uint64_t i = 0; i < 16; i++) in[i] = obj(i + 1);
  CHECK(r.size() == 8 && r.count() == 0, "a new ring of 8 is empty");
  CHECK(r.dequeue(out, 4) == 0, "dequeue from an empty ring gives nothing");
  CHECK(r.enqueue(in, 0, 8) == 0 && r.count() == 0, "enqueue of 0 objects");
  CHECK(r.enqueue(in, 5, 8) == 5 && r.count() == 5, "enqueue 5");
  CHECK(r.dequeue(out, 3) == 3 && val(out[0]) == 1 && val(out[2]) == 3 && r.count() == 2, "dequeue 3, oldest first");
  CHECK(r.enqueue(in + 5, 10, 8) == 6 && r.count() == 8, "a burst of 10 into 6 free slots enqueues 6");
  CHECK(r.enqueue(in, 1, 8) == 0, "a full ring takes nothing");
  const uint32_t n = r.dequeue(out, 16);
  bool order = n == 8;
  for (uint32_t i = 0; i < n; i++) order = order && val(out[i]) == i + 4;
  CHECK(order, "dequeue of 16 gives the 8 held, in order (4..11)");
  CHECK(r.enqueue(in, 8, 3) == 3 && r.count() == 3, "limit 3: at most 3 in use");
  CHECK(r.enqueue(in, 8, 3) == 0, "limit 3 reached: nothing more");
  CHECK(r.enqueue(in, 8, 100) == 5 && r.count() == 8, "a limit above the size is the size");
  r.dequeue(out, 8);
  unit::section("single thread: FIFO order, partial bursts at full and empty, limit, count", before);
}

// Random bursts against a std::deque, the counters starting at `start`.
void random_bursts(uint32_t size, uint32_t start, int ops, std::mt19937_64& rng) {
  const long before = unit::failures;
  PtrRing r(size, start);
  std::deque<uint64_t> ref;
  uint64_t next = 1;
  void* buf[64];
  for (int op = 0; op < ops; op++) {
    const uint32_t n = uint32_t(rng() % 40);
    if (rng() & 1) {
      const uint32_t limit = rng() % 4 == 0 ? uint32_t(rng() % (size + 8)) : size;
      for (uint32_t i = 0; i < n; i++) buf[i] = obj(next + i);
      const uint32_t room = uint32_t(std::min<size_t>(limit, size) > ref.size() ? std::min<size_t>(limit, size) - ref.size() : 0);
      const uint32_t got = r.enqueue(buf, n, limit);
      CHECK(got == std::min(n, room), "enqueue takes min(burst, room under the limit)");
      for (uint32_t i = 0; i < got; i++) ref.push_back(next++);
    } else {
      const uint32_t got = r.dequeue(buf, n);
      CHECK(got == std::min<size_t>(n, ref.size()), "dequeue gives min(burst, held)");
      bool same = true;
      for (uint32_t i = 0; i < got; i++) {
        same = same && val(buf[i]) == ref.front();
        ref.pop_front();
      }
      CHECK(same, "dequeued objects are the oldest, in order");
    }
    CHECK(r.count() == ref.size(), "count() is what is held");
  }
  unit::section("single thread: " + std::to_string(ops) + " random bursts on a ring of " + std::to_string(size) + " from counter " +
                    std::to_string(start) + (start > 0xffff0000u ? " (across 2^32)" : "") + " agree with std::deque",
                before);
}

// P producers send N objects each (producer << 32 | sequence) in random bursts; C consumers
// take random bursts until everything has arrived.
void threads(int producers, int consumers, uint32_t size, uint32_t limit, uint32_t per_producer, uint64_t seed) {
  const long before = unit::failures;
  PtrRing r(size, 0xffffff00u);  // crosses 2^32 early on
  std::atomic<uint64_t> received{0};
  const uint64_t total = uint64_t(producers) * per_producer;
  std::vector<std::vector<uint8_t>> seen(size_t(producers), std::vector<uint8_t>(per_producer, 0));
  std::atomic<long> out_of_order{0}, duplicates{0}, strangers{0};
  std::vector<std::thread> ts;
  for (int p = 0; p < producers; p++)
    ts.emplace_back([&, p] {
      std::mt19937_64 rng(seed + uint64_t(p));
      void* buf[32];
      uint32_t sent = 0;
      while (sent < per_producer) {
        const uint32_t n = std::min<uint32_t>(1 + uint32_t(rng() % 32), per_producer - sent);
        for (uint32_t i = 0; i < n; i++) buf[i] = obj(uint64_t(p) << 32 | (sent + i));
        const uint32_t got = r.enqueue(buf, n, limit);
        if (got == 0) std::this_thread::yield();
        sent += got;
      }
    });
  // Each consumer records which objects it saw; `seen` cells are written by one consumer
  // each (an object arrives once), checked after the join.
  for (int c = 0; c < consumers; c++)
    ts.emplace_back([&, c] {
      std::mt19937_64 rng(seed + 1000 + uint64_t(c));
      std::vector<int64_t> last(size_t(producers), -1);
      void* buf[32];
      while (received.load(std::memory_order_relaxed) < total) {
        const uint32_t got = r.dequeue(buf, 1 + uint32_t(rng() % 32));
        if (got == 0) {
          std::this_thread::yield();
          continue;
        }
        for (uint32_t i = 0; i < got; i++) {
          const uint64_t v = val(buf[i]);
          const uint64_t p = v >> 32, s = v & 0xffffffffu;
          if (p >= uint64_t(producers) || s >= per_producer) {
            strangers++;
            continue;
          }
          if (int64_t(s) <= last[p]) out_of_order++;
          last[p] = int64_t(s);
          if (seen[p][s]++) duplicates++;
        }
        received.fetch_add(got, std::memory_order_relaxed);
      }
    });
  for (auto& t : ts) t.join();
  long missing = 0;
  for (auto& v : seen)
    for (uint8_t x : v) missing += x == 0;
  CHECK(received.load() == total, "exactly as many objects arrived as were sent");
  CHECK(missing == 0 && duplicates == 0 && strangers == 0,
        std::to_string(missing) + " missing, " + std::to_string(duplicates.load()) + " duplicated, " + std::to_string(strangers.load()) + " unknown");
  CHECK(out_of_order == 0, std::to_string(out_of_order.load()) + " objects arrived before an earlier one of the same producer");
  CHECK(r.count() == 0, "the ring is empty at the end");
  unit::section(std::to_string(producers) + " producer(s), " + std::to_string(consumers) + " consumer(s), ring of " + std::to_string(size) +
                    (limit < size ? " with limit " + std::to_string(limit) : "") + ": " + std::to_string(total) +
                    " objects, each arrived once, each producer's in order",
                before);
}

}  // namespace

int main(int argc, char** argv) {
  const uint64_t seed = unit::seed(argc, argv, 20261202);
  std::mt19937_64 rng(seed);
  basics();
  random_bursts(8, 0, 20000, rng);
  random_bursts(64, 0xfffff000u, 20000, rng);
  random_bursts(1024, uint32_t(rng()), 20000, rng);
  threads(1, 1, 64, 64, 200000, seed);
  threads(2, 2, 64, 64, 100000, seed);
  threads(3, 1, 256, 100, 60000, seed);
  threads(1, 3, 16, 16, 150000, seed);
  return unit::finish("ring");
}
