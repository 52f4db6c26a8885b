// The packets test/functional.test.mjs sends through the SRv6 elements, with the SIDs they use:
// one module for the graph file that sends them and the test that checks what came out.
import { ipv4Udp, ipv6Udp, srh, srv6 } from './packets.mjs';

export const S = 'fd00:a::1';
export const SEGMENTS = ['fd00:1::1', 'fd00:2::2', 'fd00:3::3'];
export const SID = { end: 'fd00:b::1', endX: 'fd00:b::2', dx4: 'fd00:b::4', dx6: 'fd00:b::6', dt4: 'fd00:b::44', dt6: 'fd00:b::66' };
export const NEXTHOP6 = 'fe80::99';

export const v4 = ipv4Udp('198.18.1.1', '198.18.2.2', 40, 0xb8);
export const v6 = ipv6Udp('fd00:a::1', 'fd00:c::2', 40, 0x2e);

// Well-formed packets for each behaviour: [name, packet, how many].
const path = [SID.end, 'fd00:2::2', 'fd00:3::3'];  // SRH order: [3::3, 2::2, b::1]
export const good = {
  end: [srv6(S, SID.end, srh(41, [...path].reverse(), { segmentsLeft: 2 }), v6, 41), 3],
  endX: [srv6(S, SID.endX, srh(41, ['fd00:3::3', SID.endX], { segmentsLeft: 1 }), v6, 41), 4],
  dx4: [srv6(S, SID.dx4, srh(4, [SID.dx4, 'fd00:1::1'], { segmentsLeft: 0 }), v4, 4), 5],
  dx6: [srv6(S, SID.dx6, null, v6, 41), 6], // no SRH: allowed at the end of the path
  dt4: [srv6(S, SID.dt4, srh(4, [SID.dt4], { segmentsLeft: 0 }), v4, 4), 7],
  dt6: [srv6(S, SID.dt6, srh(41, [SID.dt6], { segmentsLeft: 0 }), v6, 41), 8],
  notLocal: [srv6(S, 'fd00:9::9', srh(41, ['fd00:9::9'], { segmentsLeft: 0 }), v6, 41), 9],
};

// Malformed or refused packets, each with the counter it must land in: [counter, packet, how many].
const twoSegs = ['fd00:3::3', SID.end];
const truncated = srv6(S, SID.end, srh(41, twoSegs, { segmentsLeft: 1, hdrExtLen: 6 }), Buffer.alloc(0), 41); // claims 3 segments, has 2
export const bad = [
  ['drops_bad_length', srv6(S, SID.end, srh(41, twoSegs, { segmentsLeft: 1, hdrExtLen: 1 }), v6, 41), 2],
  ['drops_bad_length', srv6(S, SID.end, srh(41, twoSegs, { segmentsLeft: 1, lastEntry: 5 }), v6, 41), 3],
  ['drops_bad_length', truncated, 4],
  ['drops_bad_segments_left', srv6(S, SID.end, srh(41, twoSegs, { segmentsLeft: 3 }), v6, 41), 5],
  ['drops_hop_limit', srv6(S, SID.end, srh(41, twoSegs, { segmentsLeft: 1 }), v6, 41, 1), 6],
  ['drops_sl_zero', srv6(S, SID.end, srh(41, twoSegs, { segmentsLeft: 0 }), v6, 41), 7],
  ['drops_no_srh', srv6(S, SID.end, null, v6, 41), 8],
  ['drops_sl_nonzero', srv6(S, SID.dx4, srh(4, [SID.dx4, 'fd00:1::1'], { segmentsLeft: 1 }), v4, 4), 9],
  ['drops_wrong_inner', srv6(S, SID.dx4, srh(41, [SID.dx4], { segmentsLeft: 0 }), v6, 41), 10],
  ['drops_short', srv6(S, SID.end, null, v6, 41).subarray(0, 30), 11],
  ['drops_not_ipv6', v4, 12],
];
