// ToDevice: sends frames on a network device through an AF_PACKET socket: by default
// through a TPACKET_V2 TX ring with one send() kick per batch, or with one sendmmsg(2) per
// batch. Documentation: ToDevice.ts; measurements: docs/interfaces-performance.md.
//
// The ring costs a copy into the slot in user space, but saves the kernel's per-message
// work of sendmmsg (copying and checking each msghdr and iovec, about 250 ns a frame):
// measured about 10% less CPU per forwarded frame on a veth. Each slot starts with a
// virtio-net header whose hdr_len covers the whole frame, so the kernel copies the frame
// into the socket buffer instead of attaching the ring page, which a veth would copy again
// into a new page. The ring has one writer at a time (a try-lock); a worker that finds it
// taken sends its batch with sendmmsg on the plain socket, so several workers may push here.
//
// Device faults: a Timer probes the device every 200 ms (DeviceWatch, FromDevice.h).
// While it is not up, push drops batches without a system call. When a device of that
// name is back with a new ifindex, the timer binds the same socket to it again (bind on
// a live socket is safe while other workers are inside sendmmsg; no fd ever changes).
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

#include "device_watch.h"
#include "element.h"
#include "xsk.h"

namespace pg {

class ToDevice final : public Element {
 public:
  ~ToDevice() override {
    release();
    watch_.close();
  }


  void configure(const Config& conf) override {
    device_ = conf.string("device");
    burst_ = uint32_t(conf.bounded("burst", kMaxBatch));
    qdisc_bypass_ = conf.boolean("qdiscBypass");
    const std::string method = conf.string("method");  // "ring", "sendmmsg" or "xdp" (the getter checks)
    use_ring_ = method == "ring";
    queue_ = uint32_t(conf.integer("queue"));
    const std::string attach = conf.string("xdpAttach");
    xdp_attach_ = attach == "native" ? XdpAttach::Native : attach == "generic" ? XdpAttach::Generic : XdpAttach::Auto;
    ring_frames_ = uint32_t(conf.integer("ringFrames"));
    ring_frame_size_ = uint32_t(conf.integer("ringFrameSize"));
    if (ring_frame_size_ != 0 && (ring_frame_size_ < 256 || (ring_frame_size_ & (ring_frame_size_ - 1)) != 0))
      throw ConfigError("config field 'ringFrameSize' is " + std::to_string(ring_frame_size_) + ": give a power of two from 256 to 65536, or 0 to size the slots from the device's MTU");
    c_packets_ = counter("packets");
    c_bytes_ = counter("bytes");
    c_drops_ = counter("drops");
    c_too_long_ = counter("drops_too_long");
    c_device_faults_ = counter("device_faults");
    c_rebinds_ = counter("rebinds");
    c_ring_full_ = counter("drops_ring_full");
    // A hot reconfiguration's successor on the same device and method keeps the running
    // element's sockets and TX ring (take_state) rather than opening its own.
    // method 'xdp': the device queue's AF_XDP port (shared with a FromDevice on it); the plain
    // packet socket stays for the MTU and the device checks. Where AF_XDP cannot be used,
    // one line says why and the TX ring sends instead (or, without xdpFallback, an error).
    if (method == "xdp") {
      try {
        port_ = XskPort::acquire(device_, queue_, xdp_attach_, nullptr);
      } catch (const XdpUnavailable& e) {
        xdp_error_ = e.what();
        if (!conf.boolean("xdpFallback"))
          throw ConfigError("device '" + device_ + "': AF_XDP cannot be used: " + xdp_error_ + " (xdpFallback is false, so no AF_PACKET instead)");
        const std::string line = "pktgraph: element '" + name() + "' (ToDevice): device '" + device_ + "': AF_XDP cannot be used: " + xdp_error_ + "; sending with AF_PACKET instead\n";
        ssize_t r = ::write(2, line.data(), line.size());
        (void)r;
        use_ring_ = true;
      }
    }
    if (!same_socket(predecessor())) open_socket();
    watch_.open(device_);
    add_timer(timer_);
  }

  // Hot reconfiguration: the sockets, the TX ring and the place in it move over; frames
  // already in the ring are sent by the kernel as before. The old element then closes nothing.
  void take_state(Element& old) override {
    auto& o = static_cast<ToDevice&>(old);
    if (!same_socket(&o)) return;  // this one opened its own; the old one closes its
    std::swap(fd_, o.fd_);
    std::swap(ring_fd_, o.ring_fd_);
    std::swap(ring_, o.ring_);
    std::swap(ring_bytes_, o.ring_bytes_);
    ring_frames_ = o.ring_frames_;
    ring_frame_size_ = o.ring_frame_size_;
    ring_next_ = o.ring_next_;
    ifindex_ = o.ifindex_;
    max_len_.store(o.max_len_.load());
  }

  void initialize() override {
    if (input_processing(0) == Processing::Pull) request_task();
    timer_.schedule_after(DeviceWatch::kCheckNs);
  }

  void cleanup() override {
    timer_.unschedule();
    release();
    watch_.close();
  }

  void add_handlers(std::vector<Handler>& h) override {
    watch_.add_handlers(h);
    h.push_back({"method", [this] {
                   if (port_ && xdp_live_.load()) return "xdp (" + port_->describe() + ")";
                   return std::string(use_ring_ ? "ring" : "sendmmsg") + (xdp_error_.empty() ? "" : ", AF_XDP not used: " + xdp_error_);
                 }, nullptr});
  }

  void push(int, Batch& b) override {
    if (watch_.state() != LinkState::Up) {
      count(c_drops_, b.count);  // the device is down or gone: no system call
      drop(b);
      return;
    }
    const uint32_t max_len = max_len_.load(std::memory_order_relaxed);
    if (port_ && xdp_live_.load(std::memory_order_relaxed)) {
      const XskPort::TxResult r = port_->send(b, max_len);
      if (r.sent) {
        count(c_packets_, r.sent);
        count(c_bytes_, r.bytes);
      }
      if (r.refused) count(c_drops_, r.refused);
      if (r.full) count(c_ring_full_, r.full);
      if (r.too_long) count(c_too_long_, r.too_long);
      drop(b);
      return;
    }
    // The ring has one writer at a time; a worker that finds it taken sends with sendmmsg.
    if (ring_ && !ring_busy_.test_and_set(std::memory_order_acquire)) {
      push_ring(b, max_len);
      ring_busy_.clear(std::memory_order_release);
      return;
    }
    mmsghdr msgs[kMaxBatch];
    iovec iov[kMaxBatch];
    uint32_t n = 0, too_long = 0, short_frames = 0;
    for (uint32_t i = 0; i < b.count; i++) {
      Packet* p = b.pkts[i];
      const uint32_t len = p->length();
      if (len < 14) {
        short_frames++;
        continue;
      }
      const uint8_t* d = p->data();
      const bool tagged = (d[12] == 0x81 && d[13] == 0x00) || (d[12] == 0x88 && d[13] == 0xa8);
      if (len > max_len + (tagged ? 4 : 0)) {
        too_long++;
        continue;
      }
      iov[n].iov_base = p->data();
      iov[n].iov_len = len;
      std::memset(&msgs[n].msg_hdr, 0, sizeof msgs[n].msg_hdr);
      msgs[n].msg_hdr.msg_iov = &iov[n];
      msgs[n].msg_hdr.msg_iovlen = 1;
      msgs[n].msg_len = 0;
      n++;
    }
    uint32_t sent = 0;
    while (sent < n && fd_ >= 0) {
      int r = ::sendmmsg(fd_, msgs + sent, n - sent, MSG_DONTWAIT);
      if (r > 0) {
        sent += uint32_t(r);
        continue;
      }
      if (r < 0 && errno == EINTR) continue;
      break;  // the device is down, its queue or our socket buffer is full, ...: drop the rest
    }
    uint64_t bytes = 0;
    for (uint32_t i = 0; i < sent; i++) bytes += iov[i].iov_len;
    if (sent) {
      count(c_packets_, sent);
      count(c_bytes_, bytes);
    }
    if (n - sent + short_frames) count(c_drops_, n - sent + short_frames);
    if (too_long) count(c_too_long_, too_long);
    drop(b);
  }

  // TX ring (TPACKET_V2): copy each frame into the next free slot, mark it for sending, and
  // kick the kernel once per batch with send(). A slot is free again once the kernel has
  // released its socket buffer (on a veth, before send() returns).
  void push_ring(Batch& b, uint32_t max_len) {
    uint32_t queued = 0, too_long = 0, dropped = 0, full = 0;
    uint64_t bytes = 0;
    const uint32_t first = ring_next_;
    const uint32_t room = ring_frame_size_ - kRingData - kVnet;
    for (uint32_t i = 0; i < b.count; i++) {
      Packet* p = b.pkts[i];
      const uint32_t len = p->length();
      if (len < 14) {
        dropped++;
        continue;
      }
      const uint8_t* d = p->data();
      const bool tagged = (d[12] == 0x81 && d[13] == 0x00) || (d[12] == 0x88 && d[13] == 0xa8);
      if (len > max_len + (tagged ? 4 : 0) || len > room) {
        too_long++;
        continue;
      }
      uint8_t* slot = ring_ + size_t(ring_next_) * ring_frame_size_;
      auto* h = reinterpret_cast<tpacket2_hdr*>(slot);
      if (__atomic_load_n(&h->tp_status, __ATOMIC_ACQUIRE) != TP_STATUS_AVAILABLE) {
        full++;  // the kernel still owns the slot (the device is slower than we are)
        continue;
      }
      // A virtio-net header whose hdr_len covers the whole frame: the kernel then copies the
      // frame into the socket buffer's linear part instead of attaching the ring's page as a
      // fragment, which a veth (or anything crossing namespaces) would copy again into a
      // freshly allocated page.
      VnetHeader vh{};
      vh.hdr_len = uint16_t(len);  // little-endian, as the kernel reads it on this platform
      std::memcpy(slot + kRingData, &vh, kVnet);
      std::memcpy(slot + kRingData + kVnet, d, len);
      h->tp_len = len + kVnet;
      __atomic_store_n(&h->tp_status, TP_STATUS_SEND_REQUEST, __ATOMIC_RELEASE);
      ring_next_ = ring_next_ + 1 == ring_frames_ ? 0 : ring_next_ + 1;
      queued++;
      bytes += len;
    }
    uint32_t sent = queued;
    // Kick also when the ring was full: slots still marked from a kick the kernel cut short
    // (EAGAIN: the send buffer was full) are sent only by another kick.
    if (queued || full) {
      ssize_t r;
      do r = ::send(ring_fd_, nullptr, 0, MSG_DONTWAIT);
      while (r < 0 && errno == EINTR);
      if (r < 0 && errno != EAGAIN && errno != ENOBUFS) {
        // Refused (the device went down, ...). The kernel sends slots in order from its own
        // position and stops at the first not marked for sending: the first of ours still
        // marked is where it stopped. Take back the rest and write there next, so the two
        // positions stay together. (EAGAIN, ENOBUFS: the marked slots go with the next kick.)
        uint32_t k = 0;
        for (; k < queued; k++) {
          auto* h = reinterpret_cast<tpacket2_hdr*>(ring_ + size_t((first + k) % ring_frames_) * ring_frame_size_);
          if (__atomic_load_n(&h->tp_status, __ATOMIC_ACQUIRE) == TP_STATUS_SEND_REQUEST) break;
        }
        ring_next_ = (first + k) % ring_frames_;
        for (uint32_t j = k; j < queued; j++) {
          auto* h = reinterpret_cast<tpacket2_hdr*>(ring_ + size_t((first + j) % ring_frames_) * ring_frame_size_);
          __atomic_store_n(&h->tp_status, TP_STATUS_AVAILABLE, __ATOMIC_RELEASE);
        }
        sent = k;
        dropped += queued - k;
        bytes = 0;
        for (uint32_t j = 0; j < k; j++)
          bytes += reinterpret_cast<tpacket2_hdr*>(ring_ + size_t((first + j) % ring_frames_) * ring_frame_size_)->tp_len - kVnet;
      }
    }
    if (sent) {
      count(c_packets_, sent);
      count(c_bytes_, bytes);
    }
    if (dropped) count(c_drops_, dropped);
    if (full) count(c_ring_full_, full);
    if (too_long) count(c_too_long_, too_long);
    drop(b);
  }

  bool run_task() override {
    Batch b;
    input_pull(0, b, burst_);
    if (b.count == 0) return false;
    push(0, b);
    return true;
  }

 private:
  [[noreturn]] void fail(const std::string& what) {
    release();
    throw ConfigError("device '" + device_ + "': " + what);
  }

  void open_socket() {
    const int ifindex = int(::if_nametoindex(device_.c_str()));
    if (ifindex == 0) throw ConfigError("device '" + device_ + "' does not exist (ip link show)");
    // Protocol 0: this socket only sends, the kernel queues nothing received to it.
    fd_ = ::socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
    if (fd_ < 0) {
      int err = errno;
      if (err == EPERM || err == EACCES)
        throw ConfigError("device '" + device_ + "': no permission to open a packet socket: AF_PACKET needs CAP_NET_RAW; run as root or grant it with `setcap cap_net_raw+ep $(which node)`");
      throw ConfigError("device '" + device_ + "': cannot open a packet socket: " + std::strerror(err));
    }
    ifreq ifr{};
    std::strncpy(ifr.ifr_name, device_.c_str(), IFNAMSIZ - 1);
    if (::ioctl(fd_, SIOCGIFFLAGS, &ifr) == 0 && !(ifr.ifr_flags & IFF_UP)) fail("the device is down (ip link set " + device_ + " up)");
    ifr = ifreq{};
    std::strncpy(ifr.ifr_name, device_.c_str(), IFNAMSIZ - 1);
    if (::ioctl(fd_, SIOCGIFMTU, &ifr) != 0) fail(std::string("cannot read its MTU: ") + std::strerror(errno));
    max_len_.store(uint32_t(ifr.ifr_mtu) + 14, std::memory_order_relaxed);
    if (!bind_to(ifindex)) fail(std::string("cannot bind to it: ") + std::strerror(errno));
    if (qdisc_bypass_) {
      int one = 1;
      if (::setsockopt(fd_, SOL_PACKET, PACKET_QDISC_BYPASS, &one, sizeof one) != 0)
        fail(std::string("cannot bypass the qdisc (PACKET_QDISC_BYPASS): ") + std::strerror(errno));
    }
    // A large send buffer, so a burst of batches does not find it full (best effort).
    int sndbuf = 4 << 20;
    if (::setsockopt(fd_, SOL_SOCKET, SO_SNDBUFFORCE, &sndbuf, sizeof sndbuf) != 0)
      ::setsockopt(fd_, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);
    if (use_ring_) {
      // Slots sized from the MTU unless given: the next power of two that holds a tagged frame.
      if (ring_frame_size_ == 0) {
        ring_frame_size_ = 256;
        while (ring_frame_size_ < kRingData + kVnet + max_len_.load() + 4) ring_frame_size_ *= 2;
      }
      open_ring(ifindex);
    }
  }

  // A second socket with a TPACKET_V2 TX ring (every send on a ring socket goes through the
  // ring, so the plain socket stays for workers that find the ring taken).
  void open_ring(int ifindex) {
    ring_fd_ = ::socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
    if (ring_fd_ < 0) fail(std::string("cannot open a packet socket for the TX ring: ") + std::strerror(errno));
    int v = TPACKET_V2;
    if (::setsockopt(ring_fd_, SOL_PACKET, PACKET_VERSION, &v, sizeof v) != 0) fail(std::string("TPACKET_V2 not supported: ") + std::strerror(errno));
    int one = 1;
    if (::setsockopt(ring_fd_, SOL_PACKET, PACKET_VNET_HDR, &one, sizeof one) != 0)
      fail(std::string("PACKET_VNET_HDR not supported: ") + std::strerror(errno));
    // A frame the kernel cannot send is given back (status available) instead of left in the
    // ring marked wrong, where it would hold its slot for good.
    if (::setsockopt(ring_fd_, SOL_PACKET, PACKET_LOSS, &one, sizeof one) != 0)
      fail(std::string("PACKET_LOSS not supported: ") + std::strerror(errno));
    if (ring_frame_size_ % TPACKET_ALIGNMENT != 0 || ring_frame_size_ <= kRingData + kVnet + 14)
      fail("ringFrameSize " + std::to_string(ring_frame_size_) + " must be a multiple of 16 and more than " + std::to_string(kRingData + kVnet + 14));
    const uint32_t page = uint32_t(::sysconf(_SC_PAGESIZE));
    // Blocks of one page or more holding whole frames; the ring is frames x frame size.
    uint32_t block = page;
    while (block % ring_frame_size_ != 0) block += page;  // both powers of two: block = max(page, frame)
    const uint32_t per_block = block / ring_frame_size_;
    const uint32_t blocks = (ring_frames_ + per_block - 1) / per_block;
    ring_frames_ = blocks * per_block;
    tpacket_req req{};
    req.tp_block_size = block;
    req.tp_block_nr = blocks;
    req.tp_frame_size = ring_frame_size_;
    req.tp_frame_nr = ring_frames_;
    if (::setsockopt(ring_fd_, SOL_PACKET, PACKET_TX_RING, &req, sizeof req) != 0)
      fail(std::string("cannot set up the TX ring: ") + std::strerror(errno));
    ring_bytes_ = size_t(block) * blocks;
    void* m = ::mmap(nullptr, ring_bytes_, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, ring_fd_, 0);
    if (m == MAP_FAILED) {
      ring_bytes_ = 0;
      fail(std::string("cannot map the TX ring: ") + std::strerror(errno));
    }
    ring_ = static_cast<uint8_t*>(m);
    if (qdisc_bypass_) ::setsockopt(ring_fd_, SOL_PACKET, PACKET_QDISC_BYPASS, &one, sizeof one);
    if (!bind_ring(ifindex)) fail(std::string("cannot bind the TX ring socket: ") + std::strerror(errno));
  }

  bool bind_ring(int ifindex) {
    if (ring_fd_ < 0) return true;
    sockaddr_ll sll{};
    sll.sll_family = AF_PACKET;
    sll.sll_protocol = 0;
    sll.sll_ifindex = ifindex;
    return ::bind(ring_fd_, reinterpret_cast<sockaddr*>(&sll), sizeof sll) == 0;
  }

  bool bind_to(int ifindex) {
    sockaddr_ll sll{};
    sll.sll_family = AF_PACKET;
    sll.sll_protocol = 0;
    sll.sll_ifindex = ifindex;
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&sll), sizeof sll) != 0) return false;
    ifindex_ = ifindex;
    return true;
  }

  // Timer: probe the device; when it is back with a new ifindex, bind to it and read its
  // MTU again. The state push() reads is set last, so sending resumes once bound.
  void check_device() {
    timer_.schedule_after(DeviceWatch::kCheckNs);
    DeviceWatch::Probe p = watch_.probe();
    if (p.state == LinkState::Up && p.ifindex != ifindex_) {
      xdp_live_.store(false, std::memory_order_relaxed);  // the port's socket went with the old device
      if (bind_ring(p.ifindex) && bind_to(p.ifindex)) {
        ifreq ifr{};
        std::strncpy(ifr.ifr_name, device_.c_str(), IFNAMSIZ - 1);
        if (::ioctl(fd_, SIOCGIFMTU, &ifr) == 0) max_len_.store(uint32_t(ifr.ifr_mtu) + 14, std::memory_order_relaxed);
        count(c_rebinds_);
      } else {
        p.state = LinkState::Down;
        p.why = std::string("cannot bind to it again: ") + std::strerror(errno);
      }
    }
    const LinkState before = watch_.state();
    if (watch_.set(*this, p.state, p.why) && before == LinkState::Up) count(c_device_faults_);
  }

  // Whether `e` is a ToDevice whose sockets this one can keep: same device, qdisc bypass and
  // method, and the same ring when it has one.
  bool same_socket(const Element* e) const {
    if (!e || e->class_name() != class_name()) return false;
    auto* o = static_cast<const ToDevice*>(e);
    return o->fd_ >= 0 && o->device_ == device_ && o->qdisc_bypass_ == qdisc_bypass_ && o->use_ring_ == use_ring_ && o->port_ == port_ &&
           (!use_ring_ || (o->ring_frames_ >= ring_frames_ && (ring_frame_size_ == 0 || o->ring_frame_size_ == ring_frame_size_)));
  }

  void release() {
    if (ring_) ::munmap(ring_, ring_bytes_);
    ring_ = nullptr;
    if (ring_fd_ >= 0) ::close(ring_fd_);
    ring_fd_ = -1;
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

  // Frame data starts here in a TPACKET_V2 TX slot (the kernel's default offset).
  static constexpr uint32_t kRingData = TPACKET2_HDRLEN - sizeof(sockaddr_ll);
  // struct virtio_net_hdr (linux/virtio_net.h, which C++ cannot include: a field is named
  // 'class'): no offloads requested, only hdr_len.
  struct VnetHeader {
    uint8_t flags, gso_type;
    uint16_t hdr_len, gso_size, csum_start, csum_offset;
  };
  static_assert(sizeof(VnetHeader) == 10);
  static constexpr uint32_t kVnet = sizeof(VnetHeader);  // before each frame in a slot

  std::string device_;
  uint32_t burst_ = 0;  // set by configure()
  // method 'xdp': the device queue's AF_XDP port (null otherwise), and why it was not used.
  // Kept until the element goes; when the device is deleted and made again the port's socket
  // is dead, and batches go out with sendmmsg on the rebound packet socket (check_device).
  std::shared_ptr<XskPort> port_;
  std::atomic<bool> xdp_live_{true};
  uint32_t queue_ = 0;
  XdpAttach xdp_attach_ = XdpAttach::Auto;
  std::string xdp_error_;
  bool qdisc_bypass_ = false, use_ring_ = false;
  int fd_ = -1;
  // TX ring (method 'ring'): its socket, mapping, next slot and the writer flag.
  int ring_fd_ = -1;
  uint8_t* ring_ = nullptr;
  size_t ring_bytes_ = 0;
  uint32_t ring_frames_ = 1024, ring_frame_size_ = 0, ring_next_ = 0;
  std::atomic_flag ring_busy_ = ATOMIC_FLAG_INIT;
  int ifindex_ = 0;  // the timer's: the ifindex the socket is bound to
  std::atomic<uint32_t> max_len_{1514};
  uint32_t c_packets_ = 0, c_bytes_ = 0, c_drops_ = 0, c_too_long_ = 0, c_device_faults_ = 0, c_rebinds_ = 0, c_ring_full_ = 0;
  DeviceWatch watch_;
  Timer timer_{[this] { check_device(); }};
};

PG_ELEMENT(ToDevice);

}  // namespace pg
