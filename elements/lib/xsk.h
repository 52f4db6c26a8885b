// AF_XDP ports: what FromDevice and ToDevice share with `method: 'xdp'`.
//
// One XskPort per (device, queue) in the process: a UMEM (the frame memory shared with the
// kernel), one AF_XDP socket bound to that queue, and its four rings (fill and RX for
// receiving, TX and completion for sending). A FromDevice and a ToDevice on the same device
// and queue share the port (the "UMEM shared per port"); each holds a reference.
//
// Receiving needs an XDP program on the device that redirects the queue's frames to the
// socket. One program and one XSKMAP per device, loaded with the bpf() system call from the
// instructions in xsk.cc (the C it was written from is xsk_redirect.bpf.c beside it), and
// attached through a BPF link: the kernel detaches it when the link's last fd is closed, so
// also when the engine is killed. A pktgraph program attached the old way (netlink, no link)
// that is still there at start is reported and replaced; a program someone else attached is
// left alone and AF_XDP is refused with a sentence saying so.
//
// No libbpf, no libxdp: the kernel's UAPI headers only, so `npm install` builds on a machine
// with nothing installed by hand. Threads: the RX side (fill and RX rings) belongs to the
// receiving element's worker; the TX side (TX and completion rings) is taken under a spin
// lock by whichever worker sends.
#pragma once
#include <linux/if_xdp.h>

#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "element.h"
#include "spin_lock.h"

namespace pg {

// Why AF_XDP cannot be used here, in one sentence (the caller falls back or refuses).
struct XdpUnavailable : std::runtime_error {
  using std::runtime_error::runtime_error;
};

enum class XdpAttach { Auto, Native, Generic };

class XskPort {
 public:
  // The port of (device, queue), opened on first use. `rx_owner` non-null: this element reads
  // the port's frames (attach the program, put the socket in the map); one reader per port,
  // except that a hot reconfiguration's successor takes over from `predecessor`.
  static std::shared_ptr<XskPort> acquire(const std::string& device, uint32_t queue, XdpAttach attach, const void* rx_owner,
                                          const void* predecessor = nullptr);
  // The reader lets go (its port reference may live on in a ToDevice): frames go to the kernel.
  void release_rx(const void* rx_owner);
  ~XskPort();

  int fd() const { return fd_; }
  int ifindex() const { return ifindex_; }
  const uint8_t* mac() const { return mac_; }
  // "native XDP, copy mode, queue 0", for the elements' `method` handler.
  std::string describe() const;

  // RX (the reader's worker). Frames ready, up to max; frame i of them is rx_frame(i).
  uint32_t rx_peek(uint32_t max);
  void rx_frame(uint32_t i, const uint8_t*& data, uint32_t& len) const;
  // Give the first n peeked frames back to the kernel (through the fill ring).
  void rx_release(uint32_t n);
  // Frames the kernel dropped for this socket since the last call (RX ring or fill ring full).
  uint64_t rx_drops();

  // TX (any worker). Queues each packet of `b` (frames of length 14..max_len, or +4 tagged)
  // and kicks the kernel; the packets stay the caller's.
  struct TxResult {
    uint32_t sent = 0, full = 0, too_long = 0, refused = 0;
    uint64_t bytes = 0;
  };
  TxResult send(const Batch& b, uint32_t max_len);

  XskPort(const XskPort&) = delete;
  XskPort& operator=(const XskPort&) = delete;

 private:
  struct Ring {
    uint32_t* producer = nullptr;
    uint32_t* consumer = nullptr;
    uint32_t* flags = nullptr;
    void* desc = nullptr;
    void* map = nullptr;
    size_t map_bytes = 0;
    uint32_t mask = 0;
    uint32_t local = 0;  // our producer (fill, TX) or consumer (RX, completion) index
  };
  XskPort() = default;
  void open(const std::string& device, uint32_t queue, XdpAttach attach);
  void map_ring(Ring& r, uint32_t entries, uint64_t pgoff, const xdp_ring_offset& off, size_t desc_size);
  [[noreturn]] void unavailable(const std::string& why) const;

  std::string device_;
  uint32_t queue_ = 0;
  int ifindex_ = 0;
  uint8_t mac_[6] = {};
  int fd_ = -1;
  uint8_t* umem_ = nullptr;
  size_t umem_bytes_ = 0;
  bool zero_copy_ = false, native_ = false, rx_on_ = false;
  const void* rx_owner_ = nullptr;
  Ring fill_, rx_, tx_, comp_;
  uint32_t rx_peeked_ = 0;
  uint64_t rx_drops_seen_ = 0;
  SpinLock tx_lock_;
  std::vector<uint64_t> tx_free_;  // UMEM addresses of free TX frames (under tx_lock_)
  friend struct XskRegistry;
};

}  // namespace pg
