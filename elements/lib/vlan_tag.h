// Shared helpers for the elements that put an 802.1Q / 802.1ad tag into an Ethernet frame or
// take one out (VLANEncap, VLANDecap, VLANSwitch, ToPort, PortDemux). The tag sits after the
// two MAC addresses; only those 12 bytes move, the rest of the frame stays put.
#pragma once
#include <cstdint>
#include <cstring>

#include "element.h"

namespace pg::vlantag {

constexpr uint16_t kTpid8021Q = 0x8100;

// Whether the frame at d (at least 14 bytes) carries an 802.1Q tag.
inline bool has_8021q(const uint8_t* d) { return d[12] == 0x81 && d[13] == 0x00; }

// The TCI of the tag at d (at least 18 bytes).
inline uint16_t tci(const uint8_t* d) { return uint16_t(d[14] << 8 | d[15]); }

// Inserts a tag (TPID, TCI) after the MAC addresses of p (at least 12 bytes): the addresses
// move into the headroom. The new frame start, or nullptr (p unchanged) without 4 bytes of
// headroom.
inline uint8_t* push_tag(Packet* p, uint16_t tpid, uint16_t tci) {
  if (!p->push(4)) return nullptr;
  uint8_t* d = p->data();
  std::memmove(d, d + 4, 12);
  d[12] = uint8_t(tpid >> 8);
  d[13] = uint8_t(tpid);
  d[14] = uint8_t(tci >> 8);
  d[15] = uint8_t(tci);
  return d;
}

// Removes the tag after the MAC addresses of p (at least 18 bytes; the caller has checked
// that there is one): the addresses move up over it. The new frame start.
inline uint8_t* pop_tag(Packet* p) {
  uint8_t* d = p->data();
  std::memmove(d + 4, d, 12);
  p->pull(4);
  return p->data();
}

}  // namespace pg::vlantag
