// RED: Random Early Detection before one or more queues (Click's RED, gentle variant, optional
// ECN marking). Documentation: RED.ts.
#include <cmath>
#include <string>
#include <vector>

#include "aqm.h"
#include "element.h"
#include "graph.h"
#include "spin_lock.h"

namespace pg {

class RED final : public Element {
 public:
  void configure(const Config& conf) override {
    const int64_t min = conf.integer("minThresh"), max = conf.integer("maxThresh");
    if (min > max) throw ConfigError("minThresh must be at most maxThresh");
    min_thresh_ = double(min);
    max_thresh_ = double(max);
    max_p_ = conf.number("maxP");
    stability_ = uint32_t(conf.integer("stability"));
    weight_ = std::ldexp(1.0, -int(stability_));
    gentle_ = conf.boolean("gentle");
    ecn_ = conf.boolean("ecn");
    for (const json::Value& q : conf.value("queues").as_array()) {
      if (!q.is_string()) throw ConfigError("queues: every entry must be an element name");
      queue_names_.push_back(q.as_string());
    }
    if (queue_names_.empty()) throw ConfigError("queues: no queue to watch (the compiler fills this in)");
    // A fixed seed per element name: runs repeat, elements differ.
    rng_ = 0x9e3779b97f4a7c15ull;
    for (char ch : name()) rng_ = (rng_ ^ uint8_t(ch)) * 0x100000001b3ull;
    rng_ |= 1;
    c_drops_early_ = counter("drops_early");
    c_drops_forced_ = counter("drops_forced");
    c_early_ = counter("early");
    c_forced_ = counter("forced");
    c_marks_ = counter("marks");
  }

  void initialize() override {
    for (const std::string& n : queue_names_) {
      Element* e = graph()->element(n);
      if (!e) throw ConfigError("queues: no element '" + n + "' in the graph");
      if (e->ninputs() < 1 || e->noutputs() < 1 || e->input_processing(0) != Processing::Push || e->output_processing(0) != Processing::Pull)
        throw ConfigError("queues: '" + n + "' (" + e->class_name() + ") is not a queue (push input, pull output)");
      queues_.push_back(e);
    }
  }

  void push(int, Batch& b) override {
    uint64_t qlen = 0;
    for (const Element* q : queues_) qlen += q->held_packets();
    const uint64_t tick = now_ns() / kIdleTickNs;
    uint8_t verdict[kMaxBatch];
    uint32_t marks = 0;
    {
      SpinLock::Guard g(lock_);
      for (uint32_t i = 0; i < b.count; i++) {
        uint8_t v = decide(qlen, tick);
        if (v == kEarly && ecn_ && aqm::mark_ce(b.pkts[i])) {
          marks++;
          v = kPass;
        }
        verdict[i] = v;
      }
    }
    Batch out1;
    uint32_t kept = 0, early = 0, forced = 0;
    for (uint32_t i = 0; i < b.count; i++) {
      if (verdict[i] == kPass) {
        b.pkts[kept++] = b.pkts[i];
      } else {
        out1.pkts[out1.count++] = b.pkts[i];
        (verdict[i] == kEarly ? early : forced)++;
      }
    }
    b.count = kept;
    if (marks) count(c_marks_, marks);
    if (out1.count) {
      const bool to_output = noutputs() > 1;
      if (early) count(to_output ? c_early_ : c_drops_early_, early);
      if (forced) count(to_output ? c_forced_ : c_drops_forced_, forced);
      if (to_output)
        output_push(1, out1);
      else
        drop(out1);
    }
    output_push(0, b);
  }

  void add_handlers(std::vector<Handler>& h) override {
    h.push_back({"min_thresh", [this] { return locked([&] { return format_number(min_thresh_); }); },
                 [this](const std::string& v) {
                   const double x = double(parse_field_integer(v, "minThresh", "min_thresh"));
                   SpinLock::Guard g(lock_);
                   if (x > max_thresh_) throw HandlerError("min_thresh: must be at most max_thresh (" + format_number(max_thresh_) + ")");
                   min_thresh_ = x;
                 }});
    h.push_back({"max_thresh", [this] { return locked([&] { return format_number(max_thresh_); }); },
                 [this](const std::string& v) {
                   const double x = double(parse_field_integer(v, "maxThresh", "max_thresh"));
                   SpinLock::Guard g(lock_);
                   if (x < min_thresh_) throw HandlerError("max_thresh: must be at least min_thresh (" + format_number(min_thresh_) + ")");
                   max_thresh_ = x;
                 }});
    h.push_back({"max_p", [this] { return locked([&] { return format_number(max_p_); }); },
                 [this](const std::string& v) {
                   const double x = parse_field_number(v, "maxP", "max_p");
                   SpinLock::Guard g(lock_);
                   max_p_ = x;
                 }});
    h.push_back({"ecn", [this] { return locked([&] { return std::string(ecn_ ? "true" : "false"); }); },
                 [this](const std::string& v) {
                   const bool x = parse_bool(v, "ecn");
                   SpinLock::Guard g(lock_);
                   ecn_ = x;
                 }});
    h.push_back({"avg_queue_size", [this] { return locked([&] { return format_number(avg_); }); }, nullptr});
    h.push_back({"queue_size", [this] {
                   uint64_t n = 0;
                   for (const Element* q : queues_) n += q->held_packets();
                   return std::to_string(n);
                 }, nullptr});
    h.push_back({"queues", [this] {
                   std::string s;
                   for (const std::string& n : queue_names_) s += n + "\n";
                   return s;
                 }, nullptr});
  }

 private:
  enum : uint8_t { kPass, kEarly, kForced };
  // While the queues are empty the average decays by one step per this much time (Click: 1/50 s).
  static constexpr uint64_t kIdleTickNs = 20000000;

  template <class F>
  std::string locked(F f) const {
    SpinLock::Guard g(lock_);
    return f();
  }

  // A uniform random number in [0, 1) (xorshift64*).
  double uniform() {
    rng_ ^= rng_ >> 12;
    rng_ ^= rng_ << 25;
    rng_ ^= rng_ >> 27;
    return double((rng_ * 0x2545f4914f6cdd1dull) >> 11) * 0x1.0p-53;
  }

  // One packet's verdict at summed queue length qlen (the lock held).
  uint8_t decide(uint64_t qlen, uint64_t tick) {
    if (stability_ == 0) {
      avg_ = double(qlen);
    } else if (qlen) {
      avg_ += (double(qlen) - avg_) * weight_;
      idle_tick_ = 0;
    } else {
      // Empty queues: one zero sample per tick since the last (one for the first packet).
      const uint64_t steps = idle_tick_ ? tick - idle_tick_ : 1;
      if (steps) avg_ *= std::pow(1.0 - weight_, double(steps));
      idle_tick_ = tick;
    }
    const double kill = gentle_ && max_p_ < 1 ? 2 * max_thresh_ : max_thresh_;
    if (avg_ <= min_thresh_) {
      count_ = -1;
      return kPass;
    }
    if (avg_ > kill) {
      count_ = -1;
      return kForced;
    }
    double p_b;
    if (avg_ <= max_thresh_)
      p_b = min_thresh_ < max_thresh_ ? max_p_ * (avg_ - min_thresh_) / (max_thresh_ - min_thresh_) : 0;
    else
      p_b = max_p_ + (1 - max_p_) * (avg_ - max_thresh_) / max_thresh_;
    count_++;
    // Drop once the count since the last drop passes random / p_b (Click's and Floyd's
    // uniform spacing of drops); a new random number after each drop.
    if (count_ > 0 && p_b > 0 && double(count_) * p_b > random_) {
      count_ = 0;
      random_ = uniform();
      return kEarly;
    }
    if (count_ == 0) random_ = uniform();
    return kPass;
  }

  std::vector<std::string> queue_names_;
  std::vector<const Element*> queues_;
  mutable SpinLock lock_;
  // Under lock_: parameters (handlers change them) and the average and drop state.
  double min_thresh_ = 0, max_thresh_ = 0, max_p_ = 0, weight_ = 1;
  uint32_t stability_ = 0;
  bool gentle_ = true, ecn_ = false;
  double avg_ = 0, random_ = 0;
  int64_t count_ = -1;
  uint64_t idle_tick_ = 0, rng_ = 1;
  uint32_t c_drops_early_ = 0, c_drops_forced_ = 0, c_early_ = 0, c_forced_ = 0, c_marks_ = 0;
};

PG_ELEMENT(RED);

}  // namespace pg
