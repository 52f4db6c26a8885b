// Hot reconfiguration of a virtual router in a `pktgraph serve` engine (vr.reconfigure):
// a running router fed by a paced generator gets a graph with an extra Counter; its counters
// and queue carry over, every generated packet is delivered, still queued or counted as a drop
// (none lost), and the other router is untouched. A stopped router stays stopped with what it
// held, a defined one just takes the new plan, and a compile error or an engine refusal
// changes nothing (vr show and counters equal before and after). No root needed: generators
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
