import { Type } from 'typebox';
import { defineElement } from '../../src/graph/descriptor.js';

export const EtherMirror = defineElement({
  name: 'EtherMirror',
  group: 'ethernet',
  summary: 'Swaps the source and destination Ethernet addresses.',
  doc: `Click's EtherMirror: exchanges the destination and source addresses of each Ethernet frame (to
send it back where it came from); nothing else changes. A frame shorter than an Ethernet header (14
bytes) is dropped and counted in \`drops_short\`. Works in push or pull position.`,
  inputs: '1',
  outputs: '1',
  processing: 'a/a',
  config: Type.Object({}, { additionalProperties: false }),
  counters: { drops_short: 'frames dropped because they were shorter than 14 bytes' },
  examples: ["FromDevice({ device: 'veth0' }).to(EtherMirror()).to(ToDevice({ device: 'veth0' }))"],
});
