import { Type } from 'typebox';
import { defineElement } from '../../src/graph/descriptor.js';

export const Null = defineElement({
  name: 'Null',
  group: 'standard',
  summary: 'Passes packets through unchanged.',
  doc: `Does nothing to the packets: what it costs is the baseline cost of one element on a path
(one virtual call per batch). Works in push or pull position.`,
  inputs: '1',
  outputs: '1',
  processing: 'a/a',
  config: Type.Object({}, { additionalProperties: false }),
  counters: {},
  examples: ["InfiniteSource().to(Null()).to(Null()).to(Discard())"],
});
