// EtherSwitch: a learning Ethernet bridge. Documentation: EtherSwitch.ts.
//
// The MAC table is a HashTable (native/hash_table.h) of `capacity` entries. An expired
// entry stays until its address is learned again (updated in place) or a sweep erases it:
// when the table is full and a new address needs room, every expired entry is erased, at
// most once a second (a full table of live entries must not cost a sweep per frame).
//
// Ports may be pushed from several workers, so learning and lookups for one batch run
// under a spin lock (taken once per batch, held for the classification only); the `table`
// handler takes it too. The keys are hashed under the lock: hashing and prefetching a batch
// before it cost more than it saved on tables that fit in cache (measured, 4096 entries).
#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "batch_split.h"
#include "element.h"
#include "hash_table.h"
#include "spin_lock.h"

namespace pg {

class EtherSwitch final : public Element {
 public:
  void configure(const Config& conf) override {
    const double timeout = conf.number("timeout");
    timeout_ns_.store(uint64_t(timeout * 1e9) ? uint64_t(timeout * 1e9) : 1);
    capacity_ = uint32_t(conf.integer("capacity"));
    if (ninputs() != noutputs())
      throw ConfigError("an EtherSwitch port is an input and an output: " + std::to_string(ninputs()) + " input(s) but " +
                        std::to_string(noutputs()) + " output(s) are connected");
    if (noutputs() == 0) throw ConfigError("connect at least one port (input and output 0)");
    c_forwarded_ = counter("forwarded");
    c_flooded_ = counter("flooded");
    c_same_port_ = counter("drops_same_port");
    c_short_ = counter("drops_short");
    c_pool_empty_ = counter("drops_pool_empty");
    c_table_full_ = counter("table_full");
    table_.init(capacity_);
  }

  void push(int port, Batch& b) override {
    const uint32_t n = b.count;
    if (n == 0) return;
    const uint32_t nout = uint32_t(noutputs());
    const uint32_t in = uint32_t(port);
    const uint64_t now = now_ns();
    uint32_t out[kMaxBatch];
    Packet* gone[kMaxBatch];
    uint32_t kept = 0, ngone = 0, nshort = 0, nsame = 0, nflood = 0, nfull = 0;
    {
      SpinLock::Guard lock(lock_);
      const uint64_t timeout = timeout_ns_.load(std::memory_order_relaxed);
      for (uint32_t i = 0; i < n; i++) {
        Packet* p = b.pkts[i];
        if (p->length() < 14) {
          gone[ngone++] = p;
          nshort++;
          continue;
        }
        const uint8_t* d = p->data();
        if (!(d[6] & 1) && !learn(mac_key(d + 6), in, now, timeout)) nfull++;
        uint32_t o = kFlood;
        if (!(d[0] & 1)) {
          const Entry* e = table_.find(mac_key(d));
          if (e && live(*e, now, timeout)) o = e->port;
        }
        if (o == in) {
          gone[ngone++] = p;
          nsame++;
          continue;
        }
        if (o == kFlood) nflood++;
        b.pkts[kept] = p;
        out[kept++] = o;
      }
    }
    b.count = kept;
    if (ngone) pool().free(gone, ngone);
    if (nshort) count(c_short_, nshort);
    if (nsame) count(c_same_port_, nsame);
    if (nfull) count(c_table_full_, nfull);
    if (kept - nflood) count(c_forwarded_, kept - nflood);
    if (nflood == 0) {
      split_push(b, out, nout, [this](uint32_t o, Batch& sub) { output_push(int(o), sub); });
      return;
    }
    count(c_flooded_, nflood);
    // Flooding. Outputs are served in increasing order; a flooded frame's original goes to
    // its last output (the highest one other than `in`), so while lower outputs are served it
    // is still ours to copy.
    const int64_t last = in == nout - 1 ? int64_t(nout) - 2 : int64_t(nout) - 1;  // -1: no output at all
    for (uint32_t o = 0; o < nout; o++) {
      Batch ob;
      const bool copies = o != in && int64_t(o) != last;
      Packet* fresh[kMaxBatch];
      uint32_t nfresh = 0, used = 0;
      if (copies) nfresh = pool().alloc(fresh, nflood);
      if (copies && nfresh < nflood) count(c_pool_empty_, nflood - nfresh);
      for (uint32_t i = 0; i < kept; i++) {
        if (out[i] == o) {
          ob.add(b.pkts[i]);
        } else if (out[i] == kFlood && o != in) {
          if (!copies) {
            ob.add(b.pkts[i]);
          } else if (used < nfresh) {
            copy_packet(b.pkts[i], fresh[used]);
            ob.add(fresh[used++]);
          }
        }
      }
      output_push(int(o), ob);
    }
    if (last < 0) {
      // One port: flooded frames have nowhere to go.
      Batch rest;
      for (uint32_t i = 0; i < kept; i++)
        if (out[i] == kFlood) rest.add(b.pkts[i]);
      drop(rest);
    }
    b.count = 0;
  }

  // Hot reconfiguration: the learned addresses carry over with their ages, except those on a
  // port this switch no longer has (and any a smaller table cannot hold, counted table_full).
  void take_state(Element& old) override {
    auto& o = static_cast<EtherSwitch&>(old);
    o.table_.for_each([&](uint64_t key, const Entry& e) {
      if (e.port >= uint32_t(noutputs())) return;
      bool inserted;
      Entry* mine = table_.find_or_insert(key, inserted);
      if (mine) *mine = e;
      else count(c_table_full_);
    });
    next_sweep_ = o.next_sweep_;
  }

  void add_handlers(std::vector<Handler>& h) override {
    h.push_back({"table", [this] { return table_text(); }, nullptr});
    h.push_back({"timeout", [this] { return format_number(double(timeout_ns_.load()) / 1e9); },
                 [this](const std::string& v) {
                   const double s = parse_field_number(v, "timeout");
                   const uint64_t ns = uint64_t(s * 1e9);
                   timeout_ns_.store(ns ? ns : 1);
                 }});
  }

 private:
  static constexpr uint32_t kFlood = 0xffffffffu;

  struct Entry {
    uint64_t seen = 0;  // monotonic ns of the last frame from the address
    uint32_t port = 0;
  };

  // A MAC address as a number, the table's key.
  static uint64_t mac_key(const uint8_t* m) {
    return uint64_t(m[0]) << 40 | uint64_t(m[1]) << 32 | uint64_t(m[2]) << 24 | uint64_t(m[3]) << 16 |
           uint64_t(m[4]) << 8 | uint64_t(m[5]);
  }
  // One multiply, as this table always hashed: the home takes the product's bits from 32 up,
  // which every address byte but the top bits of the first reaches. HashTable's default hash
  // (a shift and xor more) measured 0.5-0.7 ns more CPU a frame on the switch's unicast path.
  struct MacHash {
    uint64_t operator()(uint64_t key) const { return key * 0x9e3779b97f4a7c15ull; }
  };
  static bool live(const Entry& e, uint64_t now, uint64_t timeout) { return now - std::min(now, e.seen) <= timeout; }

  // Learn key on port; false when a new address found no room.
  bool learn(uint64_t key, uint32_t port, uint64_t now, uint64_t timeout) {
    bool inserted;
    Entry* e = table_.find_or_insert(key, inserted);
    if (!e && now >= next_sweep_) {
      next_sweep_ = now + 1000000000ull;
      table_.sweep([&](uint64_t, const Entry& x) { return !live(x, now, timeout); });
      e = table_.find_or_insert(key, inserted);
    }
    if (!e) return false;
    e->seen = now;
    e->port = port;
    return true;
  }

  std::string table_text() {
    struct Row {
      uint64_t key, age;
      uint32_t port;
    };
    std::vector<Row> rows;
    {
      SpinLock::Guard lock(lock_);
      const uint64_t now = monotonic_ns();
      const uint64_t timeout = timeout_ns_.load();
      table_.for_each([&](uint64_t key, const Entry& e) {
        if (live(e, now, timeout)) rows.push_back({key, now - std::min(now, e.seen), e.port});
      });
    }
    std::sort(rows.begin(), rows.end(), [](const Row& a, const Row& b) { return a.key < b.key; });
    std::string s;
    char line[80];
    for (const Row& r : rows) {
      const uint64_t k = r.key;
      std::snprintf(line, sizeof line, "%02x:%02x:%02x:%02x:%02x:%02x %u %.3f\n", unsigned(k >> 40 & 0xff), unsigned(k >> 32 & 0xff),
                    unsigned(k >> 24 & 0xff), unsigned(k >> 16 & 0xff), unsigned(k >> 8 & 0xff), unsigned(k & 0xff), r.port,
                    double(r.age) / 1e9);
      s += line;
    }
    return s;
  }

  std::atomic<uint64_t> timeout_ns_{300000000000ull};
  uint32_t capacity_ = 4096;
  HashTable<uint64_t, Entry, MacHash> table_;
  uint64_t next_sweep_ = 0;
  SpinLock lock_;
  uint32_t c_forwarded_ = 0, c_flooded_ = 0, c_same_port_ = 0, c_short_ = 0, c_pool_empty_ = 0, c_table_full_ = 0;
};

PG_ELEMENT(EtherSwitch);

}  // namespace pg
