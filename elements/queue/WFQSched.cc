// WFQSched: weighted fair queueing over its inputs by bytes, in order of virtual finish time
// (self-clocked fair queueing). Documentation: WFQSched.ts.
#include <algorithm>
#include <atomic>
#include <memory>

#include "byte_sched.h"
#include "element.h"

namespace pg {

class WFQSched final : public Element {
 public:
  void configure(const Config& conf) override {
    n_ = uint32_t(ninputs());
    in_ = std::make_unique<Input[]>(n_);
    heap_ = std::make_unique<Entry[]>(n_);
    const std::vector<uint32_t> w = per_input_config(conf, "weights", "weight", ninputs());
    for (uint32_t i = 0; i < n_; i++) in_[i].set_weight(w[i]);
    c_packets_ = counter("packets");
    c_bytes_ = counter("bytes");
  }

  uint32_t pull(int, Batch& b, uint32_t max) override {
    max = std::min(max, kMaxBatch - b.count);
    if (max == 0) return 0;
    // Inputs empty at the last look may have packets now. Each starts from the virtual time, so
    // an input that was idle has saved up nothing.
    for (uint32_t i = 0; i < n_; i++) {
      Input& in = in_[i];
      if (in.active || !refill(i, in, b, 1)) continue;  // its first packet: the rest as it sends
      in.active = true;
      heap_push({vtime_ + in.cost(), i});
    }
    uint32_t got = 0;
    uint64_t bytes = 0;
    while (got < max && heap_n_) {
      // The input whose packet finishes first sends until its next packet would finish after the
      // runner-up's (or the batch is full): one heap update per run, not per packet.
      Entry& top = heap_[0];
      const uint32_t i = top.input;
      Input& in = in_[i];
      const Entry next = heap_n_ == 1 ? Entry{0, n_} : heap_n_ == 2 || before(heap_[1], heap_[2]) ? heap_[1] : heap_[2];
      uint32_t sent = 0;
      uint64_t sent_bytes = 0;
      do {
        Packet* p = in.held.pop();
        held_now_--;
        sent_bytes += p->length();
        b.pkts[b.count++] = p;
        sent++;
        vtime_ = top.finish;
        // At a full batch an input with nothing held leaves the heap rather than be pulled for a
        // packet not sent now; it comes back at the next pull with the same finish time (vtime_ is
        // its last one).
        if (in.held.empty() && (got + sent == max || !refill(i, in, b, max - got - sent))) {
          in.active = false;
          break;
        }
        top.finish += in.cost();
      } while (got + sent < max && (next.input == n_ || before(top, next)));
      in.served.add(sent, sent_bytes);
      got += sent;
      bytes += sent_bytes;
      if (in.active)
        sift_down(0);
      else
        heap_pop();
    }
    if (got) {
      count(c_packets_, got);
      count(c_bytes_, bytes);
    }
    held_.store(held_now_, std::memory_order_relaxed);
    return got;
  }

  uint64_t held_packets() const override { return held_.load(std::memory_order_relaxed); }

  // Hot reconfiguration: each input's held packets carry over with their place in the
  // schedule (finish times and the virtual time); inputs the new scheduler lacks keep theirs
  // (the swap reports them as dropped).
  void take_state(Element& old) override {
    auto& o = static_cast<WFQSched&>(old);
    vtime_ = o.vtime_;
    for (uint32_t k = 0; k < o.heap_n_; k++) {
      const Entry e = o.heap_[k];
      if (e.input >= n_) continue;
      Input& in = in_[e.input];
      Input& oi = o.in_[e.input];
      in.held = oi.held;
      oi.held.head = oi.held.count = 0;
      oi.active = false;
      in.active = true;
      held_now_ += in.held.count;
      o.held_now_ -= in.held.count;
      heap_push(e);
    }
    held_.store(held_now_);
    o.held_.store(o.held_now_);
  }

  void cleanup() override {
    for (uint32_t i = 0; i < n_; i++) {
      in_[i].held.free_all(pool());
      in_[i].active = false;
    }
    heap_n_ = 0;
    held_now_ = 0;
    held_.store(0);
  }

  void add_handlers(std::vector<Handler>& h) override {
    h.push_back({"weights", [this] { return join_per_input(ninputs(), [this](int i) { return in_[i].weight.load(); }); },
                 [this](const std::string& v) {
                   const std::vector<uint32_t> w = per_input_text(facts(), v, "weights", "weight", ninputs());
                   for (uint32_t i = 0; i < n_; i++) in_[i].set_weight(w[i]);
                 }});
    add_served_handlers(h, ninputs(), [this](int i) -> ServedCounts& { return in_[i].served; }, [this] {
      reset_counter(c_packets_);
      reset_counter(c_bytes_);
    });
  }

 private:
  // Virtual time is in units of 2^-40 byte per unit of weight, as an integer: a packet of L bytes
  // on an input of weight w finishes L * floor(2^40 / w) after its predecessor (exact to 1 part in
  // 2^40 / w, 1e-6 at the largest weight), and integer tags never lose precision as they grow.
  // They wrap around; tags in use are within one packet's cost (< 2^57) of each other, so they
  // compare by their signed difference.
  static constexpr int kScaleBits = 40;

  struct Input {
    std::atomic<uint32_t> weight{0};
    std::atomic<uint64_t> step{0};  // 2^40 / weight: a byte's cost in virtual time
    bool active = false;            // holds a packet and is in the heap
    HeldPackets held;
    ServedCounts served;

    void set_weight(uint32_t w) {
      weight.store(w, std::memory_order_relaxed);
      step.store((uint64_t(1) << kScaleBits) / w, std::memory_order_relaxed);
    }
    uint64_t cost() const { return uint64_t(held.front()->length()) * step.load(std::memory_order_relaxed); }
  };

  // Pulls up to `want` packets of input i into its empty hold; false if it had none.
  bool refill(uint32_t i, Input& in, Batch& b, uint32_t want) {
    const uint32_t first = b.count;
    if (input_pull(int(i), b, refill_room(b, want)) == 0) return false;
    prefetch_packets(b, first);
    held_now_ += b.count - first;
    in.held.take(b, first);
    return true;
  }

  // An active input and the virtual finish time of the packet at the front of its hold.
  struct Entry {
    uint64_t finish;
    uint32_t input;
  };
  // Earlier finish first; equal ones by input number.
  static bool before(const Entry& a, const Entry& b) {
    const int64_t d = int64_t(a.finish - b.finish);
    return d < 0 || (d == 0 && a.input < b.input);
  }

  // A binary heap of the active inputs by finish time (entries side by side: a sift touches
  // a few cache lines, not an input's state each).
  void heap_push(Entry e) {
    uint32_t k = heap_n_++;
    while (k > 0 && before(e, heap_[(k - 1) / 2])) {
      heap_[k] = heap_[(k - 1) / 2];
      k = (k - 1) / 2;
    }
    heap_[k] = e;
  }
  void heap_pop() {
    heap_[0] = heap_[--heap_n_];
    if (heap_n_) sift_down(0);
  }
  void sift_down(uint32_t k) {
    const Entry e = heap_[k];
    while (true) {
      uint32_t c = 2 * k + 1;
      if (c >= heap_n_) break;
      if (c + 1 < heap_n_ && before(heap_[c + 1], heap_[c])) c++;
      if (!before(heap_[c], e)) break;
      heap_[k] = heap_[c];
      k = c;
    }
    heap_[k] = e;
  }

  uint32_t n_ = 0;
  std::unique_ptr<Input[]> in_;
  std::unique_ptr<Entry[]> heap_;  // the active inputs
  uint32_t heap_n_ = 0;
  uint64_t vtime_ = 0;              // the finish time of the last packet sent (SCFQ's virtual time)
  uint64_t held_now_ = 0;           // packets held, for the puller
  std::atomic<uint64_t> held_{0};   // the same for held_packets(), published once per pull
  uint32_t c_packets_ = 0, c_bytes_ = 0;
};

PG_ELEMENT(WFQSched);

}  // namespace pg
