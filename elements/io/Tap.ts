import { Type } from 'typebox';
import { defineElement } from '../../src/graph/descriptor.js';
import { etherAddress, orEmpty } from '../../src/graph/types.js';

// Linux accepts any name of 1 to 15 bytes other than '.' and '..' without '/', ':' or white space.
const NAME = /^[^/:\s]{1,15}$/;

export const Tap = defineElement({
  name: 'Tap',
  group: 'io',
  summary: "Creates (or attaches to) a TAP device and exchanges Ethernet frames with the host's network stack through it.",
  doc: `Opens \`/dev/net/tun\` and attaches to the TAP device \`device\` (TUNSETIFF with IFF_TAP and
IFF_NO_PI: whole Ethernet frames, no extra header), creating it when it does not exist. Frames
pushed into its input are written to the device: the host's network stack receives them as if they
had arrived on that interface (Click's ToHost). Frames the host sends through the device (ARP
requests, replies, anything routed to it) come out of its output (Click's FromHost), up to \`burst\`
per task round, each with its timestamp annotation set, its MAC header annotation at the start
of the data, and its packet-type annotation (\`native/packet.h\`) derived from the Ethernet
destination: broadcast, multicast (group bit set) or host (anything else; the device has no kernel
verdict to copy).

TAP has no batch read or write: the task makes one read(2) per frame and stops at the first that
finds nothing (EAGAIN), and each pushed frame costs one write(2). This per-packet system call is
inherent to TAP (use FromDevice/ToDevice on a veth for speed); while nothing arrives, each task
round costs one read(2) per queue (the worker's idle back-off spaces the rounds out). A frame the device refuses (EAGAIN,
ENOBUFS: its queue is full; EIO: it is down) or shorter than 14 bytes is dropped and counted in
\`drops\`. When the pool is empty the round is cut short and counted in \`pool_empty\`; the frames wait
in the device's queue.

\`queues\` > 1 opens that many queues of a multi-queue device (IFF_MULTI_QUEUE; the kernel spreads
the host's flows over them, keeping a flow on one queue). The element then runs one task per queue,
each on a different worker (as many as the engine has; with fewer workers than queues, task k reads
queues k, k + tasks, ...), so the queues are read in parallel; a loaded graph's \`info.tasks\` shows where they run, and a \`thread\` hint places the first one. Each task still makes one
read(2) per frame (TAP has no batch read), up to \`burst\` a round. A pushed frame goes to queue
(worker mod queues) of the worker that pushes it: one write(2) per frame (no batch write either).

At load the element sets the device's MAC address (\`mac\`, SIOCSIFHWADDR; otherwise the kernel's
random one, readable through the \`mac\` handler), its MTU (\`mtu\`, SIOCSIFMTU; at most what a pool
buffer holds) and with \`up\` brings it up. The device's IP addresses and routes are not the
element's business: configure them outside, with \`ip addr add ... dev DEVICE\` or a lab. The
device may be moved to another network namespace (\`ip link set DEVICE netns NS\`) while the graph
runs; the element keeps working (bring it up again there).

With \`persist\` the device is made persistent (TUNSETPERSIST) and survives the graph; otherwise a
device the element created disappears when the graph is removed and its queues are closed (a device
that was already persistent stays). Errors at load name the device and the remedy: no
\`/dev/net/tun\` (modprobe tun), no permission (creating or attaching a TAP device needs
CAP_NET_ADMIN: run as root or \`setcap cap_net_admin+ep $(which node)\`), a name the kernel refuses, or
a device that exists but is not a TAP device with the same flags.`,
  inputs: '1',
  outputs: '1',
  processing: 'h/h',
  config: Type.Object(
    {
      device: Type.String({ minLength: 1, maxLength: 15, description: 'Name of the TAP device to create or attach to (at most 15 characters).' }),
      mac: Type.Optional(orEmpty(etherAddress('MAC address to give the device.'), "MAC address to give the device ('02:00:00:00:00:01'); empty: keep the kernel's.")),
      mtu: Type.Optional(Type.Integer({ minimum: 68, maximum: 65521, default: 1500, description: 'MTU of the device (the frame, 14 bytes more, must fit a pool buffer).' })),
      up: Type.Optional(Type.Boolean({ default: true, description: 'Bring the device up.' })),
      persist: Type.Optional(Type.Boolean({ default: false, description: 'Make the device persistent: it survives the graph.' })),
      queues: Type.Optional(Type.Integer({ minimum: 1, maximum: 256, default: 1, description: 'Queues to open (more than 1: a multi-queue device).' })),
      burst: Type.Optional(Type.Integer({ minimum: 1, maximum: 256, default: 32, description: 'Most frames read per task round (one batch).' })),
    },
    { additionalProperties: false },
  ),
  counters: {
    rx_packets: 'frames read from the device (sent by the host) and pushed out',
    rx_bytes: 'bytes of those frames',
    tx_packets: 'frames written to the device (delivered to the host)',
    tx_bytes: 'bytes of those frames',
    drops: 'pushed frames dropped: refused by the device (queue full, device down) or shorter than 14 bytes',
    pool_empty: 'rounds cut short because the packet pool was empty',
    drops_stopped: 'frames read from the device while its virtual router was stopped, dropped (so none wait for the start)',
  },
  handlers: {
    mac: { doc: "the device's MAC address, read when the graph was loaded", read: true },
  },
  check: (config) => {
    if (!NAME.test(config.device) || config.device === '.' || config.device === '..')
      return `config field 'device' is '${config.device}': a device name is 1 to 15 characters without '/', ':' or white space`;
    if (config.mac && !/^[0-9a-fA-F]{2}([:-]?[0-9a-fA-F]{2}){5}$/.test(config.mac))
      return `config field 'mac' is '${config.mac}': give six bytes in hex, like '02:00:00:00:00:01'`;
    if (config.mac && parseInt(config.mac.slice(0, 2), 16) & 1)
      return `config field 'mac' is '${config.mac}': a multicast address (first byte odd) cannot be a device's address`;
    return undefined;
  },
  examples: [
    "const tap = Tap({ device: 'pg0', mac: '02:00:00:00:00:01' }, 'tap'); tap.to(Counter()).to(ToPcap({ file: 'from-host.pcap' })); FromPcap({ file: 'to-host.pcap' }).to(tap)",
    'ip addr add 198.18.0.1/24 dev pg0   # addresses are configured outside the element',
  ],
});
