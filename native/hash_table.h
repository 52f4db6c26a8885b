// HashTable<K, V>: the native side's one hash table, for element state keyed by a small
// POD key (EtherSwitch's MAC table, the neighbour table of ARPQuerier/IP6NDSolicitor,
// IPReassembler's datagrams), and HashIndex, the same table for records that keep their
// own keys (IPRewriter's flows: a slot holds a reference to the record, not the key).
//
// - Fixed size, bounded: init(capacity) allocates every slot once, a power of two and at
//   least twice the capacity (the load stays at most 1/2, so probes are short and always
//   end at an empty slot). Nothing is allocated afterwards: a table holding `capacity`
//   entries refuses a new key (find_or_insert returns nullptr) and the caller counts it.
// - Open addressing with linear probing. A slot holds a 32-bit tag (0: empty; otherwise
//   the key hash's high 32 bits with the top bit set), the key and the value. The key's
//   home slot is tag & mask, so a probe compares tags before keys and a moved entry's home
//   is known without hashing again.
// - Deletion by backward shift (Knuth, TAOCP vol. 3, 6.4, Algorithm R): the entries after
//   the erased one that would become unreachable move back into the hole. No tombstones:
//   probe lengths depend only on the entries present, a miss stops at the first empty
//   slot, and the table never needs a rebuild, which suits tables whose entries expire
//   all the time. The price: erase() and sweep() move entries, so a value pointer stays
//   valid across finds and inserts but not across an erase or a sweep.
// - Keys are hashed and compared as bytes, so K must be trivially copyable without
//   implicit padding (give explicit, zeroed padding members). The default hash is an
//   xorshift-multiply over 8-byte words (the Hash parameter replaces it: EtherSwitch keeps
//   its one-multiply MAC hash); hash(k), prefetch(h) and the find(k, h) forms let a batch
//   hash its keys and start loading their slots before it looks them up.
// - No locking inside: a table shared by several workers is guarded by its owner, as
//   element state always is (SpinLock, once per batch).
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace pg {

// The default key hash: each 8-byte word of the key xored in, the upper bits shifted down
// onto the lower ones (h ^= h >> 29), then one multiply, so every key bit reaches the high 32
// bits (the tag and home) at the cost of one multiply per word. (A bare multiply would leave the home blind to the
// key's top bits; one 64x64->128 multiply folded in half clusters sequential IPv4 keys.
// test/native/hash_table_test.cc measures the probe lengths.)
template <class K>
struct ByteHash {
  uint64_t operator()(const K& k) const {
    unsigned char b[sizeof(K)];
    std::memcpy(b, &k, sizeof(K));
    uint64_t h = 0x9e3779b97f4a7c15ull;
    for (size_t i = 0; i < sizeof(K); i += 8) {
      uint64_t w = 0;
      std::memcpy(&w, b + i, sizeof(K) - i < 8 ? sizeof(K) - i : 8);
      h ^= w;
      h ^= h >> 29;
      h *= 0xbf58476d1ce4e5b9ull;
    }
    return h;
  }
};

namespace detail {

// What HashTable and HashIndex share: the slots (each begins with its 32-bit tag, 0 when
// empty), their sizing, and deletion by backward shift.
template <class Slot>
class OpenSlots {
 public:
  static constexpr uint32_t kMaxCapacity = uint32_t(1) << 30;

  uint32_t size() const { return size_; }
  uint32_t capacity() const { return capacity_; }
  bool full() const { return size_ >= capacity_; }
  size_t slot_count() const { return slots_.size(); }
  size_t memory() const { return slots_.size() * sizeof(Slot); }

  // Start loading the home slot of a key with hash h.
  void prefetch(uint64_t h) const { __builtin_prefetch(&slots_[tag_of(h) & mask_]); }

  void clear() {
    for (Slot& s : slots_) s = Slot{};
    size_ = 0;
  }

 protected:
  // Allocates room for `capacity` entries (1..kMaxCapacity) and empties the table.
  void init_slots(uint32_t capacity) {
    if (capacity == 0 || capacity > kMaxCapacity) throw std::length_error("HashTable capacity must be 1.." + std::to_string(kMaxCapacity));
    size_t n = 16;
    while (n < size_t(capacity) * 2) n <<= 1;
    slots_.assign(n, Slot{});
    mask_ = n - 1;
    capacity_ = capacity;
    size_ = 0;
  }

  static uint32_t tag_of(uint64_t h) { return uint32_t(h >> 32) | 0x80000000u; }

  // Empties slot i, moving back each later entry of its run whose home does not lie
  // cyclically in (hole, its slot]: a probe from that home would otherwise stop at the hole.
  void erase_slot(size_t i) {
    for (size_t j = i;;) {
      j = (j + 1) & mask_;
      if (slots_[j].tag == 0) break;
      const size_t home = slots_[j].tag & mask_;
      if (i <= j ? (i < home && home <= j) : (i < home || home <= j)) continue;
      slots_[i] = slots_[j];
      i = j;
    }
    slots_[i] = Slot{};
    size_--;
  }

  std::vector<Slot> slots_;
  size_t mask_ = 0;
  uint32_t capacity_ = 0, size_ = 0;
};

template <class K, class V>
struct KeyedSlot {
  uint32_t tag = 0;
  K key{};
  V value{};
};

struct IndexSlot {
  uint32_t tag = 0;
  uint32_t ref = 0;
};

}  // namespace detail

template <class K, class V, class Hash = ByteHash<K>>
class HashTable : public detail::OpenSlots<detail::KeyedSlot<K, V>> {
  static_assert(std::is_trivially_copyable_v<K> && std::has_unique_object_representations_v<K>,
                "HashTable keys are compared as bytes: a trivially copyable type without implicit padding");
  using Slot = detail::KeyedSlot<K, V>;
  using Base = detail::OpenSlots<Slot>;
  using Base::capacity_, Base::erase_slot, Base::mask_, Base::size_, Base::slots_, Base::tag_of;

 public:
  // Allocates room for `capacity` entries (1..kMaxCapacity) and empties the table; call it
  // (in configure) before any other use.
  void init(uint32_t capacity) { Base::init_slots(capacity); }

  static uint64_t hash(const K& k) { return Hash{}(k); }

  // The value of k, or nullptr.
  V* find(const K& k) { return find(k, hash(k)); }
  const V* find(const K& k) const { return find(k, hash(k)); }
  V* find(const K& k, uint64_t h) { return const_cast<V*>(std::as_const(*this).find(k, h)); }
  const V* find(const K& k, uint64_t h) const {
    const uint32_t tag = tag_of(h);
    for (size_t i = tag & mask_;; i = (i + 1) & mask_) {
      const Slot& s = slots_[i];
      if (s.tag == tag && same(s.key, k)) return &s.value;
      if (s.tag == 0) return nullptr;
    }
  }

  // How many slots a lookup of k reads (for tests and diagnostics).
  size_t probes(const K& k) const {
    const uint32_t tag = tag_of(hash(k));
    size_t n = 1;
    for (size_t i = tag & mask_; slots_[i].tag && !(slots_[i].tag == tag && same(slots_[i].key, k)); i = (i + 1) & mask_) n++;
    return n;
  }

  // The value of k, inserted value-initialised when absent (inserted tells which); nullptr
  // when k is absent and the table is full.
  V* find_or_insert(const K& k, bool& inserted) { return find_or_insert(k, hash(k), inserted); }
  V* find_or_insert(const K& k, uint64_t h, bool& inserted) {
    const uint32_t tag = tag_of(h);
    inserted = false;
    for (size_t i = tag & mask_;; i = (i + 1) & mask_) {
      Slot& s = slots_[i];
      if (s.tag == tag && same(s.key, k)) return &s.value;
      if (s.tag != 0) continue;
      if (size_ >= capacity_) return nullptr;
      s.tag = tag;
      s.key = k;
      s.value = V{};
      size_++;
      inserted = true;
      return &s.value;
    }
  }

  // Removes k; false when it was absent.
  bool erase(const K& k) { return erase(k, hash(k)); }
  bool erase(const K& k, uint64_t h) {
    const uint32_t tag = tag_of(h);
    for (size_t i = tag & mask_;; i = (i + 1) & mask_) {
      const Slot& s = slots_[i];
      if (s.tag == 0) return false;
      if (s.tag == tag && same(s.key, k)) {
        erase_slot(i);
        return true;
      }
    }
  }

  // Calls f(const K&, V&) once for every entry, erasing those for which it returns true
  // (expiry sweeps). f may change the value, but not the table.
  template <class F>
  void sweep(F&& f) {
    if (size_ == 0) return;
    // Scan one lap starting after an empty slot: erase_slot(i) only moves entries from
    // later in the lap into i or beyond, and nothing ever moves into the empty start, so
    // each entry is visited exactly once (an entry moved into i is visited next).
    size_t start = 0;
    while (slots_[start].tag) start++;
    for (size_t n = 1; n < slots_.size();) {
      const size_t i = (start + n) & mask_;
      Slot& s = slots_[i];
      if (s.tag && f(std::as_const(s.key), s.value)) erase_slot(i);
      else n++;
    }
  }

  // Calls f(const K&, const V&) for every entry, in slot order.
  template <class F>
  void for_each(F&& f) const {
    for (const Slot& s : slots_)
      if (s.tag) f(s.key, s.value);
  }

 private:
  static bool same(const K& a, const K& b) { return std::memcmp(&a, &b, sizeof(K)) == 0; }
};

// HashIndex: the same table for records that keep their own keys (IPRewriter's flows, one
// key per direction). A slot is the tag and a 32-bit reference to a record, 8 bytes where a
// HashTable slot would hold the key too (16 more bytes for a flow key, times the slots of
// every flow of every graph); a lookup compares keys through the caller, which reads the
// key from the record a reference names. The caller hashes (HashTable's ByteHash or its
// own), numbers its records (references are not 0), and owns the records and their keys.
class HashIndex : public detail::OpenSlots<detail::IndexSlot> {
  using Slot = detail::IndexSlot;

 public:
  // Allocates room for `capacity` references (1..kMaxCapacity) and empties the index; call
  // it (in configure) before any other use.
  void init(uint32_t capacity) { init_slots(capacity); }

  // The reference under hash h whose record holds the key (holds(ref) says whether it
  // does), or 0.
  template <class Holds>
  uint32_t find(uint64_t h, Holds&& holds) const {
    const uint32_t tag = tag_of(h);
    for (size_t i = tag & mask_;; i = (i + 1) & mask_) {
      const Slot& s = slots_[i];
      if (s.tag == 0) return 0;
      if (s.tag == tag && holds(s.ref)) return s.ref;
    }
  }

  // How many slots a lookup reads (for tests and diagnostics).
  template <class Holds>
  size_t probes(uint64_t h, Holds&& holds) const {
    const uint32_t tag = tag_of(h);
    size_t n = 1;
    for (size_t i = tag & mask_; slots_[i].tag && !(slots_[i].tag == tag && holds(slots_[i].ref)); i = (i + 1) & mask_) n++;
    return n;
  }

  // Adds ref (not 0) under the hash h of its record's key, which must not be in the index
  // already; false when the index is full.
  bool insert(uint64_t h, uint32_t ref) {
    if (size_ >= capacity_) return false;
    const uint32_t tag = tag_of(h);
    size_t i = tag & mask_;
    while (slots_[i].tag) i = (i + 1) & mask_;
    slots_[i] = Slot{tag, ref};
    size_++;
    return true;
  }

  // Removes ref, added under hash h; false when it is absent.
  bool erase(uint64_t h, uint32_t ref) {
    const uint32_t tag = tag_of(h);
    for (size_t i = tag & mask_;; i = (i + 1) & mask_) {
      const Slot& s = slots_[i];
      if (s.tag == 0) return false;
      if (s.tag == tag && s.ref == ref) {
        erase_slot(i);
        return true;
      }
    }
  }
};

}  // namespace pg
