import { Type } from 'typebox';
import { defineElement } from '../../src/graph/descriptor.js';
import { bitRateFields, byteBurst, rateHandlers } from '../lib/rateFields.js';

export const BandwidthRatedSplitter = defineElement({
  name: 'BandwidthRatedSplitter',
  group: 'queue',
  summary: 'Sends at most `rate` bits per second to output 0 and the rest to output 1.',
  doc: `Like RatedSplitter, in bandwidth: a token bucket of \`burst\` bytes fills at \`rate\` bits per
second by the clock (starting full). An arriving packet goes to output 0 while the bucket holds any
credit and takes its whole cost (its length plus \`overhead\` bytes), so the bucket may go below
empty by less than a packet, a debt paid before the next packet passes: the long-run rate on output
0 is exact whatever the packet sizes (Click's BandwidthRatedSplitter likewise charges a packet
after letting it through). Other packets go to output 1 (\`over\`). Differences from Click: the rate
is in bits per second (Click: bytes per second with units), and the burst a bucket depth in bytes.
Several workers may push into it at once; the bucket is shared (under a lock, once per batch).
\`rate\` and \`burst\` are writable while running: a new rate applies from then on with no burst of
saved credit (at most one byte's).`,
  inputs: '1',
  outputs: '2',
  processing: 'h/h',
  config: Type.Object(bitRateFields, { additionalProperties: false }),
  plan: byteBurst,
  counters: {
    packets: 'packets within the rate, sent to output 0',
    bytes: 'bytes sent to output 0 (packet lengths, without the overhead)',
    over: 'packets over the rate, sent to output 1',
    over_bytes: 'bytes sent to output 1',
  },
  handlers: rateHandlers('bits per second', 'bytes'),
  examples: ['const bs = BandwidthRatedSplitter({ rate: 10e6, overhead: 24 }); FromPcap({ file: "in.pcap" }).to(bs); bs.out(0).to(Queue()).to(Unqueue()).to(Discard()); bs.out(1).to(Discard())'],
});
