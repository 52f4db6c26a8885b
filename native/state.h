// Saved element state: what `vr.save` writes into a router file and `vr.restore` and
// `vr.clone` read back (docs/router-file.md). An element that has state worth carrying (a
// FIB, a neighbour or NAT table) writes it in Element::save_state with a StateWriter and
// reads it back in Element::restore_state with a StateReader. Numbers are little-endian;
// every read is bounds-checked and a short or malformed image is a StateError naming the
// field, never a crash.
#pragma once
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>

namespace pg {

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "saved state images are little-endian, as the host");

// A saved state image is malformed (truncated, a count or value out of range).
struct StateError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

class StateWriter {
 public:
  void u8(uint8_t v) { out_.push_back(char(v)); }
  void u16(uint16_t v) { raw(&v, 2); }
  void u32(uint32_t v) { raw(&v, 4); }
  void u64(uint64_t v) { raw(&v, 8); }
  void raw(const void* p, size_t n) { out_.append(static_cast<const char*>(p), n); }
  void str(const std::string& s) {
    u32(uint32_t(s.size()));
    raw(s.data(), s.size());
  }
  void reserve(size_t n) { out_.reserve(out_.size() + n); }
  std::string& data() { return out_; }

 private:
  std::string out_;
};

class StateReader {
 public:
  StateReader(const uint8_t* p, size_t n) : p_(p), end_(p + n) {}
  uint8_t u8(const char* what) { return *take(1, what); }
  uint16_t u16(const char* what) { return get<uint16_t>(what); }
  uint32_t u32(const char* what) { return get<uint32_t>(what); }
  uint64_t u64(const char* what) { return get<uint64_t>(what); }
  // A count of items of `item_bytes` each that must fit in what is left (so a corrupt count
  // cannot make the reader allocate for ever).
  size_t count(const char* what, size_t item_bytes) {
    const uint64_t n = u64(what);
    if (item_bytes && n > left() / item_bytes) throw StateError(std::string(what) + ": " + std::to_string(n) + " items do not fit in what is left");
    return size_t(n);
  }
  std::string str(const char* what) {
    const uint32_t n = u32(what);
    const uint8_t* s = take(n, what);
    return std::string(reinterpret_cast<const char*>(s), n);
  }
  const uint8_t* take(size_t n, const char* what) {
    if (size_t(end_ - p_) < n) throw StateError(std::string("the saved state ends inside ") + what);
    const uint8_t* s = p_;
    p_ += n;
    return s;
  }
  size_t left() const { return size_t(end_ - p_); }

 private:
  template <class T>
  T get(const char* what) {
    T v;
    std::memcpy(&v, take(sizeof v, what), sizeof v);
    return v;
  }
  const uint8_t* p_;
  const uint8_t* end_;
};

}  // namespace pg
