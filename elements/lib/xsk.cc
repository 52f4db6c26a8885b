// AF_XDP ports and the per-device redirect program: see xsk.h.
#include "xsk.h"

#include <linux/bpf.h>
#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>

#ifndef AF_XDP
#define AF_XDP 44
#endif
#ifndef SOL_XDP
#define SOL_XDP 283
#endif

namespace pg {

namespace {

// UMEM layout: kRxFrames frames for receiving (always either in the fill ring, with the
// kernel, or in the RX ring), then kTxFrames for sending. 2 KiB frames (the smallest the
// kernel takes) hold a 1518-byte frame; 18 MiB in all per port. 8192 receive frames ride out
// about 40 ms of a descheduled worker at 200 kpps (2048 lost 15748 frames in a full-load trial
// of the interfaces bench, about 0.1 Mpps, on a machine at load average 15).
constexpr uint32_t kFrameSize = 2048, kRxFrames = 8192, kTxFrames = 1024;
constexpr const char* kProgName = "pktgraph_xsk";  // how a leftover is recognised
constexpr uint32_t kMapEntries = 256;               // queues 0..255

long bpf(int cmd, bpf_attr& attr) { return ::syscall(__NR_bpf, cmd, &attr, sizeof attr); }

std::string err_text(int err) { return std::strerror(err); }

bool no_privilege(int err) { return err == EPERM || err == EACCES; }
const char* kPrivilege = "loading and attaching its XDP program needs CAP_BPF and CAP_NET_ADMIN, and the socket CAP_NET_RAW: run as root";

// --- netlink: which XDP program a device has, and detaching one attached without a link ---

struct Attached {
  uint32_t id = 0;
  uint8_t mode = XDP_ATTACHED_NONE;
};

int netlink_request(nlmsghdr* req, std::vector<char>& reply) {
  int s = ::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
  if (s < 0) return errno;
  sockaddr_nl sa{};
  sa.nl_family = AF_NETLINK;
  int err = 0;
  if (::sendto(s, req, req->nlmsg_len, 0, reinterpret_cast<sockaddr*>(&sa), sizeof sa) < 0) {
    err = errno;
  } else {
    reply.assign(65536, 0);
    ssize_t n = ::recv(s, reply.data(), reply.size(), 0);
    if (n < 0) err = errno;
    else reply.resize(size_t(n));
  }
  ::close(s);
  return err;
}

Attached attached_program(int ifindex) {
  struct {
    nlmsghdr nh;
    ifinfomsg ifi;
  } req{};
  req.nh.nlmsg_len = NLMSG_LENGTH(sizeof(ifinfomsg));
  req.nh.nlmsg_type = RTM_GETLINK;
  req.nh.nlmsg_flags = NLM_F_REQUEST;
  req.ifi.ifi_family = AF_UNSPEC;
  req.ifi.ifi_index = ifindex;
  std::vector<char> buf;
  Attached a;
  if (netlink_request(&req.nh, buf) != 0) return a;
  auto* nh = reinterpret_cast<nlmsghdr*>(buf.data());
  if (!NLMSG_OK(nh, buf.size()) || nh->nlmsg_type != RTM_NEWLINK) return a;
  int len = int(nh->nlmsg_len) - int(NLMSG_LENGTH(sizeof(ifinfomsg)));
  for (auto* rta = IFLA_RTA(reinterpret_cast<ifinfomsg*>(NLMSG_DATA(nh))); RTA_OK(rta, len); rta = RTA_NEXT(rta, len)) {
    if ((rta->rta_type & NLA_TYPE_MASK) != IFLA_XDP) continue;
    int inner = int(RTA_PAYLOAD(rta));
    for (auto* x = reinterpret_cast<rtattr*>(RTA_DATA(rta)); RTA_OK(x, inner); x = RTA_NEXT(x, inner)) {
      if (x->rta_type == IFLA_XDP_ATTACHED) a.mode = *static_cast<uint8_t*>(RTA_DATA(x));
      if (x->rta_type == IFLA_XDP_PROG_ID) std::memcpy(&a.id, RTA_DATA(x), 4);
    }
  }
  return a;
}

// Attach `prog_fd` (or detach with -1) the netlink way, in the mode `flags` names.
int netlink_set_xdp(int ifindex, int prog_fd, uint32_t flags) {
  struct {
    nlmsghdr nh;
    ifinfomsg ifi;
    char attrs[64];
  } req{};
  req.nh.nlmsg_len = NLMSG_LENGTH(sizeof(ifinfomsg));
  req.nh.nlmsg_type = RTM_SETLINK;
  req.nh.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
  req.ifi.ifi_family = AF_UNSPEC;
  req.ifi.ifi_index = ifindex;
  auto* nest = reinterpret_cast<rtattr*>(reinterpret_cast<char*>(&req) + NLMSG_ALIGN(req.nh.nlmsg_len));
  nest->rta_type = IFLA_XDP | NLA_F_NESTED;
  auto add = [&](uint16_t type, const void* data, size_t n) {
    auto* a = reinterpret_cast<rtattr*>(reinterpret_cast<char*>(nest) + RTA_ALIGN(nest->rta_len));
    a->rta_type = type;
    a->rta_len = uint16_t(RTA_LENGTH(n));
    std::memcpy(RTA_DATA(a), data, n);
    nest->rta_len = uint16_t(RTA_ALIGN(nest->rta_len) + RTA_ALIGN(a->rta_len));
  };
  nest->rta_len = RTA_LENGTH(0);
  add(IFLA_XDP_FD, &prog_fd, 4);
  add(IFLA_XDP_FLAGS, &flags, 4);
  req.nh.nlmsg_len = NLMSG_ALIGN(req.nh.nlmsg_len) + RTA_ALIGN(nest->rta_len);
  std::vector<char> buf;
  if (int err = netlink_request(&req.nh, buf)) return err;
  auto* nh = reinterpret_cast<nlmsghdr*>(buf.data());
  if (NLMSG_OK(nh, buf.size()) && nh->nlmsg_type == NLMSG_ERROR) return -static_cast<nlmsgerr*>(NLMSG_DATA(nh))->error;
  return 0;
}

std::string program_name(uint32_t id) {
  bpf_attr a{};
  a.prog_id = id;
  int fd = int(bpf(BPF_PROG_GET_FD_BY_ID, a));
  if (fd < 0) return "";
  bpf_prog_info info{};
  bpf_attr q{};
  q.info.bpf_fd = uint32_t(fd);
  q.info.info_len = sizeof info;
  q.info.info = reinterpret_cast<uint64_t>(&info);
  std::string name = bpf(BPF_OBJ_GET_INFO_BY_FD, q) == 0 ? std::string(info.name, strnlen(info.name, sizeof info.name)) : "";
  ::close(fd);
  return name;
}

// --- the per-device program ---

struct DeviceProgram {
  int ifindex = 0;
  int map_fd = -1, prog_fd = -1, link_fd = -1;
  uint32_t netlink_flags = 0;  // attached the netlink way (no link): detach explicitly
  bool native = false;
  uint32_t users = 0;
};

// The redirect program of xsk_redirect.bpf.c, as clang compiles it.
int load_program(int map_fd, std::string& why) {
  bpf_insn insns[] = {
      // r2 = ctx->rx_queue_index (struct xdp_md: data, data_end, data_meta, ingress_ifindex, rx_queue_index)
      {BPF_LDX | BPF_MEM | BPF_W, 2, 1, 16, 0},
      // r1 = &pktgraph_xsks (a 64-bit immediate in two instructions: the map's fd)
      {BPF_LD | BPF_DW | BPF_IMM, 1, BPF_PSEUDO_MAP_FD, 0, map_fd},
      {0, 0, 0, 0, 0},
      // r3 = XDP_PASS (what a queue without a socket gets)
      {BPF_ALU64 | BPF_MOV | BPF_K, 3, 0, 0, XDP_PASS},
      // r0 = bpf_redirect_map(r1, r2, r3)
      {BPF_JMP | BPF_CALL, 0, 0, 0, BPF_FUNC_redirect_map},
      {BPF_JMP | BPF_EXIT, 0, 0, 0, 0},
  };
  static const char license[] = "GPL";
  char log[4096] = {};
  bpf_attr a{};
  a.prog_type = BPF_PROG_TYPE_XDP;
  a.insns = reinterpret_cast<uint64_t>(insns);
  a.insn_cnt = sizeof insns / sizeof insns[0];
  a.license = reinterpret_cast<uint64_t>(license);
  a.log_buf = reinterpret_cast<uint64_t>(log);
  a.log_size = sizeof log;
  a.log_level = 1;
  a.expected_attach_type = BPF_XDP;
  std::strncpy(a.prog_name, kProgName, sizeof a.prog_name - 1);
  int fd = int(bpf(BPF_PROG_LOAD, a));
  if (fd < 0) {
    const int err = errno;
    why = no_privilege(err) ? std::string("no permission to load an XDP program: ") + kPrivilege
                            : "the kernel refused the XDP program (" + err_text(err) + "): " + std::string(log, strnlen(log, sizeof log));
  }
  return fd;
}

// Attach the program: a BPF link (detached by the kernel when the engine's fds close, also
// on a crash); the netlink way where links are missing (kernels before 5.9) or when
// PKTGRAPH_XDP_NETLINK=1 (how the tests leave a program behind after a kill -9).
// Native XDP first unless told, generic (skb) XDP as the fallback.
void attach(DeviceProgram& d, const std::string& device, XdpAttach mode) {
  const bool force_netlink = [] {
    const char* e = std::getenv("PKTGRAPH_XDP_NETLINK");
    return e && *e == '1';
  }();
  std::string errors;
  for (const bool native : {true, false}) {
    if ((native && mode == XdpAttach::Generic) || (!native && mode == XdpAttach::Native)) continue;
    const uint32_t flags = native ? XDP_FLAGS_DRV_MODE : XDP_FLAGS_SKB_MODE;
    int err = EINVAL;
    if (!force_netlink) {
      bpf_attr a{};
      a.link_create.prog_fd = uint32_t(d.prog_fd);
      a.link_create.target_ifindex = uint32_t(d.ifindex);
      a.link_create.attach_type = BPF_XDP;
      a.link_create.flags = flags;
      d.link_fd = int(bpf(BPF_LINK_CREATE, a));
      if (d.link_fd >= 0) {
        d.native = native;
        return;
      }
      err = errno;
    }
    if (force_netlink || err == EINVAL) {
      err = netlink_set_xdp(d.ifindex, d.prog_fd, flags | XDP_FLAGS_UPDATE_IF_NOEXIST);
      if (err == 0) {
        d.netlink_flags = flags;
        d.native = native;
        return;
      }
    }
    if (no_privilege(err)) throw XdpUnavailable(std::string("no permission to attach an XDP program to it: ") + kPrivilege);
    if (err == EBUSY || err == EEXIST) {
      const Attached at = attached_program(d.ifindex);
      throw XdpUnavailable("it already has an XDP program attached (id " + std::to_string(at.id) + ", '" + program_name(at.id) +
                           "'), which pktgraph leaves alone: detach it first (ip link set dev " + device + " xdp off)");
    }
    errors += std::string(errors.empty() ? "" : "; ") + (native ? "native XDP: " : "generic XDP: ") + err_text(err);
  }
  throw XdpUnavailable("cannot attach its XDP program (" + errors + ")");
}

// A pktgraph program still on the device: left by an engine killed while it ran (attached the
// netlink way), or attached by another engine that runs now (through a link, which netlink
// cannot remove). The first is reported and removed; the second refuses.
void remove_leftover(const std::string& device, int ifindex) {
  const Attached at = attached_program(ifindex);
  if (at.id == 0) return;
  const std::string name = program_name(at.id);
  if (name != kProgName) return;  // someone else's: attach() says so
  const uint32_t flags = at.mode == XDP_ATTACHED_SKB ? XDP_FLAGS_SKB_MODE : at.mode == XDP_ATTACHED_HW ? XDP_FLAGS_HW_MODE : XDP_FLAGS_DRV_MODE;
  const int err = netlink_set_xdp(ifindex, -1, flags);
  if (err == EBUSY || err == EINVAL)
    throw XdpUnavailable("another running pktgraph engine has its XDP program attached to it (program id " + std::to_string(at.id) +
                         "): one engine per device");
  std::string line = "pktgraph: device '" + device + "': removed a leftover pktgraph XDP program (id " + std::to_string(at.id) +
                     ") from an engine that did not stop cleanly; attaching a new one\n";
  if (err != 0) line = "pktgraph: device '" + device + "': cannot remove the leftover pktgraph XDP program (id " + std::to_string(at.id) + "): " + err_text(err) + "\n";
  ssize_t r = ::write(2, line.data(), line.size());
  (void)r;
}

void close_program(DeviceProgram& d) {
  if (d.link_fd >= 0) ::close(d.link_fd);  // detaches
  else if (d.netlink_flags && d.prog_fd >= 0) netlink_set_xdp(d.ifindex, -1, d.netlink_flags);
  if (d.prog_fd >= 0) ::close(d.prog_fd);
  if (d.map_fd >= 0) ::close(d.map_fd);
  d = DeviceProgram{};
}

}  // namespace

struct XskRegistry {
  std::mutex mu;
  std::map<std::pair<std::string, uint32_t>, std::weak_ptr<XskPort>> ports;
  std::map<std::string, DeviceProgram> programs;

  static XskRegistry& get() {
    static XskRegistry r;
    return r;
  }

  // Under mu: the device's program, loaded and attached on first use.
  DeviceProgram& program(const std::string& device, int ifindex, XdpAttach mode) {
    DeviceProgram& d = programs[device];
    if (d.users > 0 && d.ifindex == ifindex) return d;
    if (d.users > 0) close_program(d);  // the device was deleted and made again
    d.ifindex = ifindex;
    try {
      bpf_attr a{};
      a.map_type = BPF_MAP_TYPE_XSKMAP;
      a.key_size = 4;
      a.value_size = 4;
      a.max_entries = kMapEntries;
      std::strncpy(a.map_name, "pktgraph_xsks", sizeof a.map_name - 1);
      d.map_fd = int(bpf(BPF_MAP_CREATE, a));
      if (d.map_fd < 0) {
        const int err = errno;
        throw XdpUnavailable(no_privilege(err) ? std::string("no permission to create a BPF map: ") + kPrivilege
                                               : "cannot create its socket map (BPF_MAP_TYPE_XSKMAP): " + err_text(err));
      }
      std::string why;
      d.prog_fd = load_program(d.map_fd, why);
      if (d.prog_fd < 0) throw XdpUnavailable(why);
      remove_leftover(device, ifindex);
      attach(d, device, mode);
    } catch (...) {
      close_program(d);
      programs.erase(device);
      throw;
    }
    return d;
  }

  void drop_program_user(const std::string& device) {
    auto it = programs.find(device);
    if (it == programs.end()) return;
    if (it->second.users > 0 && --it->second.users > 0) return;
    close_program(it->second);
    programs.erase(it);
  }
};

std::shared_ptr<XskPort> XskPort::acquire(const std::string& device, uint32_t queue, XdpAttach attach_mode, const void* rx_owner,
                                          const void* predecessor) {
  XskRegistry& reg = XskRegistry::get();
  std::lock_guard<std::mutex> lock(reg.mu);
  const int ifindex = int(::if_nametoindex(device.c_str()));
  if (ifindex == 0) throw ConfigError("device '" + device + "' does not exist (ip link show)");
  if (queue >= kMapEntries) throw ConfigError("device '" + device + "': queue " + std::to_string(queue) + " is beyond the " + std::to_string(kMapEntries) + " AF_XDP supports here");
  std::shared_ptr<XskPort> port = reg.ports[{device, queue}].lock();
  if (port && port->ifindex_ != ifindex) port.reset();  // a port of a deleted device: a new one
  if (rx_owner && port && port->rx_on_ && port->rx_owner_ != predecessor && port->rx_owner_ != rx_owner)
    throw ConfigError("device '" + device + "' queue " + std::to_string(queue) + " is already read through AF_XDP by another element: one FromDevice per device queue (give another `queue`)");
  // A reader needs the device's program: loaded first, so a missing privilege is the reason
  // given (rather than the locked-memory limit the frame memory meets without it).
  DeviceProgram* prog = rx_owner && !(port && port->rx_on_) ? &reg.program(device, ifindex, attach_mode) : nullptr;
  if (!port) {
    try {
      port.reset(new XskPort());
      port->open(device, queue, attach_mode);  // throws: the new port is freed, nothing registered
    } catch (...) {
      if (prog && prog->users == 0) reg.drop_program_user(device);
      throw;
    }
    reg.ports[{device, queue}] = port;
  }
  if (rx_owner) {
    if (prog) {
      DeviceProgram& d = *prog;
      bpf_attr a{};
      const uint32_t key = queue;
      const int value = port->fd_;
      a.map_fd = uint32_t(d.map_fd);
      a.key = reinterpret_cast<uint64_t>(&key);
      a.value = reinterpret_cast<uint64_t>(&value);
      if (bpf(BPF_MAP_UPDATE_ELEM, a) != 0) {
        const int err = errno;
        if (d.users == 0) reg.drop_program_user(device);
        throw XdpUnavailable("cannot register its socket in the XDP socket map: " + err_text(err));
      }
      d.users++;
      port->native_ = d.native;
      port->rx_on_ = true;
    }
    port->rx_owner_ = rx_owner;
  }
  return port;
}

void XskPort::release_rx(const void* rx_owner) {
  XskRegistry& reg = XskRegistry::get();
  std::lock_guard<std::mutex> lock(reg.mu);
  if (!rx_on_ || rx_owner_ != rx_owner) return;  // a successor took over
  auto it = reg.programs.find(device_);
  if (it != reg.programs.end() && it->second.ifindex == ifindex_) {
    bpf_attr a{};
    const uint32_t key = queue_;
    a.map_fd = uint32_t(it->second.map_fd);
    a.key = reinterpret_cast<uint64_t>(&key);
    bpf(BPF_MAP_DELETE_ELEM, a);
    reg.drop_program_user(device_);
  }
  rx_on_ = false;
  rx_owner_ = nullptr;
}

XskPort::~XskPort() {
  for (Ring* r : {&fill_, &rx_, &tx_, &comp_})
    if (r->map) ::munmap(r->map, r->map_bytes);
  if (fd_ >= 0) ::close(fd_);  // also takes the socket out of the map
  if (umem_) ::munmap(umem_, umem_bytes_);
}

void XskPort::unavailable(const std::string& why) const { throw XdpUnavailable(why); }

void XskPort::map_ring(Ring& r, uint32_t entries, uint64_t pgoff, const xdp_ring_offset& off, size_t desc_size) {
  r.map_bytes = off.desc + entries * desc_size;
  void* m = ::mmap(nullptr, r.map_bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd_, off_t(pgoff));
  if (m == MAP_FAILED) {
    r.map_bytes = 0;
    unavailable("cannot map its rings: " + err_text(errno));
  }
  r.map = m;
  auto* base = static_cast<uint8_t*>(m);
  r.producer = reinterpret_cast<uint32_t*>(base + off.producer);
  r.consumer = reinterpret_cast<uint32_t*>(base + off.consumer);
  r.flags = reinterpret_cast<uint32_t*>(base + off.flags);
  r.desc = base + off.desc;
  r.mask = entries - 1;
}

void XskPort::open(const std::string& device, uint32_t queue, XdpAttach attach_mode) {
  device_ = device;
  queue_ = queue;
  ifindex_ = int(::if_nametoindex(device.c_str()));
  fd_ = ::socket(AF_XDP, SOCK_RAW | SOCK_CLOEXEC, 0);
  if (fd_ < 0) {
    const int err = errno;
    if (err == EAFNOSUPPORT) unavailable("the kernel has no AF_XDP sockets (CONFIG_XDP_SOCKETS)");
    if (no_privilege(err)) unavailable(std::string("no permission to open an AF_XDP socket: ") + kPrivilege);
    unavailable("cannot open an AF_XDP socket: " + err_text(err));
  }
  ifreq ifr{};
  std::strncpy(ifr.ifr_name, device.c_str(), IFNAMSIZ - 1);
  if (::ioctl(fd_, SIOCGIFHWADDR, &ifr) == 0) std::memcpy(mac_, ifr.ifr_hwaddr.sa_data, 6);
  // The UMEM is locked memory: lift the limit where we may (root); otherwise the kernel
  // checks it against RLIMIT_MEMLOCK and says ENOMEM/EPERM below.
  rlimit rl{RLIM_INFINITY, RLIM_INFINITY};
  ::setrlimit(RLIMIT_MEMLOCK, &rl);
  umem_bytes_ = size_t(kFrameSize) * (kRxFrames + kTxFrames);
  void* m = ::mmap(nullptr, umem_bytes_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
  if (m == MAP_FAILED) {
    umem_bytes_ = 0;
    unavailable("cannot allocate its frame memory (UMEM): " + err_text(errno));
  }
  umem_ = static_cast<uint8_t*>(m);
  xdp_umem_reg reg{};
  reg.addr = reinterpret_cast<uint64_t>(umem_);
  reg.len = umem_bytes_;
  reg.chunk_size = kFrameSize;
  reg.headroom = 0;
  if (::setsockopt(fd_, SOL_XDP, XDP_UMEM_REG, &reg, sizeof reg) != 0)
    unavailable("cannot register its frame memory (XDP_UMEM_REG): " + err_text(errno) + " (locked memory: RLIMIT_MEMLOCK, or CAP_IPC_LOCK)");
  // Sizes before the offsets: the kernel reports offsets of rings that exist.
  for (auto [opt, n] : {std::pair{XDP_UMEM_FILL_RING, kRxFrames}, {XDP_UMEM_COMPLETION_RING, kTxFrames}, {XDP_RX_RING, kRxFrames}, {XDP_TX_RING, kTxFrames}})
    if (::setsockopt(fd_, SOL_XDP, opt, &n, sizeof n) != 0) unavailable("cannot size its rings: " + err_text(errno));
  xdp_mmap_offsets off{};
  socklen_t ol = sizeof off;
  if (::getsockopt(fd_, SOL_XDP, XDP_MMAP_OFFSETS, &off, &ol) != 0) unavailable("cannot read its ring offsets: " + err_text(errno));
  map_ring(fill_, kRxFrames, XDP_UMEM_PGOFF_FILL_RING, off.fr, sizeof(uint64_t));
  map_ring(comp_, kTxFrames, XDP_UMEM_PGOFF_COMPLETION_RING, off.cr, sizeof(uint64_t));
  map_ring(rx_, kRxFrames, XDP_PGOFF_RX_RING, off.rx, sizeof(xdp_desc));
  map_ring(tx_, kTxFrames, XDP_PGOFF_TX_RING, off.tx, sizeof(xdp_desc));
  // Every receive frame to the kernel; every send frame free.
  auto* fr = static_cast<uint64_t*>(fill_.desc);
  for (uint32_t i = 0; i < kRxFrames; i++) fr[i] = uint64_t(i) * kFrameSize;
  fill_.local = kRxFrames;
  __atomic_store_n(fill_.producer, fill_.local, __ATOMIC_RELEASE);
  tx_free_.reserve(kTxFrames);
  for (uint32_t i = 0; i < kTxFrames; i++) tx_free_.push_back(uint64_t(kRxFrames + i) * kFrameSize);

  // Zero copy where the driver has it (the kernel picks it unless told XDP_COPY; a veth has
  // none); generic XDP always copies.
  sockaddr_xdp sa{};
  sa.sxdp_family = AF_XDP;
  sa.sxdp_ifindex = uint32_t(ifindex_);
  sa.sxdp_queue_id = queue;
  sa.sxdp_flags = XDP_USE_NEED_WAKEUP | (attach_mode == XdpAttach::Generic ? XDP_COPY : 0);
  if (::bind(fd_, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) {
    const int err = errno;
    if (err == EINVAL) unavailable("cannot bind an AF_XDP socket to queue " + std::to_string(queue) + ": the device has no such queue (" + err_text(err) + ")");
    if (err == EBUSY) unavailable("queue " + std::to_string(queue) + " already has an AF_XDP socket (another process?)");
    unavailable("cannot bind an AF_XDP socket to queue " + std::to_string(queue) + ": " + err_text(err));
  }
  xdp_options o{};
  socklen_t osl = sizeof o;
  if (::getsockopt(fd_, SOL_XDP, XDP_OPTIONS, &o, &osl) == 0) zero_copy_ = (o.flags & XDP_OPTIONS_ZEROCOPY) != 0;
}

std::string XskPort::describe() const {
  return std::string(rx_on_ ? (native_ ? "native XDP, " : "generic XDP, ") : "") + (zero_copy_ ? "zero-copy" : "copy mode") + ", queue " +
         std::to_string(queue_);
}

uint32_t XskPort::rx_peek(uint32_t max) {
  const uint32_t ready = __atomic_load_n(rx_.producer, __ATOMIC_ACQUIRE) - rx_.local;
  rx_peeked_ = ready < max ? ready : max;
  return rx_peeked_;
}

void XskPort::rx_frame(uint32_t i, const uint8_t*& data, uint32_t& len) const {
  const xdp_desc& d = static_cast<const xdp_desc*>(rx_.desc)[(rx_.local + i) & rx_.mask];
  // The kernel wrote the address; bound it anyway (a bad one would read outside the UMEM).
  const uint64_t addr = d.addr < umem_bytes_ ? d.addr : 0;
  len = d.len <= kFrameSize && addr + d.len <= umem_bytes_ ? d.len : 0;
  data = umem_ + addr;
}

void XskPort::rx_release(uint32_t n) {
  auto* rx = static_cast<const xdp_desc*>(rx_.desc);
  auto* fr = static_cast<uint64_t*>(fill_.desc);
  for (uint32_t i = 0; i < n; i++) {
    // Back to the frame's start (the kernel may hand out an address inside the frame).
    fr[(fill_.local + i) & fill_.mask] = rx[(rx_.local + i) & rx_.mask].addr & ~uint64_t(kFrameSize - 1);
  }
  rx_.local += n;
  fill_.local += n;
  __atomic_store_n(rx_.consumer, rx_.local, __ATOMIC_RELEASE);
  __atomic_store_n(fill_.producer, fill_.local, __ATOMIC_RELEASE);
  // A driver in zero-copy mode may wait to be told the fill ring has frames again.
  if (__atomic_load_n(fill_.flags, __ATOMIC_RELAXED) & XDP_RING_NEED_WAKEUP) ::recvfrom(fd_, nullptr, 0, MSG_DONTWAIT, nullptr, nullptr);
}

uint64_t XskPort::rx_drops() {
  xdp_statistics st{};
  socklen_t sl = sizeof st;
  if (::getsockopt(fd_, SOL_XDP, XDP_STATISTICS, &st, &sl) != 0) return 0;
  const uint64_t total = st.rx_dropped + st.rx_ring_full;
  const uint64_t d = total - rx_drops_seen_;
  rx_drops_seen_ = total;
  return d;
}

XskPort::TxResult XskPort::send(const Batch& b, uint32_t max_len) {
  TxResult r;
  SpinLock::Guard g(tx_lock_);
  // Frames the kernel has sent come back through the completion ring.
  const uint32_t done = __atomic_load_n(comp_.producer, __ATOMIC_ACQUIRE) - comp_.local;
  auto* cr = static_cast<const uint64_t*>(comp_.desc);
  for (uint32_t i = 0; i < done; i++) tx_free_.push_back(cr[(comp_.local + i) & comp_.mask]);
  comp_.local += done;
  __atomic_store_n(comp_.consumer, comp_.local, __ATOMIC_RELEASE);

  auto* tx = static_cast<xdp_desc*>(tx_.desc);
  for (uint32_t i = 0; i < b.count; i++) {
    const Packet* p = b.pkts[i];
    const uint32_t len = p->length();
    if (len < 14) {
      r.refused++;
      continue;
    }
    const uint8_t* d = p->data();
    const bool tagged = (d[12] == 0x81 && d[13] == 0x00) || (d[12] == 0x88 && d[13] == 0xa8);
    if (len > max_len + (tagged ? 4 : 0) || len > kFrameSize) {
      r.too_long++;
      continue;
    }
    if (tx_free_.empty()) {
      r.full++;  // every send frame is still with the kernel
      continue;
    }
    const uint64_t addr = tx_free_.back();
    tx_free_.pop_back();
    std::memcpy(umem_ + addr, d, len);
    tx[tx_.local & tx_.mask] = xdp_desc{addr, len, 0};
    tx_.local++;
    r.sent++;
    r.bytes += len;
  }
  __atomic_store_n(tx_.producer, tx_.local, __ATOMIC_RELEASE);
  // Copy mode sends in the kick's system call, a bounded number of frames per call (EAGAIN:
  // more remain); zero-copy drivers need a kick only when they say so.
  if (r.sent && (!zero_copy_ || (__atomic_load_n(tx_.flags, __ATOMIC_RELAXED) & XDP_RING_NEED_WAKEUP))) {
    for (int k = 0; k < 64; k++) {
      if (::sendto(fd_, nullptr, 0, MSG_DONTWAIT, nullptr, 0) >= 0) break;
      if (errno != EAGAIN && errno != EINTR && errno != EBUSY) break;  // ENOBUFS, ENETDOWN: the frames wait for the next kick
      if (__atomic_load_n(tx_.consumer, __ATOMIC_ACQUIRE) == tx_.local) break;
    }
  }
  return r;
}

}  // namespace pg
