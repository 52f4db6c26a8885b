import { Type } from 'typebox';
import { defineElement } from '../../src/graph/descriptor.js';

export const Print = defineElement({
  name: 'Print',
  group: 'standard',
  summary: 'Prints one line per packet to stderr (debugging).',
  doc: `A debugging element: passes packets through unchanged and writes a line for each to
standard error:

    LABEL: SECONDS.NANOSECONDS:  LEN | 00112233 44556677 ...

\`LABEL: \` appears when \`label\` is not empty, the timestamp when the packet's timestamp
annotation is set (see SetTimestamp), then the length right-aligned in four columns and, when
\`contents\` is true, the first \`maxLength\` bytes in hex, grouped by four. The lines of a batch
are gathered in a 32 KiB buffer and written with one system call per batch (one per 32 KiB for
very long lines); still, that is a system call per batch and formatting per packet: keep Print off
fast paths. When stderr is a pipe its reader does not drain, Print waits for it, stalling its
worker (up to a second per write; then those lines are lost and counted in \`write_errors\`).
Works in push or pull position.`,
  inputs: '1',
  outputs: '1',
  processing: 'a/a',
  config: Type.Object(
    {
      label: Type.Optional(Type.String({ default: '', description: 'Text at the start of every line (nothing when empty).' })),
      maxLength: Type.Optional(Type.Integer({ minimum: 0, maximum: 65535, default: 24, description: 'Most bytes of each packet printed in hex.' })),
      contents: Type.Optional(Type.Boolean({ default: true, description: 'Print the packet bytes (false: only label, timestamp and length).' })),
    },
    { additionalProperties: false },
  ),
  counters: {
    packets: 'packets printed',
    write_errors: 'writes to stderr that failed (closed, or not drained for a second): their lines are lost',
  },
  examples: ["InfiniteSource({ limit: 3 }).to(SetTimestamp()).to(Print({ label: 'in', maxLength: 34 })).to(Discard())"],
});
