// LinkEmulator: one direction of an emulated link (bandwidth with serialisation, delay,
// jitter, loss, duplication, reordering). Documentation: LinkEmulator.ts.
#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "element.h"
#include "spin_lock.h"
#include "splitmix64.h"

namespace pg {

class LinkEmulator final : public Element {
 public:
  LinkEmulator() : timer_([this] { on_timer(); }) {}

  void configure(const Config& conf) override {
    p_.rate = conf.number("rate");
    p_.overhead = uint32_t(conf.integer("overhead"));
    p_.delay = conf.number("delay");
    p_.jitter = conf.number("jitter");
    p_.normal = conf.string("distribution") == "normal";
    p_.jitter_reorders = conf.boolean("jitterReorders");
    p_.loss = conf.number("loss") / 100;
    p_.gilbert = conf.string("lossModel") == "gilbert-elliott";
    p_.ge_p = conf.number("geP") / 100;
    p_.ge_r = conf.number("geR") / 100;
    p_.ge_loss_bad = conf.number("geLossBad") / 100;
    p_.ge_loss_good = conf.number("geLossGood") / 100;
    p_.duplicate = conf.number("duplicate") / 100;
    p_.reorder = conf.number("reorder") / 100;
    capacity_ = uint32_t(conf.integer("capacity"));
    seed(uint64_t(conf.integer("seed")));
    heap_.reserve(capacity_);
    c_packets_ = counter("packets");
    c_sent_ = counter("sent");
    c_loss_ = counter("drops_loss");
    c_overflow_ = counter("drops_overflow");
    c_pool_empty_ = counter("drops_pool_empty");
    c_duplicated_ = counter("duplicated");
    c_reordered_ = counter("reordered");
    add_timer(timer_);
  }

  void push(int, Batch& b) override {
    if (b.count == 0) return;
    const uint64_t now = now_ns();
    Batch dropped;
    uint64_t lost = 0, overflow = 0, dups = 0, reordered = 0, no_buffer = 0;
    {
      SpinLock::Guard g(lock_);
      last_now_ = std::max(last_now_, now);
      for (uint32_t i = 0; i < b.count; i++) {
        Packet* p = b.pkts[i];
        if (is_lost()) {
          dropped.add(p);
          lost++;
          continue;
        }
        Packet* dup = nullptr;
        if (p_.duplicate > 0 && uniform() < p_.duplicate) {
          dup = pool().alloc_one();
          if (dup) copy_packet(p, dup), dups++;
          else no_buffer++;
        }
        for (Packet* q : {p, dup}) {
          if (!q) continue;
          if (heap_.size() >= capacity_) {
            dropped.add(q);
            overflow++;
            continue;
          }
          reordered += schedule(q, now);
        }
      }
      arm();
    }
    count(c_packets_, b.count);
    if (lost) count(c_loss_, lost);
    if (overflow) count(c_overflow_, overflow);
    if (dups) count(c_duplicated_, dups);
    if (no_buffer) count(c_pool_empty_, no_buffer);
    if (reordered) count(c_reordered_, reordered);
    drop(dropped);
    release(now);  // what is due already (no delay, an idle unlimited link) goes on in this round
  }

  uint64_t held_packets() const override {
    SpinLock::Guard g(lock_);
    return heap_.size();
  }

  void cleanup() override {
    for (const Held& h : heap_) drop(h.p);
    heap_.clear();
  }

  // Hot reconfiguration: the packets in flight keep their due times; the link's busy time, the
  // FIFO floor and the loss model's state carry over, so a new config applies from then on.
  // Room for everything the old one can hold, reserved while it still runs (its heap never
  // grows past its reservation), so the swap copies without allocating.
  void prepare_take(const Element& old) override {
    heap_.reserve(std::max<size_t>(capacity_, static_cast<const LinkEmulator&>(old).heap_.capacity()));
  }
  void take_state(Element& old) override {
    auto& o = static_cast<LinkEmulator&>(old);
    heap_.assign(o.heap_.begin(), o.heap_.end());  // the same heap order
    o.heap_.clear();
    link_free_ns_ = o.link_free_ns_;
    last_due_ = o.last_due_;
    last_now_ = o.last_now_;
    seq_ = o.seq_;
    ge_bad_ = o.ge_bad_;
    arm();
  }

  void add_handlers(std::vector<Handler>& h) override {
    // Each handler sets its own parameter under the lock and nothing else: packets already
    // scheduled keep their times, the others apply to the next packet (never a reset).
    number_handler(h, "rate", 1, [this](double v) { p_.rate = v; });
    number_handler(h, "overhead", 1, [this](double v) { p_.overhead = uint32_t(v); }, true);
    number_handler(h, "delay", 1, [this](double v) { p_.delay = v; });
    number_handler(h, "jitter", 1, [this](double v) { p_.jitter = v; });
    number_handler(h, "loss", 100, [this](double v) { p_.loss = v; });
    number_handler(h, "geP", 100, [this](double v) { p_.ge_p = v; });
    number_handler(h, "geR", 100, [this](double v) { p_.ge_r = v; });
    number_handler(h, "geLossBad", 100, [this](double v) { p_.ge_loss_bad = v; });
    number_handler(h, "geLossGood", 100, [this](double v) { p_.ge_loss_good = v; });
    number_handler(h, "duplicate", 100, [this](double v) { p_.duplicate = v; });
    number_handler(h, "reorder", 100, [this](double v) { p_.reorder = v; });
    choice_handler(h, "distribution", "normal", [this](bool on) { p_.normal = on; }, [this] { return p_.normal; });
    choice_handler(h, "lossModel", "gilbert-elliott", [this](bool on) { p_.gilbert = on; }, [this] { return p_.gilbert; });
    h.push_back({"jitterReorders",
                 [this] {
                   SpinLock::Guard g(lock_);
                   return std::string(p_.jitter_reorders ? "true" : "false");
                 },
                 [this](const std::string& v) {
                   const bool on = parse_bool(v, "jitterReorders");
                   SpinLock::Guard g(lock_);
                   p_.jitter_reorders = on;
                 }});
    h.push_back({"seed", [this] { return std::to_string(seed_); },
                 [this](const std::string& v) {
                   const uint64_t s = uint64_t(parse_field_integer(v, "seed"));
                   SpinLock::Guard g(lock_);
                   seed(s);
                 }});
    // The heap is reallocated for a larger capacity, so this runs with the graph paused.
    h.push_back({"capacity", [this] { return std::to_string(capacity_); },
                 [this](const std::string& v) {
                   const uint32_t cap = uint32_t(parse_field_integer(v, "capacity"));
                   heap_.reserve(cap);
                   capacity_ = cap;  // a smaller one keeps the packets held; new ones wait for room
                 },
                 /*exclusive=*/true});
    h.push_back({"held", [this] { return std::to_string(held_packets()); }, nullptr});
    h.push_back({"backlog", [this] {
                   // Seconds of wire time booked ahead of the element's last packet or release
                   // (the engine clock as the workers saw it: a handler's thread has the real one).
                   SpinLock::Guard g(lock_);
                   const double ahead = link_free_ns_ - double(last_now_);
                   return format_number(ahead > 0 ? ahead / 1e9 : 0);
                 }, nullptr});
  }

 private:
  struct Params {
    double rate = 0;  // bits/s; 0: no limit
    uint32_t overhead = 0;
    double delay = 0, jitter = 0;  // seconds
    bool normal = false, jitter_reorders = false, gilbert = false;
    double loss = 0, ge_p = 0, ge_r = 0, ge_loss_bad = 1, ge_loss_good = 0, duplicate = 0, reorder = 0;  // fractions
  };
  struct Held {
    uint64_t due, seq;
    Packet* p;
  };
  // A min-heap on (due, seq): equal due times leave in arrival order.
  static bool later(const Held& a, const Held& b) { return a.due != b.due ? a.due > b.due : a.seq > b.seq; }

  // A handler for a number field stored as the config value / scale (percents as fractions).
  template <class Set>
  void number_handler(std::vector<Handler>& h, const char* field, double scale, Set set, bool integer = false) {
    h.push_back({field,
                 [this, field] { return format_number(facts_value(field)); },
                 [this, field, scale, set, integer](const std::string& v) {
                   const double x = integer ? double(parse_field_integer(v, field)) : parse_field_number(v, field);
                   SpinLock::Guard g(lock_);
                   set(x / scale);
                 }});
  }
  template <class Set, class Get>
  void choice_handler(std::vector<Handler>& h, const char* field, const char* on_value, Set set, Get get) {
    h.push_back({field,
                 [this, field, on_value, get] {
                   SpinLock::Guard g(lock_);
                   return get() ? std::string(on_value) : facts().field(field).values.at(0);
                 },
                 [this, field, on_value, set](const std::string& v) {
                   const auto& values = facts().field(field).values;
                   if (std::find(values.begin(), values.end(), v) == values.end()) {
                     std::string list;
                     for (size_t i = 0; i < values.size(); i++) list += (i ? ", " : "") + values[i];
                     throw HandlerError(std::string(field) + ": must be one of " + list + ", got '" + v + "'");
                   }
                   SpinLock::Guard g(lock_);
                   set(v == on_value);
                 }});
  }
  // The current value of a number field, in the config's units.
  double facts_value(const char* field) const {
    SpinLock::Guard g(lock_);
    const std::string f = field;
    if (f == "rate") return p_.rate;
    if (f == "overhead") return p_.overhead;
    if (f == "delay") return p_.delay;
    if (f == "jitter") return p_.jitter;
    const double pct = f == "loss" ? p_.loss : f == "geP" ? p_.ge_p : f == "geR" ? p_.ge_r : f == "geLossBad" ? p_.ge_loss_bad
                     : f == "geLossGood" ? p_.ge_loss_good : f == "duplicate" ? p_.duplicate : p_.reorder;
    return std::round(pct * 100 * 1e9) / 1e9;  // the percent as written, without the division's rounding
  }

  void seed(uint64_t s) {
    seed_ = s ? s : (uint64_t(std::random_device{}()) << 32 | std::random_device{}()) | 1;
    rng_.state = seed_;
  }
  double uniform() { return rng_.uniform(); }  // [0, 1)

  bool is_lost() {
    if (!p_.gilbert) return p_.loss > 0 && uniform() < p_.loss;
    // Gilbert-Elliott (netem's gemodel): move between the good and bad states, then lose the
    // packet with the new state's loss probability.
    if (ge_bad_) ge_bad_ = !(uniform() < p_.ge_r);
    else ge_bad_ = uniform() < p_.ge_p;
    const double l = ge_bad_ ? p_.ge_loss_bad : p_.ge_loss_good;
    return l > 0 && uniform() < l;
  }

  // Book the packet's departure (serialisation behind the packets before it), then its arrival
  // at the far end (delay and jitter), and hold it until then. Returns 1 if it was picked to
  // skip the delay (reordered).
  uint32_t schedule(Packet* p, uint64_t now) {
    double sent = double(now);
    if (p_.rate > 0) {
      link_free_ns_ = std::max(link_free_ns_, sent) + double(p->length() + p_.overhead) * 8e9 / p_.rate;
      sent = link_free_ns_;
    }
    uint64_t due;
    uint32_t reordered = 0;
    if (p_.reorder > 0 && uniform() < p_.reorder) {
      due = uint64_t(sent);  // sent on at once: it overtakes the packets still in their delay
      reordered = 1;
    } else {
      double d = p_.delay;
      if (p_.jitter > 0) {
        if (p_.normal) {
          const double u1 = 1.0 - uniform(), u2 = uniform();  // Box-Muller; u1 in (0, 1]
          d += p_.jitter * std::sqrt(-2.0 * std::log(u1)) * std::cos(2 * M_PI * u2);
        } else {
          d += p_.jitter * (2 * uniform() - 1);
        }
        if (d < 0) d = 0;
      }
      due = uint64_t(sent + d * 1e9);
      // Without jitterReorders a packet never arrives before one sent ahead of it (the
      // distribution is kept, shifted where a packet would overtake: netem with a rate does so).
      if (!p_.jitter_reorders) {
        due = std::max(due, last_due_);
        last_due_ = due;
      }
    }
    heap_.push_back({due, seq_++, p});
    std::push_heap(heap_.begin(), heap_.end(), later);
    return reordered;
  }

  // With the lock held: the timer should fire by the earliest due time.
  void arm() {
    if (heap_.empty()) return;
    const uint64_t due = heap_.front().due;
    if (!timer_.scheduled() || timer_.expiry() > due) timer_.schedule_at(due);
    wake_at(due);  // this worker too, in case the timer is ours and was checked this round already
  }

  // Send on every packet due by `now`, a batch at a time, outside the lock.
  void release(uint64_t now) {
    for (;;) {
      Batch out;
      {
        SpinLock::Guard g(lock_);
        last_now_ = std::max(last_now_, now);
        while (!heap_.empty() && heap_.front().due <= now && !out.full()) {
          std::pop_heap(heap_.begin(), heap_.end(), later);
          out.add(heap_.back().p);
          heap_.pop_back();
        }
        if (out.empty()) {
          arm();
          return;
        }
      }
      count(c_sent_, out.count);
      output_push(0, out);
    }
  }

  void on_timer() { release(now_ns()); }

  mutable SpinLock lock_;
  Params p_;
  uint32_t capacity_ = 0;
  std::vector<Held> heap_;
  double link_free_ns_ = 0;  // when the wire finishes the last packet booked (fractions carry)
  uint64_t last_due_ = 0, last_now_ = 0, seq_ = 0, seed_ = 0;
  SplitMix64 rng_{0};
  bool ge_bad_ = false;
  Timer timer_;
  uint32_t c_packets_ = 0, c_sent_ = 0, c_loss_ = 0, c_overflow_ = 0, c_pool_empty_ = 0, c_duplicated_ = 0, c_reordered_ = 0;
};

PG_ELEMENT(LinkEmulator);

}  // namespace pg
