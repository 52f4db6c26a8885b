// Strip and Unstrip: bytes removed and restored exactly, short packets and packets without
// headroom dropped and counted, in push position and in pull position (between a Queue and
// an Unqueue).
import t from 'tap';
import { rmSync } from 'node:fs';
import { graph, compile, FromPcap, ToPcap, Strip, Unstrip, Counter, Queue, Unqueue, Discard, InfiniteSource, type ElementNode } from 'pktgraph';
import { runGraph, tmpPath } from './lib/run.js';
import { sameBuffers } from './lib/pcapfiles.js';
import { writePcap, readPcap } from './lib/pcap.js';

// Packets of every length from 0 to 80, each byte distinct enough to notice a shift.
const packets = Array.from({ length: 81 }, (_, len) => Buffer.from(Array.from({ length: len }, (_, i) => (i * 7 + len) & 0xff)));
const longEnough = (n: number) => packets.filter((p) => p.length >= n);

function files(name: string) {
  const input = tmpPath(`strip-${name}-in.pcap`);
  writePcap(input, packets.map((data) => ({ data })));
  const outs: string[] = [];
  return {
    input,
    out(k: string) {
      const f = tmpPath(`strip-${name}-${k}.pcap`);
      outs.push(f);
      return f;
    },
    read(k: string) {
      return readPcap(tmpPath(`strip-${name}-${k}.pcap`)).packets.map((p) => p.data);
    },
    clean() {
      for (const f of [input, ...outs]) rmSync(f, { force: true });
    },
  };
}


for (const position of ['push', 'pull'] as const) {
  t.test(`Strip then Unstrip in ${position} position`, async (t) => {
    const f = files(position);
    // In pull position the elements sit between a Queue and an Unqueue.
    const place = (src: ElementNode, name: string, body: (x: ElementNode) => ElementNode) =>
      position === 'push' ? body(src) : body(src.to(Queue({ capacity: 1000 }, `q_${name}`))).to(Unqueue({ burst: 7 }, `uq_${name}`));
    const s = await runGraph(
      () => {
        place(FromPcap({ file: f.input, burst: 16 }), 'a', (x) => x.to(Strip({ length: 14 }, 'strip_a')).to(Counter({}, 'c_a'))).to(
          ToPcap({ file: f.out('stripped') }),
        );
        place(FromPcap({ file: f.input, burst: 16 }), 'b', (x) => x.to(Strip({ length: 14 }, 'strip_b')).to(Unstrip({ length: 14 }, 'unstrip_b'))).to(
          ToPcap({ file: f.out('restored') }),
        );
        // The default length is 14; length 0 passes everything through.
        place(FromPcap({ file: f.input }), 'c', (x) => x.to(Strip({}, 'strip_c')).to(Strip({ length: 0 }, 'strip0')).to(Unstrip({ length: 0 }, 'unstrip0'))).to(
          ToPcap({ file: f.out('default') }),
        );
      },
      { threads: 2 },
    );
    if (position === 'pull') t.equal(s.elements.uq_b.packets, longEnough(14).length, 'the Unqueue pulled the survivors');
    const shorts = packets.length - longEnough(14).length;
    sameBuffers(t, f.read('stripped'), longEnough(14).map((p) => p.subarray(14)), 'Strip(14) removed the first 14 bytes');
    sameBuffers(t, f.read('restored'), longEnough(14), 'Strip(14) then Unstrip(14) restored every frame exactly');
    sameBuffers(t, f.read('default'), longEnough(14).map((p) => p.subarray(14)), 'the default length is 14');
    t.equal(s.elements.strip_a.drops_short, shorts, `${shorts} packets shorter than 14 bytes dropped and counted`);
    t.equal(s.elements.strip_b.drops_short, shorts);
    t.equal(s.elements.strip_c.drops_short, shorts);
    t.equal(s.elements.strip0.drops_short, 0);
    t.equal(s.elements.unstrip_b.drops_no_headroom, 0);
    t.equal(s.elements.c_a.packets, longEnough(14).length);
    t.equal(s.pool.available, s.pool.capacity, 'every buffer back in the pool (dropped ones too)');
    f.clean();
  });

  t.test(`Unstrip without enough headroom drops and counts, in ${position} position`, async (t) => {
    const f = files(`headroom-${position}`);
    const s = await runGraph(() => {
      const pipe = (name: string, body: (x: ElementNode) => ElementNode) => {
        const src = FromPcap({ file: f.input }, `src_${name}`);
        return position === 'push' ? body(src) : body(src.to(Queue({ capacity: 1000 }))).to(Unqueue());
      };
      // Packets start with 128 bytes of headroom: 128 more fit, 129 do not.
      pipe('fits', (x) => x.to(Unstrip({ length: 128 }, 'u128'))).to(ToPcap({ file: f.out('fits') }));
      pipe('over', (x) => x.to(Unstrip({ length: 129 }, 'u129'))).to(Discard({}, 'd_over'));
      // After Strip(20) the headroom is 148, so Unstrip(148) fits and Unstrip(149) would not.
      pipe('after', (x) => x.to(Strip({ length: 20 }, 's20')).to(Unstrip({ length: 148 }, 'u148')).to(Unstrip({ length: 1 }, 'u1'))).to(
        Discard({}, 'd_after'),
      );
    });
    const fits = f.read('fits');
    t.equal(fits.length, packets.length, 'Unstrip(128) keeps every packet');
    t.ok(
      fits.every((p, i) => p.length === packets[i].length + 128 && p.subarray(128).equals(packets[i])),
      'each grew by 128 bytes at the front, the old bytes after them',
    );
    t.equal(s.elements.u128.drops_no_headroom, 0);
    t.equal(s.elements.u129.drops_no_headroom, packets.length, 'Unstrip(129) drops every packet and counts it');
    t.equal(s.elements.d_over.packets, 0);
    t.equal(s.elements.s20.drops_short, packets.length - longEnough(20).length);
    t.equal(s.elements.u148.drops_no_headroom, 0);
    t.equal(s.elements.u1.drops_no_headroom, longEnough(20).length, 'no headroom left after giving back 148 bytes');
    t.equal(s.pool.available, s.pool.capacity);
    f.clean();
  });
}

t.test('Strip in pull position returns only the survivors', async (t) => {
  // Every packet is too short: the Unqueue pulls nothing through, the Queue empties.
  const build = () => {
    InfiniteSource({ length: 10, limit: 5000, burst: 64 }, 'src')
      .to(Queue({ capacity: 10000 }, 'q'))
      .to(Strip({ length: 14 }, 'strip'))
      .to(Unqueue({ burst: 32 }, 'uq'))
      .to(Counter({}, 'c'))
      .to(Discard());
  };
  const plan = compile(graph('pull', build));
  const strip = plan.elements.find((e) => e.name === 'strip')!;
  t.same([strip.inputs, strip.outputs], [['pull'], ['pull']], 'Strip sits in pull position');
  const s = await runGraph(build);
  t.equal(s.elements.strip.drops_short, 5000);
  t.equal(s.elements.c.packets, 0);
  t.equal(s.elements.uq.packets, 0);
  t.equal(s.pool.available, s.pool.capacity);
});
