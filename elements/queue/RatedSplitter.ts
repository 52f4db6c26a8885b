import { Type } from 'typebox';
import { defineElement } from '../../src/graph/descriptor.js';
import { packetRateFields, packetBurst, rateHandlers } from '../lib/rateFields.js';

export const RatedSplitter = defineElement({
  name: 'RatedSplitter',
  group: 'queue',
  summary: 'Sends at most `rate` packets per second to output 0 and the rest to output 1.',
  doc: `A push element with a token bucket of \`burst\` packets filling at \`rate\` per second by the
clock (starting full): each arriving packet that finds a whole token takes it and goes to output 0,
any other goes to output 1 (\`over\`), in arrival order on each. Unlike a meter, \`rate\` packets
per second go to output 0 even when more arrive. As Click's RatedSplitter, except that the burst
(how many may pass at once after a quiet spell) is a bucket depth here. Several workers may push
into it at once; the bucket is shared (under a lock, once per batch), so the rate holds for their
sum. \`rate\` and \`burst\` are writable while running: a new rate applies from then on with no
burst of saved credit (at most one packet's).`,
  inputs: '1',
  outputs: '2',
  processing: 'h/h',
  config: Type.Object(packetRateFields, { additionalProperties: false }),
  plan: packetBurst,
  counters: {
    packets: 'packets within the rate, sent to output 0',
    bytes: 'bytes sent to output 0',
    over: 'packets over the rate, sent to output 1',
    over_bytes: 'bytes sent to output 1',
  },
  handlers: rateHandlers('packets per second', 'packets'),
  examples: ['const rs = RatedSplitter({ rate: 2000 }); FromPcap({ file: "in.pcap" }).to(rs); rs.out(0).to(ToPcap({ file: "sampled.pcap" })); rs.out(1).to(Discard())'],
});
