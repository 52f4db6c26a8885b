import { Type } from 'typebox';
import { defineElement } from '../../src/graph/descriptor.js';

export const Idle = defineElement({
  name: 'Idle',
  group: 'standard',
  summary: 'Never emits a packet: a placeholder for ports that must be connected.',
  doc: `Click's Idle. It has any number of inputs and outputs, push or pull. It never pushes a packet
to an output and never pulls from an input; pulling from it gets nothing. A packet pushed into it is
freed and counted in \`drops\`. Use it to close a port that must be connected but carries nothing
(an optional source, an unused error output), as Click configurations do. Unlike Click's, it tells
no downstream element to sleep: pktgraph's pull paths have no such notifiers.`,
  inputs: '-',
  outputs: '-',
  processing: 'a/a',
  config: Type.Object({}, { additionalProperties: false }),
  counters: { drops: 'packets pushed into it, all dropped (freed)' },
  examples: ["Idle().to(Queue()).to(ToDevice({ device: 'eth0' }))", "CheckICMPHeader({}, 'chk'); // chk.out(1).to(Idle())"],
});
