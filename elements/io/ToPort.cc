// ToPort: a virtual router's egress onto a shared port, through the port's HTBSched. Documentation: ToPort.ts.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <memory>

#include "element.h"
#include "graph.h"
#include "port_hub.h"
#include "vlan_tag.h"

namespace pg {

namespace {
// A router's class saves up to 20 ms of its guarantee and of its limit (HTBSched's default is
// 1 ms): a worker kept off its CPU for a few milliseconds on a busy machine would otherwise
// lose credit the share entitles the router to.
constexpr double kBurstSeconds = 0.02;
constexpr double kMinBurst = 3028, kMinBurstPackets = 2, kMaxBurst = 1073741824;
// 20 ms at `rate`: bytes for a rate in bits/s, packets for one in packets/s.
double burst_for(double rate, bool packets) {
  return std::min(kMaxBurst, packets ? std::max(kMinBurstPackets, std::ceil(rate * kBurstSeconds)) : std::max(kMinBurst, std::ceil(rate / 8 * kBurstSeconds)));
}
// "No limit" is a ceil above any port's rate; its burst is that of a fast link (1 Gbit/s, or
// 2 M packets/s), which the port's own class caps anyway.
constexpr double kOpenCeil = 1e12, kOpenBits = 1e9, kOpenPackets = 2e6;
}  // namespace

class ToPort final : public Element {
 public:
  void configure(const Config& conf) override {
    port_ = conf.string("port");
    vlan_ = uint16_t(conf.integer("vlan"));
    packets_ = conf.string("unit") == "packets";
    guarantee_ = conf.number("guarantee");
    limit_ = conf.number("limit");
    weight_ = conf.integer("weight");
    capacity_ = conf.integer("capacity");
    if (limit_ > 0 && limit_ < guarantee_) throw ConfigError("limit: below the guarantee; a limit must be at least the guarantee");
    c_packets_ = counter("packets");
    c_bytes_ = counter("bytes");
    c_short_ = counter("drops_short");
    c_headroom_ = counter("drops_no_headroom");
    c_closed_ = counter("drops_port_closed");
    hub_ = attach_port(port_);
  }

  void initialize() override {
    if (!hub_->egress_open()) throw ConfigError("port: port '" + port_ + "' has no egress scheduler (it is closing)");
    // A hot reconfiguration onto the same port keeps the predecessor's class (take_state).
    if (auto* old = dynamic_cast<ToPort*>(predecessor()); old && old->owns_class_ && old->hub_ == hub_) {
      inherit_ = true;
      return;
    }
    class_ = graph()->name();
    id_ = hub_->next_class_id();
    const std::string spec = "{\"name\":\"" + class_ + "\",\"parent\":\"" + hub_->link_class() + "\"," + share_fields() +
                             ",\"capacity\":" + std::to_string(capacity_) + ",\"match\":" + std::to_string(id_) + ",\"credit\":\"none\"}";
    try {
      hub_->egress_call("add", spec);
    } catch (const std::exception& e) {
      throw ConfigError("port '" + port_ + "': the router's class was refused: " + e.what());
    }
    owns_class_ = true;
  }

  // `share`: the router's share as JSON ({"guarantee": bits/s, "limit": bits/s, "weight": n}, any
  // of them; the rest stay), applied to its class at once; read, the share as it is now.
  void add_handlers(std::vector<Handler>& h) override {
    h.push_back({"share",
                 [this] {
                   return "{\"unit\":\"" + std::string(packets_ ? "packets" : "bits") + "\",\"guarantee\":" + format_number(guarantee_) +
                          ",\"limit\":" + format_number(limit_) + ",\"weight\":" + std::to_string(weight_) + "}";
                 },
                 [this](const std::string& v) { set_share(v); }});
  }

  void take_state(Element& o) override {
    auto& old = static_cast<ToPort&>(o);
    if (!inherit_) return;
    class_ = old.class_;
    id_ = old.id_;
    packets_ = old.packets_;  // the running share wins, as the class is kept
    guarantee_ = old.guarantee_;
    limit_ = old.limit_;
    weight_ = old.weight_;
    owns_class_ = true;
    old.owns_class_ = false;
    // The class keeps its waiting frames; its queue takes the new graph's capacity (the one
    // the router's buffers quota counted), shrinking keeping the frames already queued.
    if (capacity_ != old.capacity_) {
      try {
        hub_->egress_call("change", "{\"name\":\"" + class_ + "\",\"capacity\":" + std::to_string(capacity_) + "}");
      } catch (const std::exception&) {
        capacity_ = old.capacity_;  // the port is closing: nothing left to size
      }
    }
  }

  void cleanup() override {
    if (!owns_class_) return;
    owns_class_ = false;
    try {
      hub_->egress_call("remove", class_);
    } catch (const std::exception&) {
      // The port's graph refused (it is going too): nothing left to remove.
    }
  }

  void push(int, Batch& b) override {
    uint32_t n = 0, nshort = 0, nroom = 0;
    uint64_t bytes = 0;
    Packet* bad[kMaxBatch];
    uint32_t nbad = 0;
    for (uint32_t i = 0; i < b.count; i++) {
      Packet* p = b.pkts[i];
      if (p->length() < 14) {
        nshort++;
        bad[nbad++] = p;
        continue;
      }
      if (vlan_ && !vlantag::push_tag(p, vlantag::kTpid8021Q, vlan_)) {
        nroom++;
        bad[nbad++] = p;
        continue;
      }
      p->set_mac_header(p->data());
      p->anno().table_id = id_;
      bytes += p->length();
      b.pkts[n++] = p;
    }
    b.count = n;
    // The port's HTBSched (its own lock, taken once per batch), unless the port was deleted
    // under the router: then the frames go back to the pool, counted.
    if (n && hub_->egress_push(tls_worker, b)) {
      count(c_packets_, n);
      count(c_bytes_, bytes);
    } else if (n) {
      pool().free(b.pkts, n);
      b.count = 0;
      count(c_closed_, n);
    }
    if (nbad) pool().free(bad, nbad);
    if (nshort) count(c_short_, nshort);
    if (nroom) count(c_headroom_, nroom);
  }

 private:
  // The class's unit, rate, ceil, bursts and weight from the share (no guarantee: 1 bit or
  // packet a second, HTB's least; no limit: above any port's rate, so the port's own rate caps it).
  std::string share_fields() const {
    const double rate = guarantee_ > 0 ? guarantee_ : 1, ceil = limit_ > 0 ? limit_ : kOpenCeil;
    return std::string("\"unit\":\"") + (packets_ ? "packets" : "bits") + "\",\"rate\":" + format_number(rate) + ",\"ceil\":" + format_number(ceil) +
           ",\"burst\":" + format_number(burst_for(rate, packets_)) +
           ",\"cburst\":" + format_number(burst_for(limit_ > 0 ? limit_ : packets_ ? kOpenPackets : kOpenBits, packets_)) + ",\"weight\":" + std::to_string(weight_);
  }

  void set_share(const std::string& text) {
    json::Value o;
    try {
      o = json::Value::parse(text);
    } catch (const std::exception& e) {
      throw HandlerError(std::string("share: not a JSON object (") + e.what() + "), e.g. {\"guarantee\": 10e6, \"limit\": 50e6, \"weight\": 2}");
    }
    if (!o.is_object()) throw HandlerError("share: a JSON object, e.g. {\"guarantee\": 10e6, \"limit\": 50e6, \"weight\": 2}");
    double g = guarantee_, l = limit_;
    int64_t w = weight_;
    bool packets = packets_;
    for (const auto& [k, v] : o.as_object()) {
      if (k == "unit") {
        if (!v.is_string() || (v.as_string() != "bits" && v.as_string() != "packets"))
          throw HandlerError("share.unit: 'bits' (bits/s) or 'packets' (packets/s), got " + v.dump());
        packets = v.as_string() == "packets";
        continue;
      }
      if (!v.is_number()) throw HandlerError("share." + k + ": a number");
      if (k == "guarantee") g = parse_field_number(format_number(v.as_number()), "guarantee", "share.guarantee");
      else if (k == "limit") l = parse_field_number(format_number(v.as_number()), "limit", "share.limit");
      else if (k == "weight") w = parse_field_integer(format_number(v.as_number()), "weight", "share.weight");
      else throw HandlerError("share: unknown field '" + k + "'; a share has unit, guarantee, limit and weight");
    }
    // A rate kept from before in the old unit would change its meaning (10e6 bit/s is not 10e6 packets/s).
    if (packets != packets_ && ((guarantee_ > 0 && !o.find("guarantee")) || (limit_ > 0 && !o.find("limit"))))
      throw HandlerError(std::string("share.unit: the share is in ") + (packets_ ? "packets/s" : "bits/s") +
                         "; a change of unit gives the guarantee and the limit in the new unit too");
    if (l > 0 && l < g) throw HandlerError("share.limit: below the guarantee; a limit must be at least the guarantee");
    if (!owns_class_) throw HandlerError("share: the router has no class on port '" + port_ + "'");
    const double og = guarantee_, ol = limit_;
    const int64_t ow = weight_;
    const bool op = packets_;
    guarantee_ = g, limit_ = l, weight_ = w, packets_ = packets;
    try {
      hub_->egress_call("change", "{\"name\":\"" + class_ + "\"," + share_fields() + "}");
    } catch (const std::exception& e) {
      guarantee_ = og, limit_ = ol, weight_ = ow, packets_ = op;
      throw HandlerError(std::string("share: port '") + port_ + "' refused it: " + e.what());
    }
  }

  std::string port_, class_;
  uint16_t vlan_ = 0;
  double guarantee_ = 0, limit_ = 0;
  int64_t weight_ = 1, capacity_ = 1000;
  uint32_t id_ = 0;
  std::shared_ptr<PortHub> hub_;
  bool owns_class_ = false, inherit_ = false, packets_ = false;
  uint32_t c_packets_ = 0, c_bytes_ = 0, c_short_ = 0, c_headroom_ = 0, c_closed_ = 0;
};

PG_ELEMENT(ToPort);

}  // namespace pg
