// See script.h: the native half of elements written in TypeScript.
#include "script.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <stdexcept>

#include "ring.h"

namespace pg {

ScriptRing::ScriptRing(uint32_t slots_, uint32_t snap_) : slots(slots_), snap(snap_) {
  slot_bytes = (kSlotHeader + snap + 63) & ~63u;  // whole cache lines per slot
  bytes = kHeader + size_t(slots) * slot_bytes;
  mem = static_cast<uint8_t*>(std::aligned_alloc(64, (bytes + 63) & ~size_t(63)));
  if (!mem) throw std::bad_alloc();
  std::memset(mem, 0, kHeader);
}

ScriptRing::~ScriptRing() { std::free(mem); }

// No worker is inside the graph any more: the wake-up (and its ThreadSafeFunction) goes at once.
ScriptElement::~ScriptElement() = default;

void ScriptElement::configure(const Config& conf) {
  // The script reads its own fields (in TypeScript), but the plan is checked here as for every
  // element: each declared field against its facts, addresses by the getter of their kind.
  for (const auto& [key, spec] : conf.facts().fields) {
    const char* k = key.c_str();
    if (!conf.has(k)) continue;
    uint8_t buf[16];
    int len;
    const bool list = std::find(spec.types.begin(), spec.types.end(), "array") != spec.types.end();
    if (spec.kind == "ipv4" && list) conf.ipv4_list(k);
    else if (spec.kind == "ipv4") conf.ipv4(k);
    else if (spec.kind == "ipv6") conf.ipv6(k, buf);
    else if (spec.kind == "mac") conf.mac(k, buf);
    else if (spec.kind == "ip") conf.ip(k, buf);
    else if (spec.kind == "ipv4prefix") conf.ipv4_prefix(k, len);
    else conf.checked(k);
  }
  // Free-running u32 indexes wrap consistently only over a power-of-two slot count.
  const uint32_t slots = next_pow2(uint32_t(conf.integer("ringSlots")));
  const uint32_t snap = uint32_t(conf.integer("snapLength"));
  if (!rx_ || rx_->slots != slots || rx_->snap != snap) {
    rx_ = std::make_shared<ScriptRing>(slots, snap);
    tx_ = std::make_shared<ScriptRing>(slots, snap);
  }
  c_received_ = counter("received");
  c_drops_ring_ = counter("drops_ring");
  c_drops_too_long_ = counter("drops_too_long");
  c_sent_ = counter("sent");
  c_drops_pool_ = counter("drops_pool");
  c_drops_bad_slot_ = counter("drops_bad_slot");
  // The script is waiting from the start: the first packet wakes it.
  rx_->word(ScriptRing::kWake).store(1, std::memory_order_relaxed);
  request_task();
}

void ScriptElement::initialize() { out_.resize(size_t(noutputs())); }

void ScriptElement::push(int port, Batch& batch) {
  const uint32_t n = batch.count;
  uint32_t queued = 0, too_long = 0, full = 0;
  {
    SpinLock::Guard g(rx_lock_);
    ScriptRing& r = *rx_;
    uint32_t prod = r.word(ScriptRing::kProd).load(std::memory_order_relaxed);
    const uint32_t cons = r.word(ScriptRing::kCons).load(std::memory_order_acquire);
    for (uint32_t i = 0; i < n; i++) {
      Packet* p = batch.pkts[i];
      if (p->length() > r.snap) {
        too_long++;
        continue;
      }
      if (prod - cons >= r.slots) {
        full++;
        continue;
      }
      uint8_t* s = r.slot(prod);
      const uint32_t len = p->length(), pt = uint32_t(port);
      std::memcpy(s, &len, 4);
      std::memcpy(s + 4, &pt, 4);
      std::memcpy(s + ScriptRing::kSlotHeader, p->data(), len);
      prod++;
      queued++;
    }
    r.word(ScriptRing::kProd).store(prod, std::memory_order_release);
  }
  drop(batch);  // copied (or dropped): the packets go back to the pool at once
  count(c_received_, n);
  if (too_long) count(c_drops_too_long_, too_long);
  if (full) count(c_drops_ring_, full);
  // seq_cst against the script's store of wake = 1 followed by its load of prod: either it
  // sees our packets, or we see its flag and wake it.
  if (queued && rx_->word(ScriptRing::kWake).exchange(0, std::memory_order_seq_cst))
    if (ScriptNotifier* w = notifier_.load(std::memory_order_acquire)) w->notify();
}

bool ScriptElement::run_task() {
  ScriptRing& r = *tx_;
  const uint32_t prod = r.word(ScriptRing::kProd).load(std::memory_order_acquire);
  uint32_t cons = r.word(ScriptRing::kCons).load(std::memory_order_relaxed);
  uint32_t n = prod - cons;
  if (n == 0) return false;
  if (n > kMaxBatch) n = kMaxBatch;
  Packet* pkts[kMaxBatch];
  const uint32_t got = pool().alloc(pkts, n);
  uint32_t bad = 0, used = 0;
  for (uint32_t i = 0; i < got; i++, cons++) {
    const uint8_t* s = r.slot(cons);
    uint32_t len, pt;
    std::memcpy(&len, s, 4);
    std::memcpy(&pt, s + 4, 4);
    Packet* p = pkts[used];
    // The script's side checks both; a slot that still breaks them is not trusted.
    if (len > r.snap || pt >= uint32_t(noutputs()) || !p->put(len)) {
      bad++;
      continue;
    }
    std::memcpy(p->data(), s + ScriptRing::kSlotHeader, len);
    Batch& b = out_[pt];
    b.pkts[b.count++] = p;
    used++;
  }
  if (got < n) {  // no buffers: the rest of this burst is dropped, not left to wait
    count(c_drops_pool_, n - got);
    cons += n - got;
  }
  r.word(ScriptRing::kCons).store(cons, std::memory_order_release);
  if (used < got) pool().free(pkts + used, got - used);
  if (bad) count(c_drops_bad_slot_, bad);
  if (used) count(c_sent_, used);
  for (int o = 0; o < noutputs(); o++) output_push(o, out_[size_t(o)]);
  return true;
}

uint64_t ScriptElement::held_packets() const {
  uint64_t n = 0;
  for (ScriptRing* r : {rx_.get(), tx_.get()})
    n += r->word(ScriptRing::kProd).load(std::memory_order_acquire) - r->word(ScriptRing::kCons).load(std::memory_order_acquire);
  return n;
}

void ScriptElement::set_notifier(std::unique_ptr<ScriptNotifier> n) {
  notifier_.store(n.get(), std::memory_order_release);
  // A worker may have loaded the old one just before: let every worker finish its round.
  if (notifier_owned_ && graph()) synchronize();
  notifier_owned_ = std::move(n);
}

void ScriptElement::prepare_take(const Element& old) {
  const auto& o = static_cast<const ScriptElement&>(old);
  if (o.rx_->slots != rx_->slots || o.rx_->snap != rx_->snap)
    throw ConfigError("ringSlots and snapLength must stay the same for the running script to carry over (" +
                      std::to_string(o.rx_->slots) + " slots of " + std::to_string(o.rx_->snap) + " bytes)");
}

// The script keeps running across a replacement: its rings and its wake-up move here.
void ScriptElement::take_state(Element& old) {
  auto& o = static_cast<ScriptElement&>(old);
  std::swap(rx_, o.rx_);
  std::swap(tx_, o.tx_);
  ScriptNotifier* w = o.notifier_.exchange(nullptr, std::memory_order_acq_rel);
  notifier_.store(w, std::memory_order_release);
  std::swap(notifier_owned_, o.notifier_owned_);
}

std::unique_ptr<Element> make_script_element() { return std::make_unique<ScriptElement>(); }

}  // namespace pg
