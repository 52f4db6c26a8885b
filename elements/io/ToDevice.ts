import { Type } from 'typebox';
import { defineElement } from '../../src/graph/descriptor.js';
import { xdpFields, xdpDoc } from '../lib/xdpFields.js';

export const ToDevice = defineElement({
  name: 'ToDevice',
  group: 'io',
  summary: 'Sends every packet it receives on a network device (AF_PACKET: a TX ring or sendmmsg, one system call per batch; or AF_XDP), then frees it.',
  doc: `Opens an AF_PACKET socket bound to \`device\` and sends each packet as a whole Ethernet frame
(the packet's data from its first byte, the destination MAC address), one system call per batch;
the packets go back to the pool as soon as the call returns. The socket never receives (protocol 0).

\`method\` says how a batch reaches the kernel. \`'ring'\` (the default): each frame is copied into
the next free slot of a TPACKET_V2 TX ring shared with the kernel (\`ringFrames\` slots of
\`ringFrameSize\` bytes, by default sized from the MTU: 2048 bytes for 1500), and one send() per batch
tells the kernel to send every filled slot. \`'sendmmsg'\`: one sendmmsg(2) per batch pointing the
kernel at the packets' own buffers. The ring costs a copy in user space but spares the kernel its
per-message work (copying and checking a message header per frame): measured on a veth, about 10%
less CPU per forwarded frame (docs/interfaces-performance.md). Only one worker writes the ring at a
time; another worker pushing into the same element meanwhile sends its batch with sendmmsg on a
second socket, so any number of workers may push here. A slot is busy until the kernel has sent its
frame (on a veth, before send() returns; on a NIC, when the transmission completes): a frame that
finds the next slot busy is dropped and counted in \`drops_ring_full\`. A frame the
kernel discards after taking it from the ring (PACKET_LOSS) is counted as sent.

A frame longer than the device's MTU plus 14 (plus 4 for an 802.1Q or 802.1ad tagged frame) is
dropped and counted in \`drops_too_long\` (with the ring, so is one longer than a slot); the MTU is read when
the graph is loaded. A frame shorter than an Ethernet header, and every frame of a batch from the
first the kernel refuses (the device went down; with sendmmsg also its queue or the socket's 4 MiB
send buffer being full, where the ring keeps the frames for the next kick), is dropped and counted
in \`drops\`. With
\`qdiscBypass\` frames skip the device's queueing discipline (PACKET_QDISC_BYPASS): traffic control
on the device no longer applies and a busy device refuses frames instead of queueing them. It is off
by default: on a veth (whose default qdisc is noqueue) it made no difference measurable here, and on
a NIC the qdisc absorbs bursts.

Its input is agnostic: pushed to, it sends what arrives; connected to a pull output (after a Queue),
it runs a task that pulls up to \`burst\` packets a round. At load a device that does not exist, is down,
or cannot be opened is a configuration error that names it and the remedy (AF_PACKET needs
CAP_NET_RAW: run as root or \`setcap cap_net_raw+ep $(which node)\`). The socket is closed when the
graph is removed.

While the graph runs, a timer checks the device every 200 ms (two ioctls; nothing per packet). When
it goes down (administratively, or loses its carrier) or disappears, the \`state\` handler says
\`down\` or \`missing\`, \`last_error\` says why, \`device_faults\` counts it and one line goes to stderr
(\`pktgraph: element 'tx' (ToDevice): device 'veth1' went down: ...\`); from then on, batches are
dropped (\`drops\`) without a system call while the rest of the engine keeps running. When the device
is up again, sending resumes; a device deleted and created again under the same name gets the socket
bound to it again (\`rebinds\`) and its MTU read again.

${xdpDoc}`,
  inputs: '1',
  outputs: '0',
  processing: 'a/',
  config: Type.Object(
    {
      device: Type.String({ minLength: 1, maxLength: 15, description: 'Network device to send on (as `ip link` names it).' }),
      burst: Type.Optional(Type.Integer({ minimum: 1, maximum: 256, default: 64, description: 'Packets pulled per task round (pull mode only).' })),
      qdiscBypass: Type.Optional(Type.Boolean({ default: false, description: "Bypass the device's queueing discipline (PACKET_QDISC_BYPASS)." })),
      method: Type.Optional(Type.Union([Type.Literal('sendmmsg'), Type.Literal('ring'), Type.Literal('xdp')], { default: 'ring', description: "How frames reach the kernel: 'sendmmsg' (one call per batch), 'ring' (a TPACKET_V2 TX ring, one send() kick per batch) or 'xdp' (an AF_XDP socket's TX ring, see below)." })),
      ringFrames: Type.Optional(Type.Integer({ minimum: 16, maximum: 65536, default: 1024, description: "Slots in the TX ring (method 'ring'; rounded up to fill whole blocks)." })),
      ...xdpFields('sending'),
      ringFrameSize: Type.Optional(Type.Integer({ minimum: 0, maximum: 65536, default: 0, description: "Bytes per TX ring slot, 42 bytes of headers included (method 'ring'; a power of two from 256); 0: the smallest that holds an MTU-sized tagged frame (2048 for MTU 1500)." })),
    },
    { additionalProperties: false },
  ),
  counters: {
    packets: 'frames sent',
    bytes: 'bytes sent',
    drops: 'frames dropped: refused by the kernel (device down, queue or send buffer full) or shorter than 14 bytes',
    drops_too_long: 'frames dropped: longer than the device MTU + 14 (+ 4 when VLAN tagged)',
    device_faults: 'times the device went down or disappeared while the graph ran',
    rebinds: 'times the socket was bound again because the device came back with a new interface index',
    drops_ring_full: "frames dropped because the TX ring had no free slot (method 'ring'), or every AF_XDP send frame was still with the kernel (method 'xdp')",
  },
  handlers: {
    method: { doc: "how frames are sent: 'xdp (copy mode, queue 0)' and the like, 'ring' or 'sendmmsg', with why AF_XDP was not used when it was asked for", read: true },
    state: { doc: "the device's link state as last checked (every 200 ms): up, down or missing", read: true },
    last_error: { doc: 'why the device was last not usable (empty if it never failed)', read: true },
  },
  derived: {
    packet_rate: { doc: 'packets per second over the last sampling interval', read: (c) => String(c.rate('packets') ?? 0) },
  },
  check: (config) => {
    const f = config.ringFrameSize;
    if (f !== undefined && f !== 0 && (f < 256 || (f & (f - 1)) !== 0))
      return `config field 'ringFrameSize' is ${f}: give a power of two from 256 to 65536, or 0 to size the slots from the device's MTU`;
    return undefined;
  },
  examples: ["FromDevice({ device: 'veth0' }).to(ToDevice({ device: 'veth1' }))", "ToDevice({ device: 'eth1', method: 'sendmmsg', qdiscBypass: true })"],
});
