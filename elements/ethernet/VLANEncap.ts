import { Type } from 'typebox';
import { defineElement } from '../../src/graph/descriptor.js';

export const VLANEncap = defineElement({
  name: 'VLANEncap',
  group: 'ethernet',
  summary: 'Inserts an 802.1Q (or 802.1ad) VLAN tag after the Ethernet addresses.',
  doc: `Click's VLANEncap. Inserts a 4-byte tag between the source address and the EtherType of each
Ethernet frame: the TPID \`ethertype\` (0x8100, 802.1Q; 0x88a8 for an 802.1ad service tag) and the TCI
made of the priority \`pcp\` (3 bits), the drop eligible indicator \`dei\` (1 bit) and \`vlanId\` (12
bits). VLAN id 0 (the default) gives a priority-tagged frame. A tagged frame gets a further, outer tag
(Q-in-Q).

\`nativeVlan\` names the VLAN whose frames leave untagged (Click's NATIVE_VLAN, the "native VLAN" of a
trunk port): a frame whose VLAN id would be \`nativeVlan\` passes unchanged, without a tag (its PCP and
DEI are lost with it). -1, the default, is none. Click's default is 0, which sends VLAN id 0 untagged;
here VLAN id 0 is a priority tag by default, as 802.1Q defines it: give \`nativeVlan: 0\` for Click's
behaviour.

With \`fromAnnotation\` the TCI comes from the packet's VLAN annotation instead (as VLANDecap or
FromDevice set it: PCP, DEI and id as they were), and the annotation is cleared once used, whether the
tag went into the frame or the frame left untagged on the native VLAN (FromDevice's \`restoreVlan\`
convention: the annotation is a tag not yet in the frame); \`vlanId\`, \`pcp\` and \`dei\` must then stay
unset. The annotation does not keep the TPID: \`ethertype\` still chooses it. A packet without the
annotation passes unchanged, untagged (where Click, whose annotation is 0 for an untagged packet,
gets the same result from its default NATIVE_VLAN 0).

The 12 address bytes move 4 bytes into the headroom and the rest of the frame stays where it is (the
network-header annotation stays valid); the MAC-header annotation is set to the frame start. A packet
with less than 4 bytes of headroom is dropped and counted in \`drops_no_headroom\`; one shorter than an
Ethernet header (14 bytes) is dropped and counted in \`drops_short\`. Works in push or pull position.

While it runs, the write handlers \`vlanId\`, \`pcp\`, \`dei\` and \`ethertype\` change the tag (Click's
vlan_id, vlan_pcp and ethertype; \`pktgraph write tag.vlanId 20\`); packets after the write get the new
tag. With \`fromAnnotation\` only \`ethertype\` may be written.`,
  inputs: '1',
  outputs: '1',
  processing: 'a/a',
  config: Type.Object(
    {
      vlanId: Type.Optional(Type.Integer({ minimum: 0, maximum: 4095, default: 0, description: 'The VLAN id (0: a priority tag only).' })),
      pcp: Type.Optional(Type.Integer({ minimum: 0, maximum: 7, default: 0, description: 'The priority code point (802.1p priority).' })),
      dei: Type.Optional(Type.Boolean({ default: false, description: 'The drop eligible indicator bit of the TCI (802.1Q-2011; formerly CFI).' })),
      nativeVlan: Type.Optional(
        Type.Integer({ minimum: -1, maximum: 4095, default: -1, description: 'Frames whose VLAN id is this one leave untagged (-1: none; Click defaults to 0).' }),
      ),
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
    if (config.fromAnnotation && (config.vlanId !== 0 || config.pcp !== 0 || config.dei))
      return 'with fromAnnotation the tag comes from the annotation: leave vlanId, pcp and dei unset';
    return undefined;
  },
  handlers: {
    vlanId: { doc: "read or set the VLAN id of the tag (Click's vlan_id)", read: true, write: true },
    pcp: { doc: "read or set the priority code point (Click's vlan_pcp)", read: true, write: true },
    dei: { doc: 'read or set the drop eligible indicator (true or false)', read: true, write: true },
    ethertype: { doc: "read or set the tag protocol id, 0x8100 or 0x88a8 as a decimal number (Click's ethertype)", read: true, write: true },
  },
  counters: {
    drops_short: 'packets dropped because they were shorter than an Ethernet header (14 bytes)',
    drops_no_headroom: 'packets dropped because they had less than 4 bytes of headroom',
  },
  examples: ["FromPcap({ file: 'in.pcap' }).to(VLANEncap({ vlanId: 10, pcp: 3 })).to(ToPcap({ file: 'out.pcap' }))"],
});
