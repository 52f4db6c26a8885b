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
graph is removed.`,
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
  },
  derived: {
    packet_rate: { doc: 'packets per second over the last sampling interval', read: (c) => String(c.rate('packets') ?? 0) },
  },
  examples: ["FromDevice({ device: 'veth0' }).to(ToDevice({ device: 'veth1', qdiscBypass: true }))"],
});
