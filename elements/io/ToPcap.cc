// ToPcap: writes packets to a classic pcap file. Documentation: ToPcap.ts.
// Records go into a large user-space buffer that is written with one write(2) when it
// fills, so the packet path makes no system call per packet. The buffer is shared by
// every thread that pushes here and by the flush handler, under one lock taken per batch.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>
#include <mutex>

#include "element.h"

namespace pg {

namespace {

constexpr uint32_t kMagicMicro = 0xa1b2c3d4;
constexpr uint32_t kMagicNano = 0xa1b23c4d;
constexpr size_t kBufferBytes = 256 * 1024;
constexpr size_t kRecordHeader = 16;
constexpr uint32_t kLinkEthernet = 1;
constexpr uint32_t kLinkRaw = 101;  // raw IPv4 or IPv6, told apart by the version nibble

inline void put32(uint8_t* p, uint32_t v) { std::memcpy(p, &v, 4); }  // host byte order, like libpcap
inline void put16(uint8_t* p, uint16_t v) { std::memcpy(p, &v, 2); }

// Write all of `n` bytes; false (errno set) on an error.
bool write_all(int fd, const uint8_t* data, size_t n) {
  while (n > 0) {
    ssize_t w = ::write(fd, data, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    if (w == 0) {
      errno = EIO;
      return false;
    }
    data += w;
    n -= size_t(w);
  }
  return true;
}

}  // namespace

class ToPcap final : public Element {
 public:
  ~ToPcap() override { finish(); }


  void configure(const Config& conf) override {
    file_ = conf.string("file");
    nano_ = conf.boolean("nanosecond");
    snaplen_ = uint32_t(conf.integer("snaplen"));
    // 'auto': Ethernet until the first packet says otherwise (see first_packet).
    const json::Value& lt = conf.value("linktype");
    auto_ = lt.is_string() && lt.as_string() == "auto";
    const uint32_t linktype = auto_ ? kLinkEthernet : uint32_t(conf.integer("linktype"));
    burst_ = uint32_t(conf.bounded("burst", kMaxBatch));
    c_packets_ = counter("packets");
    c_bytes_ = counter("bytes");
    c_write_errors_ = counter("write_errors");

    capacity_ = std::max(kBufferBytes, kRecordHeader + snaplen_);
    buf_ = std::make_unique<uint8_t[]>(capacity_);

    fd_ = ::open(file_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd_ < 0) throw ConfigError("pcap file '" + file_ + "': cannot create it: " + std::strerror(errno));
    uint8_t h[24];
    put32(h, nano_ ? kMagicNano : kMagicMicro);
    put16(h + 4, 2);
    put16(h + 6, 4);
    put32(h + 8, 0);   // thiszone
    put32(h + 12, 0);  // sigfigs
    put32(h + 16, snaplen_);
    put32(h + 20, linktype);
    if (!write_all(fd_, h, sizeof h)) {
      int err = errno;
      ::close(fd_);
      fd_ = -1;
      throw ConfigError("pcap file '" + file_ + "': cannot write its header: " + std::strerror(err));
    }
    written_ = sizeof h;
  }

  void initialize() override {
    if (input_processing(0) == Processing::Pull) request_task();
  }

  void push(int, Batch& b) override {
    uint64_t bytes = 0;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (auto_ && b.count) first_packet(b.pkts[0]);
      for (uint32_t i = 0; i < b.count; i++) {
        append(b.pkts[i]);
        bytes += b.pkts[i]->length();
      }
    }
    count(c_packets_, b.count);
    count(c_bytes_, bytes);
    drop(b);
  }

  bool run_task() override {
    Batch b;
    input_pull(0, b, burst_);
    if (b.count == 0) return false;
    push(0, b);
    return true;
  }

  void cleanup() override { finish(); }

  void add_handlers(std::vector<Handler>& h) override {
    h.push_back({"flush", nullptr, [this](const std::string&) {
                   std::lock_guard<std::mutex> lock(mutex_);
                   flush_locked();
                 }});
  }

 private:
  // linktype 'auto': the first packet decides the file's link type, by where its data starts:
  // at a network header, or past a MAC header (a stripped link header), is raw IP; anything
  // else (at a MAC header, or no header annotations: a packet made in the graph) is Ethernet,
  // which the header already says. Once per file, under the lock.
  void first_packet(const Packet* p) {
    auto_ = false;
    const Annotations& a = p->anno();
    const int32_t start = int32_t(p->headroom());
    const bool raw = a.mac_offset != start && (a.network_offset == start || (a.mac_offset >= 0 && a.mac_offset < start));
    if (!raw || fd_ < 0) return;
    uint8_t v[4];
    put32(v, kLinkRaw);
    if (::pwrite(fd_, v, 4, 20) != 4) count(c_write_errors_);
  }

  // Add one record to the buffer (the lock is held), writing the buffer first if full.
  void append(const Packet* p) {
    const uint32_t len = p->length();
    const uint32_t incl = std::min(len, snaplen_);
    if (used_ + kRecordHeader + incl > capacity_) flush_locked();
    int64_t ts = p->anno().timestamp_ns;
    if (ts == 0) ts = wall_ns();
    if (ts < 0) ts = 0;
    const uint64_t t = uint64_t(ts);
    const uint32_t sec = uint32_t(t / 1000000000ull);  // wraps in 2106, as the format does
    const uint32_t sub = uint32_t(t % 1000000000ull);
    uint8_t* r = buf_.get() + used_;
    put32(r, sec);
    put32(r + 4, nano_ ? sub : sub / 1000);
    put32(r + 8, incl);
    put32(r + 12, len + p->anno().extra_length);  // the original length (Truncate, a snapped capture)
    std::memcpy(r + kRecordHeader, p->data(), incl);
    used_ += kRecordHeader + incl;
  }

  // Write the buffer (the lock is held). The buffer holds whole records only, so on a
  // failure the file is cut back to the last record written and stays readable.
  void flush_locked() {
    if (used_ == 0 || fd_ < 0) {
      used_ = 0;
      return;
    }
    if (write_all(fd_, buf_.get(), used_)) {
      written_ += used_;
    } else {
      count(c_write_errors_);
      if (::ftruncate(fd_, off_t(written_)) != 0 || ::lseek(fd_, off_t(written_), SEEK_SET) < 0) {
        // Nothing more to do: the next write may leave a partial record behind.
      }
    }
    used_ = 0;
  }

  void finish() {
    std::lock_guard<std::mutex> lock(mutex_);
    flush_locked();
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

  std::string file_;
  bool nano_ = false;
  bool auto_ = false;  // the link type waits for the first packet (under the lock)
  uint32_t snaplen_ = 65535;
  uint32_t burst_ = 0;  // set by configure()
  int fd_ = -1;
  std::unique_ptr<uint8_t[]> buf_;
  size_t capacity_ = 0, used_ = 0;
  uint64_t written_ = 0;  // bytes in the file
  std::mutex mutex_;
  uint32_t c_packets_ = 0, c_bytes_ = 0, c_write_errors_ = 0;
};

PG_ELEMENT(ToPcap);

}  // namespace pg
