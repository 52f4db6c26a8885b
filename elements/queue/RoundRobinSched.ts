import { Type } from 'typebox';
import { defineElement } from '../../src/graph/descriptor.js';

export const RoundRobinSched = defineElement({
  name: 'RoundRobinSched',
  group: 'queue',
  summary: 'Pulls from its inputs in turn, fairly.',
  doc: `A pull of up to N packets behaves like N one-packet round-robin pulls: starting at the input
after the one that gave the last packet of the previous pull, each of the n inputs is offered an
equal share of the batch (N/n, the first N mod n one more); room left by inputs that ran short is
offered to the others in the same order, so the batch fills whenever any input has packets. Inputs
that always have packets get equal shares. Inputs and output are pull, usually fed by Queues.`,
  inputs: '1-',
  outputs: '1',
  processing: 'l/l',
  config: Type.Object({}, { additionalProperties: false }),
  counters: {},
  examples: ["const rr = RoundRobinSched(); FromPcap({ file: 'a.pcap' }).to(Queue()).to(rr.in(0)); FromPcap({ file: 'b.pcap' }).to(Queue()).to(rr.in(1)); rr.to(Unqueue()).to(ToPcap({ file: 'out.pcap' }))"],
});
