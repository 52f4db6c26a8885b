// EtherSwitch: a learning Ethernet bridge. Documentation: EtherSwitch.ts.
//
// The MAC table is elements/lib/mac_table.h (shared with VLANSwitch).
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
#include "mac_table.h"
#include "spin_lock.h"

namespace pg {

class EtherSwitch final : public Element {
 public:
  void configure(const Config& conf) override {
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
    table_.init(uint32_t(conf.integer("capacity")), conf.number("timeout"));
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
      const uint64_t timeout = table_.timeout();
      for (uint32_t i = 0; i < n; i++) {
        Packet* p = b.pkts[i];
        if (p->length() < 14) {
          gone[ngone++] = p;
          nshort++;
          continue;
        }
        const uint8_t* d = p->data();
        if (!(d[6] & 1) && !table_.learn(MacTable::key(d + 6), in, now, timeout)) nfull++;
        uint32_t o = kFlood;
        if (!(d[0] & 1)) {
          if (const MacTable::Entry* e = table_.find(MacTable::key(d), now, timeout)) o = e->port;
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
    table_.take(
        static_cast<EtherSwitch&>(old).table_, [&](uint64_t, const MacTable::Entry& e) { return e.port < uint32_t(noutputs()); },
        [&] { count(c_table_full_); });
  }

  void add_handlers(std::vector<Handler>& h) override {
    h.push_back({"table", [this] { return table_.text(lock_, false); }, nullptr});
    h.push_back({"timeout", [this] { return format_number(double(table_.timeout()) / 1e9); },
                 [this](const std::string& v) { table_.set_timeout(parse_field_number(v, "timeout")); }});
  }

 private:
  static constexpr uint32_t kFlood = 0xffffffffu;

  MacTable table_;
  SpinLock lock_;
  uint32_t c_forwarded_ = 0, c_flooded_ = 0, c_same_port_ = 0, c_short_ = 0, c_pool_empty_ = 0, c_table_full_ = 0;
};

PG_ELEMENT(EtherSwitch);

}  // namespace pg
