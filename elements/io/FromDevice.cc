// FromDevice: receives frames from a network device through an AF_PACKET socket with a
// TPACKET_V2 or V3 memory-mapped receive ring. Documentation: FromDevice.ts.
//
// The kernel fills blocks of the ring with frames and hands a block over by setting its
// status to TP_STATUS_USER (when the block is full or its timeout expires). The task
// checks the status word of the current block (a memory read, no system call), copies up
// to a burst of frames into pool packets, and gives the block back (TP_STATUS_KERNEL) once
// every frame in it has been taken. Nothing ready: it returns false and the worker idles.
// With tpacketVersion 2 (the default) the ring is TPACKET_V2: a status word per frame slot,
// each frame taken and given back on its own (no block timeout), and an adaptive wait (run_v2).
//
// Device faults: a Timer on the element's worker probes the device every 200 ms
// (DeviceWatch, FromDevice.h). Down: the kernel stops filling the ring and resumes by
// itself when the device is up again. Gone: the socket and ring are released; when a
// device of that name is back (a new ifindex), the timer opens a new socket and ring on
// the same worker as the task, so the task never sees them change under it.
#include <arpa/inet.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <mutex>

#include "device_watch.h"
#include "element.h"
#include "xsk.h"

namespace pg {

namespace {

// Open an AF_PACKET socket, turning the usual failures into errors that name the remedy.
int open_packet_socket(const std::string& device, int protocol) {
  int fd = ::socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, protocol);
  if (fd < 0) {
    int err = errno;
    if (err == EPERM || err == EACCES)
      throw ConfigError("device '" + device + "': no permission to open a packet socket: AF_PACKET needs CAP_NET_RAW; run as root or grant it with `setcap cap_net_raw+ep $(which node)`");
    throw ConfigError("device '" + device + "': cannot open a packet socket: " + std::strerror(err));
  }
  return fd;
}

}  // namespace

class FromDevice final : public Element {
 public:
  ~FromDevice() override {
    release();
    watch_.close();
  }


  void configure(const Config& conf) override {
    device_ = conf.string("device");
    promisc_ = conf.boolean("promisc");
    burst_ = uint32_t(conf.bounded("burst", kMaxBatch));
    block_size_ = uint32_t(conf.integer("blockSize"));
    blocks_ = uint32_t(conf.integer("blocks"));
    frame_size_ = uint32_t(conf.integer("frameSize"));
    block_timeout_ms_ = uint32_t(conf.integer("blockTimeoutMs"));
    version_ = int(conf.integer("tpacketVersion"));
    fanout_ = int(conf.integer("fanout"));
    restore_vlan_ = conf.boolean("restoreVlan");
    const bool want_xdp = conf.string("method") == "xdp";  // or "packet"
    queue_ = uint32_t(conf.integer("queue"));
    const std::string attach = conf.string("xdpAttach");
    xdp_attach_ = attach == "native" ? XdpAttach::Native : attach == "generic" ? XdpAttach::Generic : XdpAttach::Auto;
    xdp_fallback_ = conf.boolean("xdpFallback");
    c_packets_ = counter("packets");
    c_bytes_ = counter("bytes");
    c_kernel_drops_ = counter("kernel_drops");
    c_pool_empty_ = counter("pool_empty");
    c_too_long_ = counter("drops_too_long");
    c_ring_errors_ = counter("drops_ring_error");
    c_csum_not_ready_ = counter("csum_not_ready");
    c_device_faults_ = counter("device_faults");
    c_reopens_ = counter("reopens");
    c_stopped_ = counter("drops_stopped");

    const long page = ::sysconf(_SC_PAGESIZE);
    if (block_size_ % uint32_t(page) != 0)
      throw ConfigError("blockSize " + std::to_string(block_size_) + " must be a multiple of the page size (" + std::to_string(page) + ")");
    if (frame_size_ % TPACKET_ALIGNMENT != 0 || frame_size_ > block_size_)
      throw ConfigError("frameSize " + std::to_string(frame_size_) + " must be a multiple of 16 and at most blockSize");
    if (uint64_t(block_size_) * blocks_ > (uint64_t(1) << 32))
      throw ConfigError("blockSize x blocks is more than 4 GiB");

    // A hot reconfiguration's successor on the same device with the same ring keeps the
    // running element's socket and ring (take_state): a second socket would receive a copy of
    // every frame (duplicates after the swap) or, in a fanout group, a share (lost with it).
    if (!(want_xdp && open_xdp()) && !same_socket(predecessor())) open_ring();
    watch_.open(device_);
    set_method_text();
    room_ = pool().buffer_size() - pool().headroom();
    request_task();
    add_timer(timer_);
  }

  void initialize() override { timer_.schedule_after(DeviceWatch::kCheckNs); }

  void cleanup() override {
    timer_.unschedule();
    release();
    watch_.close();
  }

  void add_handlers(std::vector<Handler>& h) override {
    watch_.add_handlers(h);
    h.push_back({"method", [this] {
                   std::lock_guard<std::mutex> lock(method_mu_);
                   return method_;
                 }, nullptr});
  }

  // Hot reconfiguration: the socket, its ring and the place in it move over (no frame is lost
  // or seen twice); the old element, destroyed next, then closes nothing.
  void take_state(Element& old) override {
    auto& o = static_cast<FromDevice&>(old);
    if (!same_socket(&o)) return;  // this one opened its own socket; the old one closes its
    std::swap(fd_, o.fd_);
    std::swap(map_, o.map_);
    std::swap(map_bytes_, o.map_bytes_);
    ifindex_ = o.ifindex_;
    frames_per_block_ = o.frames_per_block_;
    frames_ = o.frames_;
    cur_block_ = o.cur_block_;
    next_pkt_ = o.next_pkt_;
    next_off_ = o.next_off_;
    next_stats_ns_ = o.next_stats_ns_;
  }

  bool run_task() override {
    if (port_) return run_xdp();
    if (map_ == nullptr) return false;
    maybe_read_stats();
    if (version_ == 2) return run_v2();
    auto* bd = reinterpret_cast<tpacket_block_desc*>(map_ + size_t(cur_block_) * block_size_);
    if ((__atomic_load_n(&bd->hdr.bh1.block_status, __ATOMIC_ACQUIRE) & TP_STATUS_USER) == 0) {
      wake_on_fd(fd_);  // readable when the kernel hands the next block over
      return false;
    }

    const uint32_t npkts = bd->hdr.bh1.num_pkts;
    if (next_pkt_ == 0) next_off_ = bd->hdr.bh1.offset_to_first_pkt;
    uint32_t want = npkts - next_pkt_;
    if (want > burst_) want = burst_;

    Batch b;
    if (want > 0) {
      b.count = pool().alloc(b.pkts, want);
      if (b.count < want) count(c_pool_empty_);
      if (b.count == 0) return false;  // the frames wait in the ring (the kernel drops when it fills)
    }

    const uint8_t* block = reinterpret_cast<const uint8_t*>(bd);
    uint32_t out = 0, taken = 0, too_long = 0, csum_not_ready = 0;
    uint64_t bytes = 0;
    bool bad = false;
    // Frames are taken while a packet is left; too long or outgoing frames cost no packet.
    while (next_pkt_ < npkts && out < b.count) {
      const uint32_t off = next_off_;
      if (off < sizeof(tpacket_block_desc) || off > block_size_ || block_size_ - off < sizeof(tpacket3_hdr)) {
        bad = true;
        break;
      }
      const auto* h = reinterpret_cast<const tpacket3_hdr*>(block + off);
      const uint32_t snap = h->tp_snaplen, len = h->tp_len, mac = h->tp_mac;
      if (mac > block_size_ - off || snap > block_size_ - off - mac) {
        bad = true;
        break;
      }
      next_pkt_++;
      next_off_ = off + h->tp_next_offset;
      if (h->tp_next_offset == 0 && next_pkt_ < npkts) {
        bad = true;
        next_pkt_--;  // this frame is lost with the rest
        break;
      }
      taken++;
      const auto* sll = reinterpret_cast<const sockaddr_ll*>(block + off + TPACKET_ALIGN(sizeof(tpacket3_hdr)));
      const uint8_t ptype = off + TPACKET_ALIGN(sizeof(tpacket3_hdr)) + sizeof(sockaddr_ll) <= block_size_ ? sll->sll_pkttype : kHost;
      if (ptype == PACKET_OUTGOING) continue;  // our own transmission (kernels without PACKET_IGNORE_OUTGOING)
      const bool vlan = (h->tp_status & TP_STATUS_VLAN_VALID) != 0;
      const bool inline_tag = vlan && restore_vlan_;
      const uint32_t need = snap + (inline_tag ? 4 : 0);
      if (snap < len || need > room_ || (inline_tag && snap < 12)) {
        too_long++;  // cut by the ring frame (frameSize) or larger than a pool buffer
        continue;
      }
      Packet* p = b.pkts[out++];
      const uint8_t* src = block + off + mac;
      uint8_t* dst = p->data();
      if (inline_tag) {
        // Put the tag the kernel took out back after the two MAC addresses.
        const uint16_t tpid = (h->tp_status & TP_STATUS_VLAN_TPID_VALID) && h->hv1.tp_vlan_tpid ? h->hv1.tp_vlan_tpid : ETH_P_8021Q;
        std::memcpy(dst, src, 12);
        const uint16_t tag[2] = {htons(tpid), htons(uint16_t(h->hv1.tp_vlan_tci))};
        std::memcpy(dst + 12, tag, 4);
        std::memcpy(dst + 16, src + 12, snap - 12);
      } else {
        std::memcpy(dst, src, snap);
        if (vlan) {
          p->anno().vlan_tci = uint16_t(h->hv1.tp_vlan_tci);
          p->anno().flags |= kVlanPresent;
        }
      }
      p->set_length(need);  // fits: need <= room_
      p->anno().timestamp_ns = int64_t(h->tp_sec) * 1000000000ll + int64_t(h->tp_nsec);
      p->anno().packet_type = ptype;  // the kernel's PACKET_* values are PacketType's
      p->set_mac_header(p->data());
      csum_not_ready += (h->tp_status & TP_STATUS_CSUMNOTREADY) != 0;
      bytes += need;
    }
    if (bad) count(c_ring_errors_, npkts - next_pkt_);  // the frames of the block not taken are lost
    if (bad || next_pkt_ >= npkts) {
      // Every frame of the block is taken (or the block cannot be walked): give it back.
      __atomic_store_n(&bd->hdr.bh1.block_status, TP_STATUS_KERNEL, __ATOMIC_RELEASE);
      cur_block_ = cur_block_ + 1 == blocks_ ? 0 : cur_block_ + 1;
      next_pkt_ = 0;
    }
    deliver(b, out, bytes, too_long, csum_not_ready);
    return taken > 0 || bad || want == 0;
  }

  // The end of a round: the first `out` packets of `b` were filled (the rest go back to the
  // pool), the counters, and the batch pushed (or dropped while the router is stopped).
  void deliver(Batch& b, uint32_t out, uint64_t bytes, uint32_t too_long, uint32_t csum_not_ready) {
    if (out < b.count) pool().free(b.pkts + out, b.count - out);
    b.count = out;
    if (too_long) count(c_too_long_, too_long);
    if (csum_not_ready) count(c_csum_not_ready_, csum_not_ready);
    if (out && stopped()) {
      drop_stopped(b);
    } else if (out) {
      count(c_packets_, out);
      count(c_bytes_, bytes);
      output_push(0, b);
    }
  }

  SourceState source_state() const override { return SourceState::Running; }
  // A stopped router's device keeps its ring empty: what arrives meanwhile is dropped here.
  bool drains_while_stopped() const override { return true; }
  void drop_stopped(Batch& b) {
    count(c_stopped_, b.count);
    pool().free(b.pkts, b.count);
    b.count = 0;
  }

 private:
  // TPACKET_V2: every frame has its own slot and status word, handed over as soon as the
  // kernel has written it (no block to fill or time out: at low rates a frame waits
  // microseconds, not up to a block timeout rounded up to the kernel's tick).
  //
  // Adaptive wait: while frames are sparse, an empty ring names the socket to the idle worker
  // (wake_on_fd), which sleeps in poll() and runs as soon as the kernel writes a frame, so a
  // lone frame is forwarded within microseconds. While they are dense (kDenseFramesPerMs or
  // more in the last millisecond), waking per frame would cost a wake-up per few frames, so
  // the worker sleeps kGatherNs instead and takes what gathered in the ring as one batch:
  // the V3 block's batching, with a bounded wait of about 100 microseconds instead of a block
  // timeout of milliseconds.
  bool run_v2() {
    const uint8_t* first = frame_v2(cur_block_);
    const uint64_t now = now_ns();
    if (now - window_start_ns_ >= kWindowNs) {
      dense_ = window_frames_ * kWindowNs >= kDenseFramesPerMs * (now - window_start_ns_);
      window_start_ns_ = now;
      window_frames_ = 0;
    }
    if ((__atomic_load_n(&reinterpret_cast<const tpacket2_hdr*>(first)->tp_status, __ATOMIC_ACQUIRE) & TP_STATUS_USER) == 0) {
      if (dense_)
        wake_at(now + kGatherNs);
      else
        wake_on_fd(fd_);
      return false;
    }
    // Count the frames ready (up to a burst) first, so the round takes only the packets it
    // fills from the pool: a trickle of frames must not cost a burst of packet resets a round.
    // Slots are 2 KiB apart, too far for the hardware prefetcher, and freshly written by the
    // kernel on another CPU: fetch each ready frame's first bytes while counting.
    uint32_t ready = 0;
    for (uint32_t i = cur_block_; ready < burst_ && ready < frames_; i = i + 1 == frames_ ? 0 : i + 1) {
      const uint8_t* f = frame_v2(i);
      if ((__atomic_load_n(&reinterpret_cast<const tpacket2_hdr*>(f)->tp_status, __ATOMIC_ACQUIRE) & TP_STATUS_USER) == 0) break;
      __builtin_prefetch(f + 64);  // the frame starts about 80 bytes into its slot
      __builtin_prefetch(f + 128);
      ready++;
    }
    Batch b;
    b.count = pool().alloc(b.pkts, ready);
    if (b.count < ready) count(c_pool_empty_);
    if (b.count == 0) return false;  // the frames wait in the ring
    uint32_t out = 0, taken = 0, too_long = 0, csum_not_ready = 0;
    uint64_t bytes = 0;
    const uint32_t hdr = TPACKET_ALIGN(sizeof(tpacket2_hdr));
    while (out < b.count && taken < ready) {
      uint8_t* f = frame_v2(cur_block_);
      auto* h = reinterpret_cast<tpacket2_hdr*>(f);
      const uint32_t status = __atomic_load_n(&h->tp_status, __ATOMIC_ACQUIRE);
      if ((status & TP_STATUS_USER) == 0) break;
      const uint32_t snap = h->tp_snaplen, len = h->tp_len, mac = h->tp_mac;
      taken++;
      const auto* sll = reinterpret_cast<const sockaddr_ll*>(f + hdr);
      if (mac > frame_size_ || snap > frame_size_ - mac) {
        count(c_ring_errors_);
      } else if (sll->sll_pkttype != PACKET_OUTGOING) {
        const Take t = take(b.pkts[out], f + mac, snap, len, status, h->tp_vlan_tci, h->tp_vlan_tpid, int64_t(h->tp_sec) * 1000000000ll + int64_t(h->tp_nsec), sll->sll_pkttype);
        if (t == Take::TooLong) {
          too_long++;
        } else {
          bytes += b.pkts[out]->length();
          csum_not_ready += (status & TP_STATUS_CSUMNOTREADY) != 0;
          out++;
        }
      }
      __atomic_store_n(&h->tp_status, TP_STATUS_KERNEL, __ATOMIC_RELEASE);
      cur_block_ = cur_block_ + 1 == frames_ ? 0 : cur_block_ + 1;  // the next frame, for V2
    }
    window_frames_ += taken;
    deliver(b, out, bytes, too_long, csum_not_ready);
    return true;
  }
  uint8_t* frame_v2(uint32_t i) const {
    return map_ + size_t(i / frames_per_block_) * block_size_ + size_t(i % frames_per_block_) * frame_size_;
  }

  // AF_XDP (method 'xdp'): the XDP program redirected the queue's frames into the port's
  // RX ring. Copy each into a pool packet and give its frame straight back (fill ring).
  // An empty ring within kBusyPollNs of the last frame keeps the worker spinning on it
  // (wake_at now: no system call, no wake-up), so traffic of a few thousand frames a second
  // and more is taken within a microsecond or so of its arrival; a wake-up from poll() costs
  // tens of microseconds (and a few of CPU) on a shared VM. After that the empty ring names
  // the socket to the idle worker (readable when a frame arrives): an idle link costs nothing.
  bool run_xdp() {
    const uint64_t now = now_ns();
    if (now >= next_stats_ns_) {
      next_stats_ns_ = now + 100000000ull;
      if (const uint64_t d = port_->rx_drops()) count(c_kernel_drops_, d);
    }
    const uint32_t ready = port_->rx_peek(burst_);
    if (ready == 0) {
      if (now - last_rx_ns_ < kBusyPollNs)
        wake_at(now);
      else
        wake_on_fd(port_->fd());
      return false;
    }
    last_rx_ns_ = now;
    Batch b;
    b.count = pool().alloc(b.pkts, ready);
    if (b.count < ready) count(c_pool_empty_);
    if (b.count == 0) return false;  // the frames wait in the ring
    const int64_t ts = realtime_ns();  // XDP gives no receive time: the time it is taken
    const uint8_t* mac = port_->mac();
    uint32_t out = 0, too_long = 0;
    uint64_t bytes = 0;
    for (uint32_t i = 0; i < b.count; i++) {
      const uint8_t* src;
      uint32_t len;
      port_->rx_frame(i, src, len);
      if (len < 14 || len > room_) {
        too_long += len >= 14;
        continue;
      }
      Packet* p = b.pkts[out++];
      std::memcpy(p->data(), src, len);
      p->set_length(len);
      p->anno().timestamp_ns = ts;
      // The kernel's packet type, which XDP does not give: from the destination address.
      p->anno().packet_type = (src[0] & 1) ? (std::memcmp(src, "\xff\xff\xff\xff\xff\xff", 6) == 0 ? PACKET_BROADCAST : PACKET_MULTICAST)
                                           : (std::memcmp(src, mac, 6) == 0 ? PACKET_HOST : PACKET_OTHERHOST);
      p->set_mac_header(p->data());
      bytes += len;
    }
    port_->rx_release(b.count);
    deliver(b, out, bytes, too_long, 0);
    return true;
  }

  // method 'xdp': the device queue's AF_XDP port, reading it. False (after one line on stderr
  // saying why) when AF_XDP cannot be used and xdpFallback lets AF_PACKET take over.
  bool open_xdp() {
    try {
      port_ = XskPort::acquire(device_, queue_, xdp_attach_, this, predecessor());
      xdp_error_.clear();
      return true;
    } catch (const XdpUnavailable& e) {
      xdp_error_ = e.what();
      if (!xdp_fallback_)
        throw ConfigError("device '" + device_ + "': AF_XDP cannot be used: " + xdp_error_ + " (xdpFallback is false, so no AF_PACKET instead)");
      const std::string line = "pktgraph: element '" + name() + "' (FromDevice): device '" + device_ + "': AF_XDP cannot be used: " + xdp_error_ + "; receiving with AF_PACKET instead\n";
      ssize_t r = ::write(2, line.data(), line.size());
      (void)r;
      return false;
    }
  }
  void release_xdp() {
    if (port_) port_->release_rx(this);
    port_.reset();
  }
  // The `method` handler's text, set by whoever changes the port (read on the control thread).
  void set_method_text() {
    std::string m = port_ ? "xdp (" + port_->describe() + ")" : std::string("packet (TPACKET_V") + (version_ == 2 ? "2" : "3") + ")";
    if (!port_ && !xdp_error_.empty()) m += ", AF_XDP not used: " + xdp_error_;
    std::lock_guard<std::mutex> lock(method_mu_);
    method_ = m;
  }

  // One received frame into a pool packet (V2; V3 has the same steps inline).
  enum class Take { Ok, TooLong };
  Take take(Packet* p, const uint8_t* src, uint32_t snap, uint32_t len, uint32_t status, uint16_t tci, uint16_t tpid_field, int64_t ts,
            uint8_t ptype) {
    const bool vlan = (status & TP_STATUS_VLAN_VALID) != 0;
    const bool inline_tag = vlan && restore_vlan_;
    const uint32_t need = snap + (inline_tag ? 4 : 0);
    if (snap < len || need > room_ || (inline_tag && snap < 12)) return Take::TooLong;
    uint8_t* dst = p->data();
    if (inline_tag) {
      const uint16_t tpid = (status & TP_STATUS_VLAN_TPID_VALID) && tpid_field ? tpid_field : ETH_P_8021Q;
      std::memcpy(dst, src, 12);
      const uint16_t tag[2] = {htons(tpid), htons(tci)};
      std::memcpy(dst + 12, tag, 4);
      std::memcpy(dst + 16, src + 12, snap - 12);
    } else {
      std::memcpy(dst, src, snap);
      if (vlan) {
        p->anno().vlan_tci = tci;
        p->anno().flags |= kVlanPresent;
      }
    }
    p->set_length(need);
    p->anno().timestamp_ns = ts;
    p->anno().packet_type = ptype;
    p->set_mac_header(p->data());
    return Take::Ok;
  }

  [[noreturn]] void fail(const std::string& what) {
    release();
    throw ConfigError("device '" + device_ + "': " + what);
  }

  void open_ring() {
    ifindex_ = int(::if_nametoindex(device_.c_str()));
    if (ifindex_ == 0) throw ConfigError("device '" + device_ + "' does not exist (ip link show)");
    // Protocol 0: receive nothing until the ring is set up and the socket bound.
    fd_ = open_packet_socket(device_, 0);
    {
      ifreq ifr{};
      std::strncpy(ifr.ifr_name, device_.c_str(), IFNAMSIZ - 1);
      if (::ioctl(fd_, SIOCGIFFLAGS, &ifr) == 0 && !(ifr.ifr_flags & IFF_UP))
        fail("the device is down (ip link set " + device_ + " up)");
    }
    int v = version_ == 2 ? TPACKET_V2 : TPACKET_V3;
    if (::setsockopt(fd_, SOL_PACKET, PACKET_VERSION, &v, sizeof v) != 0)
      fail(std::string(version_ == 2 ? "TPACKET_V2" : "TPACKET_V3") + " not supported: " + std::strerror(errno));
    int one = 1;
    ::setsockopt(fd_, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof one);  // older kernels: checked per frame
    tpacket_req3 req{};
    req.tp_block_size = block_size_;
    req.tp_block_nr = blocks_;
    req.tp_frame_size = frame_size_;
    req.tp_frame_nr = (block_size_ / frame_size_) * blocks_;
    req.tp_retire_blk_tov = version_ == 2 ? 0 : block_timeout_ms_;  // V2 reads only the first four fields
    frames_per_block_ = block_size_ / frame_size_;
    frames_ = req.tp_frame_nr;
    req.tp_sizeof_priv = 0;
    req.tp_feature_req_word = 0;
    if (::setsockopt(fd_, SOL_PACKET, PACKET_RX_RING, &req, sizeof req) != 0)
      fail(std::string("cannot set up the receive ring (blockSize ") + std::to_string(block_size_) + " x blocks " +
           std::to_string(blocks_) + ", frameSize " + std::to_string(frame_size_) + "): " + std::strerror(errno));
    map_bytes_ = size_t(block_size_) * blocks_;
    void* m = ::mmap(nullptr, map_bytes_, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd_, 0);
    if (m == MAP_FAILED) {
      map_bytes_ = 0;
      fail(std::string("cannot map the receive ring: ") + std::strerror(errno));
    }
    map_ = static_cast<uint8_t*>(m);
    sockaddr_ll sll{};
    sll.sll_family = AF_PACKET;
    sll.sll_protocol = htons(ETH_P_ALL);
    sll.sll_ifindex = ifindex_;
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&sll), sizeof sll) != 0) fail(std::string("cannot bind to it: ") + std::strerror(errno));
    if (promisc_) {
      packet_mreq mr{};
      mr.mr_ifindex = ifindex_;
      mr.mr_type = PACKET_MR_PROMISC;
      if (::setsockopt(fd_, SOL_PACKET, PACKET_ADD_MEMBERSHIP, &mr, sizeof mr) != 0)
        fail(std::string("cannot turn promiscuous mode on: ") + std::strerror(errno));
    }
    if (fanout_ > 0) {
      int arg = fanout_ | (PACKET_FANOUT_HASH << 16);
      if (::setsockopt(fd_, SOL_PACKET, PACKET_FANOUT, &arg, sizeof arg) != 0)
        fail("cannot join fanout group " + std::to_string(fanout_) + ": " + std::strerror(errno) +
             " (every socket in a group must use the same device and mode)");
    }
    // Drops counted by the kernel before now are not ours.
    tpacket_stats_v3 st{};
    socklen_t sl = sizeof st;
    ::getsockopt(fd_, SOL_PACKET, PACKET_STATISTICS, &st, &sl);
  }

  // Kernel drop counts (reading them resets them), at most every 100 ms: one system call
  // per 100 ms, never per packet.
  void maybe_read_stats() {
    const uint64_t now = now_ns();
    if (now < next_stats_ns_) return;
    next_stats_ns_ = now + 100000000ull;
    read_stats();
  }
  void read_stats() {
    if (fd_ < 0) return;
    tpacket_stats_v3 st{};
    socklen_t sl = sizeof st;
    if (::getsockopt(fd_, SOL_PACKET, PACKET_STATISTICS, &st, &sl) == 0 && st.tp_drops) count(c_kernel_drops_, st.tp_drops);
  }

  // Timer (the task's worker): probe the device; release the socket when the device is
  // gone, open a new one when a device of that name is back with a new ifindex (or a
  // reopen failed before).
  void check_device() {
    timer_.schedule_after(DeviceWatch::kCheckNs);
    DeviceWatch::Probe p = watch_.probe();
    if (port_ || xdp_lost_) {
      // AF_XDP: the port dies with its device; a device of that name back gets a new one.
      if (p.state == LinkState::Missing && port_) {
        release_xdp();
        xdp_lost_ = true;
      }
      if (p.state == LinkState::Up && (xdp_lost_ || p.ifindex != port_->ifindex())) {
        release_xdp();
        try {
          port_ = XskPort::acquire(device_, queue_, xdp_attach_, this);
          xdp_lost_ = false;
          set_method_text();
          count(c_reopens_);
        } catch (const std::exception& e) {
          xdp_lost_ = true;
          p.state = LinkState::Down;
          p.why = std::string("cannot reopen its AF_XDP socket: ") + e.what();
        }
      }
      const LinkState before = watch_.state();
      if (watch_.set(*this, p.state, p.why) && before == LinkState::Up) count(c_device_faults_);
      return;
    }
    if (p.state == LinkState::Missing && fd_ >= 0) {
      read_stats();
      release();
    }
    if (p.state == LinkState::Up && (fd_ < 0 || p.ifindex != ifindex_)) {
      if (fd_ >= 0) read_stats();
      release();
      cur_block_ = next_pkt_ = next_off_ = 0;
      try {
        open_ring();
        count(c_reopens_);
      } catch (const std::exception& e) {
        p.state = LinkState::Down;
        p.why = std::string("cannot reopen it: ") + e.what();
      }
    }
    const LinkState before = watch_.state();
    if (watch_.set(*this, p.state, p.why) && before == LinkState::Up) count(c_device_faults_);
  }

  // Whether `e` is a FromDevice whose socket this one can keep: same device and ring, same
  // promiscuity and fanout group.
  bool same_socket(const Element* e) const {
    if (!e || e->class_name() != class_name()) return false;
    auto* o = static_cast<const FromDevice*>(e);
    return o->fd_ >= 0 && o->device_ == device_ && o->promisc_ == promisc_ && o->block_size_ == block_size_ && o->blocks_ == blocks_ &&
           o->frame_size_ == frame_size_ && o->block_timeout_ms_ == block_timeout_ms_ && o->version_ == version_ && o->fanout_ == fanout_;
  }

  void release() {
    release_xdp();
    if (map_) ::munmap(map_, map_bytes_);
    map_ = nullptr;
    if (fd_ >= 0) ::close(fd_);  // also leaves promiscuous mode and the fanout group
    fd_ = -1;
  }

  std::string device_;
  bool promisc_ = false, restore_vlan_ = false;
  // method 'xdp': the shared port (null with AF_PACKET), and why AF_XDP was not used.
  std::shared_ptr<XskPort> port_;
  uint32_t queue_ = 0;
  XdpAttach xdp_attach_ = XdpAttach::Auto;
  bool xdp_fallback_ = true, xdp_lost_ = false;
  std::string xdp_error_;
  mutable std::mutex method_mu_;
  std::string method_;
  uint32_t burst_ = 0, block_size_ = 0, blocks_ = 0, frame_size_ = 0, block_timeout_ms_ = 0;  // set by configure()
  int fanout_ = 0;
  int version_ = 3;  // TPACKET_V3 (blocks) or TPACKET_V2 (a status word per frame)
  uint32_t frames_per_block_ = 1, frames_ = 1;
  int ifindex_ = 0;
  int fd_ = -1;
  uint8_t* map_ = nullptr;
  size_t map_bytes_ = 0;
  uint32_t room_ = 0;

  // Worker state: the block being read and the next frame in it (V2: the next frame).
  uint32_t cur_block_ = 0, next_pkt_ = 0, next_off_ = 0;
  // V2's adaptive wait (run_v2): frames taken in the current window, and whether the last
  // window was dense. 64 frames a millisecond and a 100 us gather: at least 6 frames a
  // wake-up when gathering, and at most 100 us (plus the sleep's overshoot) added to a frame.
  static constexpr uint64_t kWindowNs = 1000000, kDenseFramesPerMs = 64, kGatherNs = 100000;
  uint64_t window_start_ns_ = 0, window_frames_ = 0;
  bool dense_ = false;
  uint64_t next_stats_ns_ = 0;
  // AF_XDP's bounded busy-poll (run_xdp): how long the worker spins on an empty RX ring after
  // the last frame before it waits in poll().
  static constexpr uint64_t kBusyPollNs = 200000;
  uint64_t last_rx_ns_ = 0;

  DeviceWatch watch_;
  Timer timer_{[this] { check_device(); }};

  uint32_t c_packets_ = 0, c_bytes_ = 0, c_kernel_drops_ = 0, c_pool_empty_ = 0, c_too_long_ = 0, c_ring_errors_ = 0, c_csum_not_ready_ = 0,
           c_device_faults_ = 0, c_stopped_ = 0, c_reopens_ = 0;
};

PG_ELEMENT(FromDevice);

}  // namespace pg
