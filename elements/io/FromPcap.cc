// FromPcap: plays the packets of a classic pcap file. Documentation: FromPcap.ts.
// The file is mapped into memory when the graph is configured, so the packet path
// makes no system call: each round scans up to a burst of records, allocates that many
// buffers and copies the captured bytes.
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <bit>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include "element.h"

namespace pg {

namespace {

constexpr uint32_t kMagicMicro = 0xa1b2c3d4;
constexpr uint32_t kMagicNano = 0xa1b23c4d;
constexpr uint32_t kMagicPcapng = 0x0a0d0d0a;  // section header block: not supported
constexpr uint64_t kFileHeader = 24;
constexpr uint64_t kRecordHeader = 16;

constexpr uint32_t kLinkEthernet = 1;
constexpr uint32_t kLinkRaw = 101;
constexpr uint32_t kLinkIpv4 = 228;
constexpr uint32_t kLinkIpv6 = 229;

std::string hex32(uint32_t v) {
  char b[16];
  std::snprintf(b, sizeof b, "0x%08x", v);
  return b;
}

}  // namespace

class FromPcap final : public Element {
 public:
  ~FromPcap() override { unmap(); }


  void configure(const Config& conf) override {
    file_ = conf.string("file");
    repeat_ = uint64_t(conf.integer("repeat"));
    burst_ = uint32_t(conf.bounded("burst", kMaxBatch));
    timing_ = conf.boolean("timing");
    active_.store(conf.boolean("active"));
    c_packets_ = counter("packets");
    c_bytes_ = counter("bytes");
    c_truncated_ = counter("truncated");
    c_bad_records_ = counter("bad_records");
    c_pool_empty_ = counter("pool_empty");
    open_file();
    room_ = pool().buffer_size() - pool().headroom();
    pos_ = kFileHeader;
    if (size_ == kFileHeader) finished_.store(true);  // no records at all
    request_task();
  }

  bool run_task() override {
    if (finished_.load(std::memory_order_relaxed) || !active_.load(std::memory_order_relaxed)) return false;
    if (pos_ >= size_) {
      // End of a pass: start the next one, or finish.
      if (++pass_ >= repeat_) {
        finished_.store(true, std::memory_order_release);
        return false;
      }
      pos_ = kFileHeader;
      pace_started_ = false;
    }

    // Scan up to a burst of records that are whole, fit a buffer and (with timing) are due.
    struct Rec {
      uint64_t off;  // of the data
      uint32_t incl, orig;
      int64_t ts;
    };
    Rec recs[kMaxBatch];
    uint32_t n = 0;
    bool bad = false;
    uint64_t off = pos_;
    const uint64_t now = timing_ ? now_ns() : 0;
    while (n < burst_ && off < size_) {
      if (size_ - off < kRecordHeader) {
        bad = true;  // a record header cut short
        break;
      }
      const uint8_t* h = map_ + off;
      uint32_t sec = rd32(h), frac = rd32(h + 4), incl = rd32(h + 8), orig = rd32(h + 12);
      if (incl > size_ - off - kRecordHeader || incl > room_) {
        bad = true;  // claims more than the file holds, or more than a buffer holds
        break;
      }
      int64_t ts = int64_t(sec) * 1000000000ll + (nano_ ? int64_t(frac) : int64_t(frac) * 1000);
      if (timing_) {
        if (!pace_started_) {
          pace_started_ = true;
          pace_mono_ = now;
          pace_ts_ = ts;
        }
        int64_t delta = ts - pace_ts_;
        if (delta > 0 && now < pace_mono_ + uint64_t(delta)) break;  // not due yet
      }
      recs[n++] = Rec{off + kRecordHeader, incl, orig, ts};
      off += kRecordHeader + incl;
    }
    if (n == 0) {
      if (bad) {
        // The playback ends at the first bad record (the rest of the file cannot be framed).
        count(c_bad_records_);
        finished_.store(true, std::memory_order_release);
        return true;
      }
      return false;
    }

    Batch b;
    b.count = pool().alloc(b.pkts, n);
    if (b.count < n) count(c_pool_empty_);
    if (b.count == 0) return false;
    uint64_t bytes = 0, truncated = 0;
    for (uint32_t i = 0; i < b.count; i++) {
      Packet* p = b.pkts[i];
      const Rec& r = recs[i];
      std::memcpy(p->data(), map_ + r.off, r.incl);
      p->set_length(r.incl);  // fits: incl <= the pool's buffer room, checked above
      p->anno().timestamp_ns = r.ts;
      p->anno().extra_length = r.orig > r.incl ? r.orig - r.incl : 0;  // not captured
      if (linktype_ == kLinkEthernet) {
        p->set_mac_header(p->data());
        if (r.incl >= 6) p->anno().packet_type = ether_packet_type(p->data());
      } else
        p->set_network_header(p->data());
      bytes += r.incl;
      truncated += r.orig > r.incl;
    }
    pos_ = recs[b.count - 1].off + recs[b.count - 1].incl;
    count(c_packets_, b.count);
    count(c_bytes_, bytes);
    if (truncated) count(c_truncated_, truncated);
    output_push(0, b);
    return true;
  }

  SourceState source_state() const override {
    return finished_.load(std::memory_order_acquire) ? SourceState::Finished : SourceState::Running;
  }

  void add_handlers(std::vector<Handler>& h) override {
    h.push_back({"active", [this] { return std::string(active_.load() ? "true" : "false"); },
                 [this](const std::string& v) { active_.store(parse_bool(v, "active")); }});
  }

 private:
  [[noreturn]] void fail(const std::string& what) const { throw ConfigError("pcap file '" + file_ + "': " + what); }

  void open_file() {
    int fd = ::open(file_.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) fail(std::string("cannot open it: ") + std::strerror(errno));
    struct stat st;
    if (::fstat(fd, &st) != 0) {
      int err = errno;
      ::close(fd);
      fail(std::string("cannot stat it: ") + std::strerror(err));
    }
    if (!S_ISREG(st.st_mode)) {
      ::close(fd);
      fail("not a regular file");
    }
    if (uint64_t(st.st_size) < kFileHeader) {
      ::close(fd);
      fail("too short for a pcap file header (" + std::to_string(st.st_size) + " bytes, need 24)");
    }
    size_ = uint64_t(st.st_size);
    void* m = ::mmap(nullptr, size_t(size_), PROT_READ, MAP_PRIVATE, fd, 0);
    int err = errno;
    ::close(fd);
    if (m == MAP_FAILED) fail(std::string("cannot map it into memory: ") + std::strerror(err));
    map_ = static_cast<const uint8_t*>(m);
    ::madvise(m, size_t(size_), MADV_SEQUENTIAL);

    uint32_t le = uint32_t(map_[0]) | uint32_t(map_[1]) << 8 | uint32_t(map_[2]) << 16 | uint32_t(map_[3]) << 24;
    uint32_t be = __builtin_bswap32(le);
    if (le == kMagicMicro || le == kMagicNano) {
      swap_ = std::endian::native != std::endian::little;
      nano_ = le == kMagicNano;
    } else if (be == kMagicMicro || be == kMagicNano) {
      swap_ = std::endian::native != std::endian::big;
      nano_ = be == kMagicNano;
    } else if (le == kMagicPcapng) {
      fail("is a pcapng file; only classic pcap files are supported (convert with: editcap -F pcap in.pcapng out.pcap)");
    } else {
      fail("bad magic number " + hex32(le) + " (little-endian read): not a pcap file");
    }
    uint16_t major = rd16(map_ + 4), minor = rd16(map_ + 6);
    if (major != 2)
      fail("unsupported pcap format version " + std::to_string(major) + "." + std::to_string(minor) + " (only 2.x is read)");
    uint32_t lt = rd32(map_ + 20);
    linktype_ = lt & 0xffff;  // the upper bits carry FCS information
    if (linktype_ != kLinkEthernet && linktype_ != kLinkRaw && linktype_ != kLinkIpv4 && linktype_ != kLinkIpv6)
      fail("unsupported link type " + std::to_string(linktype_) + " (supported: 1 Ethernet, 101 raw IP, 228 IPv4, 229 IPv6)");
  }

  void unmap() {
    if (map_) ::munmap(const_cast<uint8_t*>(map_), size_t(size_));
    map_ = nullptr;
  }

  uint32_t rd32(const uint8_t* p) const {
    uint32_t v;
    std::memcpy(&v, p, 4);
    return swap_ ? __builtin_bswap32(v) : v;
  }
  uint16_t rd16(const uint8_t* p) const {
    uint16_t v;
    std::memcpy(&v, p, 2);
    return swap_ ? __builtin_bswap16(v) : v;
  }

  std::string file_;
  const uint8_t* map_ = nullptr;
  uint64_t size_ = 0;
  bool swap_ = false, nano_ = false;
  uint32_t linktype_ = kLinkEthernet;
  uint32_t room_ = 0;

  uint64_t repeat_ = 1;
  uint32_t burst_ = 0;  // set by configure()
  bool timing_ = false;
  std::atomic<bool> active_{true};
  std::atomic<bool> finished_{false};

  // Worker state.
  uint64_t pos_ = kFileHeader;  // the next record header
  uint64_t pass_ = 0;
  bool pace_started_ = false;
  uint64_t pace_mono_ = 0;  // monotonic time the pass's first packet left
  int64_t pace_ts_ = 0;     // and its recorded timestamp

  uint32_t c_packets_ = 0, c_bytes_ = 0, c_truncated_ = 0, c_bad_records_ = 0, c_pool_empty_ = 0;
};

PG_ELEMENT(FromPcap);

}  // namespace pg
