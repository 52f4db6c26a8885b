// pktgraph as an SRv6 node between host A (link p0) and the kernel's SRv6 node B (link p1), in
// test/kernel.test.mjs's lab. From A: IPv6 gets H.Encaps over B's End and End.DT6 SIDs (to
// fd00:b::3, B's End.DX6 SID), IPv4 H.Encaps.Red to B's End.DX4 SID (one segment: no SRH). From B: packets to this node's SIDs,
// End (back through a queue into the table: its next SID is local too), End.DX6, End.DT4 (to
// table 7's route lookup) and End.DX4, decapsulated towards A.
import { Classifier, Discard, EtherEncap, FromDevice, graph, IPLookup, Queue, Strip, ToDevice, Unqueue } from 'pktgraph';
import { SRv6Encap, SRv6LocalSIDs } from '../../index.js';

export const SIDS = { end: 'fd00:ff::1', dx6: 'fd00:ff::6', dt4: 'fd00:ff::44', dx4: 'fd00:ff::4' };
export const B_SIDS = { end: 'fd00:bb::1', dt6: 'fd00:bb::6', dx4: 'fd00:bb::4', dx6: 'fd00:bb::66' };

export default graph({ name: 'srv6-lab', params: { p0: 'pgx-p0', p1: 'pgx-p1', amac: '', p0mac: '', bmac: '', p1mac: '' } }, (p) => {
  const toA = ToDevice({ device: p.p0 }, 'to_a');
  const toB = ToDevice({ device: p.p1 }, 'to_b');
  const toAv4 = EtherEncap({ type: 0x0800, src: p.p0mac, dst: p.amac }, 'eth_a4');
  const toAv6 = EtherEncap({ type: 0x86dd, src: p.p0mac, dst: p.amac }, 'eth_a6');
  toAv4.to(toA);
  toAv6.to(toA);
  const outB = EtherEncap({ type: 0x86dd, src: p.p1mac, dst: p.bmac }, 'eth_b');
  outB.to(toB);

  // IPv6 to fd00:b::3 goes to B's End.DX6 SID instead, whose next hop is this node.
  const fromA = FromDevice({ device: p.p0 }, 'from_a').to(
    Classifier({ patterns: ['12/0800', '12/86dd 38/fd00000b000000000000000000000003', '12/86dd', '-'] }, 'class_a'),
  );
  fromA.out(0).to(Strip({ length: 14 })).to(SRv6Encap({ src: 'fd00:ab::1', segments: [B_SIDS.dx4], reduced: true }, 'encap4')).to(outB);
  fromA.out(1).to(Strip({ length: 14 })).to(SRv6Encap({ src: 'fd00:ab::1', segments: [B_SIDS.dx6] }, 'encap6_dx')).to(outB);
  fromA.out(2).to(Strip({ length: 14 })).to(SRv6Encap({ src: 'fd00:ab::1', segments: [B_SIDS.end, B_SIDS.dt6] }, 'encap6')).to(outB);
  fromA.out(3).to(Discard({}, 'other_a'));

  // What B's End.DX6 SID decapsulated comes back here, to its next hop, unencapsulated.
  const fromB = FromDevice({ device: p.p1 }, 'from_b').to(
    Classifier({ patterns: ['12/86dd 38/fd00000b000000000000000000000003', '12/86dd', '-'] }, 'class_b'),
  );
  fromB.out(0).to(Discard({}, 'dx6_back'));
  fromB.out(2).to(Discard({}, 'other_b'));
  const sids = SRv6LocalSIDs(
    {
      sids: [
        { sid: SIDS.end, behavior: 'End', output: 1 },
        { sid: SIDS.dx6, behavior: 'End.DX6', output: 2 },
        { sid: SIDS.dt4, behavior: 'End.DT4', output: 3, table: 7 },
        { sid: SIDS.dx4, behavior: 'End.DX4', output: 4, nexthop: '198.18.11.1' },
      ],
    },
    'sids',
  );
  fromB.out(1).to(Strip({ length: 14 })).to(sids);
  sids.out(0).to(Discard({}, 'not_local'));
  sids.out(1).to(Queue({}, 'q_end')).to(Unqueue({}, 'uq_end')).to(sids);
  sids.out(2).to(toAv6);
  sids.out(3).to(IPLookup({ routes: ['198.18.1.0/24 0'] }, 'table7')).to(toAv4);
  sids.out(4).to(toAv4);
});
