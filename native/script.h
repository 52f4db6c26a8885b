// The native half of every element written in TypeScript (docs/writing-elements.md,
// "Elements in TypeScript"). Its class is the script's own (the plan's classes mark it
// `script: true`); this one C++ class serves them all. It owns two single-producer,
// single-consumer rings of packet copies in memory JavaScript maps without copies:
//   rx: workers -> script. push() copies each packet into a free slot and frees it; when
//       the ring is full the packet is dropped and counted (drops_ring): the data path never
//       waits for JavaScript. Several workers pushing at once take a spin lock per batch.
//   tx: script -> graph. The element's task copies what the script wrote into packets and
//       pushes them out of the port each slot names.
// Ring layout (little-endian, offsets in bytes): a 192-byte header of three cache lines
// holding u32 `prod` (at 0), `cons` (at 64) and `wake` (at 128), then `slots` slots of
// `slot_bytes`: u32 length, u32 port, then the packet's bytes. prod and cons run free (u32);
// slot i is at (index & (slots - 1)). `wake` is set to 1 by the script when it has drained the
// rx ring and waits; the producer that next publishes clears it and wakes the script once
// (a ThreadSafeFunction call), so a burst costs one wake-up, not one per packet.
#pragma once
#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

#include "element.h"
#include "spin_lock.h"

namespace pg {

struct ScriptRing {
  static constexpr uint32_t kHeader = 192;
  static constexpr uint32_t kSlotHeader = 8;
  static constexpr uint32_t kProd = 0, kCons = 64, kWake = 128;
  ScriptRing(uint32_t slots, uint32_t snap);
  ~ScriptRing();
  ScriptRing(const ScriptRing&) = delete;
  ScriptRing& operator=(const ScriptRing&) = delete;
  std::atomic_ref<uint32_t> word(uint32_t off) { return std::atomic_ref<uint32_t>(*reinterpret_cast<uint32_t*>(mem + off)); }
  uint8_t* slot(uint32_t index) { return mem + kHeader + size_t(index & (slots - 1)) * slot_bytes; }
  uint8_t* mem;
  size_t bytes;
  uint32_t slots, slot_bytes, snap;
};

// Wakes the script (the addon's ThreadSafeFunction); called from worker threads.
class ScriptNotifier {
 public:
  virtual ~ScriptNotifier() = default;
  virtual void notify() = 0;
};

class ScriptElement : public Element {
 public:
  ~ScriptElement() override;
  void configure(const Config& conf) override;
  void initialize() override;
  void push(int port, Batch& batch) override;
  bool run_task() override;
  // Packets waiting in either ring: a graph whose sources have finished is not drained while
  // its script still has packets to handle or to send.
  uint64_t held_packets() const override;
  void prepare_take(const Element& old) override;
  void take_state(Element& old) override;

  // Control thread (the addon): the rings, shared with the script's ArrayBuffers.
  const std::shared_ptr<ScriptRing>& rx() const { return rx_; }
  const std::shared_ptr<ScriptRing>& tx() const { return tx_; }
  // Control thread: who wakes the script (null: nobody listens); the previous one is freed
  // once no worker can still be calling it.
  void set_notifier(std::unique_ptr<ScriptNotifier> n);

 private:
  std::shared_ptr<ScriptRing> rx_, tx_;
  std::atomic<ScriptNotifier*> notifier_{nullptr};
  std::unique_ptr<ScriptNotifier> notifier_owned_;
  SpinLock rx_lock_;
  std::vector<Batch> out_;  // one batch per output, for the task
  uint32_t c_received_ = 0, c_drops_ring_ = 0, c_drops_too_long_ = 0, c_sent_ = 0, c_drops_pool_ = 0, c_drops_bad_slot_ = 0;
};

std::unique_ptr<Element> make_script_element();

}  // namespace pg
