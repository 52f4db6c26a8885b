// The AF_XDP fields and documentation FromDevice and ToDevice share (`method: 'xdp'`); their
// native side is elements/lib/xsk.{h,cc}.
import { Type } from 'typebox';

/** `queue`, `xdpAttach` and `xdpFallback`; `what` is 'receiving' or 'sending'. */
export function xdpFields(what: 'receiving' | 'sending') {
  return {
    queue: Type.Optional(
      Type.Integer({
        minimum: 0,
        maximum: 255,
        default: 0,
        description: `method 'xdp': the device's queue the AF_XDP socket is bound to (${what}); one element per queue on a multi-queue device, each on its own worker.`,
      }),
    ),
    xdpAttach: Type.Optional(
      Type.Union([Type.Literal('auto'), Type.Literal('native'), Type.Literal('generic')], {
        default: 'auto',
        description: "method 'xdp': how the redirect program is attached: 'native' (the driver's XDP, veth has it), 'generic' (XDP on socket buffers, any device), or 'auto' (native, else generic).",
      }),
    ),
    xdpFallback: Type.Optional(
      Type.Boolean({
        default: true,
        description: "method 'xdp': where AF_XDP cannot be used, say why in one line and use AF_PACKET instead (true), or refuse to load with that reason (false).",
      }),
    ),
  };
}

/** The part of the two elements' documentation about AF_XDP. */
export const xdpDoc = `\`method: 'xdp'\` uses an AF_XDP socket instead: one per device queue (\`queue\`), shared by the
FromDevice and the ToDevice of that device and queue, with one UMEM (18 MiB of frame memory locked
for the kernel: 8192 receive and 1024 send frames of 2 KiB). For receiving, pktgraph loads a small
XDP program (six BPF instructions, no libbpf: elements/lib/xsk_redirect.bpf.c is its source) that
redirects each frame of the queue to the socket, and attaches it to the device through a BPF link:
natively where the driver has XDP (veth does), else generically (\`xdpAttach\`); the socket uses the
driver's zero-copy mode where it has one, copy mode otherwise (the \`method\` handler says which). The
kernel detaches the program when the graph is removed and also when the engine dies (kill -9
included): a link lives only as long as the process's fd. A pktgraph program left attached the old
way (netlink, which kernels without XDP links use) is reported on stderr and replaced at start.

Where AF_XDP cannot be used (a kernel without AF_XDP sockets, no CAP_BPF/CAP_NET_ADMIN to load and
attach the program, someone else's XDP program already on the device, a queue the device does not
have), one line on stderr says why and the element uses AF_PACKET as it would without \`method\`
(FromDevice its TPACKET ring, ToDevice the TX ring); the \`method\` handler says so too. With
\`xdpFallback: false\` the graph refuses to load with that sentence instead. Frames arrive as the
wire has them (a VLAN tag stays in the frame; the timestamp annotation is when the worker took the
frame, there is no kernel receive time; the packet type is worked out from the destination
address), \`promisc\`, \`fanout\`, \`restoreVlan\` and the ring sizes do not apply, and the frames the
kernel dropped because the socket's ring was full are counted in \`kernel_drops\`. On a veth, copy
mode costs the kernel a copy each way, but no socket buffer on receive
(docs/interfaces-performance.md has the measurements).`;
