// Elements written in TypeScript (defineScriptElement; native/script.h, src/script/host.ts):
// real packets from a generator reach the script through the shared-memory ring in batches,
// the script rewrites and emits them back into the graph, timers emit packets of their own,
// handlers and counters work like any element's, a script that falls behind loses packets at
// the ring (counted: received = handled + drops_ring, exactly) while the data path goes on,
// script errors are counted and named, and a hot replacement keeps the script and its state.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { compile, graph, Runtime, InfiniteSource, Counter, Discard, Type, defineScriptElement, findDescriptor, type RunningGraph } from 'pktgraph';
import { sleep, until, counterOf } from './lib/wait.js';

const n = counterOf;

// Rewrites each packet (byte 0 becomes its length mod 256, byte 1 the input port) and sends it on.
const Rewrite = defineScriptElement({
  name: 'TestRewrite',
  group: 'test',
  summary: 'Test: rewrites two bytes of each packet and sends it on.',
  doc: 'Byte 0 becomes the length mod 256, byte 1 the input port + 0x40.',
  inputs: '1',
  outputs: '1',
  config: Type.Object({ mark: Type.Optional(Type.Integer({ minimum: 0, maximum: 255, default: 0xab, description: 'written at byte 2' })) }),
  counters: { rewritten: 'packets rewritten' },
  init: () => ({ batches: 0, largest: 0 }),
  process(batch, ctx) {
    ctx.state.batches++;
    ctx.state.largest = Math.max(ctx.state.largest, batch.length);
    for (const p of batch) {
      const out = Uint8Array.from(p.data);
      out[0] = p.data.length & 0xff;
      out[1] = 0x40 + p.port;
      out[2] = ctx.config.mark;
      ctx.send(0, out);
    }
    ctx.count('rewritten', batch.length);
  },
  handlers: {
    batches: { doc: 'batches seen', read: (ctx) => String(ctx.state.batches) },
    largest: { doc: 'the largest batch seen', read: (ctx) => String(ctx.state.largest) },
  },
});

// Keeps what reaches it (its first bytes), for the test to read through a handler.
const Collect = defineScriptElement({
  name: 'TestCollect',
  group: 'test',
  summary: 'Test: keeps the packets that reach it.',
  doc: 'The `seen` handler lists the first 4 bytes (hex) of each packet kept, one per line.',
  inputs: '1',
  outputs: '0',
  config: Type.Object({}),
  counters: {},
  init: () => ({ seen: [] as string[], total: 0 }),
  process(batch, ctx) {
    for (const p of batch) {
      ctx.state.total++;
      if (ctx.state.seen.length < 16) ctx.state.seen.push(Buffer.from(p.data.subarray(0, 4)).toString('hex'));
    }
  },
  handlers: {
    seen: { doc: 'first bytes', read: (ctx) => ctx.state.seen.join('\n') },
    total: { doc: 'packets seen', read: (ctx) => String(ctx.state.total) },
  },
});

// A source written in TypeScript: a timer emits `per` packets every `ms`, until `limit`.
const Beacon = defineScriptElement({
  name: 'TestBeacon',
  group: 'test',
  summary: 'Test: emits packets from a timer.',
  doc: 'Every `ms` milliseconds it emits `per` 60-byte packets numbered from 0 (bytes 0-3, big-endian), until `limit`.',
  inputs: '0',
  outputs: '1',
  config: Type.Object({
    ms: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 5, description: 'period' })),
    per: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 10, description: 'packets per period' })),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1e6, default: 100, description: 'packets in all' })),
  }),
  counters: { emitted: 'packets emitted' },
  init(ctx) {
    ctx.schedule('tick', ctx.config.ms);
    return { next: 0, limit: ctx.config.limit };
  },
  timers: {
    tick(ctx) {
      for (let i = 0; i < ctx.config.per && ctx.state.next < ctx.state.limit; i++) {
        const p = new Uint8Array(60);
        new DataView(p.buffer).setUint32(0, ctx.state.next++);
        if (ctx.send(0, p)) ctx.count('emitted');
      }
      if (ctx.state.next < ctx.state.limit) ctx.schedule('tick', ctx.config.ms);
    },
  },
  handlers: {
    limit: {
      doc: 'packets in all (a whole number from 1)',
      read: (ctx) => String(ctx.state.limit),
      write(v, ctx) {
        const x = Number(v);
        if (!Number.isInteger(x) || x < 1) throw new Error(`limit: '${v}' is not a whole number from 1`);
        ctx.state.limit = x;
        if (!ctx.scheduled('tick')) ctx.schedule('tick', ctx.config.ms);
      },
    },
  },
});

t.test('packets go through the script and back into the graph, rewritten, in batches; counts add up', async (t) => {
  const rt = new Runtime({ threads: 1 });
  t.teardown(() => rt.close());
  const N = 20_000;
  const data = '00'.repeat(100);
  const g = rt.load(
    compile(
      graph('echo', () => {
        // Rings larger than N: however late the busy test machine runs the script, none can drop.
        InfiniteSource({ data, limit: N, burst: 64, rate: 100_000 }, 'src')
          .to(Rewrite({ mark: 0x5a, ringSlots: 32768, snapLength: 128 }, 'rw'))
          .to(Counter({}, 'back'))
          .to(Collect({ ringSlots: 32768, snapLength: 128 }, 'col'));
      }),
    ),
  );
  rt.start();
  t.ok(await until(() => g.read('col', 'total') === String(N), 10_000), `every packet came back (${g.read('col', 'total')} of ${N})`);
  t.equal(n(g, 'rw', 'received'), N, 'received');
  t.equal(n(g, 'rw', 'handled'), N, 'handled = received');
  t.equal(n(g, 'rw', 'drops_ring'), 0, 'none dropped at the ring');
  t.equal(n(g, 'rw', 'rewritten'), N, "the script's own counter");
  t.equal(n(g, 'rw', 'sent'), N, 'sent back into the graph');
  t.equal(n(g, 'back', 'packets'), N, 'downstream Counter saw them all');
  t.equal(n(g, 'back', 'bytes'), N * 100, 'at their length');
  t.equal(n(g, 'col', 'received'), N, 'and the second script received them');
  t.equal(g.read('col', 'seen').split('\n')[0], '64405a00', 'bytes rewritten: length 100 (0x64), port 0, mark 0x5a');
  const largest = Number(g.read('rw', 'largest'));
  t.ok(largest >= 1 && largest <= 256, `batches of 1 to 256 packets (largest ${largest}, ${g.read('rw', 'batches')} batches)`);
  const hs = g.handlers('rw').map((h) => h.name);
  t.ok(hs.includes('batches') && hs.includes('last_error') && hs.includes('received'), 'script handlers are listed with the counters');
  t.equal(g.read('rw', 'last_error'), '', 'no error');
  t.equal(findDescriptor('TestRewrite')?.processing, 'h/h', 'a descriptor like any element');
});

t.test('a script that falls behind loses packets at the ring, counted; the data path never waits', async (t) => {
  const rt = new Runtime({ threads: 1 });
  t.teardown(() => rt.close());
  const N = 5000;
  const g = rt.load(
    compile(
      graph('slow', () => {
        InfiniteSource({ length: 80, limit: N, burst: 32 }, 'src').to(Rewrite({ ringSlots: 64 }, 'rw')).to(Discard({}, 'sink'));
      }),
    ),
  );
  rt.start();
  // The JavaScript thread is busy (as a slow script would keep it): the source finishes anyway.
  const t0 = Date.now();
  let finished = false;
  while (Date.now() - t0 < 3000 && !(finished = n(g, 'src', 'packets') === N)) {
    /* busy: no event loop turn, no script */
  }
  t.ok(finished, `the source sent all ${N} packets while the script could not run (${Date.now() - t0} ms)`);
  t.equal(n(g, 'rw', 'received'), N, 'the element received them all');
  t.equal(n(g, 'rw', 'drops_ring'), N - 64, 'all but a ring (64 slots) dropped at the ring');
  t.equal(n(g, 'rw', 'handled'), 0, 'none handled yet');
  t.ok(await until(() => n(g, 'sink', 'packets') === 64, 5000), 'once the script runs it handles the 64 the ring held');
  t.equal(n(g, 'rw', 'handled'), 64, 'handled');
  t.equal(n(g, 'rw', 'received'), n(g, 'rw', 'handled') + n(g, 'rw', 'drops_ring') + n(g, 'rw', 'drops_too_long'), 'received = handled + drops_ring + drops_too_long');
  t.equal(n(g, 'rw', 'sent'), 64, 'and sent them');
});

t.test('packets longer than snapLength are dropped and counted', async (t) => {
  const rt = new Runtime({ threads: 1 });
  t.teardown(() => rt.close());
  const g = rt.load(
    compile(
      graph('snap', () => {
        InfiniteSource({ length: 300, limit: 100 }, 'src').to(Collect({ snapLength: 256 }, 'col'));
      }),
    ),
  );
  rt.start();
  t.ok(await until(() => n(g, 'col', 'received') === 100, 5000), 'received');
  t.equal(n(g, 'col', 'drops_too_long'), 100, 'all too long');
  t.equal(n(g, 'col', 'handled'), 0, 'none handled');
});

t.test('timers emit packets; handlers read and write script state; bad values are refused', async (t) => {
  const rt = new Runtime({ threads: 1 });
  t.teardown(() => rt.close());
  const g = rt.load(
    compile(
      graph('beacon', () => {
        Beacon({ ms: 2, per: 25, limit: 100 }, 'b').to(Collect({}, 'col'));
      }),
    ),
  );
  rt.start();
  t.ok(await until(() => g.read('col', 'total') === '100', 5000), '100 packets from the timer reached the collector');
  t.equal(g.read('col', 'seen').split('\n').slice(0, 3).join(','), '00000000,00000001,00000002', 'in order, numbered');
  t.equal(n(g, 'b', 'emitted'), 100);
  t.equal(n(g, 'b', 'sent'), 100);
  g.write('b', 'limit', '150');
  t.equal(g.read('b', 'limit'), '150', 'the write handler set the state');
  t.ok(await until(() => g.read('col', 'total') === '150', 5000), 'and the timer went on to the new limit');
  t.throws(() => g.write('b', 'limit', 'lots'), /limit: 'lots' is not a whole number from 1/, 'a bad value is refused with its reason');
  t.equal(g.read('b', 'limit'), '150', 'nothing changed');
  t.throws(() => g.write('col', 'seen', 'x'), /not writable/, 'a read-only script handler');
});

t.test("a script's errors are counted and named; a bad output port never reaches the engine", async (t) => {
  const Bad = defineScriptElement({
    name: 'TestBadPort',
    group: 'test',
    summary: 'Test: sends to an output it lacks.',
    doc: 'Sends every packet to output 3.',
    inputs: '1',
    outputs: '1',
    config: Type.Object({}),
    counters: {},
    process(batch, ctx) {
      for (const p of batch) ctx.send(3, p.data);
    },
  });
  const rt = new Runtime({ threads: 1 });
  t.teardown(() => rt.close());
  const g = rt.load(
    compile(
      graph('bad', () => {
        InfiniteSource({ length: 64, limit: 10 }, 'src').to(Bad({}, 'bad')).to(Discard({}, 'sink'));
      }),
    ),
  );
  rt.start();
  t.ok(await until(() => n(g, 'bad', 'handled') === 10, 5000), 'handled');
  t.ok(n(g, 'bad', 'errors') >= 1, `errors counted (${n(g, 'bad', 'errors')})`);
  t.match(g.read('bad', 'last_error'), /element 'bad' \(TestBadPort\): send to output 3, but it has 1 output/, 'last_error names the element, the port and the range');
  t.equal(n(g, 'sink', 'packets'), 0, 'nothing sent');
  t.equal(n(g, 'bad', 'drops_bad_slot'), 0, 'nothing bad reached the ring');
});

t.test('a hot replacement keeps the script running with its state; a stopped graph stops its script', async (t) => {
  const rt = new Runtime({ threads: 1 });
  t.teardown(() => rt.close());
  const plan = (extra: boolean) =>
    compile(
      graph('hot', () => {
        const b = Beacon({ ms: 2, per: 5, limit: 1_000_000 }, 'b');
        (extra ? b.to(Counter({}, 'extra')) : b).to(Collect({}, 'col'));
      }),
    );
  let g = rt.load(plan(false));
  rt.start();
  t.ok(await until(() => Number(g.read('col', 'total')) >= 50, 5000), 'running');
  g = g.replace(plan(true));
  const after = Number(g.read('col', 'total'));
  t.ok(after >= 50, `the collector's script state carried over (${after} packets seen)`);
  t.ok(await until(() => n(g, 'extra', 'packets') >= 20, 5000), 'the beacon goes on through the new element');
  const seen = g.read('col', 'seen').split('\n');
  t.equal(seen[0], '00000000', 'numbering did not restart');
  // A replacement that would change the rings' geometry is refused, naming the fields; the graph runs on.
  t.throws(() => g.replace(compile(graph('hot', () => Beacon({ ms: 2, per: 5, limit: 1_000_000, ringSlots: 2048 }, 'b').to(Counter({}, 'extra')).to(Collect({}, 'col'))))),
    /element 'b' \(TestBeacon\): .*ringSlots and snapLength must stay the same for the running script to carry over \(1024 slots of 2048 bytes\)/);
  const still = n(g, 'b', 'emitted');
  t.ok(await until(() => n(g, 'b', 'emitted') > still, 5000), 'the refused replacement changed nothing: the beacon goes on');
  g.setStopped(true);
  await sleep(20);
  const stoppedAt = n(g, 'b', 'emitted');
  await sleep(60);
  t.equal(n(g, 'b', 'emitted'), stoppedAt, 'a stopped graph\'s timers do not run');
  g.setStopped(false);
  t.ok(await until(() => n(g, 'b', 'emitted') > stoppedAt, 5000), 'started again');
});

// The engine wakes a waiting script with a thread-safe function call; a call still queued when
// the process ends is run by Node while it tears the environment down, when JavaScript can no
// longer run. That once aborted the process at exit ("terminate called after throwing an
// instance of 'Napi::Error'"). The child (test/fixtures/script-exit) queues one for certain:
// its main thread is busy while packets arrive, then it ends (closing its runtime or not).
t.test('a process ending with a wake-up for its script queued exits cleanly, closed or not', async (t) => {
  const main = join(dirname(fileURLToPath(import.meta.url)), 'fixtures', 'script-exit', 'main.mjs');
  const env = { ...process.env };
  delete env.NODE_OPTIONS;
  for (const mode of ['close', 'open', 'exit']) {
    const r = spawnSync(process.execPath, [main, mode], { encoding: 'utf8', env, timeout: 60_000 });
    t.equal(r.status, 0, `${mode}: exit status 0 (got ${r.status}${r.signal ? `, ${r.signal}` : ''})${r.stderr ? `\n${r.stderr.slice(0, 2000)}` : ''}`);
  }
});
