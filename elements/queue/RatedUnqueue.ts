import { Type } from 'typebox';
import { defineElement } from '../../src/graph/descriptor.js';

export const RatedUnqueue = defineElement({
  name: 'RatedUnqueue',
  group: 'queue',
  summary: 'Pulls packets at a set rate and pushes them to its output.',
  doc: `Like Unqueue, but its task pulls at most \`rate\` packets per second, paced by a token bucket:
tokens accrue at \`rate\` per second up to \`burst\`, the bucket starts full, and each packet pulled
takes one token, so short bursts of up to \`burst\` packets pass at once and the long-run rate is
\`rate\`. Tokens accrue by the clock, not by task rounds, so a round that comes late (the worker
was busy or descheduled) pulls what the rate called for, up to \`burst\`; credit beyond the burst
is discarded, and counted in \`rate_shortfall\` when packets were waiting (a full burst was there
to pull). An empty input is no shortfall: the credit simply stays capped at the burst. A rate of
0 holds every packet (until the \`rate\` handler raises it); a rate written while running applies
from then on, with no burst of credit saved up before (at most one packet's). Click's
RatedUnqueue sizes its bucket by time (20 ms of tokens by default); here \`burst\` sets it in
packets, and also bounds one round's pull: raise it for rates above a few hundred thousand
packets per second, or to ride out longer stalls of a busy machine. At high rates packets leave in small bursts (about 100 µs' worth at most), so
that an idle worker sleeps between them instead of spinning.`,
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
  counters: {
    packets: 'packets moved',
    rate_shortfall: 'packets the configured rate called for that were not sent because the element ran late (catch-up credit beyond the burst was discarded)',
  },
  handlers: {
    rate: { doc: 'read or set the rate in packets per second', read: true, write: true },
    active: { doc: 'read or set whether the element moves packets', read: true, write: true },
  },
  derived: {
    packet_rate: { doc: 'packets per second over the last sampling interval', read: (c) => String(c.rate('packets') ?? 0) },
  },
  examples: ["InfiniteSource().to(Queue()).to(RatedUnqueue({ rate: 1000 })).to(Counter()).to(Discard())"],
});
