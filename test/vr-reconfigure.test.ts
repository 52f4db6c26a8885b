// Hot reconfiguration of a virtual router in a `pktgraph serve` engine (vr.reconfigure):
// a running router fed by a paced generator gets a graph with an extra Counter; its counters
// and queue carry over, every generated packet is delivered, still queued or counted as a drop
// (none lost), and the other router is untouched. A stopped router stays stopped with what it
// held, a defined one just takes the new plan, and a compile error or an engine refusal
// changes nothing (vr show and counters equal before and after). An HTBSched class added at run
// time keeps its queued packets across a reconfiguration (counts before and after, none lost)
// and its place, with its counters, in save, restore and clone. No root needed: generators
// only. No rate is measured: "running" is counters moving, which scheduling noise cannot break.
import t from 'tap';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Engine } from '../src/service/client.js';
import { startCli, waitFor } from './lib/cli.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const work = mkdtempSync(join(tmpdir(), 'pktgraph-vrre-'));
t.teardown(() => {
  rmSync(work, { recursive: true, force: true });
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const start = (args: string[]) => startCli(args, { cwd: work, runtimeDir: work });
const cli = (args: string[]) => start(args).done;


// A paced generator through a queue drained by an Unqueue: packets are queued, delivered or
// counted as the queue's drops, nowhere else.
const graphFile = (name: string, extra: boolean, sink = "Discard({}, 'sink')") => {
  const file = join(work, `${name}.ts`);
  writeFileSync(
    file,
    `import { graph, InfiniteSource, Counter, Queue, Unqueue, Discard, ToPcap } from 'pktgraph';
export default graph({ name: '${name}', params: { rate: 5000 } }, (p) => {
  const uq = InfiniteSource({ rate: p.rate, burst: 8 }, 'source').to(Counter({}, 'counter')).to(Queue({ capacity: 100000 }, 'q')).to(Unqueue({}, 'uq'));
  ${extra ? "uq.to(Counter({}, 'extra')).to(" : 'uq.to('}${sink});
});
`,
  );
  return file;
};
const fed = graphFile('fed', false);
const fed2 = graphFile('fed2', true);
// The engine refuses this one at initialisation: its pcap output cannot be created.
const refused = graphFile('refused', true, `ToPcap({ file: '${join(work, 'missing-dir', 'x.pcap')}' }, 'sink')`);
const broken = join(work, 'broken.ts');
writeFileSync(broken, `import { graph } from 'pktgraph';\nexport default graph('broken', () => { const x: number = ; });\n`);

const sock = join(work, 'engine.sock');

// Two sources painted 0 and 1 into an HTBSched whose pump is off, so packets wait in its classes.
const shapedFile = join(work, 'shaped.ts');
writeFileSync(
  shapedFile,
  `import { graph, InfiniteSource, Paint, HTBSched, Unqueue, Counter, Discard } from 'pktgraph';
export default graph({ name: 'shaped', params: { base: 10e6, pump: false } }, (p) => {
  const h = HTBSched({ default: 'base', classes: [{ name: 'link', parent: 'root', rate: 100e6 }, { name: 'base', parent: 'link', rate: p.base, ceil: 100e6, match: 0 }] }, 'shaper');
  InfiniteSource({ length: 64, limit: 300 }, 'src0').to(Paint({ color: 0 }, 'p0')).to(h);
  InfiniteSource({ length: 64, limit: 200, active: false }, 'src1').to(Paint({ color: 1 }, 'p1')).to(h);
  h.to(Unqueue({ active: p.pump }, 'pump')).to(Counter({}, 'out')).to(Discard({}, 'sink'));
});
`,
);

t.test('reconfigure running, stopped and defined routers; refusals change nothing', async (t) => {
  const s = start(['serve', '--control', sock, '--threads', '2', '--pool', '8192']);
  const engine = new Engine(sock);
  await waitFor('the engine to serve its socket', async () => (await engine.status().catch(() => undefined)) !== undefined);

  await engine.createRouter('a', { file: fed }, { start: true });
  await engine.createRouter('b', { file: fed, params: { rate: 2000 } }, { start: true });
  await waitFor('a and b to forward', async () => (await engine.counters('a')).sink.packets > 500n && (await engine.counters('b')).sink.packets > 200n);
  const bShow = await engine.showRouter('b');
  const before = await engine.counters('a');
  const bBefore = await engine.counters('b');

  // Running: swapped while its generator runs; counters and queue carry over.
  const r = await engine.reconfigureRouter('a', { file: fed2 });
  t.equal(r.state, 'running', 'still running');
  t.equal(r.graph, 'fed2');
  t.equal(r.elements, 6, 'the new graph has the extra Counter');
  t.ok(r.swap, 'the answer says what the swap did');
  t.equal(r.swap!.taken, 5, 'the five elements with the same name and class took over');
  t.same(r.swap!.dropped, [], 'no packet dropped by the swap');
  t.ok(r.swap!.swapNs > 0, `swapped in ${r.swap!.swapNs} ns`);
  t.same((await engine.showRouter('a')).elementList.map((e) => e.name).sort(), ['counter', 'extra', 'q', 'sink', 'source', 'uq']);
  const after = await engine.counters('a');
  t.ok(after.source.packets >= before.source.packets && after.counter.packets >= before.counter.packets && after.sink.packets >= before.sink.packets, 'its counters carried over');
  await waitFor('the extra Counter to count', async () => (await engine.counters('a')).extra.packets > 200n);

  // Stopped: replaced while paused, it stays stopped with its counters and queued packets.
  await engine.stopRouter('a');
  await sleep(50);
  const stopped = await engine.counters('a');
  const held = (await engine.showRouter('a')).heldPackets;
  const back = await engine.reconfigureRouter('a', { file: fed });
  t.equal(back.state, 'stopped', 'a stopped router stays stopped');
  t.same(back.swap!.dropped, []);
  t.equal((await engine.showRouter('a')).heldPackets, held, 'its queued packets are kept');
  const stoppedAfter = await engine.counters('a');
  for (const e of ['source', 'counter', 'q', 'uq', 'sink']) t.same(stoppedAfter[e], stopped[e], `${e}'s counters kept`);
  await sleep(200);
  t.same(await engine.counters('a'), stoppedAfter, 'nothing moves: still stopped');

  // A compile error and an engine refusal change nothing.
  const showA = await engine.showRouter('a');
  const noCompile = await engine.reconfigureRouter('a', { file: broken }).then(() => undefined, (e: Error) => e.message);
  t.match(noCompile, /^virtual router 'a': its graph does not compile: loading the graph file .*broken\.ts failed/);
  const noParam = await engine.reconfigureRouter('a', { file: fed, params: { speed: 1 } }).then(() => undefined, (e: Error) => e.message);
  t.match(noParam, /^virtual router 'a': its graph does not compile: graph 'fed' has no parameter 'speed'/);
  const noInit = await engine.reconfigureRouter('a', { file: refused }).then(() => undefined, (e: Error) => e.message);
  t.match(noInit, /^virtual router 'a': the engine refused the new graph, and the old one goes on stopped untouched: .*missing-dir\/x\.pcap.*cannot create it/);
  const unknown = await engine.reconfigureRouter('zz', { file: fed }).then(() => undefined, (e: Error) => e.message);
  t.match(unknown, /^there is no virtual router named 'zz'/);
  t.same(await engine.showRouter('a'), showA, 'vr show is the same after the refusals');
  t.same(await engine.counters('a'), stoppedAfter, 'and so are its counters');

  // Back to running: it goes on where it was, then every packet is accounted for.
  await engine.startRouter('a');
  await waitFor('a to forward again', async () => (await engine.counters('a')).sink.packets > stoppedAfter.sink.packets + 200n);
  await engine.stopRouter('a');
  await sleep(50);
  const end = await engine.counters('a');
  const length = BigInt(await engine.read('a', 'q', 'length'));
  t.ok(end.source.packets > stoppedAfter.source.packets, 'it generated more after the swaps');
  t.equal(end.counter.packets, end.source.packets, 'every generated packet reached the queue');
  t.equal(end.source.packets, end.sink.packets + length + end.q.drops, `none lost: ${end.source.packets} generated = ${end.sink.packets} delivered + ${length} queued + ${end.q.drops} counted drops`);

  // The other router was untouched: same graph, still running, its counters only grew.
  t.same(await engine.showRouter('b').then((x) => ({ ...x, heldPackets: 0 })), { ...bShow, heldPackets: 0 }, 'b is as it was');
  const bAfter = await engine.counters('b');
  t.ok(bAfter.source.packets > bBefore.source.packets && bAfter.sink.packets > bBefore.sink.packets, 'b kept forwarding');

  // Defined (and failed): just the new plan; nothing in the engine.
  await engine.createRouter('d', { file: fed });
  const d = await engine.reconfigureRouter('d', { file: fed2, params: { rate: 100 } });
  t.same([d.state, d.swap, d.elements, d.graph], ['defined', null, 6, 'fed2']);
  t.same(d.source, { file: fed2, params: { rate: 100 } });
  await engine.createRouter('f', { file: refused });
  await engine.startRouter('f').catch(() => undefined);
  t.equal((await engine.showRouter('f')).state, 'failed');
  const f = await engine.reconfigureRouter('f', { file: fed });
  t.same([f.state, f.error, f.swap], ['defined', undefined, null], 'a failed router takes the new graph and is defined again');
  t.equal((await engine.startRouter('f')).state, 'running');

  // Through the CLI.
  const c = await cli(['vr', 'reconfigure', 'f', fed2, '-p', 'rate=1000', '--control', sock]);
  t.equal(c.code, 0, c.stderr);
  t.match(c.stdout, /^virtual router 'f' is running with its new graph \(6 elements\); swapped in [\d.]+ us, 5 elements kept their state, 0 packets dropped\n$/);
  const bad = await cli(['vr', 'reconfigure', 'f', broken, '--control', sock]);
  t.equal(bad.code, 1);
  t.match(bad.stderr, /^pktgraph: virtual router 'f': its graph does not compile: /);

  // `pktgraph reconfigure` (for a `pktgraph run` graph) points to vr reconfigure here.
  const raw = await cli(['reconfigure', fed2, '--graph', 'f', '--control', sock]);
  t.equal(raw.code, 1);
  t.match(raw.stderr, /replace a router's graph with `pktgraph vr reconfigure NAME FILE`/);

  await engine.stop();
  const result = await s.done;
  t.equal(result.code, 0, result.stderr);
  t.match(result.stdout, /every buffer back in the pool \(8192 of 8192\)/);
});

t.test('an HTBSched class added at run time keeps its queued packets across a reconfiguration, and its place in save, restore and clone', async (t) => {
  const sock2 = join(work, 'engine2.sock');
  const s = start(['serve', '--control', sock2, '--threads', '2', '--pool', '4096']);
  const engine = new Engine(sock2);
  await waitFor('the engine to serve its socket', async () => (await engine.status().catch(() => undefined)) !== undefined);
  await engine.createRouter('s', { file: shapedFile }, { start: true });
  await engine.write('s', 'shaper', 'add', '{"name":"t1","parent":"link","rate":2e6,"ceil":50e6,"match":1,"capacity":500}');
  await engine.write('s', 'src1', 'active', 'true');
  await waitFor('500 packets to wait in the scheduler', async () => (await engine.showRouter('s')).heldPackets === 500);
  const classes = async (r: string) => (await engine.read(r, 'shaper', 'classes')).split('\n').filter((l) => l);
  const t1 = /^t1 parent=link rate=2000000 ceil=50000000 .* match=1 leaf capacity=500 mode=send backlog=200 packets=0 /;
  t.match((await classes('s'))[2], t1);

  const r = await engine.reconfigureRouter('s', { file: shapedFile, params: { base: 20e6 } });
  t.same(r.swap!.dropped, [], 'no packet dropped by the swap');
  t.equal((await engine.showRouter('s')).heldPackets, 500, 'the 500 still wait');
  const tree = await classes('s');
  t.match(tree[1], /^base parent=link rate=20000000 .* backlog=300 /, 'base: the new rate, its 300 packets');
  t.match(tree[2], t1, 't1, added at run time, with its 200 packets');
  t.equal((await engine.counters('s')).shaper.enqueued, 500n, 'counters carried');

  // Pump on: every packet generated is delivered, none lost across the swap.
  await engine.reconfigureRouter('s', { file: shapedFile, params: { base: 20e6, pump: true } });
  await waitFor('the scheduler to drain', async () => (await engine.counters('s')).sink.packets === 500n);
  const c = await engine.counters('s');
  t.equal(c.src0.packets + c.src1.packets, 500n, '500 generated');
  t.equal(c.shaper.drops_full + c.shaper.drops_unclassified + c.shaper.drops_class_removed, 0n, 'none dropped');
  t.match((await classes('s'))[2], /^t1 .* backlog=0 packets=200 /, 't1 sent its 200');

  // Saved stopped, restored (stopped) under another name: the same classes, class counters and
  // counters (packets in queues are not saved; these have none now); a clone has the classes.
  await engine.stopRouter('s');
  const file = join(work, 's.pgvr');
  await engine.saveRouter('s', file);
  await engine.restoreRouter(file, { name: 's2' });
  const noMode = (l: string) => l.replace(/ mode=\S+/, '');
  const drained = (await classes('s')).map(noMode);
  t.match(drained[2], /^t1 parent=link rate=2000000 .* match=1 leaf capacity=500 backlog=0 packets=200 bytes=12800 /);
  t.same((await classes('s2')).map(noMode), drained, 'restored: the same classes and class counters');
  t.same(await engine.counters('s2'), await engine.counters('s'), 'and the same counters');
  await engine.cloneRouter('s', 's3', { start: true });
  const shape = (l: string) => l.replace(/ (mode|backlog)=.*/, '');
  t.same((await classes('s3')).map(shape), drained.map(shape), 'cloned: the same classes');

  await engine.stop();
  const result = await s.done;
  t.equal(result.code, 0, result.stderr);
  t.match(result.stdout, /every buffer back in the pool \(4096 of 4096\)/);
});
