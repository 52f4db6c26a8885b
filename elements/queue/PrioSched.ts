import { Type } from 'typebox';
import { defineElement } from '../../src/graph/descriptor.js';

export const PrioSched = defineElement({
  name: 'PrioSched',
  group: 'queue',
  summary: 'Pulls from its inputs in strict priority order: input 0 first.',
  doc: `When pulled, fills the batch from input 0; if that input runs out, from input 1, and so on,
until the batch is full or every input is empty. A lower-numbered input that always has packets
starves the others (strict priority). Inputs and output are pull, usually fed by Queues.`,
  inputs: '1-',
  outputs: '1',
  processing: 'l/l',
  config: Type.Object({}, { additionalProperties: false }),
  counters: {},
  examples: ["const ps = PrioSched(); FromPcap({ file: 'voice.pcap' }).to(Queue()).to(ps.in(0)); FromPcap({ file: 'bulk.pcap' }).to(Queue()).to(ps.in(1)); ps.to(Unqueue()).to(ToPcap({ file: 'out.pcap' }))"],
});
