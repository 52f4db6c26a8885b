// IPReassembler: collects IPv4 fragments and emits each datagram once complete, rebuilt in
// the first fragment's buffer; incomplete datagrams time out. Documentation: IPReassembler.ts.
//
// State (preallocated in configure/initialize, no allocation on the packet path): datagram
// entries with a free list, a HashTable from (src, dst, id, proto) to the entry's index, a
// FIFO of live entries by arrival time (for the timer), and fragment nodes
// (one per held fragment, as many as the pool has buffers) kept sorted by offset per entry.
// Everything is guarded by one spin lock, taken once per batch and by the timer.
#include <algorithm>
#include <thread>
#include <vector>

#include "hash_table.h"
#include "ip_util.h"
#include "spin_lock.h"

namespace pg {

class IPReassembler final : public Element {
 public:
  void configure(const Config& conf) override {
    max_bytes_ = uint64_t(conf.integer("maxBytes"));
    timeout_ns_ = uint64_t(conf.number("timeout") * 1e9);
    const uint32_t nd = uint32_t(conf.integer("maxDatagrams"));
    c_packets_ = counter("packets");
    c_reassembled_ = counter("reassembled");
    c_fragments_ = counter("fragments");
    c_merged_ = counter("fragments_reassembled");
    c_timeouts_ = counter("timeouts");
    c_overlaps_ = counter("overlaps");
    c_oversized_ = counter("oversized");
    c_overlap_ = counter("drops_overlap");
    c_duplicate_ = counter("drops_duplicate");
    c_too_big_ = counter("drops_too_big");
    c_memory_ = counter("drops_memory");
    c_malformed_ = counter("drops_malformed");
    c_timeout_ = counter("drops_timeout");
    entries_.assign(nd, Entry{});
    index_.init(nd);
    for (uint32_t i = 0; i < nd; i++) entries_[i].next = i + 1 < nd ? int32_t(i + 1) : -1;
    free_entry_ = 0;
    // One node per fragment held: maxFragments bounds them (the buffers quota counts it), and
    // no more than the pool has buffers.
    const uint32_t nn = std::max<uint32_t>(std::min<uint64_t>(pool().capacity(), uint64_t(conf.integer("maxFragments"))), 1);
    nodes_.assign(nn, Node{});
    for (uint32_t i = 0; i < nn; i++) nodes_[i].next = i + 1 < nn ? int32_t(i + 1) : -1;
    free_node_ = 0;
    add_timer(timer_);
  }

  uint64_t held_packets() const override { return held_.load(std::memory_order_relaxed); }

  void cleanup() override {
    std::vector<Packet*> gone;
    for (Node& n : nodes_)
      if (n.pkt) {
        gone.push_back(n.pkt);
        n.pkt = nullptr;
      }
    if (!gone.empty()) pool().free(gone.data(), uint32_t(gone.size()));
    held_.store(0);
    held_bytes_ = 0;
  }

  // Hot reconfiguration: the datagrams being reassembled carry over, oldest first, with their
  // fragments and ages, as far as the new maxDatagrams, maxFragments and maxBytes take them;
  // the rest stay with the old element (the swap reports their fragments as dropped).
  void take_state(Element& old) override {
    auto& o = static_cast<IPReassembler&>(old);
    SpinLock::Guard lock(o.lock_);
    uint64_t held = 0;  // fragments this element holds (none before the first)
    for (int32_t oi = o.fifo_head_; oi >= 0; oi = o.entries_[size_t(oi)].next) {
      Entry& from = o.entries_[size_t(oi)];
      uint32_t frags = 0;
      for (int32_t n = from.head; n >= 0; n = o.nodes_[size_t(n)].next) frags++;
      if (free_entry_ < 0 || held + frags > nodes_.size() || held_bytes_ + from.bytes > max_bytes_) continue;
      bool inserted;
      int32_t* slot = index_.find_or_insert(from.key, index_.hash(from.key), inserted);
      if (!slot || !inserted) continue;
      const int32_t ei = free_entry_;
      *slot = ei;
      Entry& e = entries_[size_t(ei)];
      free_entry_ = e.next;
      e = from;
      e.head = -1;
      e.prev = fifo_tail_;
      e.next = -1;
      if (fifo_tail_ >= 0) entries_[size_t(fifo_tail_)].next = ei;
      else fifo_head_ = ei;
      fifo_tail_ = ei;
      int32_t* link = &e.head;
      for (int32_t n = from.head; n >= 0; n = o.nodes_[size_t(n)].next) {
        Node& on = o.nodes_[size_t(n)];
        const int32_t ni = free_node_;
        Node& nd = nodes_[size_t(ni)];
        free_node_ = nd.next;
        nd = Node{on.pkt, on.off, on.end, -1};
        on.pkt = nullptr;  // the old element's cleanup frees what is left
        *link = ni;
        link = &nd.next;
      }
      held += frags;
      held_bytes_ += from.bytes;
      o.held_bytes_ -= from.bytes;
      o.held_.fetch_sub(frags, std::memory_order_relaxed);
    }
    held_.store(held);
    if (fifo_head_ >= 0) timer_.schedule_at(entries_[size_t(fifo_head_)].born + timeout_ns_);
  }

  void push(int, Batch& b) override {
    Batch out;
    Packet* dead[kMaxBatch];
    uint32_t ndead = 0;
    Tally t{};
    const uint64_t now = now_ns();
    bool arm = false;
    {
      SpinLock::Guard lock(lock_);
      dead_ = dead;
      ndead_ = &ndead;
      for (uint32_t i = 0; i < b.count; i++) {
        Packet* p = b.pkts[i];
        Packet* r = handle(p, now, t, arm);
        if (r) out.add(r);
      }
      dead_ = nullptr;
      // A new datagram while the timer is off: arm it for the oldest one.
      if (arm && fifo_head_ >= 0 && !timer_.scheduled()) timer_.schedule_at(entries_[size_t(fifo_head_)].born + timeout_ns_);
    }
    b.count = 0;
    flush_tally(t);
    if (ndead) pool().free(dead, ndead);
    if (out.count) output_push(0, out);
  }

 private:
  // A datagram's identity (RFC 791): addresses as in the header, id in host order.
  struct DgKey {
    uint32_t src = 0, dst = 0;
    uint16_t id = 0;
    uint8_t proto = 0, pad = 0;
  };
  // HashTable's default hash of a DgKey, computed from its fields: reading the key back as
  // 8-byte words just after it was stored field by field stalls store forwarding (it cost
  // about 15 ns a fragment).
  struct DgHash {
    uint64_t operator()(const DgKey& k) const {
      uint64_t h = 0x9e3779b97f4a7c15ull;
      for (const uint64_t w : {uint64_t(k.dst) << 32 | k.src, uint64_t(k.pad) << 24 | uint64_t(k.proto) << 16 | k.id}) {
        h ^= w;
        h ^= h >> 29;
        h *= 0xbf58476d1ce4e5b9ull;
      }
      return h;
    }
  };
  struct Entry {
    DgKey key;
    bool have_last = false;
    uint32_t end = 0;      // datagram payload length (known once the last fragment came)
    uint32_t covered = 0;  // payload bytes held
    uint32_t max_end = 0;  // the highest fragment end held
    uint64_t bytes = 0;    // buffer bytes held (fragment lengths)
    uint64_t born = 0;
    int32_t head = -1;     // fragment nodes by offset
    int32_t prev = -1, next = -1;  // FIFO by arrival (next: the free list when unused)
  };
  struct Node {
    Packet* pkt = nullptr;
    uint32_t off = 0, end = 0;  // payload bytes [off, end)
    int32_t next = -1;
  };
  // Packets (every packet in is counted once: packets, fragments then merged, held or
  // dropped, or a drop on arrival) and datagram events (reassembled, timeouts, overlaps,
  // oversized).
  struct Tally {
    uint64_t packets, reassembled, fragments, merged, timeouts, overlaps, oversized, overlap, duplicate, too_big, memory, malformed;
  };

  void flush_tally(const Tally& t) {
    if (t.packets) count(c_packets_, t.packets);
    if (t.reassembled) count(c_reassembled_, t.reassembled);
    if (t.fragments) count(c_fragments_, t.fragments);
    if (t.merged) count(c_merged_, t.merged);
    if (t.timeouts) count(c_timeouts_, t.timeouts);
    if (t.overlaps) count(c_overlaps_, t.overlaps);
    if (t.oversized) count(c_oversized_, t.oversized);
    if (t.overlap) count(c_overlap_, t.overlap);
    if (t.duplicate) count(c_duplicate_, t.duplicate);
    if (t.too_big) count(c_too_big_, t.too_big);
    if (t.memory) count(c_memory_, t.memory);
    if (t.malformed) count(c_malformed_, t.malformed);
  }

  // Free an entry's fragments (into dead_) and the entry itself; returns how many fragments.
  uint32_t release(int32_t ei) {
    Entry& e = entries_[size_t(ei)];
    uint32_t freed = 0;
    for (int32_t n = e.head; n >= 0; freed++) {
      Node& nd = nodes_[size_t(n)];
      const int32_t nx = nd.next;
      free_packet(nd.pkt);
      nd.pkt = nullptr;
      nd.next = free_node_;
      free_node_ = n;
      held_.fetch_sub(1, std::memory_order_relaxed);
      n = nx;
    }
    held_bytes_ -= e.bytes;
    index_.erase(e.key);
    // Out of the FIFO.
    if (e.prev >= 0) entries_[size_t(e.prev)].next = e.next;
    else fifo_head_ = e.next;
    if (e.next >= 0) entries_[size_t(e.next)].prev = e.prev;
    else fifo_tail_ = e.prev;
    e = Entry{};
    e.next = free_entry_;
    free_entry_ = ei;
    return freed;
  }

  // Frees a packet: into the batch's dead list on the packet path, directly from the timer.
  void free_packet(Packet* p) {
    if (dead_ && *ndead_ < kMaxBatch) dead_[(*ndead_)++] = p;
    else pool().free_one(p);
  }

  // One packet (the lock is held); returns a packet to send, or nullptr.
  Packet* handle(Packet* p, uint64_t now, Tally& t, bool& arm) {
    uint8_t* ip = ip::network_header_20(p);
    uint32_t hlen = 0, total = 0;
    if (ip) {
      hlen = uint32_t(ip[0] & 15) * 4;
      total = ip::load_be16(ip + 2);
    }
    if (!ip || (ip[0] >> 4) != 4 || hlen < 20 || total < hlen || ip + total > p->end_data()) {
      t.malformed++;
      free_packet(p);
      return nullptr;
    }
    const uint16_t field = ip::load_be16(ip + 6);
    const uint32_t off = uint32_t(field & 0x1fff) * 8;
    const bool mf = field & 0x2000;
    if (off == 0 && !mf) {
      t.packets++;
      return p;
    }
    const uint32_t len = total - hlen, end = off + len;
    if (mf && (len == 0 || (len & 7))) {
      t.malformed++;
      free_packet(p);
      return nullptr;
    }
    DgKey key;
    std::memcpy(&key.src, ip + 12, 4);
    std::memcpy(&key.dst, ip + 16, 4);
    key.id = ip::load16(ip + 4);
    key.proto = ip[9];
    // One probe finds the datagram or makes room for it; the rare refusals below take the new
    // key out again. The index holds as many keys as there are entries, so it is full (null)
    // only when every entry is in use.
    bool inserted;
    int32_t* slot = index_.find_or_insert(key, index_.hash(key), inserted);
    if (end + 20 > 65535) {  // the datagram would exceed 65535 bytes
      t.too_big++;
      t.oversized++;
      free_packet(p);
      if (inserted) index_.erase(key);
      else if (slot) t.too_big += release(*slot);
      return nullptr;
    }
    int32_t ei = slot && !inserted ? *slot : -1;
    if (ei < 0) {
      if (!slot || free_entry_ < 0 || free_node_ < 0 || held_bytes_ + p->length() > max_bytes_) {
        t.memory++;
        free_packet(p);
        if (inserted) index_.erase(key);
        return nullptr;
      }
      ei = free_entry_;
      *slot = ei;
      Entry& e = entries_[size_t(ei)];
      free_entry_ = e.next;
      e = Entry{};
      e.key = key;
      e.born = now;
      e.prev = fifo_tail_;
      e.next = -1;
      if (fifo_tail_ >= 0) entries_[size_t(fifo_tail_)].next = ei;
      else fifo_head_ = ei;
      fifo_tail_ = ei;
      arm = true;
    }
    Entry& e = entries_[size_t(ei)];
    // Where it goes: after the last node starting before it.
    int32_t prev = -1, cur = e.head;
    while (cur >= 0 && nodes_[size_t(cur)].off < off) {
      prev = cur;
      cur = nodes_[size_t(cur)].next;
    }
    if (cur >= 0 && nodes_[size_t(cur)].off == off && nodes_[size_t(cur)].end == end) {
      t.duplicate++;  // an exact duplicate
      free_packet(p);
      return nullptr;
    }
    const bool overlaps = (prev >= 0 && nodes_[size_t(prev)].end > off) || (cur >= 0 && nodes_[size_t(cur)].off < end);
    const bool inconsistent = (e.have_last && (end > e.end || (!mf && end != e.end))) ||
                              (!mf && end < e.max_end);
    if (overlaps || inconsistent) {
      t.overlaps++;
      free_packet(p);
      t.overlap += 1 + release(ei);
      return nullptr;
    }
    if (free_node_ < 0 || held_bytes_ + p->length() > max_bytes_) {
      t.memory++;
      free_packet(p);
      if (e.head < 0) release(ei);  // an entry just made for this fragment: no fragments
      return nullptr;
    }
    const int32_t ni = free_node_;
    Node& n = nodes_[size_t(ni)];
    free_node_ = n.next;
    n.pkt = p;
    n.off = off;
    n.end = end;
    n.next = cur;
    if (prev >= 0) nodes_[size_t(prev)].next = ni;
    else e.head = ni;
    held_.fetch_add(1, std::memory_order_relaxed);
    held_bytes_ += p->length();
    e.bytes += p->length();
    e.covered += len;
    if (end > e.max_end) e.max_end = end;
    t.fragments++;
    if (!mf) {
      e.have_last = true;
      e.end = end;
    }
    if (!e.have_last || e.covered != e.end || nodes_[size_t(e.head)].off != 0) return nullptr;
    return assemble(ei, t);
  }

  // The datagram is complete: rebuild it in the first fragment's buffer.
  Packet* assemble(int32_t ei, Tally& t) {
    Entry& e = entries_[size_t(ei)];
    Node& first = nodes_[size_t(e.head)];
    Packet* q = first.pkt;
    uint8_t* ip = q->network_header();
    const uint32_t hlen = uint32_t(ip[0] & 15) * 4;
    const uint32_t prefix = uint32_t(ip - q->data());
    const uint32_t total = hlen + e.end;
    if (total > 65535 || !q->set_length(prefix + total)) {
      t.oversized++;
      t.too_big += release(ei);
      return nullptr;
    }
    for (int32_t n = first.next; n >= 0; n = nodes_[size_t(n)].next) {
      Node& nd = nodes_[size_t(n)];
      uint8_t* fip = nd.pkt->network_header();
      const uint32_t fh = uint32_t(fip[0] & 15) * 4;
      std::memcpy(ip + hlen + nd.off, fip + fh, nd.end - nd.off);
    }
    ip[2] = uint8_t(total >> 8);
    ip[3] = uint8_t(total);
    ip[6] &= 0x40;  // keep DF; MF and the offset cleared
    ip[7] = 0;
    ip[10] = ip[11] = 0;
    ip::store16(ip + 10, ip::checksum(ip, hlen));
    q->anno().transport_offset = int16_t(ip + hlen - q->buffer());
    first.pkt = nullptr;  // kept: it is the result
    t.reassembled++;
    t.merged += 1 + release_keep_first(ei);
    return q;
  }

  // The first node's packet is the result (already detached); frees the other fragments and
  // returns how many.
  uint32_t release_keep_first(int32_t ei) {
    Entry& e = entries_[size_t(ei)];
    const int32_t h = e.head;
    Node& first = nodes_[size_t(h)];
    e.head = first.next;
    first.next = free_node_;
    free_node_ = h;
    held_.fetch_sub(1, std::memory_order_relaxed);
    return release(ei);
  }

  void on_timer() {
    Packet* gone[kMaxBatch];
    uint32_t n = 0;
    uint64_t timeouts = 0, freed = 0;
    const uint64_t now = monotonic_ns();
    {
      SpinLock::Guard lock(lock_);
      dead_ = gone;
      ndead_ = &n;
      while (fifo_head_ >= 0 && entries_[size_t(fifo_head_)].born + timeout_ns_ <= now) {
        freed += release(fifo_head_);
        timeouts++;
      }
      dead_ = nullptr;
      if (fifo_head_ >= 0) timer_.schedule_at(entries_[size_t(fifo_head_)].born + timeout_ns_);
    }
    if (n) pool().free(gone, n);
    if (timeouts) count(c_timeouts_, timeouts);
    if (freed) count(c_timeout_, freed);
  }

  uint64_t max_bytes_ = 4 << 20, timeout_ns_ = 30000000000ull;
  std::vector<Entry> entries_;
  HashTable<DgKey, int32_t, DgHash> index_;  // datagram -> its entry
  std::vector<Node> nodes_;
  int32_t free_entry_ = -1, free_node_ = -1, fifo_head_ = -1, fifo_tail_ = -1;
  uint64_t held_bytes_ = 0;
  std::atomic<uint64_t> held_{0};
  Packet** dead_ = nullptr;
  uint32_t* ndead_ = nullptr;
  SpinLock lock_;
  Timer timer_{[this] { on_timer(); }};
  uint32_t c_packets_ = 0, c_reassembled_ = 0, c_fragments_ = 0, c_merged_ = 0, c_timeouts_ = 0, c_overlaps_ = 0, c_oversized_ = 0,
           c_overlap_ = 0, c_duplicate_ = 0, c_too_big_ = 0, c_memory_ = 0, c_malformed_ = 0, c_timeout_ = 0;
};

PG_ELEMENT(IPReassembler);

}  // namespace pg
