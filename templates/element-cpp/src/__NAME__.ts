// __NAME__'s descriptor: the one declaration of its ports, config, counters and handlers, and
// its documentation (`pktgraph elements __NAME__ --plugin .`). The C++ half is __NAME__.cc.
import { defineElement, pluginLibrary, Type } from 'pktgraph';

export const __NAME__ = defineElement({
  name: '__NAME__',
  group: '__PACKAGE__',
  // The library `npm install` builds; the plan names it and the engine loads it.
  library: pluginLibrary(import.meta.url, '../build/Release/__LIB__.node'),
  summary: 'Passes packets of at least minLength bytes, counting them; drops shorter ones.',
  doc: `Passes each packet of at least \`minLength\` bytes unchanged, counting packets and bytes, and
drops shorter ones, counted in \`drops_short\`. Works in push position. Replace this with what your
element does.`,
  inputs: '1',
  outputs: '1',
  processing: 'h/h',
  config: Type.Object(
    { minLength: Type.Optional(Type.Integer({ minimum: 0, maximum: 65535, default: 0, description: 'shortest packet passed, in bytes' })) },
    { additionalProperties: false },
  ),
  counters: { packets: 'packets passed', bytes: 'bytes passed', drops_short: 'dropped: shorter than minLength' },
  handlers: { reset: { doc: 'zero the counts', write: true } },
  examples: ["InfiniteSource({ length: 60 }).to(__NAME__({ minLength: 64 })).to(Discard())"],
});
