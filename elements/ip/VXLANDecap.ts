import { Type } from 'typebox';
import { defineElement } from '../../src/graph/descriptor.js';

export const VXLANDecap = defineElement({
  name: 'VXLANDecap',
  group: 'ip',
  summary: 'Checks and strips the outer IPv4, UDP and VXLAN headers of one VNI (RFC 7348).',
  doc: `Undoes VXLANEncap for one VXLAN segment. The outer IPv4 header is taken at the network-header
annotation when it is set and lies inside the packet (bytes before it, such as an outer Ethernet
header, are stripped too), else at the start of the data. In order, a packet is dropped and counted
in:

- \`drops_short\`: the IPv4 header does not fit, or the UDP datagram (by the IP total length or the UDP
  length) is too short for UDP + VXLAN headers and an inner Ethernet header, or the UDP length runs
  past the IP datagram;
- \`drops_bad_ip\`: the outer header's version is not 4, IHL < 5, the total length is below the header
  length or beyond the packet, or the header checksum is wrong;
- \`drops_not_udp\`: the protocol is not 17, or the datagram is a fragment;
- \`drops_port\`: the UDP destination port is not \`dport\`;
- \`drops_udp_checksum\`: the UDP checksum is not 0 (none) and wrong;
- \`drops_flags\`: the VXLAN I flag (valid VNI) is not set;
- \`drops_vni\`: the VNI is not \`vni\`.

The engine's packet annotations have no field for a VNI, so the VNI cannot travel with the inner
frame: each VXLANDecap accepts one VNI, and frames of other VNIs are dropped. To terminate several
segments, classify on the VNI bytes first (offset 32 from the outer IPv4 header without options,
3 bytes) and give each branch its own VXLANDecap. Otherwise the outer headers and any bytes after the
UDP datagram are removed, the packet (the inner Ethernet frame) is counted in \`packets\`, its
MAC-header annotation is set to the frame and its network- and transport-header annotations are
reset. Works in push or pull position.`,
  inputs: '1',
  outputs: '1',
  processing: 'a/a',
  config: Type.Object(
    {
      vni: Type.Integer({ minimum: 0, maximum: 0xffffff, description: 'The VNI accepted; frames of other VNIs are dropped.' }),
      dport: Type.Optional(Type.Integer({ minimum: 0, maximum: 65535, default: 4789, description: 'The UDP destination port accepted.' })),
    },
    { additionalProperties: false },
  ),
  counters: {
    packets: 'frames decapsulated',
    drops_short: 'packets dropped because the outer headers or the inner Ethernet header do not fit',
    drops_bad_ip: 'packets dropped because the outer IPv4 header is invalid (version, IHL, total length, checksum)',
    drops_not_udp: 'packets dropped because the outer protocol is not UDP or the datagram is a fragment',
    drops_port: 'packets dropped because the UDP destination port is not dport',
    drops_udp_checksum: 'packets dropped because the UDP checksum is wrong',
    drops_flags: 'packets dropped because the VXLAN I flag is not set',
    drops_vni: 'packets dropped because the VNI is not the configured one',
  },
  examples: ["FromPcap({ file: 'vxlan.pcap' }).to(Strip({ length: 14 })).to(VXLANDecap({ vni: 42 })).to(EtherSwitch())"],
});
