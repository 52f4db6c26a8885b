import { Type } from 'typebox';
import { defineElement } from '../../src/graph/descriptor.js';

export const VLANDecap = defineElement({
  name: 'VLANDecap',
  group: 'ethernet',
  summary: 'Removes the outer VLAN tag of a frame into the VLAN annotation.',
  doc: `Click's VLANDecap. A frame whose EtherType is 0x8100 (802.1Q) or 0x88a8 (802.1ad) loses that tag:
its TCI (priority, DEI and VLAN id) goes into the \`vlan_tci\` annotation with the VLAN-present flag
set (the convention FromDevice uses), and the frame continues with the next EtherType. Only the outer
tag is removed: an 802.1ad frame with an inner 802.1Q tag leaves with the inner tag in place and the
outer (service) TCI in the annotation; a second VLANDecap removes the inner tag and overwrites the
annotation with its TCI. The TPID is not kept (VLANEncap's \`ethertype\` chooses it again).

An untagged frame passes unchanged with the VLAN annotation cleared, as in Click. The 12 address bytes
move 4 bytes forward over the tag and the rest of the frame stays where it is (the network-header
annotation stays valid); the MAC-header annotation is set to the frame start. A frame shorter than an
Ethernet header (14 bytes), or a tagged one shorter than 18 bytes, is dropped and counted in
\`drops_short\`. Works in push or pull position.`,
  inputs: '1',
  outputs: '1',
  processing: 'a/a',
  config: Type.Object({}, { additionalProperties: false }),
  counters: {
    drops_short: 'frames dropped because they were shorter than 14 bytes, or tagged and shorter than 18',
  },
  examples: ["FromDevice({ device: 'eth0', restoreVlan: true }).to(VLANDecap()).to(VLANEncap({ fromAnnotation: true })).to(ToDevice({ device: 'eth1' }))"],
});
