// The SRv6 elements on generated packets: the headers H.Encaps and H.Encaps.Red build, what each
// local SID behaviour does to a packet, and every malformed SRH dropped under its reason.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bad, good, S, SEGMENTS, SID, v4, v6 } from './cases.mjs';
import { ip6, readPcap, srh } from './packets.mjs';
import { pktgraph, runGraph } from './lib.mjs';

const dir = mkdtempSync(join(tmpdir(), 'pgx-srv6-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));
const summary = runGraph('functional.ts', [`dir=${dir}`]);
const counters = summary.elements;
const packets = (name) => readPcap(readFileSync(join(dir, `${name}.pcap`)));

test('H.Encaps: outer IPv6 to the first segment, an SRH listing the path backwards, the inner packet intact', () => {
  assert.equal(counters.encap.packets, 10);
  const out = packets('encap');
  assert.equal(out.length, 10);
  const p = out[0];
  const srhLen = 8 + 16 * 3;
  assert.equal(p.length, 40 + srhLen + v4.length);
  assert.equal(p[0] >> 4, 6);
  assert.equal(((p[0] & 0x0f) << 4) | (p[1] >> 4), 0xb8, 'traffic class copied from the inner TOS');
  assert.equal(p.readUInt16BE(4), srhLen + v4.length, 'payload length');
  assert.equal(p[6], 43, 'next header: routing');
  assert.equal(p[7], 64, 'hop limit');
  assert.deepEqual(p.subarray(8, 24), ip6(S));
  assert.deepEqual(p.subarray(24, 40), ip6(SEGMENTS[0]));
  assert.deepEqual(p.subarray(40, 40 + srhLen), srh(4, [...SEGMENTS].reverse()));
  assert.deepEqual(p.subarray(40 + srhLen), v4);
});

test('H.Encaps.Red: the first segment left out of the SRH; one segment, no SRH', () => {
  const p = packets('red')[0];
  const srhLen = 8 + 16;
  assert.deepEqual(p.subarray(24, 40), ip6(SEGMENTS[0]));
  assert.deepEqual(p.subarray(40, 40 + srhLen), srh(41, [SEGMENTS[1]], { segmentsLeft: 1, lastEntry: 0 }));
  assert.deepEqual(p.subarray(40 + srhLen), v6);
  const q = packets('red1')[0];
  assert.equal(q.length, 40 + v4.length);
  assert.equal(q[6], 4, 'next header: IPv4, no SRH');
  assert.equal(q[7], 9, 'hop limit from the config');
  assert.deepEqual(q.subarray(24, 40), ip6(SEGMENTS[0]));
  assert.deepEqual(q.subarray(40), v4);
});

test('End and End.X: segments left and hop limit decremented, the next segment in the destination', () => {
  const sids = counters.sids;
  assert.equal(sids.end, good.end[1]);
  assert.equal(sids.end_x, good.endX[1]);
  const p = packets('out_end')[0];
  const sent = good.end[0];
  assert.equal(p.length, sent.length);
  assert.equal(p[7], 63);
  assert.equal(p[40 + 3], 1, 'segments left 2 -> 1');
  assert.deepEqual(p.subarray(24, 40), ip6('fd00:2::2'));
  assert.deepEqual(p.subarray(40 + 8), sent.subarray(40 + 8), 'segment list and inner packet unchanged');
  const x = packets('out_end_x')[0];
  assert.equal(x[40 + 3], 0);
  assert.deepEqual(x.subarray(24, 40), ip6('fd00:3::3'));
});

test('End.DX4, End.DX6, End.DT4, End.DT6: the inner packet alone comes out, by the SID\'s output', () => {
  const sids = counters.sids;
  assert.equal(sids.end_dx4, good.dx4[1]);
  assert.equal(sids.end_dx6, good.dx6[1]);
  assert.equal(sids.end_dt4, good.dt4[1]);
  assert.equal(sids.end_dt6, good.dt6[1]);
  for (const [name, inner, n] of [['dx4', v4, good.dx4[1]], ['dx6', v6, good.dx6[1]], ['dt4', v4, good.dt4[1]], ['dt6', v6, good.dt6[1]]]) {
    const out = packets(`out_${name}`);
    assert.equal(out.length, n, name);
    for (const p of out) assert.deepEqual(p, inner, name);
  }
  assert.equal(sids.not_local, good.notLocal[1]);
  assert.deepEqual(packets('out_not_local')[0], good.notLocal[0], 'a packet to no local SID passes unchanged');
});

test('malformed SRHs and refused packets are dropped, each under its reason, and nothing else is', () => {
  const sids = counters.sids;
  const want = {};
  for (const [counter, , n] of bad) want[counter] = (want[counter] ?? 0) + n;
  for (const [counter, n] of Object.entries(want)) assert.equal(sids[counter], n, counter);
  const dropped = Object.entries(sids).filter(([k]) => k.startsWith('drops_')).reduce((a, [, v]) => a + v, 0);
  assert.equal(dropped, bad.reduce((a, [, , n]) => a + n, 0), 'no other drops');
  const out = Object.keys(counters).filter((k) => k.startsWith('out_')).reduce((a, k) => a + counters[k].packets, 0);
  assert.equal(out, Object.values(good).reduce((a, [, n]) => a + n, 0), 'every good packet came out');
});

test('pktgraph elements documents the plugin elements, and a bad SID table is refused at compile time', () => {
  const list = pktgraph(['elements', '--plugin', '.']);
  assert.equal(list.status, 0, list.stderr);
  assert.match(list.stdout, /SRv6Encap\s+srv6/);
  assert.match(list.stdout, /SRv6LocalSIDs\s+srv6/);
  const doc = pktgraph(['elements', 'SRv6LocalSIDs', '--plugin', '.']);
  assert.match(doc.stdout, /drops_bad_segments_left/);
  const r = pktgraph(['compile', 'test/graphs/bad-output.ts']);
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /sends to output 5 but the element has 2 outputs/);
});
