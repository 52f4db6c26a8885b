import { Type } from 'typebox';
import { defineElement } from '../../src/graph/descriptor.js';

export const StripToNetworkHeader = defineElement({
  name: 'StripToNetworkHeader',
  group: 'standard',
  summary: 'Removes everything before the network header (or moves back to it).',
  doc: `Click's StripToNetworkHeader: the packet's data start moves to its network-header annotation
(set by CheckIPHeader, MarkIPHeader, CheckIP6Header, or FromPcap for raw IP files), so whatever link
header precedes it (Ethernet, VLAN tags of any number) is removed without knowing its length. When the
network header lies before the data start (after a Strip too many), the data start moves back to it,
as in Click. A packet whose network-header annotation is unset, or points past its end, is dropped
and counted in \`drops_no_header\` (Click leaves the unset case undefined). Unstrip or an encapsulator
puts a link header back. Works in push or pull position.`,
  inputs: '1',
  outputs: '1',
  processing: 'a/a',
  config: Type.Object({}, { additionalProperties: false }),
  counters: { drops_no_header: 'packets dropped because the network-header annotation is unset or past the end' },
  examples: ["FromPcap({ file: 'vlan.pcap' }).to(Classifier({ patterns: ['12/8100 16/0800'] })).to(MarkIPHeader({ offset: 18 })).to(StripToNetworkHeader()).to(ToPcap({ file: 'ip.pcap' }))"],
});
