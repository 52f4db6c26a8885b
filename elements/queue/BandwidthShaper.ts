import { Type } from 'typebox';
import { defineElement } from '../../src/graph/descriptor.js';
import { bitRateFields, byteBurst, rateHandlers, rateLimitQuotas } from '../lib/rateFields.js';

export const BandwidthShaper = defineElement({
  name: 'BandwidthShaper',
  group: 'queue',
  summary: 'Pull element that lets at most `rate` bits per second through (a token bucket in bytes).',
  doc: `Like Shaper, in bandwidth: a token bucket of \`burst\` bytes fills at \`rate\` bits per second
(by the clock, starting full), and each packet taken costs its length plus \`overhead\` bytes. A
packet goes while the bucket holds any credit and takes its whole cost, so the bucket may go below
empty by less than one packet, a debt paid before the next one goes: the long-run rate is exact
whatever the packet sizes, a packet larger than the burst still passes, and at most \`burst\`
bytes plus one packet leave at once. A pull cannot see the next packet's size before taking it, so
packets pulled beyond the credit wait here, in order, for the next pull (at most one batch, and
usually few: each pull asks upstream for about as many packets as the credit covers at the mean
size of those it last passed). When the rate holds packets back it tells the puller's worker when credit is next
due, so an idle worker sleeps until then. Differences from Click: the rate is in bits per second
(Click: bytes per second with units), and the burst is a bucket depth in bytes (Click paces by the
gap between packets). \`rate\` and \`burst\` are writable while running: a new rate applies from
then on with no burst of saved credit (at most one byte's).`,
  inputs: '1',
  outputs: '1',
  processing: 'l/l',
  config: Type.Object(bitRateFields, { additionalProperties: false }),
  plan: byteBurst,
  quotas: rateLimitQuotas,
  counters: { packets: 'packets passed', bytes: 'bytes passed (packet lengths, without the overhead)' },
  handlers: rateHandlers('bits per second', 'bytes'),
  derived: {
    bit_rate: { doc: 'bits per second passed over the last sampling interval (without the overhead)', read: (c) => String((c.rate('bytes') ?? 0) * 8) },
  },
  examples: ['InfiniteSource({ length: 1500 }).to(Queue()).to(BandwidthShaper({ rate: 100e6, overhead: 24 })).to(Unqueue()).to(Discard())'],
});
