import { Type } from 'typebox';
import { defineElement } from '../../src/graph/descriptor.js';
import { bitRateFields, byteBurst, rateHandlers, rateLimitQuotas } from '../lib/rateFields.js';

export const BandwidthRatedUnqueue = defineElement({
  name: 'BandwidthRatedUnqueue',
  group: 'queue',
  summary: 'Pulls packets at a set bandwidth (bits per second) and pushes them to its output.',
  doc: `Like RatedUnqueue, paced in bandwidth: its task pulls while a token bucket of \`burst\` bytes,
filling at \`rate\` bits per second by the clock (starting full), holds credit, each packet
costing its length plus \`overhead\` bytes, and pushes what it pulled (at most 256 packets a
round). A packet goes while any credit is held and takes its whole cost (the bucket may go below
empty by less than a packet, a debt paid before the next one goes), so the long-run rate is exact
whatever the packet sizes, as BandwidthShaper. Packets pulled beyond the credit wait here, in
order, for the next round. A round that comes late (the worker was busy or descheduled) moves what
the rate called for up to the burst; credit beyond it is discarded and, when packets were waiting,
counted in \`rate_shortfall\` (in packets, at the mean size of those last moved). Between packets
the task tells its worker when credit is next due, so an idle worker sleeps instead of spinning.
Differences from Click: the rate is in bits per second (Click: bytes per second with units) and
the burst a bucket depth in bytes. \`rate\`, \`burst\` and \`active\` are writable while running;
a new rate applies from then on with no burst of saved credit (at most one byte's).`,
  inputs: '1',
  outputs: '1',
  processing: 'l/h',
  config: Type.Object(
    {
      ...bitRateFields,
      active: Type.Optional(Type.Boolean({ default: true, description: 'Move packets (false: wait until the active handler is set).' })),
    },
    { additionalProperties: false },
  ),
  plan: byteBurst,
  quotas: rateLimitQuotas,
  counters: {
    packets: 'packets moved',
    bytes: 'bytes moved (packet lengths, without the overhead)',
    rate_shortfall: 'packets the configured rate called for that were not sent because the element ran late (catch-up credit beyond the burst was discarded while packets waited; at the mean size of those last moved)',
  },
  handlers: {
    ...rateHandlers('bits per second', 'bytes'),
    active: { doc: 'read or set whether the element moves packets', read: true, write: true },
  },
  derived: {
    bit_rate: { doc: 'bits per second moved over the last sampling interval (without the overhead)', read: (c) => String((c.rate('bytes') ?? 0) * 8) },
  },
  examples: ['InfiniteSource({ length: 1500 }).to(Queue()).to(BandwidthRatedUnqueue({ rate: 1e9 })).to(Counter()).to(Discard())'],
});
