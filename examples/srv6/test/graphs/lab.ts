// pktgraph as an SRv6 node between host A (link p0) and the kernel's SRv6 node B (link p1), in
// test/kernel.test.mjs's lab. From A: IPv6 gets H.Encaps over B's End and End.DT6 SIDs (to
// fd00:b::3, B's End.DX6 SID; to fd00:b::7, B's End.X SID then fd00:ee::1, which B does not
// route: its End.X adjacency brings the packet back here), IPv4 H.Encaps.Red to B's End.DX4 SID
// (one segment: no SRH). From B: packets to this node's SIDs, End (back through a queue into the
// table: its next SID is local too), End.DX6, End.DT4 (to table 7's route lookup), End.DX4, and
// End.X (to the adjacency towards A, still encapsulated: A's kernel takes the SRH off).
import { Classifier, Discard, EtherEncap, FromDevice, graph, IPLookup, Queue, Strip, ToDevice, Unqueue } from 'pktgraph';
import { SRv6Encap, SRv6LocalSIDs } from '../../index.js';

export const SIDS = { end: 'fd00:ff::1', dx6: 'fd00:ff::6', dt4: 'fd00:ff::44', dx4: 'fd00:ff::4', endX: 'fd00:ff::7' };
export const B_SIDS = { end: 'fd00:bb::1', dt6: 'fd00:bb::6', dx4: 'fd00:bb::4', dx6: 'fd00:bb::66', endX: 'fd00:bb::7' };
// The segment after B's End.X SID: B has a blackhole route for it, so only End.X's next hop delivers it.
export const AFTER_B_END_X = 'fd00:ee::1';

export default graph({ name: 'srv6-lab', params: { p0: 'pgx-p0', p1: 'pgx-p1', amac: '', p0mac: '', bmac: '', p1mac: '' } }, (p) => {
  const toA = ToDevice({ device: p.p0 }, 'to_a');
  const toB = ToDevice({ device: p.p1 }, 'to_b');
  const toAv4 = EtherEncap({ type: 0x0800, src: p.p0mac, dst: p.amac }, 'eth_a4');
  const toAv6 = EtherEncap({ type: 0x86dd, src: p.p0mac, dst: p.amac }, 'eth_a6');
  toAv4.to(toA);
  toAv6.to(toA);
  const outB = EtherEncap({ type: 0x86dd, src: p.p1mac, dst: p.bmac }, 'eth_b');
  outB.to(toB);

  // IPv6 to fd00:b::3 goes to B's End.DX6 SID instead, whose next hop is this node; to fd00:b::7,
  // through B's End.X SID, whose next hop is this node too.
  const fromA = FromDevice({ device: p.p0 }, 'from_a').to(
    Classifier({ patterns: ['12/0800', '12/86dd 38/fd00000b000000000000000000000003', '12/86dd 38/fd00000b000000000000000000000007', '12/86dd', '-'] }, 'class_a'),
  );
  fromA.out(0).to(Strip({ length: 14 })).to(SRv6Encap({ src: 'fd00:ab::1', segments: [B_SIDS.dx4], reduced: true }, 'encap4')).to(outB);
  fromA.out(1).to(Strip({ length: 14 })).to(SRv6Encap({ src: 'fd00:ab::1', segments: [B_SIDS.dx6] }, 'encap6_dx')).to(outB);
  fromA.out(2).to(Strip({ length: 14 })).to(SRv6Encap({ src: 'fd00:ab::1', segments: [B_SIDS.endX, AFTER_B_END_X] }, 'encap6_x')).to(outB);
  fromA.out(3).to(Strip({ length: 14 })).to(SRv6Encap({ src: 'fd00:ab::1', segments: [B_SIDS.end, B_SIDS.dt6] }, 'encap6')).to(outB);
  fromA.out(4).to(Discard({}, 'other_a'));

  // What B's End.DX6 SID decapsulated comes back here, to its next hop, unencapsulated; what its
  // End.X SID forwarded comes back to its next hop, this node, still encapsulated: destination
  // the next segment (fd00:ee::1), hop limit 63 (64 less B's hop), Segments Left 0 (was 1).
  const fromB = FromDevice({ device: p.p1 }, 'from_b').to(
    Classifier({ patterns: ['12/86dd 38/fd00000b000000000000000000000003', '12/86dd 38/fd0000ee000000000000000000000001 21/3f 57/00', '12/86dd', '-'] }, 'class_b'),
  );
  fromB.out(0).to(Discard({}, 'dx6_back'));
  fromB.out(1).to(Discard({}, 'x_back'));
  fromB.out(3).to(Discard({}, 'other_b'));
  const sids = SRv6LocalSIDs(
    {
      sids: [
        { sid: SIDS.end, behavior: 'End', output: 1 },
        { sid: SIDS.dx6, behavior: 'End.DX6', output: 2 },
        { sid: SIDS.dt4, behavior: 'End.DT4', output: 3, table: 7 },
        { sid: SIDS.dx4, behavior: 'End.DX4', output: 4, nexthop: '198.18.11.1' },
        { sid: SIDS.endX, behavior: 'End.X', output: 5, nexthop: 'fd00:a::1' },
      ],
    },
    'sids',
  );
  fromB.out(2).to(Strip({ length: 14 })).to(sids);
  sids.out(0).to(Discard({}, 'not_local'));
  sids.out(1).to(Queue({}, 'q_end')).to(Unqueue({}, 'uq_end')).to(sids);
  sids.out(2).to(toAv6);
  sids.out(3).to(IPLookup({ routes: ['198.18.1.0/24 0'] }, 'table7')).to(toAv4);
  sids.out(4).to(toAv4);
  sids.out(5).to(toAv6); // End.X's adjacency: host A
});
