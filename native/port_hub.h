// Ports shared by virtual routers: the native registry of port hubs.
//
// A port is an interface the engine opens once, in a system graph of its own (FromDevice or
// Tap -> PortDemux on ingress; HTBSched -> ToDevice or Tap on egress). PortDemux registers the
// port's hub under the port's name; router graphs reach it by that name: FromPort claims a
// VLAN and/or MAC addresses and gets its own ingress ring, ToPort pushes into the port's
// HTBSched under a class of its own (one per attached router).
//
// The demux reads an immutable table (which ring takes which VLAN and MAC) published through
// an atomic pointer, RCU-style: an attach or detach builds a new table, publishes it, then waits
// until no worker is still inside the demux with the old one (quiesce) before freeing it, and
// a detached ring is freed only after that wait, with its packets. No lock on the packet path.
//
// Egress is guarded the same way: ToPort pushes through egress_push, which finds the port's
// scheduler through an atomic pointer inside a per-worker bracket. When the port's graph goes
// (its PortDemux's cleanup, before the scheduler is freed), close_egress clears the pointer and
// waits for the pushes under way, so a router still attached (a forced `port del`) never
// touches a freed scheduler: its frames are dropped and counted (ToPort drops_port_closed), its
// ingress ring simply stays empty, and the hub itself lives on while a router holds it.
#pragma once
#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "pool.h"
#include "ring.h"

namespace pg {

class Element;
struct Batch;

constexpr int kNoVlan = 0;  // a claim on the untagged segment

// One router's claim on a port's ingress, with the ring the demux fills for it.
struct PortAttachment {
  std::string router;  // the claiming graph's name (the virtual router)
  std::string element;
  int vlan = kNoVlan;
  std::vector<uint64_t> macs;  // 48-bit addresses; empty: every unicast frame of its VLAN
  std::unique_ptr<PtrRing> ring;
  uint32_t limit = 0;                     // the ring's usable entries (capacity)
  std::atomic<uint64_t> ring_full{0};     // frames the demux dropped because the ring was full
};

struct DemuxSegment {
  std::vector<PortAttachment*> members;                        // broadcast and multicast go to all
  std::vector<std::pair<uint64_t, PortAttachment*>> by_mac;   // unicast to a claimed address
  PortAttachment* any = nullptr;                               // unicast nobody on it claims
};

struct DemuxTable {
  std::array<int16_t, 4096> segment;  // by VLAN ID (0: untagged); -1: nobody claims it
  std::vector<DemuxSegment> segments;
};

class PortHub {
 public:
  explicit PortHub(std::string name, PacketPool& pool);
  ~PortHub();
  const std::string& name() const { return name_; }
  PacketPool& pool() { return pool_; }

  // The current table (demux side, between enter() and leave()).
  const DemuxTable* table() const { return table_.load(std::memory_order_seq_cst); }
  // The demux brackets each batch with these (per worker: a sequence number, odd while inside).
  void enter(int worker) { readers_[slot(worker)].seq.fetch_add(1, std::memory_order_seq_cst); }
  void leave(int worker) { readers_[slot(worker)].seq.fetch_add(1, std::memory_order_release); }

  // Control thread. The claim's conflict with another router's, as one sentence ("" if none).
  std::string conflict(const PortAttachment& a) const;
  // Adds a claim (checked again: throws std::runtime_error with the sentence) and publishes it.
  void attach(std::shared_ptr<PortAttachment> a);
  // Withdraws a claim: publishes a table without it, waits until the demux has left the old
  // table, then frees the ring's packets (returns how many).
  uint64_t detach(const PortAttachment* a);
  size_t attachments() const;
  std::vector<std::shared_ptr<PortAttachment>> list() const;

  // Egress: the port graph's scheduler (HTBSched keyed by table_id) and its class handlers,
  // set by PortDemux when the port graph initialises, closed when it goes.
  struct Egress {
    class Element* scheduler = nullptr;
    std::function<void(const std::string&)> add, remove, change;
    std::string link_class;
  };
  void open_egress(Egress e);
  // Control thread: after it returns no push reaches the scheduler and no class call is made.
  void close_egress();
  bool egress_open() const { return egress_sched_.load(std::memory_order_acquire) != nullptr; }
  std::string link_class() const;
  // Worker: hands the batch to the scheduler; false (the batch untouched) when the port is closed.
  bool egress_push(int worker, Batch& b);
  // Control thread: the scheduler's class handlers (add, remove, change); a closed port throws
  // std::runtime_error naming it.
  void egress_call(const char* which, const std::string& value);
  // A fresh class id (table_id annotation) for an attaching ToPort.
  uint32_t next_class_id() { return ++class_ids_; }

 private:
  static int slot(int worker) { return worker >= 0 && worker < kMaxWorkers ? worker : kMaxWorkers; }
  void publish();  // build a table from attachments_ and swap it in (after quiesce: free the old)
  void quiesce() const;
  std::string name_;
  PacketPool& pool_;
  std::atomic<const DemuxTable*> table_{nullptr};
  mutable std::mutex mutex_;  // control side
  std::vector<std::shared_ptr<PortAttachment>> attachments_;
  uint32_t class_ids_ = 0;
  struct alignas(64) Reader {
    std::atomic<uint64_t> seq{0};
  };
  Reader readers_[kMaxWorkers + 1];
  Reader egress_readers_[kMaxWorkers + 1];  // inside egress_push
  // Waits until every worker inside a bracket (an odd sequence number) now has left it.
  static void wait_readers(const Reader (&readers)[kMaxWorkers + 1]);
  std::atomic<class Element*> egress_sched_{nullptr};
  Egress egress_;  // under mutex_
};

// The registry: ports by name, process-wide. register_port throws std::runtime_error when the
// name is taken.
std::shared_ptr<PortHub> register_port(const std::string& name, PacketPool& pool);
void unregister_port(const std::string& name, const PortHub* hub);
std::shared_ptr<PortHub> find_port(const std::string& name);
// find_port for an element attaching to it: a ConfigError naming the port and the remedy when
// there is none.
std::shared_ptr<PortHub> attach_port(const std::string& name);
std::vector<std::string> port_names();

std::string format_mac48(uint64_t mac);
inline uint64_t mac48(const uint8_t* m) {
  return uint64_t(m[0]) << 40 | uint64_t(m[1]) << 32 | uint64_t(m[2]) << 24 | uint64_t(m[3]) << 16 | uint64_t(m[4]) << 8 | uint64_t(m[5]);
}

}  // namespace pg
