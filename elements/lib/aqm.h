// Active queue management shared by RED, CoDel and FQCoDel: ECN Congestion Experienced marking
// (RFC 3168) of the IP header at the network-header annotation, the enqueue time a queued packet
// carries in its user annotation bytes, and CoDel's dequeue-side state machine (RFC 8289).
#pragma once
#include <cmath>
#include <cstdint>
#include <cstring>

#include <atomic>
#include <string>
#include <vector>

#include "element.h"
#include "ip_util.h"
#include "packet.h"

namespace pg::aqm {

// ---- ECN (RFC 3168) ----

// Sets Congestion Experienced on an ECN-capable packet: the IPv4 (checksum updated, RFC 1624)
// or IPv6 header at the network-header annotation, wholly inside the packet. True when the
// packet now carries CE (it was ECT(0), ECT(1) or already CE); false, with the packet
// untouched, when it is Not-ECT or has no IP header there: such a packet is dropped instead.
inline bool mark_ce(Packet* p) {
  uint8_t* ip = p->network_header();
  if (!ip || ip < p->data()) return false;
  const uint8_t version = ip[0] >> 4;
  if (version == 4 && ip + 20 <= p->end_data()) {
    if ((ip[1] & 3) == 0) return false;
    if ((ip[1] & 3) == 3) return true;
    const uint16_t before = ip::load16(ip);  // version/IHL and TOS
    ip[1] |= 3;
    ip::store16(ip + 10, ip::update16(ip::load16(ip + 10), before, ip::load16(ip)));
    return true;
  }
  if (version == 6 && ip + 40 <= p->end_data()) {
    // The traffic class spans bytes 0 and 1; its ECN bits are bits 4-5 of byte 1.
    const uint8_t ecn = (ip[1] >> 4) & 3;
    if (ecn == 0) return false;
    ip[1] |= 0x30;
    return true;
  }
  return false;
}

// ---- the enqueue time of a queued packet ----

// CoDel and FQCoDel keep the time a packet was queued (the engine clock, ns) in user annotation
// bytes 23-30 (the last 8) while it waits; FQCoDel also links its per-flow lists through bytes
// 15-22. Bytes 0-14 (IPGWOptions' parameter-problem pointer, ...) are left alone.
constexpr uint32_t kEnqueueTimeByte = 23;
constexpr uint32_t kNextPacketByte = 15;
static_assert(kEnqueueTimeByte + 8 <= sizeof(Annotations::user) && kNextPacketByte + 8 <= kEnqueueTimeByte);

inline void set_enqueue_time(Packet* p, uint64_t ns) { std::memcpy(p->anno().user + kEnqueueTimeByte, &ns, 8); }
inline uint64_t enqueue_time(const Packet* p) {
  uint64_t ns;
  std::memcpy(&ns, p->anno().user + kEnqueueTimeByte, 8);
  return ns;
}

// ---- CoDel (RFC 8289) ----

struct CoDelParams {
  uint64_t target_ns = 5000000, interval_ns = 100000000;
  uint64_t mtu = 1514;  // MAXPACKET: no drop while at most this many bytes wait
  bool ecn = false;
};

// The settings CoDel and FQCoDel share (`target`, `interval`, `mtu`, `ecn`), read from the config
// and (but `mtu`) written by handlers from the control thread, and read once per pull.
class CoDelSettings {
 public:
  void configure(const Config& conf) {
    facts_ = &conf.facts();
    target_ns_.store(seconds_ns(conf.number("target")));
    interval_ns_.store(seconds_ns(conf.number("interval")));
    if (target_ns_.load() >= interval_ns_.load()) throw ConfigError("target must be less than interval");
    mtu_ = uint64_t(conf.integer("mtu"));
    ecn_.store(conf.boolean("ecn"));
  }

  CoDelParams now() const {
    return {target_ns_.load(std::memory_order_relaxed), interval_ns_.load(std::memory_order_relaxed), mtu_,
            ecn_.load(std::memory_order_relaxed)};
  }

  void add_handlers(std::vector<Handler>& h) {
    h.push_back({"target", [this] { return format_number(double(target_ns_.load()) / 1e9); },
                 [this](const std::string& v) {
                   const uint64_t t = seconds_ns(parse_field_number(*facts_, v, "target"));
                   if (t >= interval_ns_.load()) throw HandlerError("target: must be less than interval (" + format_number(double(interval_ns_.load()) / 1e9) + " s)");
                   target_ns_.store(t);
                 }});
    h.push_back({"interval", [this] { return format_number(double(interval_ns_.load()) / 1e9); },
                 [this](const std::string& v) {
                   const uint64_t t = seconds_ns(parse_field_number(*facts_, v, "interval"));
                   if (t <= target_ns_.load()) throw HandlerError("interval: must be more than target (" + format_number(double(target_ns_.load()) / 1e9) + " s)");
                   interval_ns_.store(t);
                 }});
    h.push_back({"ecn", [this] { return std::string(ecn_.load() ? "true" : "false"); },
                 [this](const std::string& v) { ecn_.store(parse_bool(v, "ecn")); }});
  }

 private:
  static uint64_t seconds_ns(double s) { return uint64_t(std::llround(s * 1e9)); }

  const ClassFacts* facts_ = nullptr;  // the element's, for the handlers' range checks
  std::atomic<uint64_t> target_ns_{0}, interval_ns_{0};
  std::atomic<bool> ecn_{false};
  uint64_t mtu_ = 0;
};

// One queue's CoDel state and its dequeue, the RFC's pseudocode (section 5) with the Linux
// details the RFC describes: the count carried over when dropping resumes within 16 intervals,
// and with ECN a packet marked (and delivered) where a drop would be, ending that round of drops.
struct CoDelState {
  uint64_t first_above_time = 0, drop_next = 0;
  uint32_t count = 0, lastcount = 0;
  bool dropping = false;

  uint64_t control_law(uint64_t t, const CoDelParams& c) const {
    return t + uint64_t(double(c.interval_ns) / std::sqrt(double(count)));
  }

  // The RFC's dodequeue() after the packet p (nullptr: the queue was empty) left a queue that
  // still holds `backlog` bytes: whether p may be dropped.
  bool ok_to_drop(const Packet* p, uint64_t now, uint64_t backlog, const CoDelParams& c) {
    if (!p) {
      first_above_time = 0;
      return false;
    }
    // Pushing and pulling workers read their own round's clock: a packet may look queued
    // "before" it arrived by a round; that is no sojourn.
    const int64_t sojourn = int64_t(now - enqueue_time(p));
    if (sojourn < int64_t(c.target_ns) || backlog <= c.mtu) {
      first_above_time = 0;
      return false;
    }
    if (first_above_time == 0) {
      first_above_time = now + c.interval_ns;
      return false;
    }
    return now >= first_above_time;
  }

  // The RFC's dequeue(): next(backlog) takes the queue's head packet (nullptr when empty) and
  // sets the bytes still queued after it; drop(p) frees a packet; marked counts ECN marks.
  // Returns the packet to deliver, nullptr when the queue ran empty.
  template <class Next, class Drop>
  Packet* dequeue(uint64_t now, const CoDelParams& c, Next&& next, Drop&& drop, uint64_t& marked) {
    uint64_t backlog = 0;
    Packet* p = next(backlog);
    const bool ok = ok_to_drop(p, now, backlog, c);
    if (!p) {
      dropping = false;
      return nullptr;
    }
    if (dropping) {
      if (!ok) dropping = false;
      while (dropping && now >= drop_next) {
        ++count;
        if (c.ecn && mark_ce(p)) {
          marked++;
          drop_next = control_law(drop_next, c);
          return p;
        }
        drop(p);
        p = next(backlog);
        if (!ok_to_drop(p, now, backlog, c))
          dropping = false;
        else
          drop_next = control_law(drop_next, c);
      }
      return p;
    }
    if (ok) {
      if (c.ecn && mark_ce(p)) {
        marked++;
      } else {
        drop(p);
        p = next(backlog);
        ok_to_drop(p, now, backlog, c);
      }
      dropping = true;
      // Dropping again soon after the last time: start from the drop rate that controlled the
      // queue then (drop_next is at most an interval after the last drop).
      const uint32_t delta = count - lastcount;
      count = delta > 1 && int64_t(now - drop_next) < int64_t(16 * c.interval_ns) ? delta : 1;
      drop_next = control_law(now, c);
      lastcount = count;
    }
    return p;
  }
};

}  // namespace pg::aqm
