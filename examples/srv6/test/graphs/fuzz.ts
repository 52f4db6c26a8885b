// Mutated packets (test/fuzz.test.mjs writes them into `file`) through both SRv6 elements.
import { Counter, Discard, FromPcap, graph, Tee } from 'pktgraph';
import { SRv6Encap, SRv6LocalSIDs } from '../../index.js';
import { S, SEGMENTS, SID } from '../cases.mjs';

export default graph({ name: 'srv6-fuzz', params: { file: '/tmp/srv6-fuzz.pcap' } }, (p) => {
  const copies = FromPcap({ file: p.file }, 'src').to(Tee({}, 'tee'));
  const sids = SRv6LocalSIDs(
    {
      sids: [
        { sid: SID.end, behavior: 'End', output: 1 },
        { sid: SID.endX, behavior: 'End.X', output: 1 },
        { sid: SID.dx4, behavior: 'End.DX4', output: 1 },
        { sid: SID.dx6, behavior: 'End.DX6', output: 1 },
        { sid: SID.dt4, behavior: 'End.DT4', output: 1, table: 4 },
        { sid: SID.dt6, behavior: 'End.DT6', output: 1, table: 6 },
      ],
    },
    'sids',
  );
  copies.out(0).to(sids);
  sids.out(0).to(Counter({}, 'not_local')).to(Discard());
  sids.out(1).to(Counter({}, 'handled')).to(Discard());
  copies.out(1).to(SRv6Encap({ src: S, segments: SEGMENTS }, 'encap')).to(Counter({}, 'encapsulated')).to(Discard());
});
