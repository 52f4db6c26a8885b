// FromDevice: receives frames from a network device through AF_PACKET sockets with
// memory-mapped receive rings (or AF_XDP, xsk.h). Documentation: FromDevice.ts.
//
// TPACKET_V3: the kernel fills blocks of the ring with frames and hands a block over by setting
// its status to TP_STATUS_USER (when the block is full or its timeout expires). The task checks
// the status word of the current block (a memory read, no system call), copies up to a burst of
// frames into pool packets, and gives the block back (TP_STATUS_KERNEL) once every frame in it
// has been taken. TPACKET_V2: a status word per frame slot, each frame taken and given back on
// its own (no block timeout). Nothing ready: the task names what should wake the worker.
//
// The default ('adaptive') opens both: a V2 socket and a V3 socket on the device, joined in a
// fanout group of their own whose classic BPF program is one instruction, `ret #k`: k = 0 sends
// every frame to the V2 ring (latency), k = 1 to the V3 ring (batching). The task measures the
// rate and switches k with PACKET_FANOUT_DATA (on a helper thread: the kernel waits for an RCU
// grace period before it returns); it reads both rings every round, so the frames the old ring
// still holds after a switch are taken too.
//
// Device faults: a Timer on the element's worker probes the device every 200 ms
// (DeviceWatch, FromDevice.h). Down: the kernel stops filling the ring and resumes by
// itself when the device is up again. Gone: the socket and ring are released; when a
// device of that name is back (a new ifindex), the timer opens a new socket and ring on
// the same worker as the task, so the task never sees them change under it.
#include <arpa/inet.h>
#include <linux/filter.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <thread>

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

// One AF_PACKET socket and its memory-mapped receive ring, with the reader's place in it.
struct Ring {
  int fd = -1;
  int version = 3;  // TPACKET_V2 or V3
  uint8_t* map = nullptr;
  size_t map_bytes = 0;
  uint32_t blocks = 0, frames_per_block = 1, frames = 1;
  // V3: the block being read and the next frame in it; V2: `cur` is the next slot.
  uint32_t cur = 0, next_pkt = 0, next_off = 0;
  void release() {
    if (map) ::munmap(map, map_bytes);
    map = nullptr;
    if (fd >= 0) ::close(fd);  // also leaves promiscuous mode and the fanout group
    fd = -1;
    cur = next_pkt = next_off = 0;
  }
};

// The adaptive pair's switch: PACKET_FANOUT_DATA replaces the group's program and then waits
// for an RCU grace period (synchronize_net, milliseconds on a busy machine) before it returns,
// so the worker never makes the call: it sets `want` and, unless one runs already, starts a
// helper thread that applies the latest `want` until it has caught up. The thread owns a dup of
// a member socket, so an element released meanwhile leaves it nothing dangling.
struct FanoutSwitch {
  explicit FanoutSwitch(int member) : fd(::fcntl(member, F_DUPFD_CLOEXEC, 0)) {}
  ~FanoutSwitch() {
    if (fd >= 0) ::close(fd);
  }
  const int fd;
  std::atomic<uint32_t> want{0};
  std::atomic<bool> busy{false};

  static void set(int fd, uint32_t k) {
    sock_filter ret = BPF_STMT(BPF_RET | BPF_K, k);
    sock_fprog prog{1, &ret};
    ::setsockopt(fd, SOL_PACKET, PACKET_FANOUT_DATA, &prog, sizeof prog);  // fails only without memory: the old ring stays, and is read
  }
  static void apply(const std::shared_ptr<FanoutSwitch>& s) {
    for (;;) {
      const uint32_t k = s->want.load();
      set(s->fd, k);
      s->busy.store(false);
      if (s->want.load() == k || s->busy.exchange(true)) return;
    }
  }
  static void request(const std::shared_ptr<FanoutSwitch>& s, uint32_t k) {
    s->want.store(k);
    if (s->busy.exchange(true)) return;  // the running thread applies it
    try {
      std::thread([s] { apply(s); }).detach();
    } catch (const std::system_error&) {
      apply(s);  // no thread to be had: once, on the worker
    }
  }
};

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
    // 'adaptive' (0 here), or 2 or 3: one ring of that version.
    version_ = conf.value("tpacketVersion").is_string() ? 0 : int(conf.integer("tpacketVersion"));
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
    c_switches_ = counter("ring_switches");

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
    if (want_xdp && open_xdp())
      ring_text_.store(0);  // no AF_PACKET ring
    else if (!same_socket(predecessor()))
      open_ring();
    else
      pair_error_ = static_cast<const FromDevice*>(predecessor())->pair_error();
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
    h.push_back({"ring", [this] {
                   const int v = ring_text_.load();
                   return std::string(v == 2 ? "v2" : v == 3 ? "v3" : "");
                 }, nullptr});
  }

  // Hot reconfiguration: the socket, its ring and the place in it move over (no frame is lost
  // or seen twice); the old element, destroyed next, then closes nothing.
  void take_state(Element& old) override {
    auto& o = static_cast<FromDevice&>(old);
    if (!same_socket(&o)) return;  // this one opened its own socket; the old one closes its
    std::swap(rx_, o.rx_);
    std::swap(switch_, o.switch_);
    ifindex_ = o.ifindex_;
    v3_active_ = o.v3_active_;
    v3_for_backlog_ = o.v3_for_backlog_;
    ring_text_.store(o.ring_text_.load());
    next_stats_ns_ = o.next_stats_ns_;
  }

  bool run_task() override {
    if (port_) return run_xdp();
    if (rx_[0].map == nullptr) return false;
    maybe_read_stats();
    const uint64_t now = now_ns();
    if (rx_[1].map) return run_pair(now);
    if (rx_[0].version == 3) {
      if (run_v3(rx_[0])) return true;
      wake_on_fd(rx_[0].fd);  // readable when the kernel hands the next block over
      return false;
    }
    if (run_v2(rx_[0])) return true;
    wait_v2(now);
    return false;
  }

  // TPACKET_V3: up to a burst of the current block's frames; the block goes back to the
  // kernel once all are taken. False when no block is ready.
  bool run_v3(Ring& r) {
    auto* bd = reinterpret_cast<tpacket_block_desc*>(r.map + size_t(r.cur) * block_size_);
    if ((__atomic_load_n(&bd->hdr.bh1.block_status, __ATOMIC_ACQUIRE) & TP_STATUS_USER) == 0) return false;

    const uint32_t npkts = bd->hdr.bh1.num_pkts;
    if (r.next_pkt == 0) r.next_off = bd->hdr.bh1.offset_to_first_pkt;
    uint32_t want = npkts - r.next_pkt;
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
    while (r.next_pkt < npkts && out < b.count) {
      const uint32_t off = r.next_off;
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
      r.next_pkt++;
      r.next_off = off + h->tp_next_offset;
      if (h->tp_next_offset == 0 && r.next_pkt < npkts) {
        bad = true;
        r.next_pkt--;  // this frame is lost with the rest
        break;
      }
      taken++;
      switch_bytes_ += v3_bytes(snap);
      const auto* sll = reinterpret_cast<const sockaddr_ll*>(block + off + TPACKET_ALIGN(sizeof(tpacket3_hdr)));
      const uint8_t ptype = off + TPACKET_ALIGN(sizeof(tpacket3_hdr)) + sizeof(sockaddr_ll) <= block_size_ ? sll->sll_pkttype : kHost;
      if (ptype == PACKET_OUTGOING) continue;  // our own transmission (kernels without PACKET_IGNORE_OUTGOING)
      if (take(b.pkts[out], block + off + mac, snap, len, h->tp_status, uint16_t(h->hv1.tp_vlan_tci), h->hv1.tp_vlan_tpid,
               int64_t(h->tp_sec) * 1000000000ll + int64_t(h->tp_nsec), ptype) == Take::TooLong) {
        too_long++;  // cut by the ring frame (frameSize) or larger than a pool buffer
        continue;
      }
      bytes += b.pkts[out]->length();
      csum_not_ready += (h->tp_status & TP_STATUS_CSUMNOTREADY) != 0;
      out++;
    }
    if (bad) count(c_ring_errors_, npkts - r.next_pkt);  // the frames of the block not taken are lost
    if (bad || r.next_pkt >= npkts) {
      // Every frame of the block is taken (or the block cannot be walked): give it back.
      __atomic_store_n(&bd->hdr.bh1.block_status, TP_STATUS_KERNEL, __ATOMIC_RELEASE);
      r.cur = r.cur + 1 == r.blocks ? 0 : r.cur + 1;
      r.next_pkt = 0;
    }
    deliver(b, out, bytes, too_long, csum_not_ready);
    return taken > 0 || bad || want == 0;
  }

  // The adaptive pair: both rings every round, the one not receiving first (after a switch
  // it holds the older frames), then the rate decides which ring the kernel should fill.
  bool run_pair(uint64_t now) {
    Ring& v2 = rx_[0];
    Ring& v3 = rx_[1];
    bool did = v3_active_ ? run_v2(v2) : run_v3(v3);
    did |= v3_active_ ? run_v3(v3) : run_v2(v2);
    // A V2 ring a quarter full: the worker is behind (a flood it cannot keep up with, at any
    // rate); the V3 ring buffers far more frames (packed, not a 2 KiB slot each) and costs less
    // a frame, so it takes over at once, and keeps them while its backlog lasts (behind_v3).
    if (!v3_active_ && ready_v2(v2, (v2.cur + v2.frames / 4) % v2.frames)) {
      switch_to(true);
      v3_for_backlog_ = true;
    }
    if (const uint64_t elapsed = now - switch_start_ns_; elapsed >= kSwitchWindowNs) {
      // Ring bytes against the V3 block: switch to V3 when a block would fill within
      // kFillUpNs, back to V2 when it would take longer than kFillDownNs (hysteresis), over a
      // window long enough that neither a microburst nor the lumps of blocks handed over by
      // their timer decide it.
      // V3 taken for a backlog goes back once the backlog is gone unless the rate alone would
      // have chosen it: the hysteresis is for a rate near the threshold, and would otherwise
      // keep a rate between the two (a quarter of a million frames a second in a 16 KiB
      // block) on V3's block latency for good after one stall of the worker.
      const uint64_t per_block_ns = switch_bytes_ ? elapsed * block_size_ / switch_bytes_ : UINT64_MAX;
      if (per_block_ns <= kFillUpNs) v3_for_backlog_ = false;
      const bool v3 = per_block_ns <= (v3_active_ && !v3_for_backlog_ ? kFillDownNs : kFillUpNs) || (v3_active_ && behind_v3(rx_[1]));
      if (v3 != v3_active_) switch_to(v3);
      switch_start_ns_ = now;
      switch_bytes_ = 0;
    }
    if (did) return true;
    wake_on_fd(v3.fd);  // a partial block handed over by its timer (after a switch to V2)
    if (v3_active_)
      wake_on_fd(v2.fd);  // a frame written before the switch took effect
    else
      wait_v2(now);
    return false;
  }

  void switch_to(bool v3) {
    v3_active_ = v3;
    FanoutSwitch::request(switch_, v3 ? 1 : 0);
    ring_text_.store(v3 ? 3 : 2);
    count(c_switches_);
  }
  bool ready_v2(const Ring& r, uint32_t i) const {
    return (__atomic_load_n(&reinterpret_cast<const tpacket2_hdr*>(frame_v2(r, i))->tp_status, __ATOMIC_ACQUIRE) & TP_STATUS_USER) != 0;
  }
  // More than one V3 block waiting: the worker has a backlog.
  bool behind_v3(const Ring& r) const {
    const auto* bd = reinterpret_cast<const tpacket_block_desc*>(r.map + size_t(r.cur + 1 == r.blocks ? 0 : r.cur + 1) * block_size_);
    return (__atomic_load_n(&bd->hdr.bh1.block_status, __ATOMIC_ACQUIRE) & TP_STATUS_USER) != 0;
  }

  // Bytes a frame of `snap` bytes takes in a V3 block: its tpacket3_hdr, sockaddr_ll and
  // padding put the MAC header 82 bytes in, and the next frame starts 8-byte aligned.
  static uint64_t v3_bytes(uint32_t snap) { return (82u + snap + 7u) & ~7u; }

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
  // microseconds, not up to a block timeout rounded up to the kernel's tick). False when no
  // frame is ready.
  bool run_v2(Ring& r) {
    // Count the frames ready (up to a burst) first, so the round takes only the packets it
    // fills from the pool: a trickle of frames must not cost a burst of packet resets a round.
    // Slots are 2 KiB apart, too far for the hardware prefetcher, and freshly written by the
    // kernel on another CPU: fetch each ready frame's first bytes while counting.
    uint32_t ready = 0;
    for (uint32_t i = r.cur; ready < burst_ && ready < r.frames; i = i + 1 == r.frames ? 0 : i + 1) {
      const uint8_t* f = frame_v2(r, i);
      if ((__atomic_load_n(&reinterpret_cast<const tpacket2_hdr*>(f)->tp_status, __ATOMIC_ACQUIRE) & TP_STATUS_USER) == 0) break;
      __builtin_prefetch(f + 64);  // the frame starts about 80 bytes into its slot
      __builtin_prefetch(f + 128);
      ready++;
    }
    if (ready == 0) return false;
    Batch b;
    b.count = pool().alloc(b.pkts, ready);
    if (b.count < ready) count(c_pool_empty_);
    if (b.count == 0) return false;  // the frames wait in the ring
    uint32_t out = 0, taken = 0, too_long = 0, csum_not_ready = 0;
    uint64_t bytes = 0;
    const uint32_t hdr = TPACKET_ALIGN(sizeof(tpacket2_hdr));
    while (out < b.count && taken < ready) {
      uint8_t* f = frame_v2(r, r.cur);
      auto* h = reinterpret_cast<tpacket2_hdr*>(f);
      const uint32_t status = __atomic_load_n(&h->tp_status, __ATOMIC_ACQUIRE);
      if ((status & TP_STATUS_USER) == 0) break;
      const uint32_t snap = h->tp_snaplen, len = h->tp_len, mac = h->tp_mac;
      taken++;
      switch_bytes_ += v3_bytes(snap);
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
      r.cur = r.cur + 1 == r.frames ? 0 : r.cur + 1;
    }
    if (taken) last_rx_ns_ = now_ns();
    deliver(b, out, bytes, too_long, csum_not_ready);
    return true;
  }
  uint8_t* frame_v2(const Ring& r, uint32_t i) const {
    return r.map + size_t(i / r.frames_per_block) * block_size_ + size_t(i % r.frames_per_block) * frame_size_;
  }
  // V2's wait, when its ring is empty: the bounded busy-poll AF_XDP has (run_xdp). Within
  // kBusyPollNs of the last frame the worker keeps looking at the ring (wake_at now: no system
  // call, no sleep; between looks it yields its CPU to any thread that wants it), so a frame of
  // traffic of a thousand frames a second or more is taken within a round of its arrival, as
  // the kernel forwards inside the sender's system call, where a wake-up from poll() costs tens
  // of microseconds on a shared VM. Past that the socket is named to the idle worker
  // (wake_on_fd), which sleeps in poll() and runs as soon as the kernel writes a frame: an idle
  // link costs nothing. (Until 2026-12-03 a V2 ring with 64 frames or more a millisecond slept
  // 100 µs to gather a batch instead, and a sparser one woke per frame from poll().)
  void wait_v2(uint64_t now) {
    if (now - last_rx_ns_ < kBusyPollNs)
      wake_at(now);
    else
      wake_on_fd(rx_[0].fd);
  }

  // AF_XDP (method 'xdp'): the XDP program redirected the queue's frames into the port's
  // RX ring. Copy each into a pool packet and give its frame straight back (fill ring).
  // An empty ring within kBusyPollNs of the last frame keeps the worker looking at it
  // (wake_at now: no system call but a yield, no wake-up), so traffic of a thousand frames a
  // second and more is taken within a microsecond or so of its arrival; a wake-up from poll() costs
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
  std::string pair_error() const {
    std::lock_guard<std::mutex> lock(method_mu_);
    return pair_error_;
  }
  // The `method` handler's text, set by whoever changes the port (read on the control thread).
  void set_method_text() {
    const std::string no_pair = pair_error();
    std::string m = port_                            ? "xdp (" + port_->describe() + ")"
                    : version_ == 0 && fanout_ == 0 && !no_pair.empty() ? "packet (TPACKET_V3: the adaptive pair cannot be used: " + no_pair + ")"
                    : version_ == 0 && fanout_ == 0 ? std::string("packet (adaptive: TPACKET_V2 at low rates, V3 at high)")
                                                     : std::string("packet (TPACKET_V") + (version_ == 2 ? "2" : "3") + ")";
    if (!port_ && !xdp_error_.empty()) m += ", AF_XDP not used: " + xdp_error_;
    std::lock_guard<std::mutex> lock(method_mu_);
    method_ = m;
  }

  // One received frame into a pool packet (V2 and V3).
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

  // The socket(s) and ring(s) the configuration asks for: one ring of tpacketVersion, or
  // (adaptive) the V2/V3 pair in a fanout group of their own; with `fanout` (several workers
  // sharing the device in a hash group) the adaptive choice is one V3 ring, see FromDevice.ts.
  void open_ring() {
    ifindex_ = int(::if_nametoindex(device_.c_str()));
    if (ifindex_ == 0) throw ConfigError("device '" + device_ + "' does not exist (ip link show)");
    v3_active_ = false;
    if (version_ != 0 || fanout_ > 0) {
      open_one(rx_[0], version_ == 2 ? 2 : 3, blocks_, false);
      if (fanout_ > 0) join_fanout(rx_[0], fanout_ | (PACKET_FANOUT_HASH << 16), "cannot join fanout group " + std::to_string(fanout_));
      ring_text_.store(rx_[0].version);
      return;
    }
    // The V2 ring carries only the low rates: half the blocks (its slots hold 2 KiB each).
    open_one(rx_[0], 2, (blocks_ + 1) / 2, false);
    // Index 0 of the group, so it has every frame while the group has no program yet. A kernel
    // without CBPF fanout or kernel-chosen group ids (before Linux 4.20) refuses the group:
    // then one TPACKET_V3 ring receives, as before the pair (the `method` handler and a line
    // on stderr say why). PKTGRAPH_TPACKET_PAIR=0 takes that path on any kernel (the tests).
    const char* no_pair = std::getenv("PKTGRAPH_TPACKET_PAIR");
    std::string why;
    if (no_pair && std::strcmp(no_pair, "0") == 0)
      why = "PKTGRAPH_TPACKET_PAIR=0";
    else if (const std::string err = try_join_fanout(rx_[0], (PACKET_FANOUT_CBPF | PACKET_FANOUT_FLAG_UNIQUEID) << 16); !err.empty())
      why = "the kernel refused a fanout group with a BPF program (" + err + "; Linux 4.20 or later has it)";
    {
      std::lock_guard<std::mutex> lock(method_mu_);  // open_ring also runs on the worker (a device back)
      pair_error_ = why;
    }
    if (!why.empty()) {
      rx_[0].release();
      open_one(rx_[0], 3, blocks_, false);
      ring_text_.store(3);
      const std::string line = "pktgraph: element '" + name() + "' (FromDevice): device '" + device_ + "': the adaptive TPACKET_V2/V3 pair cannot be used: " +
                               why + "; receiving with one TPACKET_V3 ring instead\n";
      ssize_t r = ::write(2, line.data(), line.size());
      (void)r;
      return;
    }
    int id = 0;
    socklen_t len = sizeof id;
    if (::getsockopt(rx_[0].fd, SOL_PACKET, PACKET_FANOUT, &id, &len) != 0) fail(std::string("cannot read the adaptive rings' fanout group: ") + std::strerror(errno));
    // Bound before it joins, the V3 socket would get a copy of every frame: it drops all until then.
    open_one(rx_[1], 3, blocks_, true);
    join_fanout(rx_[1], (id & 0xffff) | (PACKET_FANOUT_CBPF << 16), "cannot join the adaptive rings' fanout group (give tpacketVersion: 3 or 2 for one ring)");
    int unused = 0;  // the kernel wants an int's length with any option
    if (::setsockopt(rx_[1].fd, SOL_SOCKET, SO_DETACH_FILTER, &unused, sizeof unused) != 0) fail(std::string("cannot open the V3 ring to frames: ") + std::strerror(errno));
    switch_ = std::make_shared<FanoutSwitch>(rx_[0].fd);
    if (switch_->fd < 0) fail(std::string("cannot duplicate the socket: ") + std::strerror(errno));
    ring_text_.store(2);
  }

  void open_one(Ring& r, int version, uint32_t blocks, bool drop_all) {
    // Protocol 0: receive nothing until the ring is set up and the socket bound.
    r.fd = open_packet_socket(device_, 0);
    r.version = version;
    {
      ifreq ifr{};
      std::strncpy(ifr.ifr_name, device_.c_str(), IFNAMSIZ - 1);
      if (::ioctl(r.fd, SIOCGIFFLAGS, &ifr) == 0 && !(ifr.ifr_flags & IFF_UP))
        fail("the device is down (ip link set " + device_ + " up)");
    }
    int v = version == 2 ? TPACKET_V2 : TPACKET_V3;
    if (::setsockopt(r.fd, SOL_PACKET, PACKET_VERSION, &v, sizeof v) != 0)
      fail(std::string(version == 2 ? "TPACKET_V2" : "TPACKET_V3") + " not supported: " + std::strerror(errno));
    int one = 1;
    ::setsockopt(r.fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof one);  // older kernels: checked per frame
    if (drop_all) {
      sock_filter none = BPF_STMT(BPF_RET | BPF_K, 0);
      sock_fprog prog{1, &none};
      if (::setsockopt(r.fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof prog) != 0) fail(std::string("cannot attach a socket filter: ") + std::strerror(errno));
    }
    tpacket_req3 req{};
    req.tp_block_size = block_size_;
    req.tp_block_nr = blocks;
    req.tp_frame_size = frame_size_;
    req.tp_frame_nr = (block_size_ / frame_size_) * blocks;
    req.tp_retire_blk_tov = version == 2 ? 0 : block_timeout_ms_;  // V2 reads only the first four fields
    r.blocks = blocks;
    r.frames_per_block = block_size_ / frame_size_;
    r.frames = req.tp_frame_nr;
    req.tp_sizeof_priv = 0;
    req.tp_feature_req_word = 0;
    if (::setsockopt(r.fd, SOL_PACKET, PACKET_RX_RING, &req, sizeof req) != 0)
      fail(std::string("cannot set up the receive ring (blockSize ") + std::to_string(block_size_) + " x blocks " +
           std::to_string(blocks) + ", frameSize " + std::to_string(frame_size_) + "): " + std::strerror(errno));
    r.map_bytes = size_t(block_size_) * blocks;
    void* m = ::mmap(nullptr, r.map_bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, r.fd, 0);
    if (m == MAP_FAILED) {
      r.map_bytes = 0;
      fail(std::string("cannot map the receive ring: ") + std::strerror(errno));
    }
    r.map = static_cast<uint8_t*>(m);
    sockaddr_ll sll{};
    sll.sll_family = AF_PACKET;
    sll.sll_protocol = htons(ETH_P_ALL);
    sll.sll_ifindex = ifindex_;
    if (::bind(r.fd, reinterpret_cast<sockaddr*>(&sll), sizeof sll) != 0) fail(std::string("cannot bind to it: ") + std::strerror(errno));
    if (promisc_ && &r == &rx_[0]) {  // one socket's membership is enough for the device
      packet_mreq mr{};
      mr.mr_ifindex = ifindex_;
      mr.mr_type = PACKET_MR_PROMISC;
      if (::setsockopt(r.fd, SOL_PACKET, PACKET_ADD_MEMBERSHIP, &mr, sizeof mr) != 0)
        fail(std::string("cannot turn promiscuous mode on: ") + std::strerror(errno));
    }
    // Drops counted by the kernel before now are not ours.
    tpacket_stats_v3 st{};
    socklen_t sl = sizeof st;
    ::getsockopt(r.fd, SOL_PACKET, PACKET_STATISTICS, &st, &sl);
  }

  // Join (or create) a fanout group; the error's text, empty when it worked.
  static std::string try_join_fanout(const Ring& r, int arg) {
    return ::setsockopt(r.fd, SOL_PACKET, PACKET_FANOUT, &arg, sizeof arg) == 0 ? std::string() : std::strerror(errno);
  }
  void join_fanout(Ring& r, int arg, const std::string& what) {
    if (const std::string err = try_join_fanout(r, arg); !err.empty())
      fail(what + ": " + err + (fanout_ > 0 ? " (every socket in a group must use the same device and mode)" : ""));
  }

  // Kernel drop counts (reading them resets them), at most every 100 ms: one system call
  // per 100 ms and ring, never per packet.
  void maybe_read_stats() {
    const uint64_t now = now_ns();
    if (now < next_stats_ns_) return;
    next_stats_ns_ = now + 100000000ull;
    read_stats();
  }
  void read_stats() {
    for (Ring& r : rx_) {
      if (r.fd < 0) continue;
      tpacket_stats_v3 st{};
      socklen_t sl = sizeof st;
      if (::getsockopt(r.fd, SOL_PACKET, PACKET_STATISTICS, &st, &sl) == 0 && st.tp_drops) count(c_kernel_drops_, st.tp_drops);
    }
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
    if (p.state == LinkState::Missing && rx_[0].fd >= 0) {
      read_stats();
      release();
    }
    if (p.state == LinkState::Up && (rx_[0].fd < 0 || p.ifindex != ifindex_)) {
      read_stats();
      release();
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
    return o->rx_[0].fd >= 0 && o->device_ == device_ && o->promisc_ == promisc_ && o->block_size_ == block_size_ && o->blocks_ == blocks_ &&
           o->frame_size_ == frame_size_ && o->block_timeout_ms_ == block_timeout_ms_ && o->version_ == version_ && o->fanout_ == fanout_;
  }

  void release() {
    release_xdp();
    for (Ring& r : rx_) r.release();
    switch_.reset();
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
  int version_ = 0;  // 0: adaptive (the V2/V3 pair, or one V3 ring with fanout); 2 or 3: one ring of that version
  int ifindex_ = 0;
  uint32_t room_ = 0;
  // rx_[0]: the one ring, or the pair's V2 ring (the group's index 0); rx_[1]: the pair's V3 ring.
  Ring rx_[2];
  std::shared_ptr<FanoutSwitch> switch_;  // the pair's
  bool v3_active_ = false;                // the pair: the V3 ring asked for (the switch may still be running)
  bool v3_for_backlog_ = false;           // ... for a backlog, the rate alone not (yet) calling for it
  std::string pair_error_;                // why the adaptive pair could not be made (one V3 ring instead); empty: it was, or not asked for
  std::atomic<int> ring_text_{3};         // the `ring` handler: the ring version receiving, 0 with AF_XDP (read on the control thread)

  // The pair's switch window: the V3 ring bytes its frames would take. V3 once a block would
  // fill within 250 us (about 450 kpps of 64-byte frames in a 16 KiB block: the V3 ring then
  // adds no more latency than a 100 us wait on V2), V2 again when it would take over 500 us; judged
  // over 8 ms (two of the kernel's ticks, which time the blocks out).
  static constexpr uint64_t kSwitchWindowNs = 8000000, kFillUpNs = 250000, kFillDownNs = 500000;
  uint64_t switch_start_ns_ = 0, switch_bytes_ = 0;
  uint64_t next_stats_ns_ = 0;
  // The bounded busy-poll of AF_XDP (run_xdp) and the V2 ring (wait_v2): how long the worker
  // keeps looking at an empty RX ring after the last frame before it waits in poll(). A
  // millisecond: at 1% of the zero-loss rate here (5,000 frames a second) 200 µs left half the
  // frames to a wake-up (p50 1.1-4.4x the kernel's, against 1.0-1.9x).
  static constexpr uint64_t kBusyPollNs = 1000000;
  uint64_t last_rx_ns_ = 0;

  DeviceWatch watch_;
  Timer timer_{[this] { check_device(); }};

  uint32_t c_packets_ = 0, c_bytes_ = 0, c_kernel_drops_ = 0, c_pool_empty_ = 0, c_too_long_ = 0, c_ring_errors_ = 0, c_csum_not_ready_ = 0,
           c_device_faults_ = 0, c_stopped_ = 0, c_reopens_ = 0, c_switches_ = 0;
};

PG_ELEMENT(FromDevice);

}  // namespace pg
