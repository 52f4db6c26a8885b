// Packets and batches. A packet lives in a fixed-size buffer from the engine's pool:
// [Packet metadata, 128 bytes][headroom][data ... tailroom]. The metadata holds the
// annotations elements read and write (paint, destination address, VLAN, table id,
// timestamp, header offsets, link-level packet type). Packets are never allocated on the
// packet path except from the pool, and always travel in batches.
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstring>

namespace pg {

constexpr uint32_t kMaxBatch = 256;     // the most packets one push or pull carries
constexpr uint32_t kDefaultHeadroom = 128;  // room to prepend headers (encapsulation)

// Packet annotations: metadata that travels with a packet between elements.
struct Annotations {
  int64_t timestamp_ns;   // wall-clock time in ns since the epoch; 0 = not set
  uint32_t dst_ip4;       // destination-address annotation (IPv4, network byte order)
  uint32_t table_id;      // routing table / virtual router
  uint8_t dst_ip6[16];    // destination-address annotation (IPv6)
  uint16_t input_port;    // device or port the packet came in on
  uint16_t vlan_tci;      // VLAN tag control information (valid when kVlanPresent)
  uint8_t paint;          // Paint / PaintSwitch colour
  uint8_t flags;          // kVlanPresent, ...
  int16_t mac_offset;     // header offsets from the buffer start; -1 = not set
  int16_t network_offset;
  int16_t transport_offset;
  uint32_t extra_length;  // bytes the packet stands for beyond its data (Click's EXTRA_LENGTH_ANNO:
                          // cut off by Truncate, or not captured in a pcap file); ToPcap adds it
                          // to a record's original length
  uint8_t packet_type;    // how the frame reached us at the link level: kHost, kBroadcast, ...
  uint8_t user[31];       // free for elements (documented per element)
};
static_assert(sizeof(Annotations) == 80, "annotation layout is part of the element ABI");

// The link-level packet-type annotation (Click's packet_type_anno; the values are Linux's
// PACKET_* sll_pkttype values, which Click uses too). FromDevice copies the kernel's verdict;
// FromPcap and Tap, which have no kernel verdict, derive it from the Ethernet destination
// (ether_packet_type). It survives Strip, so DropBroadcasts works after the link header is gone.
constexpr uint8_t kHost = 0;       // to this host (also the value of a fresh packet)
constexpr uint8_t kBroadcast = 1;  // to the link-level broadcast address
constexpr uint8_t kMulticast = 2;  // to a link-level multicast group
constexpr uint8_t kOtherHost = 3;  // to another host (seen in promiscuous mode)
constexpr uint8_t kOutgoing = 4;   // sent by this host (a capture of our own transmission)
constexpr uint8_t kLoopback = 5;
constexpr uint8_t kFastRoute = 6;

// The packet type an Ethernet destination address implies (the caller checks there are 6 bytes):
// all ones is broadcast, the group bit set is multicast, anything else is taken as for us.
// Branch-free: mixed traffic would otherwise mispredict on the receive path.
inline uint8_t ether_packet_type(const uint8_t* dst) {
  const uint8_t group = dst[0] & 1;
  const uint8_t all_ones = (dst[0] & dst[1] & dst[2] & dst[3] & dst[4] & dst[5]) == 0xff;
  return uint8_t(group * (kMulticast - all_ones));  // 0 host, 1 broadcast, 2 multicast
}

constexpr uint8_t kVlanPresent = 1;
// ICMPError sets it on the errors it makes; FixIPSrc then gives them the IPv4 source address
// of the interface they leave by (Click's FIX_IP_SRC annotation), and clears it.
constexpr uint8_t kFixIPSrc = 2;
// user[kParamProblemByte] holds a parameter-problem pointer (the offending byte's offset from
// the IPv4 header): IPGWOptions sets it on packets with a bad option, ICMPError type 12 uses it.
constexpr uint8_t kParamProblem = 4;
constexpr uint32_t kParamProblemByte = 0;

class Packet {
 public:
  uint8_t* data() { return data_; }
  const uint8_t* data() const { return data_; }
  uint32_t length() const { return length_; }
  uint32_t headroom() const { return uint32_t(data_ - head_); }
  uint32_t tailroom() const { return capacity_ - headroom() - length_; }
  uint32_t capacity() const { return capacity_; }
  uint8_t* buffer() { return head_; }
  uint8_t* end_data() { return data_ + length_; }
  Annotations& anno() { return anno_; }
  const Annotations& anno() const { return anno_; }

  // Remove n bytes from the front (Strip). False (and no change) if the packet is shorter.
  bool pull(uint32_t n) {
    if (n > length_) return false;
    data_ += n;
    length_ -= n;
    return true;
  }
  // Add n bytes at the front (Unstrip, encapsulation). False if the headroom is too small.
  bool push(uint32_t n) {
    if (n > headroom()) return false;
    data_ -= n;
    length_ += n;
    return true;
  }
  // Add n bytes at the end. False if the tailroom is too small.
  bool put(uint32_t n) {
    if (n > tailroom()) return false;
    length_ += n;
    return true;
  }
  // Remove n bytes from the end. False if the packet is shorter.
  bool take(uint32_t n) {
    if (n > length_) return false;
    length_ -= n;
    return true;
  }
  // Set the length from the current data start; false if it does not fit.
  bool set_length(uint32_t n) {
    if (n > capacity_ - headroom()) return false;
    length_ = n;
    return true;
  }

  // Header pointers from the offset annotations (nullptr when not set).
  uint8_t* mac_header() { return anno_.mac_offset < 0 ? nullptr : head_ + anno_.mac_offset; }
  uint8_t* network_header() { return anno_.network_offset < 0 ? nullptr : head_ + anno_.network_offset; }
  uint8_t* transport_header() { return anno_.transport_offset < 0 ? nullptr : head_ + anno_.transport_offset; }
  void set_network_header(const uint8_t* p) { anno_.network_offset = int16_t(p - head_); }
  void set_mac_header(const uint8_t* p) { anno_.mac_offset = int16_t(p - head_); }
  void set_transport_header(const uint8_t* p) { anno_.transport_offset = int16_t(p - head_); }

  // Fresh state for a packet handed out by the pool.
  void reset(uint32_t headroom) {
    data_ = head_ + headroom;
    length_ = 0;
    std::memset(&anno_, 0, sizeof anno_);
    anno_.mac_offset = anno_.network_offset = anno_.transport_offset = -1;
  }

 private:
  friend class PacketPool;
  uint8_t* data_;
  uint8_t* head_;
  uint32_t length_;
  uint32_t capacity_;  // bytes from head_ to the end of the buffer
  Annotations anno_;
  uint8_t pad_[128 - 24 - sizeof(Annotations)];
};
static_assert(sizeof(Packet) == 128, "packet metadata is two cache lines");

// Make q (a fresh packet from the same pool, so of the same capacity) a copy of p: the same
// data offset, bytes and annotations, and also the bytes in front of the data that a header
// annotation points to (a stripped link header, say). For Tee, flooding and the like.
inline void copy_packet(Packet* p, Packet* q) {
  const uint32_t hr = p->headroom(), len = p->length();
  const Annotations& a = p->anno();
  uint32_t from = hr;
  for (int16_t off : {a.mac_offset, a.network_offset, a.transport_offset})
    if (off >= 0 && uint32_t(off) < from) from = uint32_t(off);
  const uint32_t qhr = q->headroom();
  if (hr > qhr) {
    q->put(hr - qhr);
    q->pull(hr - qhr);
  } else if (hr < qhr) {
    q->push(qhr - hr);
    q->take(qhr - hr);
  }
  q->set_length(len);
  std::memcpy(q->buffer() + from, p->buffer() + from, hr - from + len);
  q->anno() = a;
}

// A batch of packets: what every push and pull carries.
struct Batch {
  uint32_t count = 0;
  Packet* pkts[kMaxBatch];

  bool empty() const { return count == 0; }
  bool full() const { return count == kMaxBatch; }
  void add(Packet* p) { pkts[count++] = p; }
  Packet* operator[](uint32_t i) const { return pkts[i]; }
  Packet** begin() { return pkts; }
  Packet** end() { return pkts + count; }
};

}  // namespace pg
