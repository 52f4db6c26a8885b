import { Type } from 'typebox';
import { defineElement } from '../../src/graph/descriptor.js';
import { perInputCheck, perInputFields, perInputPlan, perInputQuotas, servedCounters, servedDerived, servedHandlers, type PerInputSpec } from '../lib/perInputFields.js';

const weight: PerInputSpec<'weight', 'weights'> = {
  one: 'weight',
  list: 'weights',
  minimum: 1,
  maximum: 1000000,
  default: 1,
  description: "An input's share: busy inputs get bytes in proportion to their weights.",
};

export const WFQSched = defineElement({
  name: 'WFQSched',
  group: 'queue',
  summary: 'Pulls from its inputs by weighted fair queueing: packets in order of virtual finish time, byte shares by weight.',
  doc: `Weighted fair queueing by bytes, as self-clocked fair queueing (SCFQ; Golestani, "A Self-Clocked Fair
Queueing Scheme for Broadband Applications", INFOCOM 1994). Each input's packet at the front gets a virtual
finish time: its predecessor's (from the same input) plus its length divided by the input's weight; the
packet with the earliest finish time is sent next (equal ones: the lower input first). The virtual
time is the finish time of the last packet sent, and a packet of an input that was empty starts from it:
an input that goes idle saves up no credit, and one that comes back competes from then on. Inputs that
always have packets get bytes in proportion to their weights whatever their packet sizes (within one
packet of each), in a finer interleaving than DRRSched's rounds: a 1500-byte packet of one input goes
between the 64-byte packets of another, not after a quantum's worth of them.

Why SCFQ and not WFQ or WF2Q+: a pull element sees a packet only when it takes it from its input, so it
has no arrival times from which to emulate the fluid (GPS) system that WFQ's and WF2Q+'s virtual time
follow; SCFQ's virtual time needs none (it is read off the packets sent), costs one heap update when the
sending input changes, and gives the same long-run byte shares. What WF2Q+ adds, an eligibility test
that keeps any input from running ahead of its fluid share, tightens the worst-case delay of small-weight
inputs, not the shares. Click has no weighted fair scheduler by bytes (its StrideSched shares packets
by tickets); the name follows its schedulers' (PrioSched, RoundRobinSched, DRRSched).

Weights are whole numbers from 1 to 1000000: \`weight\` for every input (default 1: equal shares),
\`weights\` for one per input; the \`weights\` handler reads and changes them while running (from each
input's next packet on). Virtual times are integers (2^40 units a byte at weight 1), so shares are exact
to a part in a million at the largest weights and tags never lose precision.

A pull of up to N packets fills the batch whenever any input has packets. An input that starts to send
is pulled for one packet (its finish time needs the length), then a batch at a time, for no more
packets than the pull still asks for; pulled packets wait in the element for their turn (at most 32 per
input, counted as the element's held packets), so a Queue in front shows that many fewer than are
waiting, and its drop policy does not see them. Each pull
tries every empty input once (there is no notification of new packets): cheap for a few inputs, a cost
per pull that grows with the number of idle ones. Inputs and output are pull, usually fed by Queues;
the element is pulled by one puller (Unqueue, RatedUnqueue or a scheduler).`,
  inputs: '1-',
  outputs: '1',
  processing: 'l/l',
  config: Type.Object(perInputFields(weight), { additionalProperties: false }),
  check: (c, ports) => perInputCheck(weight, c, ports.inputs),
  plan: (c, ports) => perInputPlan(weight, c, ports.inputs),
  quotas: perInputQuotas(weight),
  counters: servedCounters,
  handlers: {
    weights: { doc: 'read or set the weights, one per input, separated by spaces (or commas)', read: true, write: true },
    ...servedHandlers,
  },
  derived: servedDerived,
  examples: [
    "const wfq = WFQSched({ weights: [3, 1] }); FromPcap({ file: 'a.pcap' }).to(Queue()).to(wfq.in(0)); FromPcap({ file: 'b.pcap' }).to(Queue()).to(wfq.in(1)); wfq.to(Unqueue()).to(ToPcap({ file: 'out.pcap' })) // input 0 gets 3/4 of the bytes when both are busy",
  ],
});
