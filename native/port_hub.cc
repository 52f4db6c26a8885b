#include "port_hub.h"

#include <time.h>

#include <algorithm>
#include <map>
#include <stdexcept>

#include "address.h"
#include "element.h"

namespace pg {

std::string format_mac48(uint64_t mac) {
  uint8_t m[6];
  for (int i = 0; i < 6; i++) m[i] = uint8_t(mac >> (40 - 8 * i));
  return format_mac(m);
}

static std::string claim_text(const PortAttachment& a) {
  return a.vlan == kNoVlan ? std::string("the untagged segment") : "VLAN " + std::to_string(a.vlan);
}

PortHub::PortHub(std::string name, PacketPool& pool) : name_(std::move(name)), pool_(pool) { publish(); }

PortHub::~PortHub() {
  delete table_.load();
  for (auto& a : attachments_) {
    void* objs[kMaxBatch];
    while (uint32_t n = a->ring->dequeue(objs, kMaxBatch)) pool_.free(reinterpret_cast<Packet**>(objs), n);
  }
}

std::string PortHub::conflict(const PortAttachment& a) const {
  std::lock_guard<std::mutex> lock(mutex_);
  for (const auto& b : attachments_) {
    if (b->vlan != a.vlan || b->router == a.router) continue;
    // On one segment: at most one router without MAC addresses (it takes every unicast frame),
    // and no address claimed twice.
    if (a.macs.empty() && b->macs.empty())
      return claim_text(a) + " on port " + name_ + " is claimed by router " + b->router +
             "; choose another VLAN, or give each router its own MAC addresses";
    for (uint64_t m : a.macs)
      if (std::find(b->macs.begin(), b->macs.end(), m) != b->macs.end())
        return "MAC " + format_mac48(m) + " on " + claim_text(a) + " of port " + name_ + " is claimed by router " + b->router +
               "; give the router another address";
  }
  return "";
}

void PortHub::attach(std::shared_ptr<PortAttachment> a) {
  if (std::string e = conflict(*a); !e.empty()) throw std::runtime_error(e);
  {
    std::lock_guard<std::mutex> lock(mutex_);
    attachments_.push_back(std::move(a));
  }
  publish();
}

uint64_t PortHub::detach(const PortAttachment* a) {
  std::shared_ptr<PortAttachment> gone;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = std::find_if(attachments_.begin(), attachments_.end(), [&](const auto& x) { return x.get() == a; });
    if (it == attachments_.end()) return 0;
    gone = *it;
    attachments_.erase(it);
  }
  publish();  // waits until no demux uses a table that holds the ring
  uint64_t freed = 0;
  void* objs[kMaxBatch];
  while (uint32_t n = gone->ring->dequeue(objs, kMaxBatch)) {
    pool_.free(reinterpret_cast<Packet**>(objs), n);
    freed += n;
  }
  return freed;
}

size_t PortHub::attachments() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return attachments_.size();
}

std::vector<std::shared_ptr<PortAttachment>> PortHub::list() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return attachments_;
}

void PortHub::publish() {
  auto* t = new DemuxTable;
  t->segment.fill(-1);
  {
    std::lock_guard<std::mutex> lock(mutex_);
    for (const auto& a : attachments_) {
      int16_t& s = t->segment[size_t(a->vlan)];
      if (s < 0) {
        s = int16_t(t->segments.size());
        t->segments.emplace_back();
      }
      DemuxSegment& seg = t->segments[size_t(s)];
      seg.members.push_back(a.get());
      if (a->macs.empty()) seg.any = a.get();
      for (uint64_t m : a->macs) seg.by_mac.emplace_back(m, a.get());
    }
  }
  const DemuxTable* old = table_.exchange(t, std::memory_order_seq_cst);
  if (old) {
    quiesce();
    delete old;
  }
}

// RCU's synchronize for the demux: wait until every worker that was inside the demux (an odd
// sequence number) when the new table was published has left it. A batch takes microseconds.
void PortHub::quiesce() const { wait_readers(readers_); }

void PortHub::wait_readers(const Reader (&readers)[kMaxWorkers + 1]) {
  for (const Reader& r : readers) {
    const uint64_t s = r.seq.load(std::memory_order_seq_cst);
    if (!(s & 1)) continue;
    while (r.seq.load(std::memory_order_acquire) == s) {
      timespec ts{0, 10000};
      nanosleep(&ts, nullptr);
    }
  }
}

void PortHub::open_egress(Egress e) {
  std::lock_guard<std::mutex> lock(mutex_);
  egress_ = std::move(e);
  egress_sched_.store(egress_.scheduler, std::memory_order_release);
}

void PortHub::close_egress() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    egress_sched_.store(nullptr, std::memory_order_seq_cst);
    egress_ = Egress{};
  }
  wait_readers(egress_readers_);  // a push that read the old pointer finishes first
}

std::string PortHub::link_class() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return egress_.link_class;
}

bool PortHub::egress_push(int worker, Batch& b) {
  Reader& r = egress_readers_[slot(worker)];
  r.seq.fetch_add(1, std::memory_order_seq_cst);
  Element* s = egress_sched_.load(std::memory_order_seq_cst);
  if (s) s->push(0, b);
  r.seq.fetch_add(1, std::memory_order_release);
  return s != nullptr;
}

void PortHub::egress_call(const char* which, const std::string& value) {
  std::function<void(const std::string&)> f;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    f = std::string(which) == "add" ? egress_.add : std::string(which) == "remove" ? egress_.remove : egress_.change;
  }
  // Control calls come from the one control thread, as close_egress does: the scheduler cannot
  // go between the copy and the call.
  if (!f) throw std::runtime_error("port '" + name_ + "' is closed (deleted while the router was attached); reconfigure or delete the router");
  f(value);
}

namespace {
std::mutex registry_mutex;
std::map<std::string, std::shared_ptr<PortHub>>& registry() {
  static std::map<std::string, std::shared_ptr<PortHub>> r;
  return r;
}
}  // namespace

std::shared_ptr<PortHub> register_port(const std::string& name, PacketPool& pool) {
  std::lock_guard<std::mutex> lock(registry_mutex);
  auto& r = registry();
  if (r.count(name)) throw std::runtime_error("a port named '" + name + "' is already open in this process; choose another name or delete that port first");
  auto hub = std::make_shared<PortHub>(name, pool);
  r[name] = hub;
  return hub;
}

void unregister_port(const std::string& name, const PortHub* hub) {
  std::lock_guard<std::mutex> lock(registry_mutex);
  auto& r = registry();
  auto it = r.find(name);
  if (it != r.end() && it->second.get() == hub) r.erase(it);
}

std::shared_ptr<PortHub> find_port(const std::string& name) {
  std::lock_guard<std::mutex> lock(registry_mutex);
  auto& r = registry();
  auto it = r.find(name);
  return it == r.end() ? nullptr : it->second;
}

std::shared_ptr<PortHub> attach_port(const std::string& name) {
  auto hub = find_port(name);
  if (!hub) throw ConfigError("port: no port named '" + name + "' in this engine; add it first (pktgraph port add " + name + " DEVICE)");
  return hub;
}

std::vector<std::string> port_names() {
  std::lock_guard<std::mutex> lock(registry_mutex);
  std::vector<std::string> out;
  for (auto& [k, v] : registry()) out.push_back(k);
  return out;
}

}  // namespace pg
