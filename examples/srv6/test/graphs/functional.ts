// Every SRv6 behaviour and every malformed case of test/cases.mjs, from generators into the
// plugin's elements, what comes out written to pcap files in `dir`.
import { Counter, Discard, graph, InfiniteSource, ToPcap } from 'pktgraph';
import { SRv6Encap, SRv6LocalSIDs } from '../../index.js';
import { bad, good, NEXTHOP6, S, SEGMENTS, SID, v4, v6 } from '../cases.mjs';

export default graph({ name: 'srv6-functional', params: { dir: '/tmp' } }, (p) => {
  const pcap = (name: string) => ToPcap({ file: `${p.dir}/${name}.pcap`, linktype: 101 }, `pcap_${name}`);
  InfiniteSource({ data: v4.toString('hex'), limit: 10 }, 'src_encap').to(SRv6Encap({ src: S, segments: SEGMENTS }, 'encap')).to(pcap('encap'));
  InfiniteSource({ data: v6.toString('hex'), limit: 10 }, 'src_red').to(SRv6Encap({ src: S, segments: SEGMENTS.slice(0, 2), reduced: true }, 'red')).to(pcap('red'));
  InfiniteSource({ data: v4.toString('hex'), limit: 10 }, 'src_red1').to(SRv6Encap({ src: S, segments: SEGMENTS.slice(0, 1), reduced: true, hopLimit: 9 }, 'red1')).to(pcap('red1'));

  const sids = SRv6LocalSIDs(
    {
      sids: [
        { sid: SID.end, behavior: 'End', output: 1 },
        { sid: SID.endX, behavior: 'End.X', output: 2, nexthop: NEXTHOP6 },
        { sid: SID.dx4, behavior: 'End.DX4', output: 3, nexthop: '198.18.2.2' },
        { sid: SID.dx6, behavior: 'End.DX6', output: 4 },
        { sid: SID.dt4, behavior: 'End.DT4', output: 5, table: 7 },
        { sid: SID.dt6, behavior: 'End.DT6', output: 6, table: 8 },
      ],
    },
    'sids',
  );
  for (const [name, [packet, n]] of Object.entries(good)) InfiniteSource({ data: packet.toString('hex'), limit: n }, `good_${name}`).to(sids);
  bad.forEach(([, packet, n], i) => InfiniteSource({ data: packet.toString('hex'), limit: n }, `bad_${i}`).to(sids));
  const names = ['not_local', 'end', 'end_x', 'dx4', 'dx6', 'dt4', 'dt6'];
  names.forEach((name, port) => sids.out(port).to(Counter({}, `out_${name}`)).to(pcap(`out_${name}`)));
});
