// Virtual routers in one `pktgraph serve` engine (src/service): two routers from one graph
// file with the same addresses and routes, each forwarding only its own packets (pcap in,
// pcap out) with its own table; every lifecycle transition, and every invalid one or bad
// request refused with one sentence and nothing changed (vr list, show and counters compared
// before and after); stop keeping counters and queued packets; delete returning every
// buffer; VR/element.handler read and write through the CLI; serve ended by SIGTERM and by a
// shutdown request, cleanly. No root needed: no devices, only pcap files and generators.
// Rates are not measured: "stopped" is checked as counters not moving over 300 ms and
// "running" as counters moving, which scheduling noise cannot break.
import t, { type Test } from 'tap';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Engine, EngineError } from '../src/service/client.js';
import { operationsDoc } from '../src/service/api.js';
import { LINKTYPE_RAW, readPcap, writePcap } from './lib/pcap.js';
import { ipv4, udp, PROTO_UDP } from './lib/packets.js';
import { startCli, waitFor } from './lib/cli.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const work = mkdtempSync(join(tmpdir(), 'pktgraph-vr-'));
t.teardown(() => {
  rmSync(work, { recursive: true, force: true });
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));


const start = (args: string[]) => startCli(args, { cwd: work, runtimeDir: work });
const cli = (args: string[]) => start(args).done;


/** Start `pktgraph serve` on `sock` and wait until it answers. */
async function serve(sock: string) {
  const s = start(['serve', '--control', sock, '--threads', '2', '--pool', '8192']);
  const engine = new Engine(sock);
  await waitFor('the engine to serve its socket', async () => (await engine.status().catch(() => undefined)) !== undefined);
  return { ...s, engine };
}

// One graph file for every tenant: raw IPv4 packets from a pcap, checked, looked up in the
// tenant's own table; 198.18.0.0/24 leaves to `output`, the rest is counted and dropped.
const tenant = join(work, 'tenant.ts');
writeFileSync(
  tenant,
  `import { graph, FromPcap, CheckIPHeader, IPLookup, Counter, ToPcap, Discard } from 'pktgraph';
export default graph({ name: 'tenant', params: { input: '', output: '' } }, (p) => {
  const rt = FromPcap({ file: p.input }, 'in').to(CheckIPHeader({}, 'check')).to(IPLookup({ routes: ['198.18.0.0/24 dev 0', 'default dev 1'] }, 'rt'));
  rt.out(0).to(Counter({}, 'local')).to(ToPcap({ file: p.output }, 'out'));
  rt.out(1).to(Counter({}, 'other')).to(Discard({}, 'drop'));
});
`,
);
// A paced generator into a queue nobody empties: packets held while it runs.
const held = join(work, 'held.ts');
writeFileSync(
  held,
  `import { graph, InfiniteSource, Counter, Queue, Unqueue, Discard } from 'pktgraph';
export default graph({ name: 'held', params: { rate: 2000 } }, (p) => {
  InfiniteSource({ rate: p.rate, burst: 8 }, 'source').to(Counter({}, 'counter')).to(Queue({ capacity: 100000 }, 'q')).to(Unqueue({ active: false }, 'uq')).to(Discard({}, 'sink'));
});
`,
);
const broken = join(work, 'broken.ts');
writeFileSync(broken, `import { graph } from 'pktgraph';\nexport default graph('broken', () => { const x: number = ; });\n`);

// Raw IPv4 UDP packets, each with a payload naming its tenant and index.
function packets(tag: string, local: number, other: number): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < local + other; i++) {
    const dst = i < local ? `198.18.0.${1 + (i % 200)}` : `198.18.9.${1 + (i % 200)}`;
    out.push(ipv4({ src: '198.19.0.1', dst, proto: PROTO_UDP, payload: udp({ sport: 1000 + i, dport: 7, payload: `${tag}-${i}` }) }));
  }
  return out;
}
const inputs = { a: packets('tenant-a', 30, 5), b: packets('tenant-b', 7, 11) };
for (const [name, list] of Object.entries(inputs)) writePcap(join(work, `${name}.pcap`), list.map((data) => ({ data })), { linktype: LINKTYPE_RAW });

const sock = join(work, 'engine.sock');
let main: Awaited<ReturnType<typeof serve>>;

t.before(async () => {
  main = await serve(sock);
});

t.test('docs/virtual-routers.md lists every operation as its schemas declare it', async (t) => {
  const doc = readFileSync(join(root, 'docs', 'virtual-routers.md'), 'utf8');
  for (const line of operationsDoc()) t.ok(doc.includes(line), line.slice(0, 40));
});

t.test('serve prints where its socket is, owner-only', async (t) => {
  await waitFor('the serve banner', () => main.child.stdout !== null && existsSync(sock));
  const status = await main.engine.status();
  t.same(status.routers, { defined: 0, running: 0, stopped: 0, failed: 0 }, 'no virtual routers yet');
  t.equal(status.threads, 2);
  t.equal(status.pool.capacity, 8192);
});

t.test('two routers from one graph file with the same addresses: each forwards only its own packets, each its own table', async (t) => {
  for (const name of ['a', 'b'] as const) {
    const r = await cli(['vr', 'create', name, tenant, '-p', `input=${join(work, `${name}.pcap`)}`, '-p', `output=${join(work, `${name}-out.pcap`)}`, '--start', '--control', sock]);
    t.equal(r.code, 0, r.stderr);
    t.equal(r.stdout.trim(), `virtual router '${name}' is running`);
  }
  const engine = main.engine;
  await waitFor('both routers to have handled their pcaps', async () => {
    const [a, b] = [await engine.counters('a'), await engine.counters('b')];
    return a.local.packets + a.other.packets === 35n && b.local.packets + b.other.packets === 18n;
  });
  const a = await engine.counters('a');
  const b = await engine.counters('b');
  t.equal(a.local.packets, 30n, "a forwards its 30 packets to 198.18.0.0/24");
  t.equal(a.other.packets, 5n);
  t.equal(b.local.packets, 7n, "b forwards its 7 packets to the same 198.18.0.0/24");
  t.equal(b.other.packets, 11n);

  // Read through the CLI, as VR/element.handler and as VR:element.handler.
  t.equal((await cli(['read', 'a/local.count', '--control', sock])).stdout, '30\n');
  t.equal((await cli(['read', 'b:local.count', '--control', sock])).stdout, '7\n');

  // Flush the pcap writers and compare bytes: each output holds exactly its own tenant's packets.
  for (const name of ['a', 'b'] as const) {
    const w = await cli(['write', `${name}/out.flush`, '--control', sock]);
    t.equal(w.code, 0, w.stderr);
    const got = readPcap(join(work, `${name}-out.pcap`)).packets.map((p) => Buffer.from(p.data).toString('hex'));
    const want = inputs[name].slice(0, name === 'a' ? 30 : 7).map((p) => p.toString('hex'));
    t.same(got, want, `${name}'s output holds exactly its own forwarded packets, byte for byte`);
  }

  // A route written to a's table through VR/element.handler is a's alone.
  const w = await cli(['write', 'a/rt.add', '198.18.9.0/24 dev 0', '--control', sock]);
  t.equal(w.code, 0, w.stderr);
  t.equal(await engine.read('a', 'rt', 'count'), '3');
  t.equal(await engine.read('b', 'rt', 'count'), '2', "b's table is untouched");
  t.match(await engine.read('a', 'rt', 'table'), /198\.18\.9\.0\/24 dev 0/);
  t.notMatch(await engine.read('b', 'rt', 'table'), /198\.18\.9\.0/);

  // pktgraph list shows the loaded routers' elements as VR/element.
  const l = await cli(['list', '--control', sock]);
  t.match(l.stdout, /^a:\n  a\/in +FromPcap/m);
  t.match(l.stdout, /^b:\n  b\/in +FromPcap/m);
  // Without a router the element is refused with the form to use.
  const bare = await cli(['read', 'local.count', '--control', sock]);
  t.equal(bare.code, 1);
  t.match(bare.stderr, /name the virtual router: VR\/ELEMENT \(got 'local'\), like r1\/counter\.packets/);
});

/** Everything a refused request must leave as it was: the router list, each router's detail and counters. */
// `moving`: routers whose sources are running, so their counters and held packets move on their own.
async function snapshot(engine: Engine, moving: string[]) {
  const list = await engine.listRouters();
  const shows = await Promise.all(list.map(async (r) => ({ ...(await engine.showRouter(r.name)), ...(moving.includes(r.name) ? { heldPackets: 'moving' } : {}) })));
  const counters = await Promise.all(list.filter((r) => r.state !== 'defined' && r.state !== 'failed' && !moving.includes(r.name)).map(async (r) => [r.name, await engine.counters(r.name)] as const));
  const status = await engine.status();
  return JSON.stringify({ list, shows, counters, routers: status.routers }, (_k, v) => (typeof v === 'bigint' ? v.toString() : v));
}

async function refused(t: Test, engine: Engine, what: string, call: () => Promise<unknown>, message: RegExp, moving: string[] = []) {
  const before = await snapshot(engine, moving);
  const err = await call().then(() => undefined, (e: unknown) => e);
  t.ok(err instanceof EngineError, `${what}: refused`);
  t.match((err as Error).message, message, `${what}: ${(err as Error)?.message}`);
  t.notMatch((err as Error).message, /\n/, `${what}: one sentence`);
  t.equal(await snapshot(engine, moving), before, `${what}: nothing changed${moving.length ? ` (but the moving counters of ${moving.join(', ')})` : ''}`);
}

t.test('every lifecycle transition; every invalid one and every bad request refused with nothing changed', async (t) => {
  const engine = main.engine;
  const q = await engine.createRouter('q', { file: held, params: { rate: 2000 } });
  t.equal(q.state, 'defined');
  t.equal(q.graph, 'held');
  t.equal((await engine.showRouter('q')).heldPackets, null, 'a defined router holds nothing in the engine');

  await refused(t, engine, 'stop a defined router', () => engine.stopRouter('q'), /^virtual router 'q' is defined, not running; only a running router can be stopped$/);
  await refused(t, engine, 'read a defined router', () => engine.read('q', 'counter', 'packets'), /^virtual router 'q' is defined: it has no running graph; start it with `pktgraph vr start q`$/);

  t.equal((await engine.startRouter('q')).state, 'running');
  await waitFor('q to queue packets', async () => Number(await engine.read('q', 'q', 'length')) > 50);
  await refused(t, engine, 'start a running router', () => engine.startRouter('q'), /^virtual router 'q' is already running$/, ['q']);

  t.equal((await engine.stopRouter('q')).state, 'stopped');
  const stoppedAt = await engine.counters('q');
  const length = await engine.read('q', 'q', 'length');
  await sleep(300);
  t.same(await engine.counters('q'), stoppedAt, 'stopped: its source sends nothing, its counters stay');
  t.equal(await engine.read('q', 'q', 'length'), length, 'stopped: its queued packets are kept');
  t.equal((await engine.showRouter('q')).heldPackets, Number(length), 'show counts the packets it holds');

  // Bad requests, with q stopped and a and b finished, so nothing moves on its own.
  await refused(t, engine, 'stop a stopped router', () => engine.stopRouter('q'), /^virtual router 'q' is stopped, not running/);
  await refused(t, engine, 'start an unknown router', () => engine.startRouter('zz'), /^there is no virtual router named 'zz'; there are: a, b, q$/);
  await refused(t, engine, 'show an unknown router', () => engine.showRouter('zz'), /^there is no virtual router named 'zz'/);
  await refused(t, engine, 'delete an unknown router', () => engine.deleteRouter('zz'), /^there is no virtual router named 'zz'/);
  await refused(t, engine, 'a name taken', () => engine.createRouter('a', { file: held }), /^the name 'a' is taken by another virtual router; choose another or delete that one first$/);
  await refused(t, engine, 'a bad name', () => engine.createRouter('a/b', { file: held }), /^'a\/b' is not a valid virtual router name: use 1 to 64 letters/);
  await refused(t, engine, 'an unknown parameter', () => engine.createRouter('c', { file: held, params: { speed: 1 } }), /^virtual router 'c': its graph does not compile: graph 'held' has no parameter 'speed'/);
  await refused(t, engine, 'a graph file with a syntax error', () => engine.createRouter('c', { file: broken }), /^virtual router 'c': its graph does not compile: loading the graph file .*broken\.ts failed/);
  await refused(t, engine, 'a missing graph file', () => engine.createRouter('c', { file: join(work, 'none.ts') }), /^virtual router 'c': its graph does not compile: cannot find the graph file/);
  await refused(t, engine, 'a bad recipe', () => engine.createRouter('c', { recipe: 'ipRouter', description: { interfaces: 'x' } }), /^virtual router 'c': its graph does not compile: /);
  await refused(t, engine, 'an unknown operation field', () => engine.request('vr.start', { name: 'q', now: true } as never), /^vr\.start: unknown field 'now'$/);
  await refused(t, engine, 'a write to an unknown element', () => engine.write('q', 'nothere', 'rate', '1'), /has no element named 'nothere'/);
  // The CLI says the same sentence.
  const taken = await cli(['vr', 'create', 'b', held, '--control', sock]);
  t.equal(taken.code, 1);
  t.equal(taken.stderr, "pktgraph: the name 'b' is taken by another virtual router; choose another or delete that one first\n");

  // A graph the engine refuses at load (its pcap output cannot be created): failed, with the reason.
  const f = await engine.createRouter('f', { file: tenant, params: { input: join(work, 'a.pcap'), output: join(work, 'missing-dir', 'x.pcap') } });
  t.equal(f.state, 'defined');
  const failure = await engine.startRouter('f').then(() => undefined, (e: Error) => e);
  t.match(failure?.message, /^virtual router 'f' failed to start: .*missing-dir\/x\.pcap.*cannot create it/);
  const shown = await engine.showRouter('f');
  t.equal(shown.state, 'failed');
  t.match(shown.error, /cannot create it/);
  await refused(t, engine, 'stop a failed router', () => engine.stopRouter('f'), /^virtual router 'f' is failed, not running/);
  t.same((await engine.deleteRouter('f')).releasedPackets, 0);

  // A router built by the ipRouter recipe: its own elements, compiled at create; its devices do
  // not exist here, so the engine refuses to load it and it is failed, with the reason.
  const r1 = await engine.createRouter('r1', { recipe: 'ipRouter', description: { interfaces: [{ device: 'pg-vrnone0', ipv4: '198.18.1.254/24' }, { device: 'pg-vrnone1', ipv4: '198.18.2.254/24' }] } });
  t.equal(r1.state, 'defined');
  t.equal(r1.graph, 'r1');
  const r1Elements = (await engine.showRouter('r1')).elementList;
  t.ok(r1Elements.some((e) => e.class === 'IPLookup') && r1Elements.filter((e) => e.class === 'FromDevice').length === 2, 'its elements: an IPLookup, a FromDevice per interface');
  t.match((await engine.startRouter('r1').then(() => undefined, (e: Error) => e))?.message, /^virtual router 'r1' failed to start: /);
  t.equal((await engine.showRouter('r1')).state, 'failed');
  await engine.deleteRouter('r1');

  // start resumes a stopped router where it was.
  t.equal((await engine.startRouter('q')).state, 'running');
  await waitFor('q to count again', async () => (await engine.counters('q')).counter.packets > stoppedAt.counter.packets);
  t.ok(Number(await engine.read('q', 'q', 'length')) >= Number(length), 'its queue kept what it held and grows again');

  // Two creates of one name at once (two connections): one wins, the other is refused.
  const both = await Promise.allSettled([engine.createRouter('twin', { file: held }), new Engine(sock).createRouter('twin', { file: held })]);
  t.same(both.map((r) => r.status).sort(), ['fulfilled', 'rejected']);
  t.match((both.find((r) => r.status === 'rejected') as PromiseRejectedResult).reason.message, /^the name 'twin' is taken by another virtual router/);
  await engine.deleteRouter('twin');

  // handlers of a router's element through the CLI.
  const h = await cli(['handlers', 'q/q', '--control', sock]);
  t.equal(h.code, 0, h.stderr);
  t.match(h.stdout, /^length +r/m);

  // vr list and show through the CLI.
  const list = await cli(['vr', 'list', '--json', '--control', sock]);
  t.same((JSON.parse(list.stdout) as { name: string; state: string }[]).map((r) => [r.name, r.state]), [['a', 'running'], ['b', 'running'], ['q', 'running']]);
  const text = await cli(['vr', 'list', '--control', sock]);
  t.match(text.stdout, /^q +running +5 +.*held\.ts -p rate=2000$/m);
  const show = await cli(['vr', 'show', 'q', '--control', sock]);
  t.match(show.stdout, /^q: running\n/);
  t.match(show.stdout, /^ {4}q\/uq +Unqueue$/m);
});

t.test('delete releases everything the router held; every buffer back in the pool', async (t) => {
  const engine = main.engine;
  await engine.stopRouter('q');
  const length = Number(await engine.read('q', 'q', 'length'));
  t.ok(length > 0, `q holds ${length} packets`);
  const before = await engine.status();
  const d = await engine.deleteRouter('q');
  t.equal(d.releasedPackets, length, 'every packet it held is released');
  t.ok(d.pool.available >= before.pool.available + length, 'the pool got them back');
  await refused(t, engine, 'read a deleted router', () => engine.read('q', 'q', 'length'), /^there is no virtual router named 'q'/);
  const r = await cli(['vr', 'delete', 'a', '--control', sock]);
  t.equal(r.stdout, "virtual router 'a' deleted; 0 packets it held went back to the pool\n");
  await engine.deleteRouter('b');
  t.same(await engine.listRouters(), []);
  const s = await engine.status();
  t.equal(s.pool.available, s.pool.capacity, 'with no router left, every buffer is back');
});

async function endsCleanly(t: Test, how: 'SIGTERM' | 'shutdown') {
  const path = join(work, `${how}.sock`);
  const s = await serve(path);
  // Something to release at the end: a running router with packets queued, and a stopped one.
  await s.engine.createRouter('h1', { file: held }, { start: true });
  await s.engine.createRouter('h2', { file: held }, { start: true });
  await waitFor('packets queued', async () => Number(await s.engine.read('h1', 'q', 'length')) > 20 && Number(await s.engine.read('h2', 'q', 'length')) > 20);
  await s.engine.stopRouter('h2');
  if (how === 'SIGTERM') s.child.kill('SIGTERM');
  else t.equal((await cli(['vr', 'shutdown', '--control', path])).stdout, 'the engine is stopping\n');
  const r = await s.done;
  t.equal(r.code, 0, `exit status 0 ${r.stderr}`);
  t.match(r.stdout, /^pktgraph: serving an engine \(2 worker threads, 8192 packet buffers\) on the control socket /);
  t.match(r.stdout, new RegExp(`pktgraph: stopped ${how === 'SIGTERM' ? 'by SIGTERM' : 'on request'}: every virtual router deleted, every buffer back in the pool \\(8192 of 8192\\)\\n$`));
  t.equal(r.stderr, '');
  t.notOk(existsSync(path), 'the socket file is removed');
  const after = await cli(['vr', 'list', '--control', path]);
  t.equal(after.code, 1);
  t.match(after.stderr, /no pktgraph engine is running with the control socket .*; start one with `pktgraph serve --control /);
}

t.test('serve stopped by SIGTERM exits cleanly', (t) => endsCleanly(t, 'SIGTERM'));
t.test('serve stopped by a shutdown request exits cleanly', (t) => endsCleanly(t, 'shutdown'));

t.test('the main engine ends too', async (t) => {
  main.child.kill('SIGINT');
  const r = await main.done;
  t.equal(r.code, 0);
  t.match(r.stdout, /stopped by SIGINT: every virtual router deleted, every buffer back in the pool \(8192 of 8192\)/);
  t.notOk(existsSync(sock));
  t.equal(readFileSync(join(work, 'a.pcap')).length > 0, true);
});
