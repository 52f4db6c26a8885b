import { Type } from 'typebox';
import { defineElement } from '../../src/graph/descriptor.js';

export const VLANDecap = defineElement({
  name: 'VLANDecap',
  group: 'ethernet',
  summary: 'Removes the outer VLAN tag of a frame into the VLAN annotation.',
  doc: `Click's VLANDecap. A frame whose EtherType is \`ethertype\` (the TPID; 0x8100, 802.1Q, by default, as
in Click) loses that tag: its TCI (priority, DEI and VLAN id, what Click's VLAN_TCI annotation
carries) goes into the \`vlan_tci\` annotation with the VLAN-present flag set (the convention
FromDevice uses), and the frame continues with the next EtherType. Only the outer tag is removed, and
only when it has that TPID: for an 802.1ad frame (service tag 0x88a8, then an 802.1Q customer tag)
use \`VLANDecap({ ethertype: 0x88a8 })\`, which leaves the inner tag in place and the outer (service)
TCI in the annotation, then a \`VLANDecap()\` that removes the inner tag and overwrites the annotation
with its TCI. The TPID is not kept (VLANEncap's \`ethertype\` chooses it again). Older releases took
both 0x8100 and 0x88a8 tags by default; now 802.1ad is opt-in, as in Click.

A frame without such a tag (untagged, or tagged with another TPID) passes unchanged with the VLAN
annotation cleared, as in Click (whose annotation is then 0). The 12 address bytes move 4 bytes forward
over the tag and the rest of the frame stays where it is (the network-header annotation stays valid);
the MAC-header annotation is set to the frame start. A frame shorter than an Ethernet header (14
bytes), or a tagged one shorter than 18 bytes, is dropped and counted in \`drops_short\`. Works in push
or pull position.`,
  inputs: '1',
  outputs: '1',
  processing: 'a/a',
  config: Type.Object(
    {
      ethertype: Type.Optional(
        Type.Integer({
          minimum: 0x600,
          maximum: 0xffff,
          default: 0x8100,
          description: 'The TPID of the tags removed: 0x8100 (802.1Q), 0x88a8 (802.1ad service tags), 0x9100 (older Q-in-Q), ...',
        }),
      ),
    },
    { additionalProperties: false },
  ),
  counters: {
    drops_short: 'frames dropped because they were shorter than 14 bytes, or tagged and shorter than 18',
  },
  examples: [
    "FromPcap({ file: 'qinq.pcap' }).to(VLANDecap({ ethertype: 0x88a8 }, 'service')).to(VLANDecap({}, 'customer'))",
    "FromDevice({ device: 'eth0', restoreVlan: true }).to(VLANDecap()).to(VLANEncap({ fromAnnotation: true })).to(ToDevice({ device: 'eth1' }))",
  ],
});
