import { Type } from 'typebox';
import { defineElement } from '../../src/graph/descriptor.js';

export const RoundRobinSwitch = defineElement({
  name: 'RoundRobinSwitch',
  group: 'standard',
  summary: 'Sends packets to its outputs in turn.',
  doc: `The i-th packet received leaves on output i mod n (n outputs), so every output gets the same
share, whatever the packets are (load balancing without regard to flows: see HashSwitch to keep
flows together). A batch is split into one sub-batch per output, pushed once each. Pushers on
several threads take turns by batch.`,
  inputs: '1',
  outputs: '1-',
  processing: 'h/h',
  config: Type.Object({}, { additionalProperties: false }),
  counters: {},
  examples: ["const rr = InfiniteSource().to(RoundRobinSwitch()); rr.out(0).to(Counter()).to(Discard()); rr.out(1).to(Counter()).to(Discard())"],
});
