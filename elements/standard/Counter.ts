import { Type } from 'typebox';
import { defineElement } from '../../src/graph/descriptor.js';

export const Counter = defineElement({
  name: 'Counter',
  group: 'standard',
  summary: 'Counts packets and bytes passing through; rates from the handlers.',
  doc: `Passes packets through unchanged, counting packets and bytes. Works in push or pull position.
Counts are kept per worker thread and summed when read, so a Counter reached from several threads
costs no contention. \`rate\` and \`byte_rate\` are per second over the runtime's last sampling
interval (one second under \`pktgraph run\`). \`reset\` zeroes both counts.`,
  inputs: '1',
  outputs: '1',
  processing: 'a/a',
  config: Type.Object({}, { additionalProperties: false }),
  counters: { packets: 'packets passed', bytes: 'bytes passed' },
  handlers: { reset: { doc: 'zero the counts', write: true } },
  derived: {
    count: { doc: 'packets passed (same as packets)', read: (c) => c.value('packets').toString() },
    byte_count: { doc: 'bytes passed (same as bytes)', read: (c) => c.value('bytes').toString() },
    rate: { doc: 'packets per second over the last sampling interval', read: (c) => String(c.rate('packets') ?? 0) },
    byte_rate: { doc: 'bytes per second over the last sampling interval', read: (c) => String(c.rate('bytes') ?? 0) },
  },
});
