import { Type } from 'typebox';
import { defineElement } from '../../src/graph/descriptor.js';

export const SetTimestamp = defineElement({
  name: 'SetTimestamp',
  group: 'standard',
  summary: "Sets each packet's timestamp annotation to the current wall-clock time.",
  doc: `Writes the wall-clock time (ns since the epoch) into the timestamp annotation of every packet
passing through. The time is the worker's loop clock, read once per round, so the packets of one
batch share a timestamp and its resolution is one worker round (microseconds under load). Works in
push or pull position.`,
  inputs: '1',
  outputs: '1',
  processing: 'a/a',
  config: Type.Object({}, { additionalProperties: false }),
  counters: {},
  examples: ["FromPcap({ file: 'in.pcap' }).to(SetTimestamp()).to(ToPcap({ file: 'restamped.pcap' }))"],
});
