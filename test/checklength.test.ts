// CheckLength through pcap files: packets of at most `length` bytes on output 0, longer ones
// on output 1 (or dropped without it), bytes unchanged, order kept, counted in too_long
// (drops_too_long without output 1).
import t from 'tap';
import { rmSync } from 'node:fs';
import { FromPcap, ToPcap, CheckLength, Queue, Unqueue } from 'pktgraph';
import { runGraph, tmpPath } from './lib/run.js';
import { writePcap, readPcap } from './lib/pcap.js';

const files: string[] = [];
t.teardown(() => files.forEach((f) => rmSync(f, { force: true })));
const path = (tag: string) => {
  const f = tmpPath(`checklength-${tag}.pcap`);
  files.push(f);
  return f;
};

t.test('CheckLength splits by length, keeping bytes and order', async (t) => {
  const sizes = Array.from({ length: 300 }, (_, i) => 14 + ((i * 37) % 1500));
  const pkts = sizes.map((n, i) => Buffer.alloc(n, i & 0xff));
  const limit = 800;
  writePcap(path('in'), pkts.map((data) => ({ data })));
  const s = await runGraph(() => {
    const c = FromPcap({ file: path('in') }).to(CheckLength({ length: limit }, 'len'));
    c.to(ToPcap({ file: path('short') }));
    c.out(1).to(ToPcap({ file: path('long') }));
  });
  const short = readPcap(path('short')).packets.map((p) => p.data);
  const long = readPcap(path('long')).packets.map((p) => p.data);
  const wantShort = pkts.filter((p) => p.length <= limit);
  const wantLong = pkts.filter((p) => p.length > limit);
  t.ok(short.length === wantShort.length && short.every((p, i) => p.equals(wantShort[i])), `output 0: the ${wantShort.length} packets of at most ${limit} bytes, in order`);
  t.ok(long.length === wantLong.length && long.every((p, i) => p.equals(wantLong[i])), `output 1: the ${wantLong.length} longer ones, in order`);
  t.equal(s.elements.len.too_long, wantLong.length, 'counted in too_long');

  const s2 = await runGraph(() => {
    FromPcap({ file: path('in') }).to(CheckLength({ length: limit }, 'len')).to(ToPcap({ file: path('only') }));
  });
  t.equal(readPcap(path('only')).packets.length, wantShort.length, 'without output 1 the long ones are dropped');
  t.same([s2.elements.len.drops_too_long, s2.elements.len.too_long], [wantLong.length, 0], '... and counted in drops_too_long');
  t.equal(s2.pool.available, s2.pool.capacity, 'every buffer back in the pool');
});

t.test('CheckLength in pull position (between a Queue and an Unqueue): output 1 is pushed', async (t) => {
  const sizes = Array.from({ length: 200 }, (_, i) => 60 + ((i * 53) % 1400));
  const pkts = sizes.map((n, i) => Buffer.alloc(n, i & 0xff));
  const limit = 700;
  writePcap(path('pull-in'), pkts.map((data) => ({ data })));
  const s = await runGraph(() => {
    const c = FromPcap({ file: path('pull-in') }).to(Queue({ capacity: 1000 })).to(CheckLength({ length: limit }, 'len'));
    c.out(1).to(ToPcap({ file: path('pull-long') }));
    c.to(Unqueue({ burst: 5 })).to(ToPcap({ file: path('pull-short') }));
  });
  const short = readPcap(path('pull-short')).packets.map((p) => p.data);
  const long = readPcap(path('pull-long')).packets.map((p) => p.data);
  const wantShort = pkts.filter((p) => p.length <= limit);
  const wantLong = pkts.filter((p) => p.length > limit);
  t.ok(short.length === wantShort.length && short.every((p, i) => p.equals(wantShort[i])), `pulled: the ${wantShort.length} short packets, in order`);
  t.ok(long.length === wantLong.length && long.every((p, i) => p.equals(wantLong[i])), `pushed to output 1: the ${wantLong.length} long ones, in order`);
  t.same([s.elements.len.too_long, s.elements.len.drops_too_long], [wantLong.length, 0]);
  t.equal(s.pool.available, s.pool.capacity, 'every buffer back in the pool');
});
