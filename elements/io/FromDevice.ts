import { Type } from 'typebox';
import { defineElement } from '../../src/graph/descriptor.js';
import { xdpFields, xdpDoc } from '../lib/xdpFields.js';

export const FromDevice = defineElement({
  name: 'FromDevice',
  group: 'io',
  summary: 'Receives the frames arriving on a network device (AF_PACKET, memory-mapped TPACKET_V2 and V3 rings chosen by rate; or AF_XDP).',
  doc: `Opens an AF_PACKET socket bound to \`device\` with a memory-mapped receive ring shared with the
kernel, and pushes the frames that arrive out of its one output, up to \`burst\` per task round. The
task only reads the ring's status words: no system call per packet. Each frame is copied into a pool
packet (its data start is the Ethernet header, also set as the MAC header annotation; its timestamp
annotation is the kernel's receive time; its packet-type annotation is the kernel's verdict,
\`sll_pkttype\`: host, broadcast, multicast or other host, see \`native/packet.h\`).

The default, \`tpacketVersion: 'adaptive'\`, gives low latency at low rates and a V3 ring's batching
at high rates, with nothing to choose: FromDevice opens two sockets on the device, a TPACKET_V2 ring
and a TPACKET_V3 ring, joined in a fanout group of their own whose classic BPF program sends every
frame to one of them. While a V3 block would take more than 250 µs to fill (below about 450 kpps of
64-byte frames with the default 16 KiB blocks), frames go to the V2 ring; above, to the V3 ring;
back to V2 when a block would take over 500 µs (measured over 8 ms). A backlog switches to V3 at once at
any rate (the V2 ring a quarter full: the worker is not keeping up, and the V3 ring buffers far more
frames), and V3 stays while more than one of its blocks waits. The worker reads both rings every
round, so the frames the old ring still holds after a switch are taken too; at a switch back to V2,
the frames of the V3 ring's last partial block are handed over by its timer (up to a few
milliseconds) and so may be forwarded after newer frames from the V2 ring (a reordering bounded by
one block, once a switch). \`ring_switches\` counts the switches and the \`ring\` handler says which
ring receives. The V2 ring has half of \`blocks\`. With \`fanout\` (several FromDevice on several
workers in one hash group) a socket can be in only one group, so the adaptive choice there is one V3
ring per worker.

\`tpacketVersion: 2\` uses only a TPACKET_V2 ring: one slot of \`frameSize\` bytes per frame
(\`blockSize / frameSize\` slots per block), each handed over and given back on its own as soon as the
kernel has written it. For a millisecond after the last frame an empty ring keeps the worker looking at
it (a bounded busy-poll: no system call but a yield of the CPU to any other thread that wants it), so
traffic of a thousand frames a second and more is taken within a round of its arrival, with no thread
wake-up; after that the idle worker sleeps in \`poll()\` on the socket and runs as soon as a frame
arrives (a lone frame is forwarded within tens of microseconds, and an idle link costs no CPU); the
adaptive pair's V2 ring and \`method: 'xdp'\` wait the same way. At full load V2 takes more worker
CPU a frame than V3 (measured 934-957 ns against 589-638 ns on veth, mostly the per-slot status words).

\`tpacketVersion: 3\` uses only a TPACKET_V3 ring of \`blocks\` blocks of \`blockSize\` bytes: the kernel
packs frames into a block and hands the block over when it is full or \`blockTimeoutMs\` after its
first frame, and the worker polls for the next block. The block timer runs on the kernel's tick (4 ms
with HZ=250), so at low rates a frame can wait several milliseconds (ping through a bridge: 1.1 ms
average round trip against 0.1-0.3 ms with V2). See docs/interfaces-performance.md for the
measurements.

Frames this host sends on the device (including ToDevice's on the same device) are never read back
(PACKET_IGNORE_OUTGOING, and a per-frame check of the packet type on kernels without it). The kernel
takes the 802.1Q tag off received frames; FromDevice puts its TCI into the \`vlan_tci\` annotation and
sets the VLAN-present flag (the TPID is not kept), or with \`restoreVlan\` writes the tag back into the
frame after the MAC addresses (with its TPID, 0x8100 or 0x88a8) and leaves the annotation unset, so a
bridge forwards tagged frames unchanged.

A frame longer than a ring frame (\`frameSize\` less about 80 bytes of ring header) arrives cut, and one
longer than a pool buffer does not fit: both are dropped and counted in \`drops_too_long\` (segmentation
offloads on the device can deliver 64 KB frames: turn them off with \`ethtool -K DEV gro off\`, and
\`tso off gso off\` on the sender). A frame sent by this host with checksum offload (from another
namespace over a veth, say) arrives with its TCP or UDP checksum not yet filled in; it is pushed as it is
and counted in \`csum_not_ready\` (turn the sender's offload off: \`ethtool -K DEV tx off\`). When the pool is empty the round is cut short and counted in
\`pool_empty\`; the frames wait in the ring, and when the ring is full the kernel drops what arrives:
\`kernel_drops\` (read from PACKET_STATISTICS every 100 ms while the graph runs, so the last 100 ms
of a run may be missing).

\`promisc\` puts the device in promiscuous mode for as long as the socket is open. \`fanout\` (1 to
65535) joins the socket to that PACKET_FANOUT group in hash mode: the kernel spreads the device's
flows over every socket in the group (one FromDevice per worker, each with the same \`device\` and
\`fanout\`), keeping each flow on one socket. 0 means no fanout.

At load a device that does not exist, is down, or cannot be opened is a configuration error that
names it and the remedy (AF_PACKET needs CAP_NET_RAW: run as root or \`setcap cap_net_raw+ep
$(which node)\`). The socket and the ring are released when the graph is removed.

While the graph runs, a timer on the element's worker checks the device every 200 ms (two ioctls;
nothing per packet). When it goes down (administratively, or loses its carrier) or disappears, the
\`state\` handler says \`down\` or \`missing\`, \`last_error\` says why, \`device_faults\` counts it and one
line goes to stderr (\`pktgraph: element 'rx' (FromDevice): device 'veth1' went down: ...\`); the rest
of the engine keeps running. A device that comes back up resumes delivering into the same ring; one
that was deleted has its socket and ring released, and when a device of that name exists and is up
again, the timer opens a new socket and ring (counted in \`reopens\`) and traffic resumes
(\`came back\` on stderr). Frames in the ring when the device disappeared are lost.

${xdpDoc}`,
  inputs: '0',
  outputs: '1',
  processing: '/h',
  config: Type.Object(
    {
      device: Type.String({ minLength: 1, maxLength: 15, description: 'Network device to receive from (as `ip link` names it).' }),
      method: Type.Optional(Type.Union([Type.Literal('packet'), Type.Literal('xdp')], { default: 'packet', description: "'packet' (AF_PACKET with a memory-mapped ring) or 'xdp' (an AF_XDP socket fed by an XDP program, see below)." })),
      promisc: Type.Optional(Type.Boolean({ default: false, description: 'Put the device in promiscuous mode.' })),
      burst: Type.Optional(Type.Integer({ minimum: 1, maximum: 256, default: 64, description: 'Most frames per task round (one batch).' })),
      blockSize: Type.Optional(Type.Integer({ minimum: 4096, maximum: 1073741824, default: 16384, description: 'Bytes per ring block (a multiple of the page size). Small blocks are handed over sooner (and make the adaptive ring switch to V3 at a lower rate); many of them buffer a worker that is briefly descheduled.' })),
      blocks: Type.Optional(Type.Integer({ minimum: 1, maximum: 1048576, default: 1024, description: 'Blocks in the ring (16 MiB in all by default; the adaptive V2 ring has half as many).' })),
      frameSize: Type.Optional(Type.Integer({ minimum: 128, maximum: 1073741824, default: 2048, description: 'Largest ring slot for one frame, ring header included (a multiple of 16, at most blockSize).' })),
      blockTimeoutMs: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 1, description: 'TPACKET_V3: the kernel hands a block over at most this many ms after its first frame (rounded up to its tick).' })),
      fanout: Type.Optional(Type.Integer({ minimum: 0, maximum: 65535, default: 0, description: 'PACKET_FANOUT group id (hash mode); 0: none.' })),
      tpacketVersion: Type.Optional(
        Type.Union([Type.Literal('adaptive'), Type.Integer({ minimum: 2, maximum: 3 })], {
          default: 'adaptive',
          description: "Ring layout: 'adaptive' (a TPACKET_V2 ring at low rates, a V3 ring at high rates, switched by the measured rate), 2 (TPACKET_V2 only: a slot per frame handed over at once) or 3 (TPACKET_V3 only: frames packed in blocks handed over when full or timed out, milliseconds of latency at low rates).",
        }),
      ),
      restoreVlan: Type.Optional(Type.Boolean({ default: false, description: 'Write the VLAN tag the kernel took off back into the frame instead of the annotation.' })),
      ...xdpFields('receiving'),
    },
    { additionalProperties: false },
  ),
  counters: {
    packets: 'frames received and pushed',
    bytes: 'bytes received and pushed',
    kernel_drops: 'frames the kernel dropped because the ring was full (PACKET_STATISTICS; with AF_XDP, XDP_STATISTICS: RX ring full or no free frame)',
    pool_empty: 'rounds cut short because the packet pool was empty',
    drops_too_long: 'frames dropped: cut by the ring frame size, or longer than a pool buffer',
    drops_ring_error: 'frames dropped because their ring frame header did not fit the ring block or frame, with the rest of the block (never expected)',
    csum_not_ready: 'frames pushed whose transport checksum the kernel had not filled in yet (a sender on this host with checksum offload)',
    device_faults: 'times the device went down or disappeared while the graph ran',
    reopens: 'times the socket and ring were opened again because the device came back with a new interface index',
    drops_stopped: 'frames read while the virtual router was stopped, dropped (so none wait in the ring for the start)',
    ring_switches: "times the adaptive ring pair switched the kernel's delivery between its V2 and V3 rings",
  },
  handlers: {
    method: { doc: "how frames are received: 'xdp (native XDP, copy mode, queue 0)' and the like, or 'packet (adaptive: TPACKET_V2 at low rates, V3 at high)', with why AF_XDP was not used when it was asked for", read: true },
    ring: { doc: "the AF_PACKET ring receiving: v2 or v3 (the adaptive pair's current choice); empty with AF_XDP", read: true },
    state: { doc: "the device's link state as last checked (every 200 ms): up, down or missing", read: true },
    last_error: { doc: 'why the device was last not usable (empty if it never failed)', read: true },
  },
  derived: {
    packet_rate: { doc: 'packets per second over the last sampling interval', read: (c) => String(c.rate('packets') ?? 0) },
  },
  examples: ["FromDevice({ device: 'veth0' }).to(ToDevice({ device: 'veth1' }))", "FromDevice({ device: 'veth0', method: 'xdp' }).to(ToDevice({ device: 'veth1', method: 'xdp' }))"],
});
