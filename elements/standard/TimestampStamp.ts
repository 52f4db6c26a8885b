import { Type } from 'typebox';
import { defineElement } from '../../src/graph/descriptor.js';

export const TimestampStamp = defineElement({
  name: 'TimestampStamp',
  group: 'standard',
  summary: 'Writes a monotonic send timestamp into each packet, for LatencyMeter to read.',
  doc: `Writes a 12-byte latency stamp at byte \`offset\` of every packet: the 4-byte marker \`PGTS\`
and the CLOCK_MONOTONIC time in nanoseconds (8 bytes, big-endian), read once per batch when the
batch passes. LatencyMeter, later on the path (in the same engine or in another process on the same
host, which shares the monotonic clock; network namespaces do not change it), reads the stamp and
records the delay. The default offset, 42, is the first payload byte of an untagged
Ethernet/IPv4/UDP frame, so a 60-byte frame (64 with FCS) can carry it.

The stamp overwrites payload bytes and does not update a UDP or TCP checksum: use it on test
traffic whose checksums nobody checks (UDP checksum 0, or frames the sink drops before its
transport layer). A packet shorter than \`offset\` + 12 bytes passes unchanged and is counted in
\`too_short\`. There is no Click equivalent that writes into the payload (Click's SetCycleCount and
SetTimestamp set annotations, which do not cross a wire). Works in push or pull position.`,
  inputs: '1',
  outputs: '1',
  processing: 'a/a',
  config: Type.Object(
    {
      offset: Type.Optional(Type.Integer({ minimum: 0, maximum: 9000, default: 42, description: 'Byte offset of the stamp from the start of the packet data.' })),
    },
    { additionalProperties: false },
  ),
  counters: { stamped: 'packets given a stamp', too_short: 'packets too short to carry the stamp (passed unchanged)' },
  examples: [
    "FlowSource({ family: 'ipv4', protocol: 'udp', length: 60, rate: 100000 }).to(TimestampStamp()).to(ToDevice({ device: 'veth0' }))",
  ],
});
