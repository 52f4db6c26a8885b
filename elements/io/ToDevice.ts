import { Type } from 'typebox';
import { defineElement } from '../../src/graph/descriptor.js';

export const ToDevice = defineElement({
  name: 'ToDevice',
  group: 'io',
  summary: 'Sends every packet it receives on a network device (AF_PACKET, one sendmmsg per batch), then frees it.',
  doc: `Opens an AF_PACKET socket bound to \`device\` and sends each packet as a whole Ethernet frame
(the packet's data from its first byte, the destination MAC address). A batch goes out with one
sendmmsg(2) call that points the kernel at the packets' own buffers: no system call per packet and no
copy in user space; the buffers go back to the pool as soon as the call returns. sendmmsg was chosen
over a TPACKET TX ring because it needs no extra copy into a ring, holds no ring slot until the device
has sent the frame, reports each frame's fate at once, and lets several workers push here at the same
time without a lock. The socket never receives (protocol 0).

A frame longer than the device's MTU plus 14 (plus 4 for an 802.1Q or 802.1ad tagged frame) is
dropped and counted in \`too_long\`; the MTU is read when the graph is loaded. A frame shorter than an
Ethernet header, and every frame of a batch from the first the kernel refuses (the device went down,
its queue or the socket's 4 MiB send buffer is full), is dropped and counted in \`drops\`. With
\`qdiscBypass\` frames skip the device's queueing discipline (PACKET_QDISC_BYPASS): faster, but
traffic control on the device no longer applies and a busy device refuses frames instead of queueing
them.

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
bound to it again (\`rebinds\`) and its MTU read again.`,
  inputs: '1',
  outputs: '0',
  processing: 'a/',
  config: Type.Object(
    {
      device: Type.String({ minLength: 1, maxLength: 15, description: 'Network device to send on (as `ip link` names it).' }),
      burst: Type.Optional(Type.Integer({ minimum: 1, maximum: 256, default: 64, description: 'Packets pulled per task round (pull mode only).' })),
      qdiscBypass: Type.Optional(Type.Boolean({ default: false, description: "Bypass the device's queueing discipline (PACKET_QDISC_BYPASS)." })),
    },
    { additionalProperties: false },
  ),
  counters: {
    packets: 'frames sent',
    bytes: 'bytes sent',
    drops: 'frames dropped: refused by the kernel (device down, queue or send buffer full) or shorter than 14 bytes',
    too_long: 'frames dropped: longer than the device MTU + 14 (+ 4 when VLAN tagged)',
    device_faults: 'times the device went down or disappeared while the graph ran',
    rebinds: 'times the socket was bound again because the device came back with a new interface index',
  },
  handlers: {
    state: { doc: "the device's link state as last checked (every 200 ms): up, down or missing", read: true },
    last_error: { doc: 'why the device was last not usable (empty if it never failed)', read: true },
  },
  derived: {
    packet_rate: { doc: 'packets per second over the last sampling interval', read: (c) => String(c.rate('packets') ?? 0) },
  },
  examples: ["FromDevice({ device: 'veth0' }).to(ToDevice({ device: 'veth1', qdiscBypass: true }))"],
});
