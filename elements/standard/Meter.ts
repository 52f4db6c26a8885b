import { defineElement } from '../../src/graph/descriptor.js';
import { rateMeterConfig, rateMeterCheck } from '../lib/rateMeterFields.js';

export const Meter = defineElement({
  name: 'Meter',
  group: 'standard',
  summary: 'Sends packets to an output chosen by their recent arrival rate in packets per second.',
  doc: `Click's Meter(RATE1, ..., RATEn): classifies the packet stream by its arrival rate, an
exponentially weighted moving average of the packets counted per 1 ms epoch (alpha 1/16: each
ended epoch moves the average a sixteenth of the way to its count; epochs without packets count
0), in packets per second. With n \`rates\` (increasing) the element has n + 1 outputs: packets
leave on output 0 while the rate is below the first rate, on output i while it is at least rate i
and below rate i + 1, and on output n at or above the last. The whole stream goes to one output
at a time: to split a stream at a rate, use a Policer. As in Click, the epoch in progress joins
the average when it ends; here the engine reads the clock once per batch, so a batch goes to one
output. Every worker pushing into the element updates one average (under a lock, once per
batch). The \`rate\` handler reads the average as of the last batch. See BandwidthMeter for bytes
per second, and Policer for RFC 2697/2698 metering.`,
  inputs: '1',
  outputs: '2-',
  processing: 'h/h',
  config: rateMeterConfig('packets per second'),
  counters: { packets: 'packets metered' },
  handlers: { rate: { doc: 'the averaged arrival rate, packets per second, as of the last batch', read: true } },
  check: rateMeterCheck,
  examples: ["const m = InfiniteSource().to(Meter({ rates: [10000] })); m.out(0).to(Queue()); m.out(1).to(Discard())  // drop the stream while it runs at 10000 packets/s or more"],
});
