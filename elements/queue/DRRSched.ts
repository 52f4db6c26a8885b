import { Type } from 'typebox';
import { defineElement } from '../../src/graph/descriptor.js';
import { perInputCheck, perInputFields, perInputPlan, perInputQuotas, servedCounters, servedDerived, servedHandlers, type PerInputSpec } from '../lib/perInputFields.js';

const quantum: PerInputSpec<'quantum', 'quanta'> = {
  one: 'quantum',
  list: 'quanta',
  minimum: 1,
  maximum: 1048576,
  default: 500,
  description: 'Bytes an input may send per round.',
};

export const DRRSched = defineElement({
  name: 'DRRSched',
  group: 'queue',
  summary: 'Pulls from its inputs by deficit round robin: byte shares in proportion to each input\'s quantum.',
  doc: `Deficit round robin (Shreedhar and Varghese, "Efficient Fair Queuing using Deficit Round Robin",
SIGCOMM 1995), as Click's DRRSched. The inputs take turns; each turn adds the input's quantum (bytes) to
its deficit, and the input sends packets while the next one's length (its bytes as the element sees
them: no preamble or inter-frame gap) is within the deficit, taking each length off it. A packet larger
than the deficit waits for the input's next turn; the rest of the deficit is kept for it. An input
found empty loses its deficit, so an idle input saves up no credit. Inputs that always have packets get
byte shares in proportion to their quanta, whatever their packet sizes (what each has sent stays
within a quantum and a packet of its share).

Unlike Click, where one QUANTUM (default 500) serves every input, each input has its own: \`quantum\`
for all of them (default 500, as Click), \`quanta\` for one value per input; the \`quanta\` handler reads
and changes them while running (the new values count from each input's next turn). A quantum at least
the largest packet lets every input send at every turn; a smaller one works too (a round in which no
input could send is not repeated one by one: the element adds the quanta of the rounds needed at once).

A pull of up to N packets goes on from where the previous one stopped (in the middle of a turn if the
batch filled) and fills the batch whenever any input has packets. Inputs are pulled a batch at a time,
for no more packets than the pull still asks for, and those the deficit does not cover yet wait in the
element for the input's next turn (at most 32 per input, counted as the element's held packets): a
Queue in front shows that many fewer than are waiting, and its drop policy does not see them. An
empty input is tried once a round (there is no notification of new packets), and a pull ends without
a packet only after a round in which every input was empty. Inputs and output are pull, usually fed
by Queues; the element is pulled by one puller (Unqueue, RatedUnqueue or a scheduler).`,
  inputs: '1-',
  outputs: '1',
  processing: 'l/l',
  config: Type.Object(perInputFields(quantum), { additionalProperties: false }),
  check: (c, ports) => perInputCheck(quantum, c, ports.inputs),
  plan: (c, ports) => perInputPlan(quantum, c, ports.inputs),
  quotas: perInputQuotas(quantum),
  counters: servedCounters,
  handlers: {
    quanta: { doc: 'read or set the quanta, bytes, one per input, separated by spaces (or commas)', read: true, write: true },
    ...servedHandlers,
  },
  derived: servedDerived,
  examples: [
    "const drr = DRRSched({ quanta: [1500, 500] }); FromPcap({ file: 'a.pcap' }).to(Queue()).to(drr.in(0)); FromPcap({ file: 'b.pcap' }).to(Queue()).to(drr.in(1)); drr.to(Unqueue()).to(ToPcap({ file: 'out.pcap' })) // input 0 gets 3/4 of the bytes when both are busy",
  ],
});
