import { Type } from 'typebox';
import { defineElement } from '../../src/graph/descriptor.js';

export const ToPcap = defineElement({
  name: 'ToPcap',
  group: 'io',
  summary: 'Writes every packet it receives to a pcap file, then frees it.',
  doc: `Writes packets to a classic pcap file (libpcap format, host byte order, version 2.4) that
tcpdump, Wireshark and FromPcap read. The file is created (or truncated) and its header written
when the graph is loaded; a file that cannot be created is a configuration error naming it and the
reason. Records are gathered in a 256 KiB buffer in memory and written with one system call each
time it fills, when the graph is removed (cleanup), and when the \`flush\` handler is written; the
file is complete once the graph has been removed.

Each record's timestamp is the packet's timestamp annotation when set (FromPcap sets it), else the
worker's wall clock; with \`nanosecond\` the file keeps nanoseconds (magic 0xa1b23c4d), otherwise
microseconds. Packets longer than \`snaplen\` are cut to it (the record keeps the original length). A record's
original length also counts the packet's extra-length annotation (bytes Truncate cut off, or that
FromPcap's file did not capture), so a truncated packet is recorded as tcpdump's snap length records it.
A pcap file has one link type, in its header. With \`linktype: 'auto'\` (the default) the first
packet written decides it, by its header annotations: a packet whose data starts at its network
header, or past its MAC header (its link header was stripped, e.g. after Strip or
StripToNetworkHeader), is raw IP (101, LINKTYPE_RAW: IPv4 or IPv6 by the version nibble, as
tcpdump reads it); any other packet, one starting at its MAC header or one made in the graph with no
header annotations (InfiniteSource), is Ethernet (1). So FromPcap of a raw IP file into ToPcap stays raw
IP, and Strip(14) then ToPcap writes raw IP. Until a packet arrives the header says Ethernet (an empty
file is Ethernet); the first packet rewrites it once. Later packets of another kind are written as they
are: send one kind to each ToPcap. A number sets the link type instead and nothing is guessed (1
Ethernet, as Click's ToDump ENCAP ETHER; 101 raw IP; 228 IPv4; 229 IPv6; ...). Click's ToDump has no
automatic choice (its default is ETHER, or USE_ENCAP_FROM names upstream elements to ask).

Its input is agnostic: pushed to, it writes what arrives; connected to a pull output (after a
Queue), it runs a task that pulls up to \`burst\` packets a round. It may be pushed to from several
worker threads (a batch at a time, under a lock). When a write fails (a full disk, ...) the records
in the buffer are lost, the file is cut back to the last whole record so it stays readable, and
\`write_errors\` counts the failed write; a failure while flushing at removal is not counted anywhere
the run's summary can see.`,
  inputs: '1',
  outputs: '0',
  processing: 'a/',
  config: Type.Object(
    {
      file: Type.String({ minLength: 1, description: 'Path of the pcap file to write (created or truncated).' }),
      nanosecond: Type.Optional(Type.Boolean({ default: false, description: 'Nanosecond timestamps (magic 0xa1b23c4d) instead of microseconds.' })),
      snaplen: Type.Optional(Type.Integer({ minimum: 1, maximum: 262144, default: 65535, description: 'Most bytes kept of each packet; also written in the file header.' })),
      linktype: Type.Optional(
        Type.Union([Type.Literal('auto'), Type.Integer({ minimum: 0, maximum: 65535 })], {
          default: 'auto',
          description: "Link type of the file: 'auto' (the first packet decides: raw IP 101 or Ethernet 1) or a number (1: Ethernet, 101: raw IP).",
        }),
      ),
      burst: Type.Optional(Type.Integer({ minimum: 1, maximum: 256, default: 32, description: 'Packets pulled per task round (pull mode only).' })),
    },
    { additionalProperties: false },
  ),
  counters: {
    packets: 'packets written (or waiting in the buffer to be written)',
    bytes: 'original bytes of the packets written (before cutting to snaplen)',
    write_errors: 'failed writes to the file (each loses the records then in the buffer)',
  },
  handlers: {
    flush: { doc: 'write the buffered records to the file now', write: true },
  },
  derived: {
    packet_rate: { doc: 'packets per second over the last sampling interval', read: (c) => String(c.rate('packets') ?? 0) },
  },
  examples: ["FromPcap({ file: 'in.pcap' }).to(ToPcap({ file: 'out.pcap', nanosecond: true }))"],
});
