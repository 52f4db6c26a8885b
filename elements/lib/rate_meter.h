// Click's Meter and BandwidthMeter: the arrival rate as an exponentially weighted moving
// average over epochs of 1 ms (alpha 1/16: each epoch's count moves the average a sixteenth
// of the way to it; an epoch with no arrivals counts 0), and each batch sent to the output
// of the first configured rate the average is below (the last output when it is below none).
// As in Click, the count of the epoch in progress joins the average when the epoch ends, so
// a batch's own packets do not decide its output. One average for every worker feeding the
// element, under a spin lock taken once per batch. Documentation: Meter.ts, BandwidthMeter.ts.
#pragma once
#include <cmath>
#include <string>
#include <vector>

#include "element.h"
#include "spin_lock.h"

namespace pg {

class RateMeterElement : public Element {
 public:
  static constexpr uint64_t kEpochNs = 1000000;  // 1 ms
  static constexpr double kAlpha = 1.0 / 16;

  void configure(const Config& conf) override {
    const auto& rates = conf.value("rates");
    if (!rates.is_array() || rates.as_array().empty()) throw ConfigError("config field 'rates' must be a non-empty array of rates");
    rates_.clear();
    for (const auto& r : rates.as_array()) {
      if (!r.is_number() || !(r.as_number() > 0)) throw ConfigError("config field 'rates': every rate must be a number above 0");
      if (!rates_.empty() && r.as_number() <= rates_.back())
        throw ConfigError("config field 'rates': rate " + std::to_string(rates_.size() + 1) + " must be above rate " + std::to_string(rates_.size()));
      rates_.push_back(r.as_number());
    }
    if (size_t(noutputs()) != rates_.size() + 1)
      throw ConfigError("has " + std::to_string(noutputs()) + " outputs but its " + std::to_string(rates_.size()) + " rates need " + std::to_string(rates_.size() + 1));
    c_packets_ = counter("packets");
  }

  void push(int, Batch& b) override {
    uint64_t amount = b.count;
    if (bytes_) {
      amount = 0;
      for (uint32_t i = 0; i < b.count; i++) amount += b.pkts[i]->length();
    }
    int out;
    {
      SpinLock::Guard g(lock_);
      advance(now_ns() / kEpochNs);
      const double per_second = avg_ * double(1000000000 / kEpochNs);
      out = int(rates_.size());
      for (size_t i = 0; i < rates_.size(); i++)
        if (per_second < rates_[i]) {
          out = int(i);
          break;
        }
      current_ += double(amount);
    }
    count(c_packets_, b.count);
    output_push(out, b);
  }

  void add_handlers(std::vector<Handler>& h) override {
    // As of the last batch (the control thread's clock is not the workers' test clock).
    h.push_back({"rate", [this] {
                   SpinLock::Guard g(lock_);
                   return format_number(avg_ * double(1000000000 / kEpochNs));
                 },
                 nullptr});
  }

 protected:
  explicit RateMeterElement(bool bytes) : bytes_(bytes) {}

 private:
  // Closes the epochs up to `epoch`: the one in progress with its count, the idle ones with 0.
  void advance(uint64_t epoch) {
    if (epoch <= epoch_) return;  // another worker's round may read a slightly earlier time
    avg_ += kAlpha * (current_ - avg_);
    current_ = 0;
    const uint64_t idle = epoch - epoch_ - 1;
    if (idle) avg_ = idle > 100000 ? 0 : avg_ * std::pow(1 - kAlpha, double(idle));
    epoch_ = epoch;
  }

  const bool bytes_;
  std::vector<double> rates_;  // per second, increasing
  SpinLock lock_;
  // Under lock_: the average (per epoch), this epoch's count, and the epoch.
  double avg_ = 0, current_ = 0;
  uint64_t epoch_ = 0;
  uint32_t c_packets_ = 0;
};

}  // namespace pg
