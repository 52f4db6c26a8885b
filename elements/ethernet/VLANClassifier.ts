import { Type } from 'typebox';
import { defineElement } from '../../src/graph/descriptor.js';

const vlanId = Type.Integer({ minimum: 0, maximum: 4095 });

export const VLANClassifier = defineElement({
  name: 'VLANClassifier',
  group: 'ethernet',
  summary: 'Sends each frame to the output of its 802.1Q VLAN id, with a default output for the rest.',
  doc: `A VLAN demultiplexer: \`vlans\` lists one entry per output, a VLAN id or a list of ids, and a frame
whose VLAN id is listed in entry i leaves on output i, unchanged. Click has no such element (its configs
use Classifier patterns like \`12/8100 14/000a%0fff\`); it is named after Classifier and IPClassifier,
whose shape it has (a list with one output per entry, the rest on a last output), and not VLANSwitch,
which would suggest a VLAN-aware learning bridge like EtherSwitch. A VLAN id may be listed only once.

Where the VLAN id comes from (\`source\`):
- \`'frame'\` (default): the outer tag of the frame. A frame is tagged when its EtherType (bytes 12-13) is
  one of \`tpids\` (default 0x8100 only, as Click's VLANDecap; add 0x88a8 for 802.1ad service tags); its VLAN id
  is the low 12 bits of the TCI in bytes 14-15. Only the outer tag counts: a double-tagged frame goes by
  its outer id (an 802.1ad outer tag with the default \`tpids\` makes the frame untagged here; to
  switch on the inner id, take the outer tag off with VLANDecap first). A frame shorter than 14 bytes, or tagged and shorter than
  18, is dropped and counted in \`drops_short\`.
- \`'annotation'\`: the packet's VLAN annotation (FromDevice without \`restoreVlan\`, VLANDecap,
  SetVLANAnno); a packet without one is untagged. The packet's bytes are not read.

An untagged frame counts as VLAN \`nativeVlan\` (a trunk port's native VLAN); with the default -1 it is
not any listed VLAN. A frame whose VLAN is not listed leaves on the default output, the one after the
listed ones, when \`unlisted\` is \`'output'\` (the default); with \`'drop'\` there is no default output and
such frames are dropped and counted in \`drops_unlisted\`. So the element has \`vlans.length\` + 1 outputs,
or \`vlans.length\` with \`'drop'\`. The priority and DEI bits are ignored. Each batch is classified
whole (one table lookup per frame), then each output receives one sub-batch in arrival order. Push only.`,
  inputs: '1',
  outputs: '1-',
  processing: 'h/h',
  config: Type.Object(
    {
      vlans: Type.Array(Type.Union([vlanId, Type.Array(vlanId, { minItems: 1 })]), {
        minItems: 1,
        maxItems: 4096,
        description: 'One entry per output: a VLAN id (0 to 4095) or a list of them.',
      }),
      source: Type.Optional(Type.Union([Type.Literal('frame'), Type.Literal('annotation')], { default: 'frame', description: "Where the VLAN id comes from: 'frame' (the outer tag) or 'annotation'." })),
      tpids: Type.Optional(
        Type.Array(Type.Integer({ minimum: 0x600, maximum: 0xffff }), { minItems: 1, maxItems: 4, default: [0x8100], description: 'EtherTypes that mark a tagged frame (frame source).' }),
      ),
      nativeVlan: Type.Optional(Type.Integer({ minimum: -1, maximum: 4095, default: -1, description: 'The VLAN untagged frames belong to; -1 for none.' })),
      unlisted: Type.Optional(Type.Union([Type.Literal('output'), Type.Literal('drop')], { default: 'output', description: "Frames of unlisted VLANs: 'output' (the last output) or 'drop'." })),
    },
    { additionalProperties: false },
  ),
  check: (c, ports) => {
    const seen = new Map<number, number>();
    for (const [i, entry] of c.vlans.entries())
      for (const id of Array.isArray(entry) ? entry : [entry]) {
        const first = seen.get(id);
        if (first !== undefined) return `VLAN ${id} is listed for output ${first} and again for output ${i}: list each VLAN once`;
        seen.set(id, i);
      }
    const want = c.vlans.length + (c.unlisted === 'drop' ? 0 : 1);
    if (ports.outputs !== want)
      return `it has ${ports.outputs} output(s) but needs ${want}: one per vlans entry (${c.vlans.length})${c.unlisted === 'drop' ? '' : ' and the default output after them'}`;
    return undefined;
  },
  counters: {
    drops_short: 'frames dropped because they were shorter than 14 bytes, or tagged and shorter than 18 (frame source)',
    drops_unlisted: "frames dropped because their VLAN is not listed (unlisted: 'drop')",
  },
  examples: [
    "const vc = FromDevice({ device: 'trunk0' }).to(VLANClassifier({ vlans: [10, [20, 21]] }, 'vc')); // vc.out(0): VLAN 10, vc.out(1): 20 and 21, vc.out(2): the rest",
  ],
});
