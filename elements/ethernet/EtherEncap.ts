import { Type } from 'typebox';
import { defineElement } from '../../src/graph/descriptor.js';
import { etherAddress } from '../../src/graph/types.js';

export const EtherEncap = defineElement({
  name: 'EtherEncap',
  group: 'ethernet',
  summary: 'Prepends a fixed 14-byte Ethernet header.',
  doc: `Click's EtherEncap(TYPE, SRC, DST): puts an Ethernet header (destination \`dst\`, source \`src\`,
EtherType \`type\`) in front of each packet, using the packet's headroom (128 bytes from the pool,
more after Strip), and sets the MAC-header annotation to it. A packet with less than 14 bytes of
headroom is dropped and counted in \`drops_no_headroom\`. Works in push or pull position.`,
  inputs: '1',
  outputs: '1',
  processing: 'a/a',
  config: Type.Object(
    {
      type: Type.Optional(Type.Integer({ minimum: 0, maximum: 0xffff, default: 0x0800, description: 'The EtherType (0x0800: IPv4, 0x86dd: IPv6, 0x0806: ARP).' })),
      src: etherAddress('The source Ethernet address, like 02:00:00:00:00:01.'),
      dst: etherAddress('The destination Ethernet address, like 02:00:00:00:00:02.'),
    },
    { additionalProperties: false },
  ),
  counters: { drops_no_headroom: 'packets dropped because they had less than 14 bytes of headroom' },
  examples: ["DecIPTTL().to(EtherEncap({ type: 0x0800, src: '02:00:00:00:00:01', dst: '02:00:00:00:00:02' })).to(ToPcap({ file: 'out.pcap' }))"],
});
