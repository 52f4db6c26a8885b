import { Type } from 'typebox';
import { defineElement } from '../../src/graph/descriptor.js';

export const SetTableID = defineElement({
  name: 'SetTableID',
  group: 'standard',
  summary: "Sets each packet's table_id annotation (its routing table or virtual router).",
  doc: `Sets the \`table_id\` annotation, which says which routing table (virtual router) a packet
belongs to and which HTBSched with \`key: 'table_id'\` classifies by, to \`table\`; with an
\`offset\`, to \`table\` plus the 16-bit big-endian number at that offset of the packet's data (a
UDP port, say), so one stream of generated flows spreads over many tables. A packet too short
for the field gets \`table\` alone and is counted in \`short\`. The frame itself is not changed.
Works in push or pull position.`,
  inputs: '1',
  outputs: '1',
  processing: 'a/a',
  config: Type.Object(
    {
      table: Type.Optional(Type.Integer({ minimum: 0, maximum: 4294967295, default: 0, description: 'The table id (the base, with an offset).' })),
      offset: Type.Optional(
        Type.Integer({ minimum: -1, maximum: 65533, default: -1, description: 'Where a 16-bit number added to table is read in the packet; -1: none.' }),
      ),
    },
    { additionalProperties: false },
  ),
  counters: { short: 'packets too short for the field at offset, given table alone' },
  handlers: {
    table: { doc: 'read or set the table id (the base, with an offset)', read: true, write: true },
  },
  examples: ["FlowSource({ flows: 1000 }).to(SetTableID({ table: 0, offset: 34 })).to(Discard())"],
});
