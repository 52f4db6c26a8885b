// PortDemux: a shared port's ingress, frames to the claiming routers' rings. Documentation: PortDemux.ts.
#include <algorithm>
#include <cstring>
#include <memory>

#include "element.h"
#include "graph.h"
#include "port_hub.h"
#include "vlan_tag.h"

namespace pg {

class PortDemux final : public Element {
 public:
  ~PortDemux() override {
    if (hub_) unregister_port(hub_->name(), hub_.get());
  }

  void configure(const Config& conf) override {
    scheduler_ = conf.string("scheduler");
    link_ = conf.string("link");
    c_frames_ = counter("frames");
    c_delivered_ = counter("delivered");
    c_copies_ = counter("copies");
    c_short_ = counter("drops_short");
    c_vlan_ = counter("drops_unclaimed_vlan");
    c_mac_ = counter("drops_unclaimed_mac");
    c_full_ = counter("drops_ring_full");
    c_pool_ = counter("drops_pool_empty");
    try {
      hub_ = register_port(conf.string("port"), pool());
    } catch (const std::runtime_error& e) {
      throw ConfigError(e.what());
    }
  }

  void initialize() override {
    if (scheduler_.empty()) return;
    const int i = graph()->element_index(scheduler_);
    if (i < 0) throw ConfigError("scheduler: no element '" + scheduler_ + "' in this graph");
    Element* s = graph()->elements()[size_t(i)].get();
    if (s->class_name() != "HTBSched") throw ConfigError("scheduler: '" + scheduler_ + "' is a " + s->class_name() + ", not an HTBSched");
    PortHub::Egress eg;
    std::vector<Handler> handlers;  // the graph's own list is built after initialisation
    s->add_handlers(handlers);
    for (const Handler& h : handlers) {
      if (h.name == "add") eg.add = h.write;
      if (h.name == "remove") eg.remove = h.write;
      if (h.name == "change") eg.change = h.write;
    }
    eg.scheduler = s;
    eg.link_class = link_;
    hub_->open_egress(std::move(eg));
  }

  // First thing as the port's graph goes (the demux is its first element, so this runs before
  // the scheduler's cleanup): routers still attached stop reaching the scheduler.
  void cleanup() override {
    if (hub_) hub_->close_egress();
  }

  void add_handlers(std::vector<Handler>& h) override {
    h.push_back({"attachments", [this] {
                   std::string out;
                   for (const auto& a : hub_->list()) {
                     std::string macs;
                     for (uint64_t m : a->macs) {
                       if (!macs.empty()) macs += ',';
                       macs += format_mac48(m);
                     }
                     out += a->router + " vlan=" + std::to_string(a->vlan) + " macs=" + (macs.empty() ? "-" : macs) + " element=" + a->element +
                            " ring=" + std::to_string(a->ring->count()) + "/" + std::to_string(a->limit) +
                            " ring_full=" + to_string_u64(a->ring_full.load(std::memory_order_relaxed)) + "\n";
                   }
                   return out;
                 },
                 nullptr});
  }

  void push(int, Batch& b) override {
    const int w = tls_worker;
    hub_->enter(w);
    const DemuxTable* t = hub_->table();
    count(c_frames_, b.count);
    // Sort the batch into per-router bursts (a broadcast into several), then one ring
    // operation per router.
    uint32_t nshort = 0, nvlan = 0, nmac = 0, ncopies = 0, npool = 0;
    Packet* dropped[kMaxBatch];
    uint32_t nd = 0;
    Stage st;
    for (uint32_t i = 0; i < b.count; i++) {
      Packet* p = b.pkts[i];
      uint8_t* d = p->data();
      if (p->length() < 14) {
        nshort++;
        dropped[nd++] = p;
        continue;
      }
      // The tag is in the frame, or (a device that took it out: FromDevice's default) in the
      // VLAN annotation.
      int vlan = p->anno().flags & kVlanPresent ? p->anno().vlan_tci & 0xfff : kNoVlan;
      if (vlan == kNoVlan && vlantag::has_8021q(d)) {
        if (p->length() < 18) {
          nshort++;
          dropped[nd++] = p;
          continue;
        }
        const uint16_t tci = vlantag::tci(d);
        vlan = tci & 0xfff;
        d = vlantag::pop_tag(p);
        p->anno().vlan_tci = tci;
        p->anno().flags |= kVlanPresent;
      }
      p->set_mac_header(d);
      const int16_t s = t->segment[size_t(vlan)];
      if (s < 0) {
        nvlan++;
        dropped[nd++] = p;
        continue;
      }
      const DemuxSegment& seg = t->segments[size_t(s)];
      if (d[0] & 1) {  // broadcast or multicast: a copy for every router on the segment
        const size_t n = seg.members.size();
        for (size_t k = 0; k + 1 < n; k++) {
          Packet* q = pool().alloc_one();
          if (!q) {
            npool++;
            continue;
          }
          copy_packet(p, q);
          stage(st, seg.members[k], q);
          ncopies++;
        }
        stage(st, seg.members[n - 1], p);
        continue;
      }
      const uint64_t dst = mac48(d);
      PortAttachment* to = seg.any;
      for (const auto& [m, a] : seg.by_mac)
        if (m == dst) {
          to = a;
          break;
        }
      if (!to) {
        nmac++;
        dropped[nd++] = p;
        continue;
      }
      stage(st, to, p);
    }
    b.count = 0;
    flush(st);
    hub_->leave(w);
    if (nd) pool().free(dropped, nd);
    if (nshort) count(c_short_, nshort);
    if (nvlan) count(c_vlan_, nvlan);
    if (nmac) count(c_mac_, nmac);
    if (ncopies) count(c_copies_, ncopies);
    if (npool) count(c_pool_, npool);
  }

 private:
  // Staged packets with their router (per call: pushes may come from several workers),
  // flushed when the batch ends or the stage fills.
  static constexpr uint32_t kStage = 2 * kMaxBatch;
  struct Stage {
    struct Out {
      PortAttachment* a;
      Packet* p;
    } out[kStage];
    uint32_t n = 0;
  };

  void stage(Stage& st, PortAttachment* a, Packet* p) {
    if (st.n == kStage) flush(st);
    st.out[st.n++] = {a, p};
  }

  void flush(Stage& st) {
    uint32_t delivered = 0, full = 0;
    void* burst[kStage];
    // Routers in the order their first packet came; each router's packets keep their order.
    for (uint32_t i = 0; i < st.n; i++) {
      PortAttachment* a = st.out[i].a;
      if (!a) continue;
      uint32_t n = 0;
      for (uint32_t j = i; j < st.n; j++)
        if (st.out[j].a == a) {
          burst[n++] = st.out[j].p;
          st.out[j].a = nullptr;
        }
      const uint32_t ok = a->ring->enqueue(burst, n, a->limit);
      delivered += ok;
      if (ok < n) {
        pool().free(reinterpret_cast<Packet**>(burst + ok), n - ok);
        a->ring_full.fetch_add(n - ok, std::memory_order_relaxed);
        full += n - ok;
      }
    }
    st.n = 0;
    if (delivered) count(c_delivered_, delivered);
    if (full) count(c_full_, full);
  }

  std::shared_ptr<PortHub> hub_;
  std::string scheduler_, link_;
  uint32_t c_frames_ = 0, c_delivered_ = 0, c_copies_ = 0, c_short_ = 0, c_vlan_ = 0, c_mac_ = 0, c_full_ = 0, c_pool_ = 0;
};

PG_ELEMENT(PortDemux);

}  // namespace pg
