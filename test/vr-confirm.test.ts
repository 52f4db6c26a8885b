// Confirmed reconfiguration ("commit confirmed", src/service/confirm.ts) in a `pktgraph serve`
// engine with its HTTP API: a change not confirmed by its deadline is rolled back by the engine
// (the old graph back, counters and FIB contents carried over, no generated packet lost,
// audited as the engine's, an event on the stream); one confirmed in time stays; while one
// waits, another reconfiguration, and a confirm or rollback with nothing waiting, are refused
// with nothing changed; vr.rollback rolls back at once; deleting the router drops its pending
// change; the CLI's --confirm, vr confirm and vr rollback. No root needed: generators only.
// Deadlines are short, and the test waits for the event, never for a time: only the confirm
// in time and the delete need their request to arrive within the change's 5 s and 3 s.
import t from 'tap';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Engine, EngineError } from '../src/service/client.js';
import type { AuditEntryT, EngineEventT } from '../src/service/api.js';
import { parseConfirm } from '../src/cli/vr.js';
import { startCli, waitFor } from './lib/cli.js';

const work = mkdtempSync(join(tmpdir(), 'pktgraph-confirm-'));
t.teardown(() => rmSync(work, { recursive: true, force: true }));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const start = (args: string[]) => startCli(args, { cwd: work, runtimeDir: work });

// A paced generator through a queue (packets are queued, delivered or counted as its drops,
// nowhere else), and a FIB that no packet reaches (its routes are the state to carry over).
const graphFile = (name: string, extra: boolean) => {
  const file = join(work, `${name}.ts`);
  writeFileSync(
    file,
    `import { graph, InfiniteSource, Counter, Queue, Unqueue, Discard, Idle, IPLookup } from 'pktgraph';
export default graph({ name: '${name}', params: { rate: 5000 } }, (p) => {
  const uq = InfiniteSource({ rate: p.rate, burst: 8 }, 'source').to(Counter({}, 'counter')).to(Queue({ capacity: 100000 }, 'q')).to(Unqueue({}, 'uq'));
  ${extra ? "uq.to(Counter({}, 'extra')).to(" : 'uq.to('}Discard({}, 'sink'));
  Idle({}, 'idle').to(IPLookup({ routes: ['198.18.0.0/24 dev 0'] }, 'rt')).to(Discard({}, 'd0'));
});
`,
  );
  return file;
};
const v1 = graphFile('v1', false);
const v2 = graphFile('v2', true);
// A graph whose sink is a pcap file in `out`: the engine refuses it while `out` is missing.
const pcapDir = join(work, 'out');
const toPcap = join(work, 'pcap.ts');
writeFileSync(
  toPcap,
  `import { graph, InfiniteSource, ToPcap } from 'pktgraph';
export default graph('pcap', () => {
  InfiniteSource({ rate: 100, burst: 1 }, 'source').to(ToPcap({ file: '${join(pcapDir, 'x.pcap')}' }, 'sink'));
});
`,
);

const state = join(work, 'state');
const control = join(work, 'engine.sock');
const tokenFile = join(work, 'admin.tok');
const s = start(['serve', '--control', control, '--threads', '2', '--pool', '8192', '--state', state, '--http', '127.0.0.1:0', '--init-admin', tokenFile]);
let out = '';
s.child.stdout!.on('data', (d) => (out += d));
let url = '';
await waitFor('the HTTP API banner', () => (url = /HTTP API on (http:\/\/[0-9.]+:\d+)/.exec(out)?.[1] ?? '') !== '');
const token = readFileSync(tokenFile, 'utf8').trim();
const engine = new Engine({ url, token });

/** The kept events of a router, of one type. */
async function events(router: string, type: EngineEventT['type']): Promise<EngineEventT[]> {
  const res = await fetch(`${url}/v1/events/recent?limit=500`, { headers: { authorization: `Bearer ${token}` } });
  return ((await res.json()) as EngineEventT[]).filter((e) => e.router === router && e.type === type);
}
const audit = async () => (await engine.request('audit.read', { limit: 100000 })) as AuditEntryT[];
/** vr show without what moves while it runs. */
const still = async (name: string) => ({ ...(await engine.showRouter(name)), heldPackets: 0 });
const refusal = (p: Promise<unknown>) => p.then(() => undefined, (e: EngineError) => ({ status: e.status, message: e.message }));

t.test('a change not confirmed by its deadline is rolled back by the engine, state kept, no packet lost', async (t) => {
  await engine.createRouter('a', { file: v1 }, { start: true });
  await engine.addRoutes('a', ['198.18.5.0/24 dev 0']);
  await waitFor('a to forward', async () => (await engine.counters('a')).sink.packets > 500n);

  const r = await engine.reconfigureRouter('a', { file: v2 }, { confirm: 0.3 });
  t.same([r.state, r.graph, r.elements], ['running', 'v2', 9], 'the new graph runs at once');
  t.same(r.swap!.dropped, [], 'no packet dropped by the swap');
  t.match(r.pending, { deadline: /^\d{4}-\d\d-\d\dT/ }, `the answer says the deadline: ${r.pending?.deadline}`);
  // Route changes while it waits are state like any other: the rollback carries them over.
  const during = await engine.addRoutes('a', ['198.18.6.0/24 dev 0']).then(
    () => true,
    () => (t.comment('the rollback came before the route'), false),
  );

  await waitFor('the rollback event', async () => (await events('a', 'router.rollback')).length > 0);
  const [e] = await events('a', 'router.rollback');
  t.match(e, { type: 'router.rollback', router: 'a', reason: 'deadline', deadline: r.pending!.deadline }, 'the event says why');
  t.notOk('error' in e, 'the rollback did not fail');
  const back = await engine.showRouter('a');
  t.same([back.state, back.graph, back.elements, back.pending], ['running', 'v1', 8, undefined], 'the old graph runs again, nothing pending');
  t.same(back.source, { file: v1 });
  const routes = (await engine.showRoutes('a')).routes ?? [];
  t.ok(routes.some((l) => l.startsWith('198.18.5.0/24')), 'the route added before the change is still there');
  if (during) t.ok(routes.some((l) => l.startsWith('198.18.6.0/24')), 'and so is the one added while the change waited');

  const log = await audit();
  const line = log.find((l) => l.what === 'vr.rollback' && l.target === 'a');
  t.match(line, { who: 'engine', role: null, result: 'ok', via: 'engine', reason: `not confirmed by ${r.pending!.deadline}` }, 'audited as the engine');
  t.ok(log.some((l) => l.what === 'vr.reconfigure' && l.target === 'a' && l.who === 'admin'), "and the change as the admin's");

  // It goes on forwarding from where it was; then every generated packet is accounted for.
  const mid = await engine.counters('a');
  await waitFor('a to forward after the rollback', async () => (await engine.counters('a')).sink.packets > mid.sink.packets + 200n);
  await engine.stopRouter('a');
  await sleep(50);
  const end = await engine.counters('a');
  const length = BigInt(await engine.read('a', 'q', 'length'));
  t.equal(end.counter.packets, end.source.packets, 'every generated packet reached the queue');
  t.equal(end.source.packets, end.sink.packets + length + end.q.drops, `none lost: ${end.source.packets} generated = ${end.sink.packets} delivered + ${length} queued + ${end.q.drops} counted drops`);

  // A stopped router's rollback keeps it stopped, with its counters.
  await engine.reconfigureRouter('a', { file: v2 }, { confirm: 0.2 });
  await waitFor('the second rollback event', async () => (await events('a', 'router.rollback')).length > 1);
  const stopped = await engine.showRouter('a');
  t.same([stopped.state, stopped.graph], ['stopped', 'v1'], 'rolled back, still stopped');
  t.same(await engine.counters('a'), end, 'its counters as they were');
  await engine.deleteRouter('a');
});

t.test('a change confirmed in time stays', async (t) => {
  await engine.createRouter('b', { file: v1 }, { start: true });
  const r = await engine.reconfigureRouter('b', { file: v2 }, { confirm: 5 });
  const c = await engine.confirmRouter('b');
  t.same([c.graph, c.elements, c.pending], ['v2', 9, undefined], 'confirmed: the new graph, nothing pending');
  t.equal((await engine.showRouter('b')).pending, undefined, 'vr show agrees');
  // Past the deadline it had, nothing is rolled back.
  await sleep(Math.max(0, Date.parse(r.pending!.deadline!) - Date.now()) + 500);
  t.same(await events('b', 'router.rollback'), [], 'no rollback');
  t.equal((await engine.showRouter('b')).graph, 'v2', 'still the new graph');
  t.ok((await audit()).some((l) => l.what === 'vr.confirm' && l.target === 'b' && l.who === 'admin' && l.result === 'ok'), 'the confirm is audited');
  await engine.deleteRouter('b');
});

t.test('while a change waits: refusals change nothing; vr.rollback rolls back now; delete drops it', async (t) => {
  await engine.createRouter('c', { file: v1 }, { start: true });
  const none = await still('c');
  t.match(await refusal(engine.confirmRouter('c')), { status: 409, message: /^virtual router 'c' has no reconfiguration waiting for confirmation, so there is nothing to confirm/ }, 'confirm with nothing waiting: 409');
  t.match(await refusal(engine.rollbackRouter('c')), { status: 409, message: /nothing to roll back/ }, 'rollback with nothing waiting: 409');
  t.match(await refusal(engine.confirmRouter('nosuch')), { status: 404 }, 'an unknown router: 404');
  t.same(await still('c'), none, 'vr show as before');

  const r = await engine.reconfigureRouter('c', { file: v2 }, { confirm: 600 });
  const waiting = await still('c');
  t.same(waiting.pending, { deadline: r.pending!.deadline }, 'vr show shows the deadline');
  const again = await refusal(engine.reconfigureRouter('c', { file: v1, params: { rate: 100 } }));
  t.same(again, {
    status: 409,
    message: `virtual router 'c' has a reconfiguration waiting for confirmation until ${r.pending!.deadline}: confirm it (vr confirm c) or roll it back (vr rollback c) before another reconfiguration; nothing was changed`,
  }, 'a second reconfiguration: one sentence, 409');
  t.match(await refusal(engine.reconfigureRouter('c', { file: v2 }, { confirm: 0 })), { status: 400, message: /confirm/ }, 'a deadline of 0: 400');
  t.same(await still('c'), waiting, 'vr show as before the refusals');

  const back = await engine.rollbackRouter('c');
  t.same([back.state, back.graph, back.elements, back.pending], ['running', 'v1', 8, undefined], 'vr.rollback: the old graph at once');
  t.ok(back.swap && back.swap.taken === 8, 'every element took its state back');
  const [e] = await events('c', 'router.rollback');
  t.match(e, { reason: 'request', deadline: r.pending!.deadline }, 'an event for it');
  t.ok((await audit()).some((l) => l.what === 'vr.rollback' && l.target === 'c' && l.who === 'admin' && l.result === 'ok'), "audited as the admin's");

  // Deleting the router drops its pending change: nothing is rolled back later.
  const d = await engine.reconfigureRouter('c', { file: v2 }, { confirm: 3 });
  await engine.deleteRouter('c');
  await sleep(Math.max(0, Date.parse(d.pending!.deadline!) - Date.now()) + 500);
  t.equal((await events('c', 'router.rollback')).length, 1, 'no rollback of a deleted router');
  t.notOk((await audit()).some((l) => l.who === 'engine' && l.target === 'c'), 'nothing done by the engine');
});

t.test('a rollback the engine refuses: the new graph runs on, the change waits for a decision', async (t) => {
  mkdirSync(pcapDir, { recursive: true });
  await engine.createRouter('p', { file: toPcap }, { start: true });
  // A refused vr.rollback: the change goes on waiting, its deadline kept.
  const first = await engine.reconfigureRouter('p', { file: v1 }, { confirm: 600 });
  rmSync(pcapDir, { recursive: true, force: true });
  t.match(await refusal(engine.rollbackRouter('p')), { status: 400, message: /^virtual router 'p': the engine refused its previous graph, so the one it has goes on running: / }, 'vr rollback refused, saying why');
  t.same((await engine.showRouter('p')).pending, first.pending, 'the deadline stands');
  mkdirSync(pcapDir, { recursive: true });
  t.equal((await engine.rollbackRouter('p')).graph, 'pcap', 'rolled back once the cause is gone');
  // A refused rollback by deadline: the change waits for a decision, with no deadline.
  const r = await engine.reconfigureRouter('p', { file: v1 }, { confirm: 2 });
  rmSync(pcapDir, { recursive: true, force: true }); // the previous graph's pcap file cannot be made now
  await waitFor('the failed rollback event', async () => (await events('p', 'router.rollback')).length > 2);
  const e = (await events('p', 'router.rollback'))[2] as Extract<EngineEventT, { type: 'router.rollback' }>;
  t.match(e, { reason: 'deadline', deadline: r.pending!.deadline, error: /^virtual router 'p': the engine refused its previous graph, so the one it has goes on running: .*x\.pcap/ }, 'the event says why it failed');
  const show = await engine.showRouter('p');
  t.same([show.state, show.graph], ['running', 'v1'], 'the new graph goes on running');
  t.match(show.pending, { deadline: null, rollbackError: e.error }, 'pending, with no deadline');
  t.match((await audit()).find((l) => l.who === 'engine' && l.target === 'p'), { what: 'vr.rollback', result: 'refused', error: e.error, reason: `not confirmed by ${r.pending!.deadline}` }, 'audited as a failed rollback');
  t.match(await refusal(engine.reconfigureRouter('p', { file: v2 })), { status: 409, message: /has a reconfiguration waiting for confirmation \(its rollback failed: / }, 'another change still waits for a decision');
  mkdirSync(pcapDir, { recursive: true });
  const back = await engine.rollbackRouter('p');
  t.same([back.state, back.graph, back.pending], ['running', 'pcap', undefined], 'with the cause gone, vr rollback puts the previous graph back');
  await engine.deleteRouter('p');
});

t.test('the CLI: --confirm, vr show, vr confirm, vr rollback', async (t) => {
  const cli = async (args: string[]) => start([...args, '--control', control]).done;
  await engine.createRouter('d', { file: v1 }, { start: true });
  const r = await cli(['vr', 'reconfigure', 'd', v2, '--confirm', '60s']);
  t.equal(r.code, 0, r.stderr);
  t.match(r.stdout, /^virtual router 'd' is running with its new graph \(9 elements\); swapped in [\d.]+ us, 8 elements kept their state, 0 packets dropped\nconfirm it with `pktgraph vr confirm d` by \S+Z, or the engine rolls it back\n$/);
  t.match((await cli(['vr', 'show', 'd'])).stdout, /\n {2}pending: a reconfiguration waiting for confirmation, rolled back at \S+Z unless confirmed\n/);
  const c = await cli(['vr', 'confirm', 'd']);
  t.equal(c.stdout, "virtual router 'd' keeps its new graph (v2): confirmed\n", c.stderr);
  const twice = await cli(['vr', 'confirm', 'd']);
  t.equal(twice.code, 1);
  t.match(twice.stderr, /^pktgraph: virtual router 'd' has no reconfiguration waiting for confirmation/);
  await cli(['vr', 'reconfigure', 'd', v1, '--confirm', '5m']);
  const rb = await cli(['vr', 'rollback', 'd']);
  t.match(rb.stdout, /^virtual router 'd' is running with its previous graph \(v2, 9 elements\) back; swapped in /, rb.stderr);
  const bad = await cli(['vr', 'reconfigure', 'd', v1, '--confirm', 'soon']);
  t.equal(bad.code, 1);
  t.equal(bad.stderr, "pktgraph: --confirm takes how long to wait for `pktgraph vr confirm`, like 300ms, 60s, 5m or 1h, got 'soon'\n");
  const long = await cli(['vr', 'reconfigure', 'd', v1, '--confirm', '25h']);
  t.equal(long.code, 1);
  t.match(long.stderr, /^pktgraph: vr\.reconfigure: field 'confirm' .*86400/, `the engine's range: ${long.stderr.trim()}`);
  t.same([parseConfirm('300ms'), parseConfirm('60s'), parseConfirm('5m'), parseConfirm('1h'), parseConfirm('2.5')], [0.3, 60, 300, 3600, 2.5]);
  await engine.deleteRouter('d');
});

t.test('the engine stops cleanly', async (t) => {
  await engine.createRouter('e', { file: v1 }, { start: true });
  await engine.reconfigureRouter('e', { file: v2 }, { confirm: 600 });
  await engine.stop();
  const done = await s.done;
  t.equal(done.code, 0, done.stderr);
  t.match(done.stdout, /every buffer back in the pool \(8192 of 8192\)/, 'a pending change does not keep anything');
});
