import { Type } from 'typebox';
import { defineElement } from '../../src/graph/descriptor.js';

export const RatedUnqueue = defineElement({
  name: 'RatedUnqueue',
  group: 'queue',
  summary: 'Pulls packets at a set rate and pushes them to its output.',
  doc: `Like Unqueue, but its task pulls at most \`rate\` packets per second, paced by a token bucket:
tokens accrue at \`rate\` per second up to \`burst\`, the bucket starts full, and each packet pulled
takes one token, so short bursts of up to \`burst\` packets pass at once and the long-run rate is
\`rate\`. A rate of 0 holds every packet (until the \`rate\` handler raises it). An idle worker
sleeps up to a fraction of a millisecond between rounds, so for rates above a few hundred
thousand packets per second raise \`burst\` (it bounds what one round may pull).`,
  inputs: '1',
  outputs: '1',
  processing: 'l/h',
  config: Type.Object(
    {
      rate: Type.Number({ minimum: 0, maximum: 1e10, description: 'Packets per second; 0 holds every packet.' }),
      burst: Type.Optional(Type.Integer({ minimum: 1, maximum: 256, default: 32, description: 'Token bucket size: the most packets pulled at once.' })),
      active: Type.Optional(Type.Boolean({ default: true, description: 'Move packets (false: wait until the active handler is set).' })),
    },
    { additionalProperties: false },
  ),
  counters: { packets: 'packets moved' },
  handlers: {
    rate: { doc: 'read or set the rate in packets per second', read: true, write: true },
    active: { doc: 'read or set whether the element moves packets', read: true, write: true },
  },
  derived: {
    packet_rate: { doc: 'packets per second over the last sampling interval', read: (c) => String(c.rate('packets') ?? 0) },
  },
  examples: ["InfiniteSource().to(Queue()).to(RatedUnqueue({ rate: 1000 })).to(Counter()).to(Discard())"],
});
