import { Type } from 'typebox';
import { defineElement } from '../../src/graph/descriptor.js';

export const FromPcap = defineElement({
  name: 'FromPcap',
  group: 'io',
  summary: 'Plays the packets of a pcap file, once or several times, as fast as it can or at the recorded pace.',
  doc: `Reads a classic pcap file (libpcap format, not pcapng) and pushes its packets out of its one
output, up to \`burst\` packets per task round. Files in either byte order, with microsecond (magic
0xa1b2c3d4) or nanosecond (0xa1b23c4d) timestamps, are read; the link type must be Ethernet (1),
raw IP (101), IPv4 (228) or IPv6 (229). The file is opened, mapped into memory and checked when the
graph is loaded: a missing or unreadable file, a bad magic number or an unsupported link type is a
configuration error naming the file. Reading the packets makes no system call.

Each packet gets its record's timestamp (ns since the epoch) as its timestamp annotation (a record
stamped exactly 0 leaves the annotation unset), and its MAC header (Ethernet) or network header (raw
IP link types) annotation set to the start of the data. An Ethernet record also gets its
packet-type annotation from its destination address (\`native/packet.h\`): broadcast, multicast
(group bit set) or host (anything else, as a capture does not say whether a frame was for us); raw
IP records stay host. A record that captured fewer bytes than the
packet had on the wire is emitted with the captured bytes, the bytes missing in its extra-length
annotation (so ToPcap writes the original length again), and counted in \`truncated\`. A record
whose header claims more bytes than remain in the file (a file cut short), or more than a pool
buffer holds, ends the playback there: it is counted in \`bad_records\` and the source finishes.

The file is played \`repeat\` times. With \`timing\` the packets leave at the pace they were
recorded, relative to the first packet of each pass (packets whose time has come go out in bursts
of at most \`burst\`); without it they go out as fast as the graph takes them. When the pool has no
free buffer the round is cut short and counted in \`pool_empty\`; the packets left are sent later.
The source finishes (and a graph whose sources have all finished ends once drained) after the last
pass. Setting \`active\` to false pauses the playback.

A relative \`file\` is opened from the working directory of the process that loads the graph. The
file must not be cut shorter while it plays: it is mapped into memory, and reading a page that no
longer exists kills the process (SIGBUS).`,
  inputs: '0',
  outputs: '1',
  processing: '/h',
  config: Type.Object(
    {
      file: Type.String({ minLength: 1, description: 'Path of the pcap file to play.' }),
      repeat: Type.Optional(Type.Integer({ minimum: 1, default: 1, description: 'How many times to play the file.' })),
      burst: Type.Optional(Type.Integer({ minimum: 1, maximum: 256, default: 32, description: 'Most packets per task round (one batch).' })),
      timing: Type.Optional(Type.Boolean({ default: false, description: 'Replay at the recorded pace (relative to the first packet of each pass) instead of as fast as possible.' })),
      active: Type.Optional(Type.Boolean({ default: true, description: 'Play packets (false: wait until the active handler is set).' })),
    },
    { additionalProperties: false },
  ),
  counters: {
    packets: 'packets emitted',
    bytes: 'bytes emitted (captured bytes)',
    truncated: 'packets emitted from records that captured fewer bytes than the original length',
    bad_records: 'records that ended the playback: cut short by the end of the file, or larger than a pool buffer',
    pool_empty: 'rounds cut short because the packet pool was empty',
  },
  handlers: {
    active: { doc: 'read or set whether the source plays packets', read: true, write: true },
  },
  derived: {
    packet_rate: { doc: 'packets per second over the last sampling interval', read: (c) => String(c.rate('packets') ?? 0) },
  },
  examples: ["FromPcap({ file: 'trace.pcap' }).to(Counter()).to(ToPcap({ file: 'out.pcap' }))"],
});
