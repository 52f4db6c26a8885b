// The learned-address table of the switches: a HashTable (native/hash_table.h) of `capacity`
// entries keyed by a MAC address as a number (VLANSwitch puts the VLAN above its 48 bits),
// each with its port and the time of its last frame, an ageing timeout writable from the
// control thread, and the `table` handler's text. An expired entry stays until its key is
// learned again (updated in place) or a sweep erases it: when the table is full and a new key
// needs room, every expired entry is erased, at most once a second (a full table of live
// entries must not cost a sweep per frame). Callers serialise access (the switches' spin lock).
#pragma once
#include <algorithm>
#include <atomic>
#include <cstdio>
#include <string>
#include <vector>

#include "element.h"
#include "hash_table.h"

namespace pg {

class MacTable {
 public:
  struct Entry {
    uint64_t seen = 0;  // monotonic ns of the last frame from the address
    uint32_t port = 0;
  };

  // A MAC address as a number, the table's key (with `high` above its 48 bits).
  static uint64_t key(const uint8_t* m, uint64_t high = 0) {
    return high << 48 | uint64_t(m[0]) << 40 | uint64_t(m[1]) << 32 | uint64_t(m[2]) << 24 | uint64_t(m[3]) << 16 | uint64_t(m[4]) << 8 |
           uint64_t(m[5]);
  }

  void init(uint32_t capacity, double timeout_s) {
    table_.init(capacity);
    set_timeout(timeout_s);
  }
  void set_timeout(double s) {
    const uint64_t ns = uint64_t(s * 1e9);
    timeout_ns_.store(ns ? ns : 1, std::memory_order_relaxed);
  }
  uint64_t timeout() const { return timeout_ns_.load(std::memory_order_relaxed); }
  static bool live(const Entry& e, uint64_t now, uint64_t timeout) { return now - std::min(now, e.seen) <= timeout; }

  // Learns key on port; false when a new key found no room.
  bool learn(uint64_t k, uint32_t port, uint64_t now, uint64_t timeout) {
    bool inserted;
    Entry* e = table_.find_or_insert(k, inserted);
    if (!e && now >= next_sweep_) {
      next_sweep_ = now + 1000000000ull;
      table_.sweep([&](uint64_t, const Entry& x) { return !live(x, now, timeout); });
      e = table_.find_or_insert(k, inserted);
    }
    if (!e) return false;
    e->seen = now;
    e->port = port;
    return true;
  }
  // The live entry of key, or nullptr.
  const Entry* find(uint64_t k, uint64_t now, uint64_t timeout) const {
    const Entry* e = table_.find(k);
    return e && live(*e, now, timeout) ? e : nullptr;
  }
  void forget_port(uint32_t port) {
    table_.sweep([&](uint64_t, const Entry& e) { return e.port == port; });
  }
  // Hot reconfiguration: the entries of `old` that keep(key, entry) allows; false for each
  // one this table has no room for.
  template <class Keep, class Full>
  void take(MacTable& old, Keep&& keep, Full&& full) {
    old.table_.for_each([&](uint64_t k, const Entry& e) {
      if (!keep(k, e)) return;
      bool inserted;
      Entry* mine = table_.find_or_insert(k, inserted);
      if (mine) *mine = e;
      else full();
    });
    next_sweep_ = old.next_sweep_;
  }

  // The `table` handler's lines, sorted by address (then by the bits above it): the MAC,
  // the bits above it when `with_high` (VLANSwitch's VLAN), the port and the age in seconds.
  // Called with the caller's lock held while the entries are copied.
  template <class Lock>
  std::string text(Lock& lock, bool with_high) {
    struct Row {
      uint64_t key, age;
      uint32_t port;
    };
    std::vector<Row> rows;
    {
      typename Lock::Guard g(lock);
      const uint64_t now = monotonic_ns();
      const uint64_t t = timeout();
      table_.for_each([&](uint64_t k, const Entry& e) {
        if (live(e, now, t)) rows.push_back({k, now - std::min(now, e.seen), e.port});
      });
    }
    constexpr uint64_t kMac = 0xffffffffffffull;
    std::sort(rows.begin(), rows.end(), [](const Row& a, const Row& b) { return (a.key & kMac) != (b.key & kMac) ? (a.key & kMac) < (b.key & kMac) : a.key < b.key; });
    std::string s;
    char line[96];
    for (const Row& r : rows) {
      const uint64_t k = r.key;
      const std::string high = with_high ? " " + std::to_string(k >> 48) : "";
      std::snprintf(line, sizeof line, "%02x:%02x:%02x:%02x:%02x:%02x%s %u %.3f\n", unsigned(k >> 40 & 0xff), unsigned(k >> 32 & 0xff),
                    unsigned(k >> 24 & 0xff), unsigned(k >> 16 & 0xff), unsigned(k >> 8 & 0xff), unsigned(k & 0xff), high.c_str(), r.port,
                    double(r.age) / 1e9);
      s += line;
    }
    return s;
  }

 private:
  // One multiply, as EtherSwitch's table always hashed: the home takes the product's bits from
  // 32 up, which every address byte but the top bits of the first reaches. HashTable's default
  // hash (a shift and xor more) measured 0.5-0.7 ns more CPU a frame on the unicast path.
  struct MacHash {
    uint64_t operator()(uint64_t k) const { return k * 0x9e3779b97f4a7c15ull; }
  };
  std::atomic<uint64_t> timeout_ns_{300000000000ull};
  HashTable<uint64_t, Entry, MacHash> table_;
  uint64_t next_sweep_ = 0;
};

}  // namespace pg
