// DRRSched: deficit round robin over its inputs, by bytes. Documentation: DRRSched.ts.
#include <algorithm>
#include <atomic>
#include <memory>

#include "byte_sched.h"
#include "element.h"

namespace pg {

class DRRSched final : public Element {
 public:
  void configure(const Config& conf) override {
    n_ = uint32_t(ninputs());
    in_ = std::make_unique<Input[]>(n_);
    const std::vector<uint32_t> q = per_input_config(conf, "quanta", "quantum", ninputs());
    for (uint32_t i = 0; i < n_; i++) in_[i].quantum.store(q[i]);
    c_packets_ = counter("packets");
    c_bytes_ = counter("bytes");
  }

  uint32_t pull(int, Batch& b, uint32_t max) override {
    max = std::min(max, kMaxBatch - b.count);
    uint32_t got = 0, fruitless = 0;  // fruitless: turns in a row that sent nothing
    uint64_t bytes = 0;
    while (got < max) {
      Input& in = in_[cur_];
      if (!in_turn_) {
        in.deficit += in.quantum.load(std::memory_order_relaxed);
        in_turn_ = true;
      }
      uint32_t sent = 0;
      uint64_t sent_bytes = 0;
      const End end = turn(cur_, in, b, max - got, sent, sent_bytes);
      if (sent) {
        in.served.add(sent, sent_bytes);
        got += sent;
        bytes += sent_bytes;
        fruitless = 0;
      } else {
        fruitless++;
      }
      if (end == End::Room) break;  // the batch is full: this turn goes on at the next pull
      cur_ = cur_ + 1 == n_ ? 0 : cur_ + 1;
      in_turn_ = false;
      if (fruitless == n_) {  // a whole round sent nothing
        if (!skip_rounds()) break;  // every input is empty
        fruitless = 0;
      }
    }
    if (got) {
      count(c_packets_, got);
      count(c_bytes_, bytes);
    }
    held_.store(held_now_, std::memory_order_relaxed);
    return got;
  }

  uint64_t held_packets() const override { return held_.load(std::memory_order_relaxed); }

  // Hot reconfiguration: each input's held packets and deficit, and whose turn it is, carry
  // over (inputs the new scheduler lacks keep theirs: the swap reports them as dropped).
  void take_state(Element& old) override {
    auto& o = static_cast<DRRSched&>(old);
    for (uint32_t i = 0; i < std::min(n_, o.n_); i++) {
      in_[i].held = o.in_[i].held;
      in_[i].deficit = o.in_[i].deficit;
      held_now_ += in_[i].held.count;
      o.held_now_ -= o.in_[i].held.count;
      o.in_[i].held.head = o.in_[i].held.count = 0;
    }
    held_.store(held_now_);
    o.held_.store(o.held_now_);
    if (o.cur_ < n_) {
      cur_ = o.cur_;
      in_turn_ = o.in_turn_;
    }
  }

  void cleanup() override {
    for (uint32_t i = 0; i < n_; i++) in_[i].held.free_all(pool());
    held_now_ = 0;
    held_.store(0);
  }

  void add_handlers(std::vector<Handler>& h) override {
    h.push_back({"quanta", [this] { return join_per_input(ninputs(), [this](int i) { return in_[i].quantum.load(); }); },
                 [this](const std::string& v) {
                   const std::vector<uint32_t> q = per_input_text(facts(), v, "quanta", "quantum", ninputs());
                   for (uint32_t i = 0; i < n_; i++) in_[i].quantum.store(q[i], std::memory_order_relaxed);
                 }});
    add_served_handlers(h, ninputs(), [this](int i) -> ServedCounts& { return in_[i].served; }, [this] {
      reset_counter(c_packets_);
      reset_counter(c_bytes_);
    });
  }

 private:
  struct Input {
    std::atomic<uint32_t> quantum{0};  // written by the handler, read at each turn
    uint64_t deficit = 0;              // bytes the input may still send
    HeldPackets held;                  // pulled, not covered by the deficit yet
    ServedCounts served;
  };
  enum class End { Room, Blocked, Empty };  // the batch filled; the next packet exceeds the deficit; no packet

  // One input's turn (or what is left of it): its packets while the deficit covers them and the
  // batch has `room`. The held packets come first; then the input is pulled straight into the
  // batch, for no more than the room, and what the deficit does not cover is held.
  End turn(uint32_t i, Input& in, Batch& b, uint32_t room, uint32_t& sent, uint64_t& bytes) {
    while (true) {
      for (; !in.held.empty(); sent++) {
        if (sent == room) return End::Room;
        const uint32_t len = in.held.front()->length();
        if (len > in.deficit) return End::Blocked;
        in.deficit -= len;
        bytes += len;
        b.pkts[b.count++] = in.held.pop();
        held_now_--;
      }
      if (sent == room) return End::Room;
      const uint32_t first = b.count;
      if (input_pull(int(i), b, refill_room(b, room - sent)) == 0) {
        in.deficit = 0;  // an input that runs empty saves up no credit
        return End::Empty;
      }
      prefetch_packets(b, first);
      uint32_t k = first;
      for (; k < b.count; k++) {
        const uint32_t len = b.pkts[k]->length();
        if (len > in.deficit) break;
        in.deficit -= len;
        bytes += len;
      }
      sent += k - first;
      if (k < b.count) {
        held_now_ += b.count - k;
        in.held.take(b, k);
      }
    }
  }

  // A whole round sent nothing, yet some inputs hold a packet their deficit does not cover (a
  // quantum smaller than the packet). Going round until one can send would take r rounds, r the
  // fewest quanta any of them needs; give every waiting input the quanta of the first r - 1 at
  // once, so the next round sends. False when no input holds a packet: all are empty.
  bool skip_rounds() {
    uint64_t r = UINT64_MAX;
    for (uint32_t i = 0; i < n_; i++) {
      const Input& in = in_[i];
      if (in.held.empty()) continue;
      const uint64_t need = in.held.front()->length() - in.deficit;  // > 0: it was refused
      const uint64_t q = in.quantum.load(std::memory_order_relaxed);
      r = std::min(r, (need + q - 1) / q);
    }
    if (r == UINT64_MAX) return false;
    for (uint32_t i = 0; i < n_; i++)
      if (!in_[i].held.empty()) in_[i].deficit += (r - 1) * in_[i].quantum.load(std::memory_order_relaxed);
    return true;
  }

  uint32_t n_ = 0;
  std::unique_ptr<Input[]> in_;
  // The puller's position: the input whose turn it is, and whether its quantum was added. One
  // puller at a time (a pull output has one connection).
  uint32_t cur_ = 0;
  bool in_turn_ = false;
  uint64_t held_now_ = 0;           // packets held, for the puller
  std::atomic<uint64_t> held_{0};   // the same for held_packets(), published once per pull
  uint32_t c_packets_ = 0, c_bytes_ = 0;
};

PG_ELEMENT(DRRSched);

}  // namespace pg
