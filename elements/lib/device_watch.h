// DeviceWatch: the link state of a network device, as FromDevice and ToDevice see it
// while they run (shared by FromDevice.cc and ToDevice.cc).
//
// The owning element probes the device from a Timer every kCheckNs on its worker
// (two ioctls on a small AF_UNIX socket: SIOCGIFINDEX, SIOCGIFFLAGS; nothing per
// packet), acts on what it finds (reopens or rebinds its socket when the device is back
// with a new ifindex), then records the state with set(): a change writes one line to
// stderr and is readable through the `state` and `last_error` read handlers.
#pragma once
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <mutex>
#include <string>

#include "element.h"

namespace pg {

enum class LinkState : int { Up = 0, Down = 1, Missing = 2 };

inline const char* link_state_name(LinkState s) {
  return s == LinkState::Up ? "up" : s == LinkState::Down ? "down" : "missing";
}

class DeviceWatch {
 public:
  static constexpr uint64_t kCheckNs = 200000000ull;  // 200 ms

  struct Probe {
    LinkState state = LinkState::Missing;
    int ifindex = 0;
    std::string why;  // empty when up
  };

  ~DeviceWatch() { close(); }

  // Control thread, in configure(): the socket used for the ioctls.
  void open(const std::string& device) {
    device_ = device;
    if (fd_ < 0) fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  }
  void close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

  // The device's ifindex and flags now. Up means administratively up with a carrier.
  Probe probe() const {
    Probe p;
    ifreq ifr{};
    std::strncpy(ifr.ifr_name, device_.c_str(), IFNAMSIZ - 1);
    if (fd_ < 0 || ::ioctl(fd_, SIOCGIFINDEX, &ifr) != 0) {
      p.why = errno == ENODEV || fd_ < 0 ? "the device no longer exists" : std::string("cannot query it: ") + std::strerror(errno);
      return p;
    }
    p.ifindex = ifr.ifr_ifindex;
    if (::ioctl(fd_, SIOCGIFFLAGS, &ifr) != 0) {
      p.ifindex = 0;
      p.why = "the device no longer exists";
      return p;
    }
    if (!(ifr.ifr_flags & IFF_UP)) {
      p.state = LinkState::Down;
      p.why = "the device is down (ip link set " + device_ + " up)";
    } else if (!(ifr.ifr_flags & IFF_RUNNING)) {
      p.state = LinkState::Down;
      p.why = "the device has no carrier (its link or peer is down)";
    } else {
      p.state = LinkState::Up;
    }
    return p;
  }

  // Worker (timer): record the state. On a change, write one line to stderr and return
  // true; `why` becomes last_error when the state is not up.
  bool set(const Element& e, LinkState s, const std::string& why) {
    const LinkState old = state_.load(std::memory_order_relaxed);
    if (s != LinkState::Up && !why.empty()) {
      std::lock_guard<std::mutex> lock(mu_);
      last_error_ = why;
    }
    if (s == old) return false;
    state_.store(s, std::memory_order_release);
    std::string line = "pktgraph: element '" + e.name() + "' (" + e.class_name() + "): device '" + device_ + "' ";
    line += s == LinkState::Up ? "came back" : "went down: " + why;
    line += '\n';
    ssize_t r = ::write(2, line.data(), line.size());  // best effort: one line per change
    (void)r;
    return true;
  }

  LinkState state() const { return state_.load(std::memory_order_acquire); }

  std::string last_error() const {
    std::lock_guard<std::mutex> lock(mu_);
    return last_error_;
  }

  void add_handlers(std::vector<Handler>& h) {
    h.push_back({"state", [this] { return std::string(link_state_name(state())); }, nullptr});
    h.push_back({"last_error", [this] { return last_error(); }, nullptr});
  }

 private:
  std::string device_;
  int fd_ = -1;
  std::atomic<LinkState> state_{LinkState::Up};
  mutable std::mutex mu_;
  std::string last_error_;
};

}  // namespace pg
