// The core elements on crafted packets through pcap files, bytes checked:
// InfiniteSource, Counter, Queue, Unqueue, Discard (push and pull).
import t from 'tap';
import { rmSync } from 'node:fs';
import { InfiniteSource, Counter, Queue, Unqueue, Discard, FromPcap, ToPcap } from 'pktgraph';
import { runGraph, tmpPath } from './lib/run.js';
import { writePcap, readPcap } from './lib/pcap.js';
import { udp4Frame } from './lib/packets.js';

const files: string[] = [];
const tmp = (name: string) => {
  const p = tmpPath(name);
  files.push(p);
  return p;
};
t.teardown(() => files.forEach((f) => rmSync(f, { force: true })));

// 300 distinct frames: the UDP source port and the length both vary.
const frames = Array.from({ length: 300 }, (_, i) =>
  udp4Frame({ src: '198.18.0.1', dst: '198.19.0.1', sport: 1000 + i, dport: 9, payload: Buffer.alloc(i % 50, i & 0xff) }),
);

t.test('InfiniteSource emits its template, padded to length, exactly limit times', async (t) => {
  const out = tmp('infinite.pcap');
  const s = await runGraph(() => {
    InfiniteSource({ data: 'aa bb:cc', length: 10, limit: 77, burst: 5 }, 'src').to(Counter({}, 'c')).to(ToPcap({ file: out }, 'out'));
  });
  const got = readPcap(out).packets;
  t.equal(got.length, 77);
  t.ok(got.every((p) => p.data.equals(Buffer.from('aabbcc00000000000000', 'hex'))), 'every packet is the padded template');
  t.equal(s.elements.c.bytes, 770);
  t.equal(s.pool.available, s.pool.capacity);
});

t.test('Queue and Unqueue keep order and bytes; Counter counts in pull position', async (t) => {
  const input = tmp('q-in.pcap');
  const out = tmp('q-out.pcap');
  writePcap(input, frames.map((data) => ({ data })));
  const s = await runGraph(() => {
    FromPcap({ file: input, burst: 16 }, 'in')
      .to(Queue({ capacity: 1000 }, 'q'))
      .to(Counter({}, 'pulled'))
      .to(Unqueue({ burst: 7 }, 'uq'))
      .to(ToPcap({ file: out }, 'out'));
  });
  const got = readPcap(out).packets.map((p) => p.data);
  t.equal(got.length, frames.length);
  t.ok(got.every((d, i) => d.equals(frames[i])), 'same frames, same order');
  t.equal(s.elements.pulled.packets, 300);
  t.equal(s.elements.pulled.bytes, frames.reduce((n, f) => n + f.length, 0));
  t.equal(s.elements.q.drops, 0);
  t.equal(s.pool.available, s.pool.capacity);
});

t.test('a Queue accounts for every packet: enqueued or dropped', async (t) => {
  const input = tmp('drop-in.pcap');
  writePcap(input, frames.map((data) => ({ data })));
  // A small queue emptied by a pulling Discard: what it cannot hold is dropped and counted.
  const s = await runGraph(() => {
    FromPcap({ file: input, burst: 32 }, 'in').to(Queue({ capacity: 100 }, 'q')).to(Discard({}, 'd'));
  });
  t.equal(s.elements.q.enqueued + s.elements.q.drops, 300);
  t.equal(s.elements.d.packets, s.elements.q.enqueued, 'Discard in pull position takes everything queued');
  t.equal(s.pool.available, s.pool.capacity);
});

t.test('two worker threads across a Queue: every byte arrives, in order', async (t) => {
  const input = tmp('mt-in.pcap');
  const out = tmp('mt-out.pcap');
  writePcap(input, Array.from({ length: 20 }, () => frames).flat().map((data) => ({ data })));
  const s = await runGraph(
    () => {
      FromPcap({ file: input }, { name: 'in', thread: 0 })
        .to(Queue({ capacity: 10000 }, 'q'))
        .to(Unqueue({}, { name: 'uq', thread: 1 }))
        .to(ToPcap({ file: out }, 'out'));
    },
    { threads: 2 },
  );
  const got = readPcap(out).packets.map((p) => p.data);
  t.equal(got.length, 6000);
  t.ok(got.every((d, i) => d.equals(frames[i % 300])), 'same frames, same order');
  t.equal(s.pool.available, s.pool.capacity);
});
