import { Type } from 'typebox';
import { defineElement } from '../../src/graph/descriptor.js';

export const Switch = defineElement({
  name: 'Switch',
  group: 'standard',
  summary: 'Sends every packet to one output, chosen by config and changeable at run time.',
  doc: `All packets leave on output \`output\`; -1 drops them (counted in \`drops\`). The \`switch\`
handler reads or changes the output while the graph runs (the change is atomic: a batch goes
wholly to the old or wholly to the new output). \`output\` must be below the number of outputs
(checked when compiling); writing a value out of range to \`switch\` is refused.`,
  inputs: '1',
  outputs: '-',
  processing: 'h/h',
  config: Type.Object(
    {
      output: Type.Optional(Type.Integer({ minimum: -1, maximum: 65535, default: 0, description: 'The output for every packet; -1 drops them all.' })),
    },
    { additionalProperties: false },
  ),
  counters: { drops: 'packets dropped while the output was -1' },
  handlers: { switch: { doc: 'read or set the output (-1: drop)', read: true, write: true, field: 'output' } },
  check: (config, ports) =>
    config.output !== undefined && config.output >= ports.outputs
      ? `config field 'output' is ${config.output} but the element has ${ports.outputs} output(s) connected; connect output ${config.output} or use an output from ${ports.outputs > 0 ? `0 to ${ports.outputs - 1}` : 'none'} (or -1 to drop)`
      : undefined,
  examples: ["const sw = InfiniteSource().to(Switch({ output: 1 }, 'sw')); sw.out(0).to(Discard()); sw.out(1).to(Counter()).to(Discard())", 'pktgraph write sw.switch 0   # while it runs: packets now leave on output 0'],
});
