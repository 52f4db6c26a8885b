// EtherSwitch, the learning bridge: frames from pcap files enter its ports one input at a
// time (each FromPcap starts paused and is switched on in turn), and each output is written
// to a pcap file. Checks learning, flooding, unicast to the learned port only, same-port
// drops, short frames, expiry, the table and timeout handlers, a full table, the compile-time
// port check, and that every buffer returns to the pool. Needs no root.
import t, { type Test } from 'tap';
import { rmSync } from 'node:fs';
import { graph, compile, FromPcap, ToPcap, EtherSwitch, Counter, Discard } from 'pktgraph';
import { tmpPath, runGraph } from './lib/run.js';
import { writePcap, readPcap } from './lib/pcap.js';
import { pcapSwitch, frame, A, B, C, D, BCAST, type PcapSwitch } from './lib/pcapswitch.js';
import { ether, ETH_ARP } from './lib/packets.js';
import { sleep } from './lib/wait.js';

const MCAST = '01:00:5e:00:00:01';

const labelOf = (b: Buffer) => b.subarray(14).toString().replace(/\.+$/, '');

interface Switch3 extends Omit<PcapSwitch, 'finish'> {
  /** Remove the graph and read the labels each output received. */
  finish(): string[][];
}

/** A 3-port switch whose input i plays files[i] when switched on. */
function switch3(t: Test, name: string, inputs: Buffer[][], config: { timeout?: number; capacity?: number } = {}): Switch3 {
  const s = pcapSwitch(t, name, inputs, () => EtherSwitch(config, 'sw'));
  return { ...s, finish: () => s.finish().map((frames) => frames.map(labelOf)) };
}

t.test('learning, flooding, unicast to the learned port, same-port drops', async (t) => {
  const s = switch3(t, 'learn', [
    // port 0: A and D live here
    [frame(A, B, 'a-b'), frame(A, BCAST, 'a-bcast')],
    // port 1: B
    [frame(B, A, 'b-a'), frame(B, C, 'b-c')],
    // port 2: C
    [frame(C, A, 'c-a'), frame(C, B, 'c-b'), frame(C, MCAST, 'c-mcast')],
  ]);
  await s.play(0, 2); // A learned on 0; B unknown and broadcast: both flooded to 1 and 2
  t.match(s.g.read('sw', 'table'), /^02:00:00:00:00:0a 0 \d+\.\d{3}\n$/, 'the table holds A on port 0');
  await s.play(1, 2); // b-a goes to port 0 only; C unknown: flooded to 0 and 2
  await s.play(2, 3); // c-a to 0, c-b to 1, multicast flooded to 0 and 1
  const table = s.g.read('sw', 'table');
  const rows = table.trim().split('\n').map((l) => l.split(' '));
  t.same(
    rows.map((r) => [r[0], r[1]]),
    [
      [A, '0'],
      [B, '1'],
      [C, '2'],
    ],
    'the table handler lists MAC and port, sorted by MAC',
  );
  for (const r of rows) t.ok(Number(r[2]) >= 0 && Number(r[2]) < 5, `age in seconds (${r[2]})`);

  const c = s.g.counters('sw');
  t.equal(c.forwarded, 3n, 'three frames went to their learned port');
  t.equal(c.flooded, 4n, 'four frames were flooded');
  t.equal(c.drops_same_port, 0n);
  t.equal(c.drops_pool_empty, 0n);
  const out = s.finish();
  t.same(out[0], ['b-a', 'b-c', 'c-a', 'c-mcast'], 'port 0 got the frames for A and the floods from 1 and 2');
  t.same(out[1], ['a-b', 'a-bcast', 'c-b', 'c-mcast'], 'port 1 got the floods from 0, and c-b once');
  t.same(out[2], ['a-b', 'a-bcast', 'b-c'], 'port 2 got the floods from 0 and 1 (b-c was unknown when it came)');
  t.equal(s.rt.poolStats().available, s.rt.poolStats().capacity, 'every buffer (originals and copies) back in the pool');
});

t.test('flood copies carry the same bytes; same-port and short frames are dropped', async (t) => {
  const arp = ether({ src: D, dst: BCAST, type: ETH_ARP, payload: Buffer.alloc(28, 7) });
  const s = switch3(t, 'drops', [
    // In one batch: D learned on 0 by its broadcast; a frame from A to D is then for port 0 itself.
    [arp, frame(A, D, 'a-d'), Buffer.alloc(13, 0xee), frame(D, A, 'd-a')],
    [frame(B, D, 'b-d')],
    [],
  ]);
  await s.play(0, 4);
  await s.play(1, 1);
  const c = s.g.counters('sw');
  t.equal(c.drops_same_port, 2n, 'a-d and d-a stayed on port 0 (both ends learned there)');
  t.equal(c.drops_short, 1n, 'the 13-byte frame was dropped as short');
  t.equal(c.flooded, 1n, 'the ARP broadcast was flooded');
  t.equal(c.forwarded, 1n, 'b-d went to port 0');
  s.finish();
  const files = s.outFiles.map((f) => readPcap(f).packets.map((p) => p.data));
  t.equal(files[0].length, 1, 'port 0 got b-d only');
  t.equal(labelOf(files[0][0]), 'b-d');
  t.equal(files[1].length, 1, 'port 1 got the broadcast');
  t.equal(files[2].length, 1, 'port 2 got the broadcast');
  t.same(files[1][0], arp, 'the copy is byte for byte the frame');
  t.same(files[2][0], arp, 'the original too');
  t.equal(s.rt.poolStats().available, s.rt.poolStats().capacity, 'every buffer back in the pool');
});

t.test('entries expire after the timeout; the timeout handler reads and sets it', async (t) => {
  const s = switch3(t, 'expiry', [[frame(A, BCAST, 'a-bcast')], [frame(B, A, 'b-a-1')], [frame(C, A, 'c-a-2')]]);
  t.equal(s.g.read('sw', 'timeout'), '300', 'the default timeout is 300 s');
  s.g.write('sw', 'timeout', '0.4');
  t.equal(s.g.read('sw', 'timeout'), '0.4', 'the timeout handler sets it');
  t.throws(() => s.g.write('sw', 'timeout', 'soon'), /timeout/, 'a bad timeout is refused');
  await s.play(0, 1); // A on port 0
  await s.play(1, 1); // b-a to port 0 only
  t.equal(s.g.read('sw', 'table').trim().split('\n').length, 2, 'A and B are in the table');
  await sleep(600);
  t.equal(s.g.read('sw', 'table'), '', 'both entries expired: the table handler lists nothing');
  await s.play(2, 1); // A has expired: c-a is flooded to 0 and 1
  const c = s.g.counters('sw');
  t.equal(c.forwarded, 1n, 'b-a went to the learned port');
  t.equal(c.flooded, 2n, 'the broadcast and c-a (A expired) were flooded');
  const out = s.finish();
  t.same(out[0], ['b-a-1', 'c-a-2'], 'port 0 got b-a and the flooded c-a');
  t.same(out[1], ['a-bcast', 'c-a-2'], 'port 1 got the broadcast and the flooded c-a');
  t.same(out[2], ['a-bcast'], 'port 2 got the broadcast');
});

t.test('a full table learns no new address but still forwards', async (t) => {
  const s = switch3(t, 'full', [[frame(A, BCAST, '1'), frame(B, BCAST, '2'), frame(C, BCAST, '3')], [frame(D, C, 'd-c')], []], { capacity: 2 });
  await s.play(0, 3);
  await s.play(1, 1);
  const c = s.g.counters('sw');
  t.equal(c.table_full, 2n, 'C and then D were not learned');
  t.equal(c.flooded, 4n, 'd-c was flooded: C is unknown');
  t.same(
    s.g.read('sw', 'table').trim().split('\n').map((l) => l.split(' ').slice(0, 2).join(' ')),
    [`${A} 0`, `${B} 0`],
    'the table holds the first two addresses',
  );
  s.finish();
});

t.test('inputs and outputs must match, checked when compiling', async (t) => {
  t.throws(
    () =>
      compile(
        graph('mismatch', () => {
          const sw = EtherSwitch({}, 'sw');
          FromPcap({ file: 'x.pcap' }).to(sw.in(0));
          FromPcap({ file: 'y.pcap' }).to(sw.in(1));
          sw.out(0).to(ToPcap({ file: 'z.pcap' }));
        }),
      ),
    /sw.*2 input\(s\) but 1 output\(s\)/,
  );
  t.throws(() => compile(graph('badtimeout', () => FromPcap({ file: 'x.pcap' }).to(EtherSwitch({ timeout: 0 }, 'sw')).to(ToPcap({ file: 'z.pcap' })))), /timeout/);
});

t.test('a full table reuses the room of expired entries', async (t) => {
  const s = switch3(t, 'reuse', [[frame(A, BCAST, '1'), frame(B, BCAST, '2')], [frame(C, BCAST, '3')], [frame(D, BCAST, '4')]], { capacity: 2, timeout: 0.3 });
  await s.play(0, 2);
  await sleep(450); // A and B expire
  await s.play(1, 1);
  await s.play(2, 1);
  t.equal(s.g.counters('sw').table_full, 0n, 'C and D were learned in the room A and B left');
  t.same(
    s.g.read('sw', 'table').trim().split('\n').map((l) => l.split(' ').slice(0, 2).join(' ')),
    [`${C} 1`, `${D} 2`],
    'the table holds C and D',
  );
  s.finish();
});

t.test('three ports pushed from two workers at once: every frame accounted for', async (t) => {
  // Each port's host sends to the other two hosts and to the broadcast address, many times over.
  const macs = [A, B, C];
  const files = macs.map((src, i) => {
    const f = tmpPath(`stress-in${i}.pcap`);
    writePcap(f, [...macs.filter((m) => m !== src).map((dst) => ({ data: frame(src, dst, `${i}`) })), { data: frame(src, BCAST, `${i}b`) }]);
    return f;
  });
  t.teardown(() => files.forEach((f) => rmSync(f, { force: true })));
  const reps = 2000;
  const r = await runGraph(
    () => {
      const sw = EtherSwitch({}, 'sw');
      files.forEach((file, i) => {
        FromPcap({ file, repeat: reps }, `src${i}`).to(sw.in(i));
        sw.out(i).to(Counter({}, `out${i}`)).to(Discard());
      });
    },
    { threads: 2, name: 'stress' },
  );
  const sw = r.elements.sw;
  const sent = 3 * 3 * reps;
  t.equal(r.elements.src0.packets + r.elements.src1.packets + r.elements.src2.packets, sent, 'every frame was played');
  t.equal(sw.forwarded + sw.flooded + sw.drops_same_port + sw.drops_short, sent, 'every frame was forwarded, flooded or dropped');
  t.equal(sw.drops_same_port + sw.drops_short + sw.table_full, 0, 'no drops, the table never filled');
  const delivered = r.elements.out0.packets + r.elements.out1.packets + r.elements.out2.packets;
  t.equal(delivered, sw.forwarded + 2 * sw.flooded - sw.drops_pool_empty, 'outputs got one frame per forward and two per flood (less copies the pool could not give)');
  t.ok(sw.flooded >= 3 * reps, `at least the broadcasts were flooded (${sw.flooded})`);
  t.equal(r.pool.available, r.pool.capacity, 'every buffer back in the pool');
});
