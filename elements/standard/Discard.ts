import { Type } from 'typebox';
import { defineElement } from '../../src/graph/descriptor.js';

export const Discard = defineElement({
  name: 'Discard',
  group: 'standard',
  summary: 'Drops every packet, counting them.',
  doc: `Frees every packet that reaches it. Its input is agnostic: pushed to, it drops what arrives;
connected to a pull output (after a Queue), it runs a task that pulls up to \`burst\` packets a round.`,
  inputs: '1',
  outputs: '0',
  processing: 'a/',
  config: Type.Object(
    {
      burst: Type.Optional(Type.Integer({ minimum: 1, maximum: 256, default: 32, description: 'Packets pulled per task round (pull mode only).' })),
    },
    { additionalProperties: false },
  ),
  counters: { packets: 'packets received and freed (the end of their path, not a loss)', bytes: 'bytes received and freed' },
  derived: {
    packet_rate: { doc: 'packets per second over the last sampling interval', read: (c) => String(c.rate('packets') ?? 0) },
  },
});
