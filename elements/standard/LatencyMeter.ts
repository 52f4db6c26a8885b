import { Type } from 'typebox';
import { defineElement } from '../../src/graph/descriptor.js';

export const LatencyMeter = defineElement({
  name: 'LatencyMeter',
  group: 'standard',
  summary: "Records each packet's delay since TimestampStamp stamped it, in a histogram with percentile handlers.",
  doc: `Reads the 12-byte stamp TimestampStamp wrote at byte \`offset\` (the marker \`PGTS\` and a
CLOCK_MONOTONIC send time) and records the delay up to the packet's arrival in a log-linear
histogram (16 buckets per power of two, so a percentile is within about 3% of the true value),
then passes the packet on unchanged. Arrival is the time the batch reaches the element
(\`arrival: 'now'\`, the default), or with \`arrival: 'annotation'\` the packet's timestamp
annotation, which FromDevice sets to the kernel's receive time; that excludes the time a frame
waits in the receive ring (up to FromDevice's block timeout at low rates). The annotation is wall
clock time; it is converted to the monotonic clock with the offset between the two read once per
batch. Sender and meter must share the monotonic clock: the same host (any network namespace).

Packets without the marker (or too short) pass through counted in \`unstamped\`; a stamp from the
future (another host's clock, a stale marker in a payload) is counted in \`bad_stamp\` and not
recorded. Each worker keeps its own histogram row (no contention); reads sum them. Handlers give
the count, min, mean, max and percentiles in nanoseconds; \`reset\` clears the histogram (a
packet counted at the same instant may survive the reset). No Click equivalent records a
distribution (Click's TimestampAccum keeps an average of annotation delays). Works in push or
pull position.`,
  inputs: '1',
  outputs: '1',
  processing: 'a/a',
  config: Type.Object(
    {
      offset: Type.Optional(Type.Integer({ minimum: 0, maximum: 9000, default: 42, description: 'Byte offset of the stamp from the start of the packet data (as in TimestampStamp).' })),
      arrival: Type.Optional(Type.Union([Type.Literal('now'), Type.Literal('annotation')], { default: 'now', description: "Arrival time: when the batch reaches the element, or the packet's timestamp annotation (FromDevice: the kernel's receive time)." })),
    },
    { additionalProperties: false },
  ),
  counters: { packets: 'packets passed', measured: 'packets whose delay was recorded', unstamped: 'packets without a stamp', bad_stamp: 'stamps later than the arrival time (not recorded)' },
  handlers: {
    count: { doc: 'delays recorded', read: true },
    min: { doc: 'smallest delay, ns', read: true },
    mean: { doc: 'mean delay, ns', read: true },
    max: { doc: 'largest delay, ns', read: true },
    p50: { doc: 'median delay, ns', read: true },
    p90: { doc: '90th percentile delay, ns', read: true },
    p99: { doc: '99th percentile delay, ns', read: true },
    p999: { doc: '99.9th percentile delay, ns', read: true },
    summary: { doc: "all of the above on one line: 'count=N min=.. mean=.. p50=.. p90=.. p99=.. p999=.. max=..' (ns)", read: true },
    histogram: { doc: "the non-empty buckets, one per line: 'LOW_NS HIGH_NS COUNT'", read: true },
    reset: { doc: 'clear the histogram', write: true },
  },
  examples: ["FromDevice({ device: 'veth1' }).to(LatencyMeter({ arrival: 'annotation' }, 'lat')).to(Discard()) // read lat.p99"],
});
