import { Type } from 'typebox';
import { defineElement } from '../../src/graph/descriptor.js';

export const CoDel = defineElement({
  name: 'CoDel',
  group: 'queue',
  summary: 'A queue that drops (or ECN-marks) by sojourn time: Controlled Delay, RFC 8289.',
  doc: `A Queue (push in, pull out, first in first out, drop-tail at \`capacity\` packets, counted
in \`drops_full\`) that keeps the time each packet waited short. Each packet is stamped with the
engine clock when queued; when one is pulled, its sojourn time is what it waited. Once sojourn
times have stayed at or above \`target\` for a whole \`interval\` (while more than \`mtu\` bytes
remain queued), CoDel enters its dropping state: it drops the packet at the head, then the next
ones at times spaced by the control law interval / sqrt(count), count growing by one a drop, until
a packet's sojourn falls below \`target\` (or the queue empties). Dropping again within 16
intervals of the last time resumes from the drop rate reached then. All as RFC 8289's pseudocode
(section 5), which follows Linux's codel.

With \`ecn\`, a packet whose IP header (the IPv4 or IPv6 header at the network-header annotation,
as CheckIPHeader or MarkIPHeader set it) says ECN-capable (ECT(0), ECT(1)) is marked Congestion
Experienced instead of dropped (the IPv4 checksum updated) and counted in \`marks\`; other packets
are dropped as without it (\`drops_delay\`).

The enqueue time travels in the packet's user annotation bytes 23-30 while it is queued. Pushing
and pulling may happen on different workers (the storage is Queue's lock-free ring; the pulling
side's state is taken once per pull). A pull of n packets is n dequeues of the RFC, one after
another, at the pulling worker's round time.`,
  inputs: '1',
  outputs: '1',
  processing: 'h/l',
  config: Type.Object(
    {
      capacity: Type.Optional(Type.Integer({ minimum: 1, maximum: 16777216, default: 1000, description: 'Most packets held (drop-tail beyond).' })),
      target: Type.Optional(Type.Number({ exclusiveMinimum: 0, maximum: 10, default: 0.005, description: 'Seconds of sojourn time tolerated (RFC 8289 TARGET).' })),
      interval: Type.Optional(Type.Number({ exclusiveMinimum: 0, maximum: 100, default: 0.1, description: 'Seconds sojourn times must stay above target before dropping starts, and the control law\'s base spacing (RFC 8289 INTERVAL).' })),
      mtu: Type.Optional(Type.Integer({ minimum: 0, maximum: 1048576, default: 1514, description: 'Bytes (MAXPACKET): nothing is dropped while at most this many remain queued.' })),
      ecn: Type.Optional(Type.Boolean({ default: false, description: 'Mark ECN-capable packets Congestion Experienced instead of dropping them.' })),
    },
    { additionalProperties: false },
  ),
  check: (c) => (c.target! >= c.interval! ? `config field 'target' (${c.target} s) must be less than 'interval' (${c.interval} s)` : undefined),
  counters: {
    enqueued: 'packets accepted into the queue',
    drops_full: 'packets dropped because the queue was full',
    drops_delay: 'packets dropped at the head because their sojourn time was too long (the control law)',
    marks: 'packets marked Congestion Experienced where a drop was due, and delivered (ecn)',
  },
  quotas: { buffers: 'capacity' },
  handlers: {
    length: { doc: 'packets in the queue now', read: true },
    bytes: { doc: 'bytes in the queue now', read: true },
    dropping: { doc: 'whether CoDel is in its dropping state (true or false)', read: true },
    count: { doc: "the control law's count: drops since dropping began (or resumed)", read: true },
    capacity: { doc: 'read or change the capacity', read: true, write: true },
    target: { doc: 'read or change the target sojourn time, seconds (less than interval)', read: true, write: true },
    interval: { doc: 'read or change the interval, seconds (more than target)', read: true, write: true },
    ecn: { doc: 'read or change whether ECN-capable packets are marked instead of dropped', read: true, write: true },
  },
  examples: ['InfiniteSource().to(MarkIPHeader({ offset: 14 })).to(CoDel({ target: 0.005, interval: 0.1, ecn: true })).to(RatedUnqueue({ rate: 100000 })).to(Discard())'],
});
