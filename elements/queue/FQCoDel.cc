// FQCoDel: flow queueing with CoDel in each queue (RFC 8290). Documentation: FQCoDel.ts.
// The queues are packet lists linked through the packets' user annotation bytes (no storage
// per packet), under one lock taken once per push and once per pull.
#include <algorithm>
#include <atomic>
#include <cmath>
#include <random>
#include <vector>

#include "aqm.h"
#include "element.h"
#include "spin_lock.h"

namespace pg {

class FQCoDel final : public Element {
 public:
  void configure(const Config& conf) override {
    flows_.resize(size_t(conf.bounded("flows", 65536)));
    quantum_.store(int32_t(conf.integer("quantum")));
    limit_.store(uint32_t(conf.integer("limit")));
    codel_.configure(conf);
    seed_ = uint64_t(conf.integer("seed"));
    random_seed_ = seed_ == 0;
    if (random_seed_) seed_ = std::random_device{}() | 1;
    c_enqueued_ = counter("enqueued");
    c_drops_overflow_ = counter("drops_overflow");
    c_drops_delay_ = counter("drops_delay");
    c_marks_ = counter("marks");
    c_new_flow_count_ = counter("new_flow_count");
  }

  void push(int, Batch& b) override {
    uint32_t idx[kMaxBatch];
    const uint64_t nflows = flows_.size();
    for (uint32_t i = 0; i < b.count; i++) {
      idx[i] = uint32_t((flow_hash(b.pkts[i]) * nflows) >> 32);
      __builtin_prefetch(&flows_[idx[i]], 1);
    }
    const uint64_t now = now_ns();
    Packet* dead[kMaxBatch];
    uint32_t ndead = 0, new_flows = 0;
    uint64_t overflowed = 0;
    {
      SpinLock::Guard g(lock_);
      const int32_t quantum = quantum_.load(std::memory_order_relaxed);
      const uint32_t limit = limit_.load(std::memory_order_relaxed);
      for (uint32_t i = 0; i < b.count; i++) {
        Packet* p = b.pkts[i];
        aqm::set_enqueue_time(p, now);
        Flow& f = flows_[idx[i]];
        append(f, p);
        if (f.next == kIdle) {
          f.deficit = quantum;
          list_push(new_, idx[i]);
          new_flows++;
        }
        if (packets_ > limit) {
          if (ndead + 64 > kMaxBatch) {
            pool().free(dead, ndead);
            overflowed += ndead;
            ndead = 0;
          }
          drop_from_fattest(dead, ndead);
        }
      }
      length_.store(packets_, std::memory_order_relaxed);
    }
    count(c_enqueued_, b.count);
    if (new_flows) count(c_new_flow_count_, new_flows);
    if (ndead) pool().free(dead, ndead);
    if (overflowed + ndead) count(c_drops_overflow_, overflowed + ndead);
    b.count = 0;
  }

  uint32_t pull(int, Batch& b, uint32_t max) override {
    max = std::min(max, kMaxBatch - b.count);
    if (max == 0) return 0;
    Packet* dead[kMaxBatch];
    uint32_t ndead = 0, delivered = 0;
    uint64_t drops = 0, marks = 0;
    {
      SpinLock::Guard g(lock_);
      const aqm::CoDelParams params = codel_.now();
      const int32_t quantum = quantum_.load(std::memory_order_relaxed);
      const uint64_t now = now_ns();
      auto drop_one = [&](Packet* p) {
        drops++;
        if (ndead == kMaxBatch) {
          pool().free(dead, ndead);
          ndead = 0;
        }
        dead[ndead++] = p;
      };
      while (delivered < max) {
        List* l = new_.head != kNone ? &new_ : old_.head != kNone ? &old_ : nullptr;
        if (!l) break;
        const uint32_t fi = l->head;
        Flow& f = flows_[fi];
        if (f.deficit <= 0) {
          f.deficit += quantum;
          list_pop(*l);
          list_push(old_, fi);
          continue;
        }
        auto take = [&](uint64_t& left) -> Packet* {
          Packet* p = unlink_head(f);
          left = bytes_;
          return p;
        };
        Packet* p = f.codel.dequeue(now, params, take, drop_one, marks);
        if (!p) {
          list_pop(*l);
          // An emptied new flow goes round the old list once, so it cannot starve old flows
          // by coming back as new (RFC 8290 section 4.2).
          if (l == &new_ && old_.head != kNone)
            list_push(old_, fi);
          else
            f.next = kIdle;
          continue;
        }
        f.deficit -= int32_t(p->length());
        b.pkts[b.count++] = p;
        delivered++;
      }
      length_.store(packets_, std::memory_order_relaxed);
    }
    if (ndead) pool().free(dead, ndead);
    if (drops) count(c_drops_delay_, drops);
    if (marks) count(c_marks_, marks);
    return delivered;
  }

  uint64_t held_packets() const override { return length_.load(std::memory_order_relaxed); }

  // Hot reconfiguration: the queued packets carry over. With the same number of queues and
  // hash (a random seed is kept), the queues themselves are swapped in: their order, deficits
  // and lists, and each queue's CoDel state. Otherwise each packet joins the queue it now
  // hashes to, in its old queue's order, keeping its enqueue time; the queues start afresh on
  // the new-flows list. A lower limit drops the excess at the next enqueue, counted.
  void take_state(Element& old) override {
    auto& o = static_cast<FQCoDel&>(old);
    SpinLock::Guard g(o.lock_);
    if (random_seed_) seed_ = o.seed_;
    if (flows_.size() == o.flows_.size() && seed_ == o.seed_) {
      flows_.swap(o.flows_);
      std::swap(new_, o.new_);
      std::swap(old_, o.old_);
      std::swap(bytes_, o.bytes_);
      std::swap(packets_, o.packets_);
    } else {
      const uint64_t nflows = flows_.size();
      const int32_t quantum = quantum_.load(std::memory_order_relaxed);
      for (Flow& of : o.flows_)
        while (Packet* p = o.unlink_head(of)) {
          const uint32_t fi = uint32_t((flow_hash(p) * nflows) >> 32);
          Flow& f = flows_[fi];
          append(f, p);
          if (f.next == kIdle) {
            f.deficit = quantum;
            list_push(new_, fi);
          }
        }
      o.new_ = o.old_ = List{};
    }
    length_.store(packets_);
    o.length_.store(o.packets_);
  }

  void cleanup() override {
    for (Flow& f : flows_)
      while (Packet* p = unlink_head(f)) drop(p);
    length_.store(0);
  }

  void add_handlers(std::vector<Handler>& h) override {
    h.push_back({"length", [this] { return std::to_string(length_.load()); }, nullptr});
    h.push_back({"bytes", [this] {
                   SpinLock::Guard g(lock_);
                   return std::to_string(bytes_);
                 }, nullptr});
    h.push_back({"new_flows_len", [this] {
                   SpinLock::Guard g(lock_);
                   return std::to_string(new_.size);
                 }, nullptr});
    h.push_back({"old_flows_len", [this] {
                   SpinLock::Guard g(lock_);
                   return std::to_string(old_.size);
                 }, nullptr});
    h.push_back({"limit", [this] { return std::to_string(limit_.load()); },
                 [this](const std::string& v) { limit_.store(uint32_t(parse_field_integer(v, "limit"))); }});
    h.push_back({"quantum", [this] { return std::to_string(quantum_.load()); },
                 [this](const std::string& v) { quantum_.store(int32_t(parse_field_integer(v, "quantum"))); }});
    codel_.add_handlers(h);
  }

 private:
  static constexpr uint32_t kNone = ~0u;      // a list's end
  static constexpr uint32_t kIdle = ~0u - 1;  // a flow on no list

  // One cache line a flow.
  struct alignas(64) Flow {
    Packet* head = nullptr;
    Packet* tail = nullptr;
    uint64_t bytes = 0;
    int32_t deficit = 0;
    uint32_t next = kIdle;  // the next flow on its list, kNone at the end; kIdle: on no list
    aqm::CoDelState codel;
  };
  static_assert(sizeof(Flow) == 64);
  struct List {
    uint32_t head = kNone, tail = kNone, size = 0;
  };


  static Packet* next_of(const Packet* p) {
    Packet* n;
    std::memcpy(&n, p->anno().user + aqm::kNextPacketByte, sizeof n);
    return n;
  }
  static void set_next(Packet* p, Packet* n) { std::memcpy(p->anno().user + aqm::kNextPacketByte, &n, sizeof n); }

  void append(Flow& f, Packet* p) {
    set_next(p, nullptr);
    if (f.tail)
      set_next(f.tail, p);
    else
      f.head = p;
    f.tail = p;
    f.bytes += p->length();
    bytes_ += p->length();
    packets_++;
  }

  Packet* unlink_head(Flow& f) {
    Packet* p = f.head;
    if (!p) return nullptr;
    f.head = next_of(p);
    if (!f.head) f.tail = nullptr;
    f.bytes -= p->length();
    bytes_ -= p->length();
    packets_--;
    return p;
  }

  void list_push(List& l, uint32_t fi) {
    Flow& f = flows_[fi];
    f.next = kNone;
    if (l.tail == kNone)
      l.head = fi;
    else
      flows_[l.tail].next = fi;
    l.tail = fi;
    l.size++;
  }

  void list_pop(List& l) {
    const uint32_t fi = l.head;
    l.head = flows_[fi].next;
    if (l.head == kNone) l.tail = kNone;
    l.size--;
  }

  // Over the limit: drop from the head of the queue with the most bytes until half of its bytes
  // or 64 packets are gone (the caller makes room in dead), so the scan over the queues is paid
  // once per many drops (Linux's fq_codel_drop).
  void drop_from_fattest(Packet** dead, uint32_t& ndead) {
    uint32_t fat = 0;
    for (uint32_t i = 1; i < flows_.size(); i++)
      if (flows_[i].bytes > flows_[fat].bytes) fat = uint32_t(i);
    Flow& f = flows_[fat];
    const uint64_t goal = f.bytes / 2;
    uint64_t freed = 0;
    uint32_t n = 0;
    do {
      Packet* p = unlink_head(f);
      if (!p) break;
      freed += p->length();
      dead[ndead++] = p;
    } while (++n < 64 && freed < goal);
  }

  // The flow key hashed with the seed: addresses, protocol and ports of the IP header at the
  // network-header annotation; else the first 14 bytes. Words are loaded straight from the
  // packet and mixed (multiply-xorshift); the top 32 bits of the result pick the queue.
  uint64_t flow_hash(Packet* p) const {
    const uint8_t* ip = p->network_header();
    const uint8_t* end = p->end_data();
    uint64_t h = seed_;
    auto mix = [&h](uint64_t w) {
      h = (h ^ w) * 0xff51afd7ed558ccdull;
      h ^= h >> 32;
    };
    if (ip && ip >= p->data() && ip + 20 <= end && (ip[0] >> 4) == 4) {
      mix(load64(ip + 12));  // source and destination
      const uint32_t hlen = uint32_t(ip[0] & 15) * 4;
      const bool fragment = (ip::load_be16(ip + 6) & 0x3fff) != 0;
      uint64_t ports = 0;
      if (!fragment && has_ports(ip[9]) && hlen >= 20 && ip + hlen + 4 <= end) ports = load32(ip + hlen);
      mix(uint64_t(ip[9]) << 32 | ports);
    } else if (ip && ip >= p->data() && ip + 40 <= end && (ip[0] >> 4) == 6) {
      for (uint32_t i = 8; i < 40; i += 8) mix(load64(ip + i));
      const uint64_t ports = has_ports(ip[6]) && ip + 44 <= end ? load32(ip + 40) : 0;
      mix(uint64_t(ip[6]) << 32 | ports);
    } else if (p->length() >= 14) {
      mix(load64(p->data()));
      mix(load64(p->data() + 6));  // bytes 6-13 (overlapping the first word)
    } else {
      for (uint32_t i = 0; i < p->length(); i++) mix(p->data()[i]);
    }
    h *= 0xc4ceb9fe1a85ec53ull;
    return h >> 32;
  }
  static uint64_t load64(const uint8_t* q) {
    uint64_t v;
    std::memcpy(&v, q, 8);
    return v;
  }
  static uint32_t load32(const uint8_t* q) {
    uint32_t v;
    std::memcpy(&v, q, 4);
    return v;
  }
  static bool has_ports(uint8_t proto) { return proto == 6 || proto == 17 || proto == 132 || proto == 136; }

  std::vector<Flow> flows_;
  List new_, old_;
  uint64_t bytes_ = 0;
  uint32_t packets_ = 0;
  std::atomic<uint32_t> length_{0};  // packets_, for readers outside the lock
  std::atomic<int32_t> quantum_{1514};
  std::atomic<uint32_t> limit_{0};
  aqm::CoDelSettings codel_;
  uint64_t seed_ = 0;
  bool random_seed_ = false;  // seed 0 in the config: a hot reconfiguration keeps the old one
  mutable SpinLock lock_;
  uint32_t c_enqueued_ = 0, c_drops_overflow_ = 0, c_drops_delay_ = 0, c_marks_ = 0, c_new_flow_count_ = 0;
};

PG_ELEMENT(FQCoDel);

}  // namespace pg
