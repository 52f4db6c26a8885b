import { Type } from 'typebox';
import { defineElement } from '../../src/graph/descriptor.js';
import { etherAddress } from '../../src/graph/types.js';

export const EtherVLANEncap = defineElement({
  name: 'EtherVLANEncap',
  group: 'ethernet',
  summary: 'Prepends an 802.1Q-tagged Ethernet header (or a plain one for the native VLAN).',
  doc: `Click's EtherVLANEncap(ETHERTYPE, SRC, DST, VLAN_TCI): puts an 18-byte header in front of each
packet (an IP packet, after Strip or from a lookup): destination \`dst\`, source \`src\`, TPID 0x8100,
the TCI made of \`pcp\` and \`vlanId\` (DEI 0), and the EtherType \`type\` of what it carries. Use VLANEncap
to tag a frame that already has an Ethernet header.

With \`fromAnnotation\` (Click's VLAN_TCI ANNO) the TCI is the packet's VLAN annotation (SetVLANAnno,
VLANDecap and FromDevice set it; a packet without one gets TCI 0), and the annotation is cleared once the
tag is in the frame, as VLANEncap does; \`vlanId\` and \`pcp\` must then stay 0. A packet whose VLAN id is
\`nativeVlan\` gets a plain 14-byte Ethernet header instead (untagged, as a trunk sends its native VLAN);
the default 0 is Click's (id 0 carries only a priority, so it leaves untagged); -1 tags every packet.

The MAC-header annotation is set to the new header. A packet with too little headroom (18 bytes, 14 when
untagged) is dropped and counted in \`drops_no_headroom\`. Works in push or pull position.

While it runs, the write handlers \`vlanId\`, \`pcp\` and \`type\` change the header (Click's vlan_id,
vlan_pcp and ethertype); packets after the write get the new one. With \`fromAnnotation\` only
\`type\` may be written.`,
  inputs: '1',
  outputs: '1',
  processing: 'a/a',
  config: Type.Object(
    {
      type: Type.Optional(Type.Integer({ minimum: 0, maximum: 0xffff, default: 0x0800, description: 'The EtherType of the payload (0x0800: IPv4, 0x86dd: IPv6).' })),
      src: etherAddress('The source Ethernet address, like 02:00:00:00:00:01.'),
      dst: etherAddress('The destination Ethernet address, like 02:00:00:00:00:02.'),
      vlanId: Type.Optional(Type.Integer({ minimum: 0, maximum: 4095, default: 0, description: 'The VLAN id.' })),
      pcp: Type.Optional(Type.Integer({ minimum: 0, maximum: 7, default: 0, description: 'The priority code point (802.1p priority).' })),
      fromAnnotation: Type.Optional(Type.Boolean({ default: false, description: "Take the TCI from the packet's VLAN annotation." })),
      nativeVlan: Type.Optional(Type.Integer({ minimum: -1, maximum: 4095, default: 0, description: 'The VLAN id sent untagged; -1 for none.' })),
    },
    { additionalProperties: false },
  ),
  check: (c) => (c.fromAnnotation && (c.vlanId || c.pcp) ? 'with fromAnnotation the tag comes from the annotation: leave vlanId and pcp unset' : undefined),
  handlers: {
    vlanId: { doc: "read or set the VLAN id of the tag (Click's vlan_id)", read: true, write: true },
    pcp: { doc: "read or set the priority code point (Click's vlan_pcp)", read: true, write: true },
    type: { doc: "read or set the EtherType of the payload, as a decimal number (Click's ethertype)", read: true, write: true },
  },
  counters: { drops_no_headroom: 'packets dropped because they had too little headroom for the header' },
  examples: ["CheckIPHeader().to(EtherVLANEncap({ src: '02:00:00:00:00:01', dst: '02:00:00:00:00:02', vlanId: 10 })).to(ToPcap({ file: 'out.pcap' }))"],
});
