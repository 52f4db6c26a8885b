// Print: writes one line per packet to stderr, for debugging. Documentation: Print.ts.
// Lines of one batch are gathered in a stack buffer and written with one write(2)
// (more only when the lines of a batch exceed the buffer).
#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string>

#include "pass_element.h"

namespace pg {

class Print final : public PassElement<Print> {
 public:
  void configure(const Config& conf) override {
    label_ = conf.string("label");
    max_length_ = uint32_t(conf.integer("maxLength"));
    contents_ = conf.boolean("contents");
    c_packets_ = counter("packets");
    c_write_errors_ = counter("write_errors");
  }

  void act(const Batch& b, uint32_t first) {
    if (b.count <= first) return;
    static const char hex[] = "0123456789abcdef";
    Out out;
    for (uint32_t i = first; i < b.count; i++) {
      const Packet* p = b.pkts[i];
      if (!label_.empty()) {
        out.put(label_.data(), label_.size());
        out.put(": ", 2);
      }
      int64_t ts = p->anno().timestamp_ns;
      if (ts != 0) {
        if (ts < 0) {
          out.put('-');
          ts = -ts;
        }
        out.number(uint64_t(ts) / 1000000000u);
        out.put('.');
        out.number(uint64_t(ts) % 1000000000u, 9, '0');
        out.put(": ", 2);
      }
      out.number(p->length(), 4);
      if (contents_ && max_length_ > 0 && p->length() > 0) {
        out.put(" |", 2);
        const uint8_t* d = p->data();
        uint32_t n = std::min(p->length(), max_length_);
        for (uint32_t k = 0; k < n; k++) {
          if (k % 4 == 0) out.put(' ');
          out.put(hex[d[k] >> 4]);
          out.put(hex[d[k] & 15]);
        }
      }
      out.put('\n');
    }
    out.failures += !out.flush();
    count(c_packets_, b.count - first);
    if (out.failures) count(c_write_errors_, out.failures);
  }

 private:
  // An output buffer that writes itself to stderr when full and when finished.
  struct Out {
    static constexpr size_t kSize = 32768;
    char buf[kSize];
    size_t pos = 0;
    uint32_t failures = 0;
    // Write the buffer out. stderr may be non-blocking (a pipe shared with Node's own
    // stderr, say): when it is full, wait up to a second at a time for the reader.
    // Returns false if output was lost.
    bool flush() {
      size_t done = 0;
      bool ok = true;
      while (done < pos) {
        ssize_t w = ::write(2, buf + done, pos - done);
        if (w > 0) {
          done += size_t(w);
          continue;
        }
        if (w < 0 && errno == EINTR) continue;
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
          pollfd pfd{2, POLLOUT, 0};
          if (::poll(&pfd, 1, 1000) > 0) continue;
        }
        ok = false;  // stderr closed, broken or stuck: the rest of this output is lost
        break;
      }
      pos = 0;
      return ok;
    }
    void put(const char* s, size_t n) {
      while (n) {
        if (pos == kSize) failures += !flush();
        size_t k = std::min(n, kSize - pos);
        std::memcpy(buf + pos, s, k);
        pos += k;
        s += k;
        n -= k;
      }
    }
    void put(char c) {
      if (pos == kSize) failures += !flush();
      buf[pos++] = c;
    }
    // Unsigned decimal, right-aligned in `width` columns.
    void number(uint64_t v, int width = 0, char pad = ' ') {
      char tmp[24];
      int k = 0;
      do {
        tmp[k++] = char('0' + v % 10);
        v /= 10;
      } while (v);
      for (int i = k; i < width; i++) put(pad);
      while (k) put(tmp[--k]);
    }
  };


  std::string label_;
  uint32_t max_length_ = 24;
  bool contents_ = true;
  uint32_t c_packets_ = 0, c_write_errors_ = 0;
};

PG_ELEMENT(Print);

}  // namespace pg
