// What DecIPTTL and DecIP6HLIM share: decrement a hop count; expired packets (unchanged) are
// rejected (to output 1 when it is connected, counted in expired, else dropped,
// drops_expired), packets without a header dropped (drops_no_header). The batch loop is
// PerPacketElement's.
//
// Derived supplies the protocol's parts:
//   static uint8_t* header(Packet*);      the header at the network-header annotation, or
//                                         nullptr when unset or not wholly inside the packet
//   static constexpr size_t kHopOffset;   where the TTL / hop limit lies in the header
//   static void decrement(uint8_t* ip);   decrement it (and fix what depends on it)
#pragma once
#include "per_packet.h"

namespace pg {

template <class Derived>
class DecHopLimitElement : public PerPacketElement<Derived> {
  using Base = PerPacketElement<Derived>;

 public:
  static constexpr bool kRejects = true;

  void configure(const Config&) override {
    this->c_passed_ = int32_t(this->counter("packets"));
    r_expired_ = this->reject(this->counter("drops_expired"), this->counter("expired"));
    c_no_header_ = this->counter("drops_no_header");
  }

  uint32_t action(Packet* p) const {
    uint8_t* ip = Derived::header(p);
    if (!ip) return c_no_header_;
    if (ip[Derived::kHopOffset] <= 1) return r_expired_;  // unchanged, for an ICMP time-exceeded error
    Derived::decrement(ip);
    return Base::kKeep;
  }

 private:
  uint32_t r_expired_ = 0, c_no_header_ = 0;
};

}  // namespace pg
