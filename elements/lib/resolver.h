// NeighbourResolver: what ARPQuerier (IPv4, ARP) and IP6NDSolicitor (IPv6, Neighbor
// Discovery) share: the neighbour table, the bounded queues of packets awaiting resolution,
// retries, give-ups and entry timeouts, the lock, the timer and the handlers. A protocol
// derives from it (CRTP) and supplies only what differs:
//
//   static constexpr const char* kFamily;         "IPv4" / "IPv6" (in error messages)
//   static constexpr const char* kIgnoredCounter; the name of the "taught nothing" counter
//   static constexpr const char* kInsertExample;  an address for the insert handler's usage text
//   static constexpr uint16_t kEtherType;          of the encapsulated packets
//   static bool parse_addr(const std::string&, Addr&);
//   static const char* refused(const Addr&);       nullptr, or why the address is not allowed
//   static void format_addr(const Addr&, std::string& out);   appends the text form
//   bool multicast_mac(const Addr&, uint8_t mac[6]) const;    a next hop resolved without asking
//                                                            (broadcast, multicast; may be static)
//   static bool destination(Packet*, Addr&);                 the next hop; false: too short
//   static Reply parse_reply(const Packet*, Learned&);        an input-1 frame
//   void build_request(Packet*, const Addr& target) const;   a request from my_ip_/my_mac_
//
// Addresses are byte arrays in network order, so memcmp order is numeric order.
//
// The table is a HashTable (hash_table.h) of `entryCapacity` entries keyed by address;
// expired entries are swept out when it is full (at most every 100 ms) and by the timer.
// Packets held for an unresolved address sit in a FIFO per entry, linked through a node
// array of `capacity` nodes allocated at load (its free list bounds the packets held in
// all); the entry holds node indexes, so the table may move it.
//
// Input 0 and input 1 may be pushed from different workers, and the timer fires on a
// third: the table, the queues and the free list are guarded by one spin lock, taken once
// per batch (and once more when released packets' nodes go back to the free list: those
// packets are pushed outside the lock, their chain detached from any entry meanwhile).
// Handlers take the same lock.
#pragma once
#include <arpa/inet.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cctype>
#include <cstdio>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "element.h"
#include "hash_table.h"
#include "spin_lock.h"

namespace pg {

template <class Derived, size_t N>
class NeighbourResolver : public Element {
 public:
  using Addr = std::array<uint8_t, N>;

  // What an input-1 frame is.
  enum class Reply : uint8_t { Malformed, Ignored, Valid };
  // A valid reply: `addr` is at `mac`; the reply was sent to `to`.
  struct Learned {
    Addr addr, to;
    const uint8_t* mac;
  };


  void configure(const Config& conf) override {
    Derived::config_addr(conf, my_ip_);
    if (const char* why = Derived::refused(my_ip_)) {
      std::string text;
      Derived::format_addr(my_ip_, text);
      throw ConfigError("config field 'ip': " + text + " is " + why);
    }
    conf.mac("mac", my_mac_);
    capacity_ = uint32_t(conf.integer("capacity"));
    per_host_ = uint32_t(conf.integer("perHost"));
    entry_capacity_ = uint32_t(conf.integer("entryCapacity"));
    timeout_ns_ = seconds_ns(conf.number("timeout"));
    poll_ns_ = seconds_ns(conf.number("pollInterval"));
    give_up_ns_ = seconds_ns(conf.number("pendingTimeout"));
    refresh_ns_ = std::max(timeout_ns_ - std::min(timeout_ns_, give_up_ns_), timeout_ns_ / 2);

    c_sent_ = counter("sent");
    c_requests_ = counter("requests");
    c_replies_ = counter("replies");
    c_queue_full_ = counter("drops_queue_full");
    c_unresolved_ = counter("drops_unresolved");
    c_table_full_ = counter("drops_table_full");
    c_no_headroom_ = counter("drops_no_headroom");
    c_short_ = counter("drops_short");
    c_zero_ = counter("drops_zero_address");
    c_malformed_ = counter("drops_malformed");
    c_ignored_ = counter(Derived::kIgnoredCounter);
    c_pool_empty_ = counter("pool_empty");

    table_.init(entry_capacity_);
    nodes_.assign(capacity_, Node{});
    for (uint32_t i = 0; i < capacity_; i++) nodes_[i].next = i + 1 < capacity_ ? int32_t(i + 1) : -1;
    free_ = 0;
    add_timer(timer_);
  }

  void push(int port, Batch& b) override {
    if (port == 0) push_packets(b);
    else push_replies(b);
  }

  uint64_t held_packets() const override { return held_.load(std::memory_order_relaxed); }

  void cleanup() override {
    std::vector<Packet*> gone;
    table_.for_each([&](const Addr&, const Entry& e) {
      for (int32_t i = e.head; i >= 0; i = nodes_[size_t(i)].next) gone.push_back(nodes_[size_t(i)].pkt);
    });
    table_.clear();
    if (!gone.empty()) pool().free(gone.data(), uint32_t(gone.size()));
    held_.store(0);
  }

  // Hot reconfiguration: the neighbour table carries over (learned, static and pending
  // entries, with their ages), and the packets pending entries hold with them, in order. What
  // a smaller table or fewer held-packet slots cannot take is dropped and counted
  // (drops_table_full, drops_queue_full). The retry timer goes on where the old one was.
  void take_state(Element& old) override {
    auto& o = static_cast<NeighbourResolver&>(old);
    std::vector<Packet*> no_entry, no_slot;
    o.table_.for_each([&](const Addr& ip, const Entry& oe) {
      bool inserted;
      Entry* e = table_.find_or_insert(ip, inserted);
      if (e) {
        *e = oe;
        e->head = e->tail = -1;
        e->held = 0;
      }
      for (int32_t i = oe.head; i >= 0; i = o.nodes_[size_t(i)].next) {
        Packet* p = o.nodes_[size_t(i)].pkt;
        if (!e) no_entry.push_back(p);
        else if (free_ < 0) no_slot.push_back(p);
        else enqueue(*e, p);
      }
    });
    o.table_.clear();
    o.held_.store(0);
    if (!no_entry.empty()) {
      count(c_table_full_, no_entry.size());
      pool().free(no_entry.data(), uint32_t(no_entry.size()));
    }
    if (!no_slot.empty()) {
      count(c_queue_full_, no_slot.size());
      pool().free(no_slot.data(), uint32_t(no_slot.size()));
    }
    if (o.timer_.scheduled()) timer_.schedule_at(o.timer_.expiry());
    next_purge_ = o.next_purge_;
  }

  // vr.save / vr.restore: the resolved entries (learned and static) with their ages, as of one
  // instant (the lock). Pending entries and the packets they hold are not saved: resolution
  // starts again for them. Format (docs/router-file.md): u8 1, u64 count, then per entry
  // the address (N bytes), u8 state (2 learned, 3 static), the MAC (6 bytes), u64 age in ns.
  void save_state(StateWriter& out) override {
    const uint64_t now = monotonic_ns();
    StateWriter entries;
    uint64_t n = 0;
    {
      SpinLock::Guard lock(lock_);
      table_.for_each([&](const Addr& ip, const Entry& e) {
        if (e.state != kDynamic && e.state != kStatic) return;
        entries.raw(ip.data(), N);
        entries.u8(e.state);
        entries.raw(e.mac, 6);
        entries.u64(age(now, e.stamp));
        n++;
      });
    }
    out.u8(1);
    out.u64(n);
    out.raw(entries.data().data(), entries.data().size());
  }
  void restore_state(StateReader& in) override {
    const uint8_t format = in.u8("the neighbour table's format");
    if (format != 1) throw StateError("the neighbour table is in format " + std::to_string(format) + "; this engine reads format 1");
    const size_t n = in.count("the neighbour count", N + 15);
    if (n > entry_capacity_)
      throw StateError("the saved table has " + std::to_string(n) + " entries, more than this element's entryCapacity (" + std::to_string(entry_capacity_) + ")");
    const uint64_t now = monotonic_ns();
    SpinLock::Guard lock(lock_);
    for (size_t i = 0; i < n; i++) {
      Addr ip;
      std::memcpy(ip.data(), in.take(N, "a neighbour's address"), N);
      const uint8_t state = in.u8("a neighbour's state");
      if (state != kDynamic && state != kStatic) throw StateError("a neighbour's state is " + std::to_string(state));
      bool inserted;
      Entry* e = table_.find_or_insert(ip, inserted);
      if (!e || !inserted) throw StateError("the saved table has a neighbour twice, or more than the table holds");
      *e = Entry{};
      e->state = state;
      std::memcpy(e->mac, in.take(6, "a neighbour's MAC"), 6);
      e->stamp = e->last_req = now - std::min(now, in.u64("a neighbour's age"));
    }
  }

  void add_handlers(std::vector<Handler>& h) override {
    h.push_back({"table", [this] { return table_text(); }, nullptr});
    h.push_back({"insert", nullptr, [this](const std::string& v) { insert_static(v); }});
    h.push_back({"delete", nullptr, [this](const std::string& v) { delete_entry(v); }});
    h.push_back({"clear", nullptr, [this](const std::string&) { clear_all(); }});
  }

 protected:
  // This host: the source of what the element sends.
  Addr my_ip_{};
  uint8_t my_mac_[6] = {};

 private:
  enum : uint8_t { kNew = 0, kPending, kDynamic, kStatic };  // kNew: inserted, not yet set

  struct Entry {
    uint8_t state = kNew;
    uint8_t mac[6] = {};
    uint32_t polls = 0;     // requests sent while pending
    uint64_t stamp = 0;     // dynamic: learned or refreshed; pending: first request; static: inserted
    uint64_t last_req = 0;  // the last request (pending: retries; learned: refreshes)
    int32_t head = -1, tail = -1;  // held packets (node indexes), oldest first
    uint32_t held = 0;
  };
  struct Node {
    Packet* pkt = nullptr;
    int32_t next = -1;
  };
  // A chain of held packets detached from its entry, to be sent with `mac`.
  struct Release {
    int32_t head, tail;
    uint32_t n;
    uint8_t mac[6];
  };


  static uint64_t seconds_ns(double s) {
    const uint64_t ns = uint64_t(s * 1e9);
    return ns ? ns : 1;
  }
  static uint64_t age(uint64_t now, uint64_t then) { return now - std::min(now, then); }

  const Derived& proto() const { return static_cast<const Derived&>(*this); }

  // ---------------- table (the lock is held) ----------------

  // A new (kNew) entry for ip, which must not be in the table; nullptr when full. When
  // full it first sweeps out expired entries, at most every 100 ms; that moves entries, so
  // no other Entry* may be held across it.
  Entry* insert(const Addr& ip, uint64_t now) {
    bool inserted;
    Entry* e = table_.find_or_insert(ip, inserted);
    if (!e && now >= next_purge_) {
      next_purge_ = now + 100000000ull;
      purge_expired(now);
      e = table_.find_or_insert(ip, inserted);
    }
    return e;
  }

  void purge_expired(uint64_t now) {
    table_.sweep([&](const Addr&, const Entry& e) { return e.state == kDynamic && e.held == 0 && age(now, e.stamp) > timeout_ns_; });
  }

  bool usable(const Entry& e, uint64_t now) const {
    return e.held == 0 && (e.state == kStatic || (e.state == kDynamic && age(now, e.stamp) <= timeout_ns_));
  }

  void make_pending(Entry& e, uint64_t now) {
    e.state = kPending;
    e.stamp = e.last_req = now;
    e.polls = 1;
  }

  void enqueue(Entry& e, Packet* p) {
    const int32_t n = free_;
    free_ = nodes_[size_t(n)].next;
    nodes_[size_t(n)] = Node{p, -1};
    if (e.tail >= 0) nodes_[size_t(e.tail)].next = n;
    else e.head = n;
    e.tail = n;
    e.held++;
    held_.store(held_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  }

  // Take e's queue off it (the nodes stay out of the free list until give_back).
  Release detach(Entry& e) {
    Release r{e.head, e.tail, e.held, {}};
    std::memcpy(r.mac, e.mac, 6);
    held_.store(held_.load(std::memory_order_relaxed) - e.held, std::memory_order_relaxed);
    e.head = e.tail = -1;
    e.held = 0;
    return r;
  }
  void give_back(int32_t head, int32_t tail) {
    if (head < 0) return;
    nodes_[size_t(tail)].next = free_;
    free_ = head;
  }

  // The timer should fire no later than `when`.
  void arm(uint64_t when) {
    if (!timer_.scheduled() || timer_.expiry() > when) timer_.schedule_at(when);
  }

  // ---------------- packet path ----------------

  void encapsulate(Packet* p, const uint8_t* dst) const {
    p->push(14);  // headroom checked when the packet came in
    uint8_t* d = p->data();
    std::memcpy(d, dst, 6);
    std::memcpy(d + 6, my_mac_, 6);
    d[12] = uint8_t(Derived::kEtherType >> 8);
    d[13] = uint8_t(Derived::kEtherType);
    p->set_mac_header(d);
  }

  void push_packets(Batch& b) {
    const uint32_t n = b.count;
    if (n == 0) return;
    const uint64_t now = now_ns();
    Addr hop[kMaxBatch];
    Packet* gone[kMaxBatch];
    uint32_t m = 0, ngone = 0, nheadroom = 0, nshort = 0, nzero = 0;
    for (uint32_t i = 0; i < n; i++) {
      Packet* p = b.pkts[i];
      if (p->headroom() < 14) {
        gone[ngone++] = p;
        nheadroom++;
        continue;
      }
      if (!Derived::destination(p, hop[m])) {
        gone[ngone++] = p;
        nshort++;
        continue;
      }
      if (hop[m] == Addr{}) {  // 0.0.0.0 or ::, never a next hop (as Click's ARPQuerier drops it)
        gone[ngone++] = p;
        nzero++;
        continue;
      }
      b.pkts[m++] = p;
    }

    uint8_t macs[kMaxBatch][6];
    Addr req[kMaxBatch];
    uint32_t out = 0, nreq = 0, nfull = 0, ntable = 0;
    {
      SpinLock::Guard lock(lock_);
      for (uint32_t i = 0; i < m; i++) {
        Packet* p = b.pkts[i];
        if (proto().multicast_mac(hop[i], macs[out])) {
          b.pkts[out++] = p;
          continue;
        }
        Entry* e = table_.find(hop[i]);
        if (e && usable(*e, now)) {
          // Near the end of a learned entry's life, ask again (every pollInterval) while using it.
          if (e->state == kDynamic && age(now, e->stamp) >= refresh_ns_ && age(now, e->last_req) >= poll_ns_) {
            e->last_req = now;
            req[nreq++] = hop[i];
          }
          std::memcpy(macs[out], e->mac, 6);
          b.pkts[out++] = p;
          continue;
        }
        if (!e) {
          e = insert(hop[i], now);
          if (!e) {
            gone[ngone++] = p;
            ntable++;
            continue;
          }
          make_pending(*e, now);
          req[nreq++] = hop[i];
        } else if (e->state == kDynamic && e->held == 0) {
          make_pending(*e, now);  // expired: ask again
          req[nreq++] = hop[i];
        }
        if (e->held >= per_host_ || free_ < 0) {
          gone[ngone++] = p;
          nfull++;
          continue;
        }
        enqueue(*e, p);
      }
      if (nreq) arm(now + poll_ns_);
    }
    for (uint32_t i = 0; i < out; i++) encapsulate(b.pkts[i], macs[i]);
    b.count = out;
    if (ngone) pool().free(gone, ngone);
    if (nheadroom) count(c_no_headroom_, nheadroom);
    if (nshort) count(c_short_, nshort);
    if (nzero) count(c_zero_, nzero);
    if (nfull) count(c_queue_full_, nfull);
    if (ntable) count(c_table_full_, ntable);
    if (out) count(c_sent_, out);
    output_push(0, b);
    b.count = 0;
    send_requests(req, nreq);
  }

  void push_replies(Batch& b) {
    const uint32_t n = b.count;
    if (n == 0) return;
    const uint64_t now = now_ns();
    Learned learned[kMaxBatch];
    uint32_t nv = 0, nmal = 0, nign = 0, nacc = 0;
    for (uint32_t i = 0; i < n; i++) {
      switch (Derived::parse_reply(b.pkts[i], learned[nv])) {
        case Reply::Malformed: nmal++; break;
        case Reply::Ignored: nign++; break;
        case Reply::Valid: nv++; break;
      }
    }

    Release rel[kMaxBatch];
    uint32_t nrel = 0;
    if (nv) {
      SpinLock::Guard lock(lock_);
      for (uint32_t k = 0; k < nv; k++) {
        const Learned& l = learned[k];
        if (l.addr == my_ip_) {
          nign++;
          continue;
        }
        Entry* e = table_.find(l.addr);
        if (e && e->state == kStatic) {
          nign++;
          continue;
        }
        if (!e) {
          // Learn a new address only from a reply to us.
          if (l.to != my_ip_ || !(e = insert(l.addr, now))) {
            nign++;
            continue;
          }
        }
        e->state = kDynamic;
        std::memcpy(e->mac, l.mac, 6);
        e->stamp = now;
        e->polls = 0;
        nacc++;
        if (e->held) rel[nrel++] = detach(*e);
      }
    }
    drop(b);
    if (nmal) count(c_malformed_, nmal);
    if (nign) count(c_ignored_, nign);
    if (nacc) count(c_replies_, nacc);
    release(rel, nrel);
  }

  // Send the detached chains (outside the lock), then return their nodes.
  void release(const Release* rel, uint32_t nrel) {
    if (nrel == 0) return;
    Batch out;
    uint64_t total = 0;
    for (uint32_t r = 0; r < nrel; r++) {
      for (int32_t i = rel[r].head; i >= 0; i = nodes_[size_t(i)].next) {
        Packet* p = nodes_[size_t(i)].pkt;
        encapsulate(p, rel[r].mac);
        out.add(p);
        if (out.full()) {
          total += out.count;
          output_push(0, out);
          out.count = 0;
        }
      }
    }
    total += out.count;
    output_push(0, out);
    out.count = 0;
    if (total) count(c_sent_, total);
    SpinLock::Guard lock(lock_);
    for (uint32_t r = 0; r < nrel; r++) give_back(rel[r].head, rel[r].tail);
  }

  void send_requests(const Addr* targets, uint32_t n) {
    if (n == 0) return;
    Batch out;
    out.count = pool().alloc(out.pkts, n);
    for (uint32_t i = 0; i < out.count; i++) proto().build_request(out.pkts[i], targets[i]);
    if (out.count < n) count(c_pool_empty_, n - out.count);
    if (out.count) count(c_requests_, out.count);
    output_push(0, out);
    out.count = 0;
  }

  // ---------------- timer: retries, give-ups, expiry, releases after `insert` ----------------

  void on_timer() {
    const uint64_t now = now_ns();
    Addr req[kMaxBatch];
    Release rel[kMaxBatch];
    Batch gone;
    uint32_t nreq = 0, nrel = 0;
    uint64_t ndropped = 0;
    {
      SpinLock::Guard lock(lock_);
      uint64_t next = ~uint64_t(0);
      bool more = false;
      table_.sweep([&](const Addr& ip, Entry& e) {
        if (e.state == kPending) {
          if (age(now, e.stamp) >= give_up_ns_) {
            for (int32_t j = e.head; j >= 0; j = nodes_[size_t(j)].next) {
              if (gone.full()) drop(gone);
              gone.add(nodes_[size_t(j)].pkt);
            }
            ndropped += e.held;
            const Release r = detach(e);
            give_back(r.head, r.tail);
            return true;
          }
          if (age(now, e.last_req) >= poll_ns_) {
            if (nreq < kMaxBatch) {
              req[nreq++] = ip;
              e.last_req = now;
              e.polls++;
            } else {
              more = true;
            }
          }
          next = std::min(next, std::min(e.last_req + poll_ns_, e.stamp + give_up_ns_));
          return false;
        }
        if (e.held) {
          if (nrel < kMaxBatch) rel[nrel++] = detach(e);
          else more = true;
        }
        if (e.state == kDynamic) {
          if (e.held == 0 && age(now, e.stamp) > timeout_ns_) return true;
          next = std::min(next, std::max<uint64_t>(e.stamp + timeout_ns_ + 1, now + 100000000ull));
        }
        return false;
      });
      if (more) next = now;
      if (next != ~uint64_t(0)) timer_.schedule_at(next);
    }
    drop(gone);
    if (ndropped) count(c_unresolved_, ndropped);
    send_requests(req, nreq);
    release(rel, nrel);
  }

  // ---------------- handlers (control thread) ----------------

  static std::vector<std::string> words(const std::string& s) {
    std::vector<std::string> w;
    size_t i = 0;
    while (i < s.size()) {
      while (i < s.size() && std::isspace(uint8_t(s[i]))) i++;
      size_t j = i;
      while (j < s.size() && !std::isspace(uint8_t(s[j]))) j++;
      if (j > i) w.push_back(s.substr(i, j - i));
      i = j;
    }
    return w;
  }

  void insert_static(const std::string& v) {
    const std::vector<std::string> w = words(v);
    Addr ip;
    uint8_t mac[6];
    if (w.size() != 2)
      throw HandlerError(std::string("insert: write 'IP MAC', like '") + Derived::kInsertExample + " 02:00:00:00:00:02'");
    if (!Derived::parse_addr(w[0], ip)) throw HandlerError("insert: '" + w[0] + "' is not an " + Derived::kFamily + " address");
    if (const char* why = Derived::refused(ip)) throw HandlerError("insert: '" + w[0] + "' is " + why);
    if (!parse_mac(w[1], mac)) throw HandlerError("insert: '" + w[1] + "' is not an Ethernet address like 02:00:00:00:00:02");
    if ((mac[0] & 1)) throw HandlerError("insert: '" + w[1] + "' is a multicast address");
    const uint64_t now = monotonic_ns();
    SpinLock::Guard lock(lock_);
    Entry* e = table_.find(ip);
    if (!e) {
      next_purge_ = 0;  // make room from expired entries if needed
      e = insert(ip, now);
      if (!e) throw HandlerError("insert: the table is full (" + std::to_string(entry_capacity_) + " entries)");
    }
    e->state = kStatic;
    std::memcpy(e->mac, mac, 6);
    e->stamp = now;
    e->polls = 0;
    if (e->held) timer_.schedule_at(now);  // the worker releases the held packets
  }

  // Free the packets held by e (the lock is held); returns how many.
  uint32_t flush(Entry& e, std::vector<Packet*>& gone) {
    for (int32_t j = e.head; j >= 0; j = nodes_[size_t(j)].next) gone.push_back(nodes_[size_t(j)].pkt);
    const uint32_t n = e.held;
    const Release r = detach(e);
    give_back(r.head, r.tail);
    return n;
  }

  void delete_entry(const std::string& v) {
    const std::vector<std::string> w = words(v);
    Addr ip;
    if (w.size() != 1 || !Derived::parse_addr(w[0], ip)) throw HandlerError(std::string("delete: write an ") + Derived::kFamily + " address");
    std::vector<Packet*> gone;
    {
      SpinLock::Guard lock(lock_);
      Entry* e = table_.find(ip);
      if (!e) throw HandlerError("delete: no entry for " + w[0]);
      flush(*e, gone);
      table_.erase(ip);
    }
    if (!gone.empty()) {
      pool().free(gone.data(), uint32_t(gone.size()));
      count(c_unresolved_, gone.size());
    }
  }

  void clear_all() {
    std::vector<Packet*> gone;
    {
      SpinLock::Guard lock(lock_);
      table_.sweep([&](const Addr&, Entry& e) {
        flush(e, gone);
        return true;
      });
    }
    if (!gone.empty()) {
      pool().free(gone.data(), uint32_t(gone.size()));
      count(c_unresolved_, gone.size());
    }
  }

  std::string table_text() {
    struct Row {
      Addr ip;
      uint8_t state;
      uint8_t mac[6];
      uint64_t age;
      uint32_t held;
    };
    std::vector<Row> rows;
    {
      SpinLock::Guard lock(lock_);
      const uint64_t now = monotonic_ns();
      table_.for_each([&](const Addr& ip, const Entry& e) {
        if (e.state == kDynamic && e.held == 0 && age(now, e.stamp) > timeout_ns_) return;
        Row r{ip, e.state, {}, age(now, e.stamp), e.held};
        std::memcpy(r.mac, e.mac, 6);
        rows.push_back(r);
      });
    }
    std::sort(rows.begin(), rows.end(), [](const Row& a, const Row& b) { return std::memcmp(a.ip.data(), b.ip.data(), N) < 0; });
    std::string s;
    char line[96];
    for (const Row& r : rows) {
      Derived::format_addr(r.ip, s);
      s += ' ';
      if (r.state == kPending) {
        std::snprintf(line, sizeof line, "pending %.3f %u\n", double(r.age) / 1e9, r.held);
      } else {
        const int k = std::snprintf(line, sizeof line, "%02x:%02x:%02x:%02x:%02x:%02x ", r.mac[0], r.mac[1], r.mac[2], r.mac[3], r.mac[4],
                                    r.mac[5]);
        if (r.state == kStatic) std::snprintf(line + k, sizeof line - size_t(k), "static\n");
        else std::snprintf(line + k, sizeof line - size_t(k), "%.3f\n", double(r.age) / 1e9);
      }
      s += line;
    }
    return s;
  }

  // ---------------- state ----------------

  uint32_t capacity_ = 2048, per_host_ = 16, entry_capacity_ = 4096;
  uint64_t timeout_ns_ = 0, poll_ns_ = 0, give_up_ns_ = 0;
  uint64_t refresh_ns_ = 0;  // a learned entry this old is asked for again when used

  SpinLock lock_;
  HashTable<Addr, Entry> table_;
  uint64_t next_purge_ = 0;
  std::vector<Node> nodes_;
  int32_t free_ = -1;
  std::atomic<uint64_t> held_{0};
  Timer timer_{[this] { on_timer(); }};

  uint32_t c_sent_ = 0, c_requests_ = 0, c_replies_ = 0, c_queue_full_ = 0, c_unresolved_ = 0, c_table_full_ = 0, c_no_headroom_ = 0,
           c_short_ = 0, c_zero_ = 0, c_malformed_ = 0, c_ignored_ = 0, c_pool_empty_ = 0;
};

}  // namespace pg
