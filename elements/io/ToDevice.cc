// ToDevice: sends frames on a network device through an AF_PACKET socket, one
// sendmmsg(2) per batch. Documentation: ToDevice.ts.
//
// Why sendmmsg rather than a TX ring: the packets are already in pool buffers, so
// sendmmsg hands the kernel pointers to them (one system call per batch, the kernel's one
// copy into its socket buffer), the buffers go back to the pool as soon as the call
// returns, every frame's fate is known at once, and several workers may push here at the
// same time with no shared state. A TX ring would add a copy into the ring, frames whose
// slots stay busy until the device has sent them, and a lock or a ring per worker.
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
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "device_watch.h"
#include "element.h"

namespace pg {

class ToDevice final : public Element {
 public:
  ~ToDevice() override {
    release();
    watch_.close();
  }

  const char* port_count() const override { return "1/0"; }
  const char* processing() const override { return "a/"; }

  void configure(const Config& conf) override {
    device_ = conf.string("device");
    burst_ = uint32_t(conf.integer("burst", 1, kMaxBatch));
    qdisc_bypass_ = conf.boolean("qdiscBypass");
    c_packets_ = counter("packets");
    c_bytes_ = counter("bytes");
    c_drops_ = counter("drops");
    c_too_long_ = counter("too_long");
    c_device_faults_ = counter("device_faults");
    c_rebinds_ = counter("rebinds");
    open_socket();
    watch_.open(device_);
    add_timer(timer_);
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

  void add_handlers(std::vector<Handler>& h) override { watch_.add_handlers(h); }

  void push(int, Batch& b) override {
    if (watch_.state() != LinkState::Up) {
      count(c_drops_, b.count);  // the device is down or gone: no system call
      drop(b);
      return;
    }
    const uint32_t max_len = max_len_.load(std::memory_order_relaxed);
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
      if (bind_to(p.ifindex)) {
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

  void release() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

  std::string device_;
  uint32_t burst_ = 32;
  bool qdisc_bypass_ = false;
  int fd_ = -1;
  int ifindex_ = 0;  // the timer's: the ifindex the socket is bound to
  std::atomic<uint32_t> max_len_{1514};
  uint32_t c_packets_ = 0, c_bytes_ = 0, c_drops_ = 0, c_too_long_ = 0, c_device_faults_ = 0, c_rebinds_ = 0;
  DeviceWatch watch_;
  Timer timer_{[this] { check_device(); }};
};

PG_ELEMENT(ToDevice);

}  // namespace pg
