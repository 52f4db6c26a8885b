import { Type } from 'typebox';
import { defineElement } from '../../src/graph/descriptor.js';

export const RED = defineElement({
  name: 'RED',
  group: 'queue',
  summary: 'Drops (or ECN-marks) packets early by the average length of the queues after it: Random Early Detection.',
  doc: `Click's RED(MIN_THRESH, MAX_THRESH, MAX_P, QUEUES, STABILITY, GENTLE), after Floyd and
Jacobson's Random Early Detection. RED watches one or more queues (Queue, CoDel, FQCoDel: elements
with a push input and a pull output) and keeps an exponentially weighted moving average of the sum
of their lengths, with weight 2^-\`stability\` per packet (0: the current length); while the
queues are empty the average decays by one such step per 20 ms, as Click's does. The queues are
those named in \`queues\` (a name is looked up in RED's compound first); by default the compiler
finds them as Click's flow-based router context does: the nearest queues downstream of output 0,
through any elements. Their names go into the plan, and RED reads their lengths once per batch.

For each packet, with the average avg:
- avg <= \`minThresh\`: the packet passes;
- \`minThresh\` < avg <= \`maxThresh\`: the drop probability p_b rises linearly from 0 to \`maxP\`;
- with \`gentle\` (the default), \`maxThresh\` < avg <= 2 x \`maxThresh\`: p_b rises linearly from
  \`maxP\` to 1;
- above that (above \`maxThresh\` without \`gentle\`, or with \`maxP\` 1): every packet is dropped
  ("forced").
As in Click and Floyd's RED, drops are spread out: after a drop, the packet count since then is
compared with a new uniform random number, so the packets between two early drops number uniformly
from 1 to about 1/p_b, and the share dropped at a steady average is 1 / E[that number]
(2 p_b / (1 + p_b) for small p_b), not p_b itself.

Early drops are counted in \`drops_early\` and forced ones in \`drops_forced\`; with output 1
connected, those packets go there instead and are counted in \`early\` and \`forced\`. With
\`ecn\`, an early drop of an ECN-capable packet (ECT(0) or ECT(1) in the IPv4 or IPv6 header at the
network-header annotation) marks it Congestion Experienced instead, fixing the IPv4 checksum, and
counts it in \`marks\`; the packet goes on to output 0. Forced drops stay drops for every packet
(as Linux's RED with \`harddrop\`), so a flow that ignores marks cannot hold the queues above
that level. Several workers may push into one RED; its state is under a lock taken once per batch.

Differences from Click: RED is push only (Click's also works in pull position, watching the
queues upstream); the queue lengths are read once per batch rather than per packet; the random
numbers come from a generator seeded from the element's name, so a run repeats.`,
  inputs: '1',
  outputs: '1-2',
  processing: 'h/h',
  config: Type.Object(
    {
      minThresh: Type.Integer({ minimum: 0, maximum: 65535, description: 'Average queue length (packets) at and below which nothing is dropped.' }),
      maxThresh: Type.Integer({ minimum: 0, maximum: 65535, description: 'Average queue length (packets) at which the drop probability reaches maxP; at least minThresh.' }),
      maxP: Type.Number({ exclusiveMinimum: 0, maximum: 1, description: 'Drop probability when the average reaches maxThresh, more than 0 and at most 1.' }),
      stability: Type.Optional(Type.Integer({ minimum: 0, maximum: 16, default: 4, description: "The average's weight is 2^-stability (Click's STABILITY; 0: no averaging)." })),
      gentle: Type.Optional(Type.Boolean({ default: true, description: 'Between maxThresh and twice it, raise the drop probability from maxP to 1 instead of dropping every packet.' })),
      queues: Type.Optional(
        Type.Array(Type.String(), { maxItems: 64, default: [], description: 'Names of the queues whose lengths RED averages; empty: the nearest queues downstream (filled in by the compiler).' }),
      ),
      ecn: Type.Optional(Type.Boolean({ default: false, description: 'Mark ECN-capable packets Congestion Experienced instead of dropping them early.' })),
    },
    { additionalProperties: false },
  ),
  check: (c, _ports, graph) => {
    if (c.minThresh > c.maxThresh) return `config field 'minThresh' (${c.minThresh}) must be at most 'maxThresh' (${c.maxThresh})`;
    for (const q of c.queues!) {
      const found = graph.findQueue(q);
      if ('error' in found) return `config field 'queues': ${found.error}`;
    }
    if (c.queues!.length === 0 && graph.queuesDownstream(0).length === 0)
      return 'no queue downstream of output 0 to watch: put RED before a Queue (or name the queues in config field \'queues\')';
    return undefined;
  },
  plan: (c, _ports, graph) => ({
    queues: c.queues!.length ? c.queues!.map((q) => (graph.findQueue(q) as { name: string }).name) : graph.queuesDownstream(0),
  }),
  counters: {
    drops_early: 'packets dropped early (randomly, the average between minThresh and the forced level)',
    drops_forced: 'packets dropped because the average was above the forced level (maxThresh, or twice it with gentle)',
    early: 'packets sent to output 1 instead of an early drop',
    forced: 'packets sent to output 1 instead of a forced drop',
    marks: 'packets marked Congestion Experienced instead of an early drop (ecn)',
  },
  handlers: {
    min_thresh: { doc: 'read or set minThresh (at most maxThresh)', read: true, write: true, field: 'minThresh' },
    max_thresh: { doc: 'read or set maxThresh (at least minThresh)', read: true, write: true, field: 'maxThresh' },
    max_p: { doc: 'read or set maxP', read: true, write: true, field: 'maxP' },
    ecn: { doc: 'read or set whether ECN-capable packets are marked instead of dropped early', read: true, write: true },
    avg_queue_size: { doc: 'the average queue length, packets', read: true },
    queue_size: { doc: 'the summed length of the queues now, packets', read: true },
    queues: { doc: 'the queues watched, one name per line', read: true },
  },
  examples: ["InfiniteSource().to(RED({ minThresh: 5, maxThresh: 50, maxP: 0.02 })).to(Queue({ capacity: 200 })).to(Unqueue()).to(Discard())"],
});
