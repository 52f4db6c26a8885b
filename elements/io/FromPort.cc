// FromPort: a virtual router's share of a shared port's ingress. Documentation: FromPort.ts.
#include <algorithm>
#include <memory>

#include "element.h"
#include "graph.h"
#include "port_hub.h"

namespace pg {

namespace {
constexpr uint64_t kQuantumNs = 20000;  // per unit of weight, per task round
}

class FromPort final : public Element {
 public:
  void configure(const Config& conf) override {
    port_ = conf.string("port");
    vlan_ = int(conf.integer("vlan"));
    const json::Value& macs = conf.value("macs");
    if (!macs.is_array()) throw ConfigError("config field 'macs' must be an array of MAC addresses");
    for (size_t i = 0; i < macs.as_array().size(); i++) {
      uint8_t m[6];
      typed_mac(macs.as_array()[i], "config field 'macs." + std::to_string(i) + "'", m);
      macs_.push_back(mac48(m));
    }
    capacity_ = uint32_t(conf.integer("capacity"));
    burst_ = uint32_t(conf.bounded("burst", kMaxBatch));
    quantum_ = int64_t(conf.integer("weight")) * int64_t(kQuantumNs);
    c_packets_ = counter("packets");
    c_bytes_ = counter("bytes");
    c_full_ = counter("drops_ring_full");
    c_stopped_ = counter("drops_stopped");
    c_exhausted_ = counter("budget_exhausted");
    hub_ = attach_port(port_);
    request_task();
  }

  void initialize() override {
    // A hot reconfiguration with the same claim keeps the predecessor's ring (take_state).
    if (auto* old = dynamic_cast<FromPort*>(predecessor()); old && old->att_ && same_claim(*old)) {
      inherit_ = true;
      return;
    }
    auto a = std::make_shared<PortAttachment>();
    a->router = graph()->name();
    a->element = name();
    a->vlan = vlan_;
    a->macs = macs_;
    a->ring = std::make_unique<PtrRing>(next_pow2(capacity_));
    a->limit = capacity_;
    try {
      hub_->attach(a);
    } catch (const std::runtime_error& e) {
      throw ConfigError(e.what());
    }
    att_ = a.get();
  }

  void take_state(Element& o) override {
    auto& old = static_cast<FromPort&>(o);
    if (!inherit_) return;
    att_ = old.att_;
    old.att_ = nullptr;
    seen_full_ = old.seen_full_;
    deficit_ = old.deficit_;
  }

  void cleanup() override {
    if (att_) hub_->detach(att_);
    att_ = nullptr;
  }

  bool drains_while_stopped() const override { return true; }

  bool run_task() override {
    if (!att_) return false;
    const uint64_t full = att_->ring_full.load(std::memory_order_relaxed);
    if (full != seen_full_) {
      count(c_full_, full - seen_full_);
      seen_full_ = full;
    }
    Batch b;
    if (stopped()) {
      uint32_t n = att_->ring->dequeue(reinterpret_cast<void**>(b.pkts), burst_);
      if (!n) return false;
      pool().free(b.pkts, n);
      count(c_stopped_, n);
      return true;
    }
    if (!att_->ring->count()) {
      deficit_ = std::min<int64_t>(deficit_, 0);  // nothing waiting: no credit saved
      return false;
    }
    deficit_ = std::min(deficit_ + quantum_, quantum_);
    bool did = false;
    while (deficit_ > 0) {
      b.count = att_->ring->dequeue(reinterpret_cast<void**>(b.pkts), burst_);
      if (!b.count) {
        deficit_ = std::min<int64_t>(deficit_, 0);
        return did;
      }
      uint64_t bytes = 0;
      for (uint32_t i = 0; i < b.count; i++) bytes += b.pkts[i]->length();
      count(c_packets_, b.count);
      count(c_bytes_, bytes);
      const uint64_t t0 = monotonic_ns();
      output_push(0, b);
      deficit_ -= int64_t(monotonic_ns() - t0);
      did = true;
    }
    if (att_->ring->count()) count(c_exhausted_);
    return did;
  }

 private:
  // The same port (not one opened again under its name after a forced delete) and claim.
  bool same_claim(const FromPort& o) const { return o.hub_ == hub_ && o.vlan_ == vlan_ && o.macs_ == macs_ && o.capacity_ == capacity_; }

  std::string port_;
  int vlan_ = 0;
  std::vector<uint64_t> macs_;
  uint32_t capacity_ = 0, burst_ = 32;
  int64_t quantum_ = 0, deficit_ = 0;
  std::shared_ptr<PortHub> hub_;
  PortAttachment* att_ = nullptr;  // owned by the hub while attached
  bool inherit_ = false;
  uint64_t seen_full_ = 0;
  uint32_t c_packets_ = 0, c_bytes_ = 0, c_full_ = 0, c_stopped_ = 0, c_exhausted_ = 0;
};

PG_ELEMENT(FromPort);

}  // namespace pg
