// SRv6LocalSIDs: the local SID table, RFC 8986 End, End.X, End.DX4, End.DX6, End.DT4, End.DT6.
// Documentation: SRv6LocalSIDs.ts.
#include <algorithm>
#include <cstring>
#include <vector>

#include "batch_split.h"
#include "element.h"
#include "srh.h"

namespace srv6 {

using namespace pg;

class SRv6LocalSIDs final : public Element {
 public:
  enum class Behavior : uint8_t { End, EndX, EndDX4, EndDX6, EndDT4, EndDT6 };

  void configure(const Config& conf) override {
    // Behaviours in Behavior's order, with the counter of the packets each handled.
    static const char* const names[] = {"End", "End.X", "End.DX4", "End.DX6", "End.DT4", "End.DT6"};
    static const char* const counters[] = {"end", "end_x", "end_dx4", "end_dx6", "end_dt4", "end_dt6"};
    const json::Value& list = conf.checked("sids");
    for (size_t i = 0; i < list.as_array().size(); i++) {
      const json::Value& s = list.as_array()[i];
      const std::string at = "config field 'sids." + std::to_string(i);
      Entry e{};
      typed_ipv6(*s.find("sid"), at + ".sid'", e.sid);
      const std::string& b = s.find("behavior")->as_string();
      e.behavior = Behavior(std::find(names, names + 6, b) - names);  // checked() checked the values
      e.output = uint32_t(s.find("output")->as_number());
      if (e.output >= uint32_t(noutputs()))
        throw ConfigError(at + ".output' is " + std::to_string(e.output) + " but the element has " + std::to_string(noutputs()) + " outputs");
      if (const json::Value* t = s.find("table")) e.table = uint32_t(t->as_number());
      if (const json::Value* nh = s.find("nexthop"); nh && !nh->is_null()) {
        if (nh->is_number()) e.nexthop4 = typed_ipv4(*nh, at + ".nexthop'"), e.has_nexthop = 4;
        else typed_ipv6(*nh, at + ".nexthop'", e.nexthop6), e.has_nexthop = 6;
      }
      entries_.push_back(e);
    }
    std::sort(entries_.begin(), entries_.end(), [](const Entry& a, const Entry& b) { return std::memcmp(a.sid, b.sid, 16) < 0; });
    for (size_t i = 1; i < entries_.size(); i++)
      if (!std::memcmp(entries_[i - 1].sid, entries_[i].sid, 16)) throw ConfigError("config field 'sids' lists the same SID twice");
    for (int k = 0; k < 6; k++) c_behavior_[k] = counter(counters[k]);
    c_not_local_ = counter("not_local");
    c_short_ = counter("drops_short");
    c_not_ipv6_ = counter("drops_not_ipv6");
    c_bad_length_ = counter("drops_bad_length");
    c_bad_sl_ = counter("drops_bad_segments_left");
    c_bad_routing_ = counter("drops_bad_routing");
    c_no_srh_ = counter("drops_no_srh");
    c_sl_zero_ = counter("drops_sl_zero");
    c_sl_nonzero_ = counter("drops_sl_nonzero");
    c_hop_limit_ = counter("drops_hop_limit");
    c_wrong_inner_ = counter("drops_wrong_inner");
  }

  void push(int, Batch& b) override {
    uint32_t out[kMaxBatch];
    uint32_t kept = 0;
    for (uint32_t i = 0; i < b.count; i++) {
      Packet* p = b.pkts[i];
      const int32_t o = process(p);
      if (o < 0) {
        drop(p);
        continue;
      }
      out[kept] = uint32_t(o);
      b.pkts[kept++] = p;
    }
    b.count = kept;
    split_push(b, out, uint32_t(noutputs()), [this](uint32_t port, Batch& sub) { output_push(int(port), sub); });
  }

 private:
  struct Entry {
    uint8_t sid[16];
    Behavior behavior;
    uint32_t output, table;
    int has_nexthop;  // 0, 4 or 6
    uint32_t nexthop4;
    uint8_t nexthop6[16];
  };

  const Entry* find(const uint8_t* da) const {
    size_t lo = 0, hi = entries_.size();
    while (lo < hi) {
      const size_t mid = (lo + hi) / 2;
      const int c = std::memcmp(entries_[mid].sid, da, 16);
      if (c == 0) return &entries_[mid];
      if (c < 0) lo = mid + 1;
      else hi = mid;
    }
    return nullptr;
  }

  // The output for p, or -1 when it is dropped (counted).
  int32_t process(Packet* p) {
    uint8_t* ip = p->data();
    uint32_t len = p->length();
    if (len < kIPv6Header) return fail(c_short_);
    if ((ip[0] >> 4) != 6) return fail(c_not_ipv6_);
    const uint32_t total = kIPv6Header + (uint32_t(ip[4]) << 8 | ip[5]);
    if (total > len) return fail(c_short_);
    const Entry* e = find(ip + 24);
    if (!e) {
      count(c_not_local_);
      return 0;
    }
    len = total;  // a frame's padding is not part of the packet
    Headers h;
    switch (find_headers(ip, len, h)) {
      case Parse::Ok: break;
      case Parse::Short: return fail(c_short_);
      case Parse::BadLength: return fail(c_bad_length_);
      case Parse::BadSegmentsLeft: return fail(c_bad_sl_);
      case Parse::BadRouting: return fail(c_bad_routing_);
    }
    switch (e->behavior) {
      case Behavior::End:
      case Behavior::EndX: {
        // RFC 8986 4.1 S01-S15 (4.2 for End.X: the same, to the adjacency's output).
        if (!h.srh) return fail(c_no_srh_);
        uint8_t* srh = ip + h.srh;
        if (srh[3] == 0) return fail(c_sl_zero_);  // S03: the upper layer is not ours to process
        if (ip[7] <= 1) return fail(c_hop_limit_);
        ip[7]--;
        srh[3]--;
        std::memcpy(ip + 24, segment(srh, srh[3]), kSid);
        p->take(p->length() - len);
        if (e->has_nexthop == 6) std::memcpy(p->anno().dst_ip6, e->nexthop6, 16);
        p->set_network_header(ip);
        break;
      }
      default: {
        // RFC 8986 4.4-4.8: only at the end of the segment list, with the right inner packet;
        // the outer header and its extension headers are removed.
        if (h.srh && segments_left(ip + h.srh) != 0) return fail(c_sl_nonzero_);
        const bool v4 = e->behavior == Behavior::EndDX4 || e->behavior == Behavior::EndDT4;
        if (h.payload_proto != (v4 ? kIPv4 : kIPv6)) return fail(c_wrong_inner_);
        const uint32_t inner = len - h.payload;
        if (inner < (v4 ? 20u : kIPv6Header)) return fail(c_short_);
        p->pull(h.payload);
        p->set_length(inner);
        p->set_network_header(p->data());
        if (e->behavior == Behavior::EndDT4 || e->behavior == Behavior::EndDT6) p->anno().table_id = e->table;
        else if (e->has_nexthop == 4) p->anno().dst_ip4 = e->nexthop4;
        else if (e->has_nexthop == 6) std::memcpy(p->anno().dst_ip6, e->nexthop6, 16);
      }
    }
    count(c_behavior_[int(e->behavior)]);
    return int32_t(e->output);
  }

  int32_t fail(uint32_t counter) {
    count(counter);
    return -1;
  }

  std::vector<Entry> entries_;  // sorted by SID
  uint32_t c_behavior_[6] = {};
  uint32_t c_not_local_ = 0, c_short_ = 0, c_not_ipv6_ = 0, c_bad_length_ = 0, c_bad_sl_ = 0, c_bad_routing_ = 0, c_no_srh_ = 0,
           c_sl_zero_ = 0, c_sl_nonzero_ = 0, c_hop_limit_ = 0, c_wrong_inner_ = 0;
};

PG_ELEMENT(SRv6LocalSIDs);

}  // namespace srv6
