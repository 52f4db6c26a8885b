// Tap: a TAP device opened through /dev/net/tun; frames pushed in go to the host's stack,
// frames the host sends come out. Documentation: Tap.ts.
//
// TAP offers no batch read or write, so a task reads one frame per read(2) until EAGAIN
// (at most a burst a round) and push() writes one frame per write(2): the per-packet system
// call is inherent to the device. The fds are non-blocking; nothing ever waits.
//
// A multi-queue device gets one task per queue, each on its own worker (as many as the
// engine has): task k reads the queues q with q % tasks == k, so the queues are read in
// parallel. A worker that pushes writes to queue (worker % queues).
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "element.h"

namespace pg {

class Tap final : public Element {
 public:
  ~Tap() override { release(); }


  void configure(const Config& conf) override {
    device_ = conf.string("device");
    mtu_ = uint32_t(conf.integer("mtu"));
    up_ = conf.boolean("up");
    persist_ = conf.boolean("persist");
    queues_ = uint32_t(conf.integer("queues"));
    burst_ = uint32_t(conf.bounded("burst", kMaxBatch));
    c_rx_packets_ = counter("rx_packets");
    c_rx_bytes_ = counter("rx_bytes");
    c_tx_packets_ = counter("tx_packets");
    c_tx_bytes_ = counter("tx_bytes");
    c_drops_ = counter("drops");
    c_pool_empty_ = counter("pool_empty");
    c_stopped_ = counter("drops_stopped");

    if (device_.empty() || device_.size() >= IFNAMSIZ || device_ == "." || device_ == ".." ||
        device_.find_first_of("/: \t\n\r\f\v") != std::string::npos)
      throw ConfigError("config field 'device' is '" + device_ + "': a device name is 1 to 15 characters without '/', ':' or white space");
    uint8_t addr[6];
    const bool set_mac = !conf.value("mac").is_null();  // null: '' (keep the kernel's)
    if (set_mac) {
      conf.mac("mac", addr);
      if (addr[0] & 1) throw ConfigError("config field 'mac' is " + format_mac(addr) + ": a multicast address cannot be a device's address");
    }
    room_ = pool().buffer_size() - pool().headroom();
    if (mtu_ + 14 > room_)
      throw ConfigError("config field 'mtu' is " + std::to_string(mtu_) + ": a frame of mtu + 14 bytes must fit a pool buffer (" +
                        std::to_string(room_) + " bytes)");
    mac_conf_ = set_mac ? format_mac(addr) : "";
    request_tasks(int(queues_));
    // A hot reconfiguration's successor for the same device keeps the running element's
    // queues (take_state): opening them again would fail (single queue) or add queues the
    // kernel spreads frames over (multi-queue), and those frames would be lost with them.
    if (const Element* p = predecessor(); p && p->class_name() == class_name() && static_cast<const Tap*>(p)->device_ == device_) {
      const Tap& o = *static_cast<const Tap*>(p);
      if (o.mtu_ != mtu_ || o.queues_ != queues_ || o.up_ != up_ || o.persist_ != persist_ || o.mac_conf_ != mac_conf_)
        throw ConfigError("device '" + device_ + "' is the running element's, whose queues a hot reconfiguration keeps as they are: keep its mtu, mac, queues, up and persist, or give the device another name");
      return;
    }
    open_device(set_mac ? addr : nullptr);
  }

  void cleanup() override { release(); }

  // Hot reconfiguration: the device's queues move over (their frames stay queued in the
  // kernel for the next read), with the place each task reads from.
  void take_state(Element& old) override {
    auto& o = static_cast<Tap&>(old);
    if (o.device_ != device_ || !fds_.empty()) return;
    std::swap(fds_, o.fds_);
    mac_text_ = o.mac_text_;
    for (uint32_t i = 0; i < kMaxTasks; i++) task_state_[i] = o.task_state_[i];
  }

  void push(int, Batch& b) override {
    if (fds_.empty()) {
      count(c_drops_, b.count);
      drop(b);
      return;
    }
    const int fd = fds_[size_t(tls_worker >= 0 ? tls_worker : 0) % fds_.size()];
    uint32_t sent = 0, dropped = 0;
    uint64_t bytes = 0;
    for (uint32_t i = 0; i < b.count; i++) {
      Packet* p = b.pkts[i];
      const uint32_t len = p->length();
      if (len < 14) {
        dropped++;
        continue;
      }
      ssize_t r;
      do r = ::write(fd, p->data(), len);
      while (r < 0 && errno == EINTR);
      if (r == ssize_t(len)) {
        sent++;
        bytes += len;
      } else {
        dropped++;  // EAGAIN, ENOBUFS (queue full), EIO (device down), EINVAL (too long), ...
      }
    }
    if (sent) {
      count(c_tx_packets_, sent);
      count(c_tx_bytes_, bytes);
    }
    if (dropped) count(c_drops_, dropped);
    drop(b);
  }

  bool run_task() override {
    if (fds_.empty()) return false;
    Batch b;
    b.count = pool().alloc(b.pkts, burst_);
    if (b.count < burst_) count(c_pool_empty_);
    if (b.count == 0) return false;
    uint32_t got = 0;
    uint64_t bytes = 0;
    const uint32_t nq = uint32_t(fds_.size());
    const int64_t ts = wall_ns();
    // This task's queues: q % tasks == its index (all of them if it has none, never expected).
    const std::vector<int>& tw = task_workers();
    uint32_t task = 0, tasks = 1;
    for (uint32_t i = 0; i < tw.size(); i++)
      if (tw[i] == tls_worker) {
        task = i;
        tasks = uint32_t(tw.size());
      }
    TaskState& st = task_state_[task % kMaxTasks];
    const uint32_t mine = (nq - task + tasks - 1) / tasks;  // queues task, task + tasks, ...
    // Its queues in turn, starting after the one that began its last round; each until EAGAIN.
    for (uint32_t k = 0; k < mine && got < b.count; k++) {
      const int fd = fds_[task + ((st.next_queue + k) % mine) * tasks];
      while (got < b.count) {
        Packet* p = b.pkts[got];
        ssize_t r = ::read(fd, p->data(), room_);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) break;  // EAGAIN: nothing more on this queue (or an error: try next round)
        p->set_length(uint32_t(r));  // r <= room_
        p->anno().timestamp_ns = ts;
        p->set_mac_header(p->data());
        if (r >= 6) p->anno().packet_type = ether_packet_type(p->data());  // no kernel verdict here
        bytes += uint64_t(r);
        got++;
      }
    }
    st.next_queue = (st.next_queue + 1) % mine;
    if (got < b.count) pool().free(b.pkts + got, b.count - got);
    b.count = got;
    if (got == 0) return false;
    if (stopped()) {  // a stopped router: what the host sent meanwhile is dropped, not kept
      count(c_stopped_, got);
      pool().free(b.pkts, got);
      return true;
    }
    count(c_rx_packets_, got);
    count(c_rx_bytes_, bytes);
    output_push(0, b);
    return true;
  }

  SourceState source_state() const override { return SourceState::Running; }
  bool drains_while_stopped() const override { return true; }

  void add_handlers(std::vector<Handler>& h) override {
    h.push_back({"mac", [this] { return mac_text_; }, nullptr});
  }

 private:
  [[noreturn]] void fail(const std::string& what) {
    release();
    throw ConfigError("TAP device '" + device_ + "': " + what);
  }

  void open_device(const uint8_t* mac) {
    for (uint32_t q = 0; q < queues_; q++) {
      const int fd = ::open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
      if (fd < 0) {
        const int err = errno;
        if (err == ENOENT || err == ENODEV || err == ENXIO)
          fail("there is no /dev/net/tun: load the tun module (`modprobe tun`), or create the node (`mkdir -p /dev/net && mknod /dev/net/tun c 10 200`)");
        if (err == EACCES || err == EPERM)
          fail("no permission to open /dev/net/tun (its mode is usually 0666: ls -l /dev/net/tun), and TAP devices need CAP_NET_ADMIN; run as root or grant it with `setcap cap_net_admin+ep $(which node)`");
        fail(std::string("cannot open /dev/net/tun: ") + std::strerror(err));
      }
      fds_.push_back(fd);
      ifreq ifr{};
      std::strncpy(ifr.ifr_name, device_.c_str(), IFNAMSIZ - 1);
      ifr.ifr_flags = IFF_TAP | IFF_NO_PI | (queues_ > 1 ? IFF_MULTI_QUEUE : 0);
      if (::ioctl(fd, TUNSETIFF, &ifr) != 0) {
        const int err = errno;
        if (err == EPERM || err == EACCES)
          fail("no permission to create or attach it: TAP devices need CAP_NET_ADMIN; run as root or grant it with `setcap cap_net_admin+ep $(which node)`");
        if (err == EBUSY)
          fail("it is busy: another process has it open (a single-queue device has one reader), or it is multi-queue and queues is 1 (or the reverse)");
        if (err == EINVAL)
          fail("the kernel refused it: the name is invalid, or a device of that name exists and is not a TAP device with these flags" +
               std::string(queues_ > 1 ? " (multi-queue)" : " (single-queue)") + " (ip -d link show " + device_ + ")");
        fail(std::string("TUNSETIFF failed: ") + std::strerror(err));
      }
      // The kernel may have filled in a name (it does not here: the name is given).
      if (std::strncmp(ifr.ifr_name, device_.c_str(), IFNAMSIZ) != 0) fail(std::string("the kernel named it '") + ifr.ifr_name + "'");
    }
    if (persist_ && ::ioctl(fds_[0], TUNSETPERSIST, 1) != 0) fail(std::string("cannot make it persistent (TUNSETPERSIST): ") + std::strerror(errno));

    // Device settings go through an ordinary socket.
    const int s = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (s < 0) fail(std::string("cannot open a socket to configure it: ") + std::strerror(errno));
    auto request = [&](unsigned long op, ifreq& ifr, const char* what) {
      if (::ioctl(s, op, &ifr) != 0) {
        const int err = errno;
        ::close(s);
        fail(std::string("cannot ") + what + ": " + std::strerror(err));
      }
    };
    ifreq ifr{};
    std::strncpy(ifr.ifr_name, device_.c_str(), IFNAMSIZ - 1);
    if (mac) {
      ifr.ifr_hwaddr.sa_family = ARPHRD_ETHER;
      std::memcpy(ifr.ifr_hwaddr.sa_data, mac, 6);
      request(SIOCSIFHWADDR, ifr, "set its MAC address (SIOCSIFHWADDR)");
    }
    ifr = ifreq{};
    std::strncpy(ifr.ifr_name, device_.c_str(), IFNAMSIZ - 1);
    ifr.ifr_mtu = int(mtu_);
    request(SIOCSIFMTU, ifr, ("set its MTU to " + std::to_string(mtu_) + " (SIOCSIFMTU)").c_str());
    ifr = ifreq{};
    std::strncpy(ifr.ifr_name, device_.c_str(), IFNAMSIZ - 1);
    request(SIOCGIFHWADDR, ifr, "read its MAC address (SIOCGIFHWADDR)");
    char text[18];
    const auto* a = reinterpret_cast<const uint8_t*>(ifr.ifr_hwaddr.sa_data);
    std::snprintf(text, sizeof text, "%02x:%02x:%02x:%02x:%02x:%02x", a[0], a[1], a[2], a[3], a[4], a[5]);
    mac_text_ = text;
    if (up_) {
      ifr = ifreq{};
      std::strncpy(ifr.ifr_name, device_.c_str(), IFNAMSIZ - 1);
      request(SIOCGIFFLAGS, ifr, "read its flags (SIOCGIFFLAGS)");
      ifr.ifr_flags = short(ifr.ifr_flags | IFF_UP);
      request(SIOCSIFFLAGS, ifr, "bring it up (SIOCSIFFLAGS)");
    }
    ::close(s);
  }

  void release() {
    for (int fd : fds_) ::close(fd);  // a non-persistent device goes away with its last queue
    fds_.clear();
  }

  std::string device_, mac_text_, mac_conf_;  // mac_conf_: the configured mac ('' none)
  uint32_t mtu_ = 0, queues_ = 0, burst_ = 0, room_ = 0;  // set by configure()
  bool up_ = true, persist_ = false;
  std::vector<int> fds_;
  // Per task (worker-private, a cache line each): the queue its next round starts with.
  static constexpr uint32_t kMaxTasks = kMaxWorkers;  // tasks <= workers
  struct alignas(64) TaskState {
    uint32_t next_queue = 0;
  };
  TaskState task_state_[kMaxTasks];
  uint32_t c_rx_packets_ = 0, c_rx_bytes_ = 0, c_tx_packets_ = 0, c_tx_bytes_ = 0, c_drops_ = 0, c_pool_empty_ = 0, c_stopped_ = 0;
};

PG_ELEMENT(Tap);

}  // namespace pg
