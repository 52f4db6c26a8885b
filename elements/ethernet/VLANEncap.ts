import { Type } from 'typebox';
import { defineElement } from '../../src/graph/descriptor.js';

export const VLANEncap = defineElement({
  name: 'VLANEncap',
  group: 'ethernet',
  summary: 'Inserts an 802.1Q (or 802.1ad) VLAN tag after the Ethernet addresses.',
  doc: `Click's VLANEncap. Inserts a 4-byte tag between the source address and the EtherType of each
Ethernet frame: the TPID \`ethertype\` (0x8100, 802.1Q; 0x88a8 for an 802.1ad service tag) and the TCI
made of the priority \`pcp\` (3 bits) and \`vlanId\` (12 bits; the DEI bit is 0). VLAN id 0 (the default)
gives a priority-tagged frame. A tagged frame gets a further, outer tag (Q-in-Q).

With \`fromAnnotation\` the TCI comes from the packet's VLAN annotation instead (as VLANDecap or
FromDevice set it: PCP, DEI and id as they were), and the annotation is cleared once the tag is in
the frame (FromDevice's \`restoreVlan\` convention); \`vlanId\` and \`pcp\` must then stay 0. The
annotation does not keep the TPID: \`ethertype\` still chooses it. A packet without the annotation
passes unchanged, untagged.

The 12 address bytes move 4 bytes into the headroom and the rest of the frame stays where it is (the
network-header annotation stays valid); the MAC-header annotation is set to the frame start. A packet
with less than 4 bytes of headroom is dropped and counted in \`drops_no_headroom\`; one shorter than an
Ethernet header (14 bytes) is dropped and counted in \`drops_short\`. Works in push or pull position.`,
  inputs: '1',
  outputs: '1',
  processing: 'a/a',
  config: Type.Object(
    {
      vlanId: Type.Optional(Type.Integer({ minimum: 0, maximum: 4095, default: 0, description: 'The VLAN id (0: a priority tag only).' })),
      pcp: Type.Optional(Type.Integer({ minimum: 0, maximum: 7, default: 0, description: 'The priority code point (802.1p priority).' })),
      ethertype: Type.Optional(
        Type.Integer({ minimum: 0x8100, maximum: 0x88a8, default: 0x8100, description: 'The tag protocol id: 0x8100 (802.1Q) or 0x88a8 (802.1ad).' }),
      ),
      fromAnnotation: Type.Optional(Type.Boolean({ default: false, description: "Take the TCI from the packet's VLAN annotation (packets without one pass untagged)." })),
    },
    { additionalProperties: false },
  ),
  check: (config) => {
    if (config.ethertype !== 0x8100 && config.ethertype !== 0x88a8)
      return `ethertype must be 0x8100 (802.1Q) or 0x88a8 (802.1ad), got 0x${(config.ethertype ?? 0).toString(16)}`;
    if (config.fromAnnotation && (config.vlanId !== 0 || config.pcp !== 0))
      return 'with fromAnnotation the tag comes from the annotation: leave vlanId and pcp unset';
    return undefined;
  },
  counters: {
    drops_short: 'packets dropped because they were shorter than an Ethernet header (14 bytes)',
    drops_no_headroom: 'packets dropped because they had less than 4 bytes of headroom',
  },
  examples: ["FromPcap({ file: 'in.pcap' }).to(VLANEncap({ vlanId: 10, pcp: 3 })).to(ToPcap({ file: 'out.pcap' }))"],
});
