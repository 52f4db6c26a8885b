import { Type } from 'typebox';
import { defineElement } from '../../src/graph/descriptor.js';

export const FQCoDel = defineElement({
  name: 'FQCoDel',
  group: 'queue',
  summary: 'Flow queueing with CoDel in each queue, new flows first, deficit round-robin between them: RFC 8290.',
  doc: `A queue (push in, pull out) made of \`flows\` first-in first-out queues. Each packet is put in
the queue its flow hashes to (with \`seed\`): for an IPv4 or IPv6 header at the network-header
annotation (CheckIPHeader, MarkIPHeader, CheckIP6Header set it), the source and destination
addresses, the protocol and, for TCP, UDP, SCTP and UDP-Lite packets that are not fragments, the two
ports (IPv6: the next header, no extension headers walked); any other packet hashes by its first
14 bytes (an Ethernet header's addresses and type).

Dequeueing follows RFC 8290: a queue that gets a packet while it held none joins the tail of the
new-flows list with a deficit of \`quantum\` bytes; the new-flows list is served before the old
one; a queue whose deficit is used up gets another \`quantum\` and moves to the tail of the
old-flows list; each packet leaves its queue through CoDel (RFC 8289, \`target\` and
\`interval\` as CoDel's, with each queue's own CoDel state; the MAXPACKET test uses the bytes of
all queues, as Linux does), and its length is taken from the deficit. A new-flows queue that
empties moves to the old list (so that it cannot starve the old flows by coming back as new),
an old one that empties leaves the lists. A sparse flow (one packet now and then) therefore
goes out ahead of backlogged ones, and backlogged ones share the output by bytes.

At most \`limit\` packets wait in all; past it, packets are dropped from the head of the queue
holding the most bytes, up to half of its bytes (at most 64 packets) at once, as Linux's
fq_codel does (counted in \`drops_overflow\`).

With \`ecn\`, CoDel marks ECN-capable packets Congestion Experienced instead of dropping them (see
CoDel). While queued, a packet carries its enqueue time in user annotation bytes 23-30 and the
link to the next packet of its queue in bytes 15-22. Pushing and pulling may happen on different
workers: the queues are under one lock, taken once per push and once per pull.`,
  inputs: '1',
  outputs: '1',
  processing: 'h/l',
  config: Type.Object(
    {
      flows: Type.Optional(Type.Integer({ minimum: 1, maximum: 65536, default: 1024, description: 'Number of flow queues packets hash into.' })),
      quantum: Type.Optional(Type.Integer({ minimum: 64, maximum: 1048576, default: 1514, description: 'Bytes a queue may send each round of the deficit round-robin.' })),
      limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 16777216, default: 10240, description: 'Most packets held in all queues together.' })),
      target: Type.Optional(Type.Number({ exclusiveMinimum: 0, maximum: 10, default: 0.005, description: 'Seconds of sojourn time tolerated in a queue (RFC 8289 TARGET).' })),
      interval: Type.Optional(Type.Number({ exclusiveMinimum: 0, maximum: 100, default: 0.1, description: 'Seconds sojourn times must stay above target before a queue drops (RFC 8289 INTERVAL).' })),
      mtu: Type.Optional(Type.Integer({ minimum: 0, maximum: 1048576, default: 1514, description: 'Bytes (MAXPACKET): nothing is dropped while at most this many remain queued in all.' })),
      ecn: Type.Optional(Type.Boolean({ default: false, description: 'Mark ECN-capable packets Congestion Experienced instead of dropping them.' })),
      seed: Type.Optional(Type.Integer({ minimum: 0, maximum: 4294967295, default: 0, description: 'Seed of the flow hash; 0: a random one when the graph loads.' })),
    },
    { additionalProperties: false },
  ),
  check: (c) => (c.target! >= c.interval! ? `config field 'target' (${c.target} s) must be less than 'interval' (${c.interval} s)` : undefined),
  counters: {
    enqueued: 'packets accepted into a flow queue',
    drops_overflow: 'packets dropped from the fattest queue because all queues together held limit packets',
    drops_delay: 'packets dropped at the head of a queue because their sojourn time was too long (CoDel)',
    marks: 'packets marked Congestion Experienced where a drop was due, and delivered (ecn)',
    new_flow_count: 'times a queue that held nothing got a packet and joined the new-flows list',
  },
  quotas: { buffers: 'limit' },
  handlers: {
    length: { doc: 'packets in all queues now', read: true },
    bytes: { doc: 'bytes in all queues now', read: true },
    new_flows_len: { doc: 'queues on the new-flows list now', read: true },
    old_flows_len: { doc: 'queues on the old-flows list now', read: true },
    limit: { doc: 'read or change the most packets held in all', read: true, write: true },
    quantum: { doc: 'read or change the quantum, bytes', read: true, write: true },
    target: { doc: 'read or change the target sojourn time, seconds (less than interval)', read: true, write: true },
    interval: { doc: 'read or change the interval, seconds (more than target)', read: true, write: true },
    ecn: { doc: 'read or change whether ECN-capable packets are marked instead of dropped', read: true, write: true },
  },
  examples: ['FromDevice({ device: \'eth0\' }).to(CheckIPHeader({ offset: 14 })).to(FQCoDel({ ecn: true })).to(RatedUnqueue({ rate: 80000 })).to(ToDevice({ device: \'eth1\' }))'],
});
