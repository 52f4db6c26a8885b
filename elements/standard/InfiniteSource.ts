import { Type } from 'typebox';
import { defineElement } from '../../src/graph/descriptor.js';
import { sourcePacingFields, sourcePacingCounters, sourcePacingHandlers, sourcePacingDerived } from '../lib/sourceFields.js';
import { hexBytes } from '../../src/graph/types.js';

export const InfiniteSource = defineElement({
  name: 'InfiniteSource',
  group: 'standard',
  summary: 'Emits copies of one packet, as fast as it can or at a set rate.',
  doc: `Click's InfiniteSource. Each task round emits up to \`burst\` copies of the packet given by \`data\`
(hex; 64 zero bytes by default), padded with zeros or cut to \`length\` bytes when \`length\` is given
(as Click's LENGTH; by default the packet is \`data\` as it is). An empty packet is allowed, as in Click:
\`data: ''\` or \`length: 0\` emits zero-length packets. With \`limit\` it stops after that many
packets, and a graph whose sources have all stopped ends once its queues are empty. With \`rate\`
it paces packets to that many per second with a token bucket \`burst\` packets deep: a round that
comes late (the worker was busy or descheduled) sends what the rate called for, up to \`burst\` at
once, so the long-run rate holds; credit beyond a burst is discarded and counted in
\`rate_shortfall\`, so \`packets\` + \`rate_shortfall\` is the rate times the time (raise \`burst\` to
ride out longer stalls). A rate written while running applies from then on, with no burst of
credit saved up before. At high rates packets leave in small bursts (about 100 µs' worth at
most), so that the worker sleeps between them instead of spinning.
When the pool has no free buffer it skips the round and counts \`pool_empty\`.`,
  inputs: '0',
  outputs: '1',
  processing: '/h',
  config: Type.Object(
    {
      data: Type.Optional(hexBytes('The packet, as hex digits (spaces and colons allowed); 64 zero bytes by default.', '00'.repeat(64))),
      length: Type.Optional(Type.Integer({ minimum: -1, maximum: 65535, default: -1, description: 'Packet length in bytes (data padded with zeros or cut); -1: the length of data.' })),
      ...sourcePacingFields,
    },
    { additionalProperties: false },
  ),
  counters: {
    packets: 'packets emitted',
    bytes: 'bytes emitted',
    ...sourcePacingCounters,
  },
  handlers: sourcePacingHandlers('start counting towards the limit again'),
  derived: sourcePacingDerived,
  examples: ["InfiniteSource({ length: 64, limit: 1000 }).to(Discard())"],
});
