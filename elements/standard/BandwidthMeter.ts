import { defineElement } from '../../src/graph/descriptor.js';
import { rateMeterConfig, rateMeterCheck } from '../lib/rateMeterFields.js';

export const BandwidthMeter = defineElement({
  name: 'BandwidthMeter',
  group: 'standard',
  summary: 'Sends packets to an output chosen by their recent arrival rate in bytes per second.',
  doc: `Click's BandwidthMeter(RATE1, ..., RATEn): Meter's classification by an averaged arrival
rate, measured in bytes per second (the packets' lengths as they arrive) instead of packets:
an exponentially weighted moving average of the bytes per 1 ms epoch (alpha 1/16), and with n
increasing \`rates\` (bytes per second, Click's unit for a bandwidth without a suffix) n + 1
outputs, output i while the rate is at least rate i and below rate i + 1. The whole stream goes
to one output at a time; a Policer splits a stream at a rate instead. Shared by every worker
that pushes into it, as Meter.`,
  inputs: '1',
  outputs: '2-',
  processing: 'h/h',
  config: rateMeterConfig('bytes per second'),
  counters: { packets: 'packets metered' },
  handlers: { rate: { doc: 'the averaged arrival rate, bytes per second, as of the last batch', read: true } },
  check: rateMeterCheck,
  examples: ["const m = InfiniteSource().to(BandwidthMeter({ rates: [20000] })); m.out(0).to(Queue()); m.out(1).to(Discard())  // drop the stream above 20000 bytes/s"],
});
