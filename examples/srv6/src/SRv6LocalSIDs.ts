import { defineElement, pluginLibrary, schema, Type } from 'pktgraph';

const Sid = Type.Object(
  {
    sid: schema.ipv6Address('the local SID: an IPv6 address of this node'),
    behavior: Type.Union(
      [Type.Literal('End'), Type.Literal('End.X'), Type.Literal('End.DX4'), Type.Literal('End.DX6'), Type.Literal('End.DT4'), Type.Literal('End.DT6')],
      { description: 'the RFC 8986 behaviour bound to the SID' },
    ),
    output: Type.Integer({ minimum: 1, maximum: 255, description: 'the output the processed packet leaves by' }),
    table: Type.Optional(Type.Integer({ minimum: 0, maximum: 4294967295, default: 0, description: 'End.DT4, End.DT6: the table_id annotation given to the decapsulated packet' })),
    nexthop: Type.Optional(schema.orEmpty(schema.ipAddress('End.X, End.DX4, End.DX6: the next hop, put in the destination-address annotation'), "'' for none")),
  },
  { additionalProperties: false },
);

export const SRv6LocalSIDs = defineElement({
  name: 'SRv6LocalSIDs',
  group: 'srv6',
  library: pluginLibrary(import.meta.url, '../build/Release/srv6.node'),
  summary: "SRv6 endpoint: the node's local SID table with RFC 8986 End, End.X, End.DX4, End.DX6, End.DT4 and End.DT6.",
  doc: `The input is an IPv6 packet (its data starts at the IPv6 header, as after Strip(14)). Its destination
is looked up among \`sids\` (exact match, binary search); a packet for no local SID leaves unchanged
by output 0 (counted in \`not_local\`), to the node's usual IPv6 forwarding. A packet for a SID is
checked (RFC 8754 4.3.1.1: hop-by-hop and destination-options headers are skipped, the SRH's Last
Entry must fit its Hdr Ext Len and Segments Left be at most Last Entry + 1) and handled by the SID's
behaviour, then leaves by the SID's \`output\`:

- End (RFC 8986 4.1): Segments Left and the hop limit decremented, the destination address set to
  Segment List[Segments Left]. Its output leads to the IPv6 route lookup (through a Queue when the
  lookup may send it back here, as when the next SID is local too).
- End.X (4.2): the same, to the layer-3 adjacency its output is connected to; \`nexthop\` (IPv6) is
  put in the destination-address annotation for neighbour discovery.
- End.DX4, End.DX6 (4.4, 4.5): at the end of the path (Segments Left 0, or no SRH), the outer IPv6
  header and its extension headers are removed; the inner IPv4 or IPv6 packet leaves by the output
  to its adjacency, with \`nexthop\` in the destination-address annotation.
- End.DT4, End.DT6 (4.6, 4.7): decapsulated the same way, with the \`table_id\` annotation set to
  \`table\`; the output leads to that table's lookup (an IPLookup or LookupIP6Route per table).

Differences from RFC 8986: no ICMP errors are sent (a packet an RFC would answer with one is
dropped and counted), and a SID whose packet arrives with Segments Left 0 under End or End.X is
dropped (\`drops_sl_zero\`) rather than handed to the node's upper layers. Every drop has a counter.`,
  inputs: '1',
  outputs: '2-',
  processing: 'h/h',
  config: Type.Object(
    {
      sids: Type.Array(Sid, { minItems: 1, maxItems: 4096, description: 'the local SIDs, each with its behaviour and output' }),
    },
    { additionalProperties: false },
  ),
  check: (c, ports) => {
    const seen = new Set<string>();
    for (const [i, s] of c.sids.entries()) {
      if (s.output >= ports.outputs) return `sids[${i}] (${s.sid}) sends to output ${s.output} but the element has ${ports.outputs} outputs (output 0 is for packets to no local SID)`;
      const key = s.sid.toLowerCase();
      if (seen.has(key)) return `sids[${i}]: the SID ${s.sid} is listed twice`;
      seen.add(key);
      const v4 = typeof s.nexthop === 'string' && s.nexthop.includes('.');
      if (s.nexthop && !['End.X', 'End.DX4', 'End.DX6'].includes(s.behavior)) return `sids[${i}]: ${s.behavior} takes no nexthop (only End.X, End.DX4 and End.DX6 do)`;
      if (s.nexthop && (s.behavior === 'End.DX4') !== v4) return `sids[${i}]: ${s.behavior}'s nexthop must be an ${s.behavior === 'End.DX4' ? 'IPv4' : 'IPv6'} address`;
      if (s.table !== undefined && s.table !== 0 && !s.behavior.startsWith('End.DT')) return `sids[${i}]: only End.DT4 and End.DT6 take a table`;
    }
    return undefined;
  },
  counters: {
    end: 'packets handled by an End SID',
    end_x: 'packets handled by an End.X SID',
    end_dx4: 'packets decapsulated by an End.DX4 SID',
    end_dx6: 'packets decapsulated by an End.DX6 SID',
    end_dt4: 'packets decapsulated by an End.DT4 SID',
    end_dt6: 'packets decapsulated by an End.DT6 SID',
    not_local: 'packets to no local SID, sent to output 0',
    drops_short: 'dropped: shorter than an IPv6 header, its payload length or a header inside it',
    drops_not_ipv6: 'dropped: not IPv6',
    drops_bad_length: "dropped: an SRH whose Hdr Ext Len does not fit the packet or holds no entry up to Last Entry",
    drops_bad_segments_left: 'dropped: an SRH whose Segments Left is more than Last Entry + 1',
    drops_bad_routing: 'dropped: another routing header type with segments left, or two SRHs',
    drops_no_srh: 'dropped: End or End.X with no SRH',
    drops_sl_zero: 'dropped: End or End.X with Segments Left 0',
    drops_sl_nonzero: 'dropped: a decapsulating behaviour before the end of the segment list',
    drops_hop_limit: 'dropped: End or End.X with a hop limit of 1 or 0',
    drops_wrong_inner: "dropped: a decapsulating behaviour whose inner packet is not its family (4 for End.DX4/DT4, 41 for End.DX6/DT6)",
  },
  examples: [
    "SRv6LocalSIDs({ sids: [{ sid: 'fd00:b::1', behavior: 'End', output: 1 }, { sid: 'fd00:b::4', behavior: 'End.DX4', output: 2, nexthop: '198.18.1.1' }] })",
  ],
});
