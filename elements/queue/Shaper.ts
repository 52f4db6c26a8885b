import { Type } from 'typebox';
import { defineElement } from '../../src/graph/descriptor.js';
import { packetRateFields, packetBurst, rateHandlers } from '../lib/rateFields.js';

export const Shaper = defineElement({
  name: 'Shaper',
  group: 'queue',
  summary: 'Pull element that lets at most `rate` packets per second through (a token bucket).',
  doc: `Between a Queue (or a scheduler) and whatever pulls (Unqueue, ToDevice, a scheduler): a pull
returns packets only while the token bucket holds whole tokens, one per packet. Tokens accrue at
\`rate\` per second, by the clock rather than by pulls, up to \`burst\`; the bucket starts full, so
up to \`burst\` packets pass at once after a pause and the long-run rate is \`rate\` exactly. When
the rate holds packets back it tells the puller's worker when a token is next due, so an idle
worker sleeps until then instead of spinning. Credit that overflows the burst while nobody pulls is
discarded: the puller decides how often to ask (as in Click, where Shaper emits only as often as
it is pulled). Click's Shaper paces pulls by the gap between packets and has no burst; here the
bucket's depth is \`burst\`. \`rate\` and \`burst\` are writable while running: a new rate applies
from then on with no burst of credit saved up before (at most one packet's).`,
  inputs: '1',
  outputs: '1',
  processing: 'l/l',
  config: Type.Object(packetRateFields, { additionalProperties: false }),
  plan: packetBurst,
  counters: { packets: 'packets passed', bytes: 'bytes passed (packet lengths)' },
  handlers: rateHandlers('packets per second', 'packets'),
  derived: {
    packet_rate: { doc: 'packets per second over the last sampling interval', read: (c) => String(c.rate('packets') ?? 0) },
  },
  examples: ['InfiniteSource().to(Queue()).to(Shaper({ rate: 10000 })).to(Unqueue()).to(Discard())'],
});
