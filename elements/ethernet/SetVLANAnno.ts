import { Type } from 'typebox';
import { defineElement } from '../../src/graph/descriptor.js';

export const SetVLANAnno = defineElement({
  name: 'SetVLANAnno',
  group: 'ethernet',
  summary: "Sets each packet's VLAN annotation (TCI).",
  doc: `Click's SetVLANAnno. Every packet passing through gets the VLAN annotation \`vlan_tci\` (with the
VLAN-present flag set, the convention FromDevice and VLANDecap use): the whole TCI \`vlanTci\` or the VLAN id \`vlanId\`
(12 bits; DEI 0), with the priority \`pcp\` (3 bits) ORed into its top bits, as Click's
SetVLANAnno(VLAN_TCI, VLAN_PCP) does. The frame itself is not changed:
VLANEncap or EtherVLANEncap with \`fromAnnotation\` turn the annotation into a tag, and VLANSwitch with
\`source: 'annotation'\` switches on it. The handlers change the TCI, or its id or priority, while the
graph runs. Works in push or pull position.`,
  inputs: '1',
  outputs: '1',
  processing: 'a/a',
  config: Type.Object(
    {
      vlanTci: Type.Optional(Type.Integer({ minimum: -1, maximum: 0xffff, default: -1, description: 'The whole TCI (priority, DEI, id); -1: use vlanId.' })),
      vlanId: Type.Optional(Type.Integer({ minimum: 0, maximum: 4095, default: 0, description: 'The VLAN id.' })),
      pcp: Type.Optional(Type.Integer({ minimum: 0, maximum: 7, default: 0, description: 'The priority code point, ORed into the TCI.' })),
    },
    { additionalProperties: false },
  ),
  check: (c) => ((c.vlanTci ?? -1) >= 0 && c.vlanId ? 'give either vlanTci or vlanId, not both' : undefined),
  counters: {},
  handlers: {
    vlan_tci: { doc: 'read or set the whole TCI, 0 to 65535', read: true, write: true },
    vlan_id: { doc: 'read or set the VLAN id, 0 to 4095', read: true, write: true },
    vlan_pcp: { doc: 'read or set the priority code point, 0 to 7', read: true, write: true },
  },
  examples: ["FromPcap({ file: 'in.pcap' }).to(SetVLANAnno({ vlanId: 10 })).to(VLANEncap({ fromAnnotation: true })).to(ToPcap({ file: 'tagged.pcap' }))"],
});
