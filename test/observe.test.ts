// Monitoring on the HTTP API (src/service/observe.ts, metrics.ts, events.ts) against a real
// engine in this process: Prometheus metrics whose values are the routers' counters (packets,
// bytes, drops by reason, queue lengths) and whose scope follows the token (an admin sees all
// routers and the engine's series, a tenant's viewer only its own tenant's, ?tenant= of another
// refused, no token 401); the event stream (SSE) as a tenant's viewer: its routers' state
// changes and drop surges arrive, another tenant's never do; the recent events and the rates
// the dashboard reads, scoped the same way. A root-only part: link down and up of a real veth
// under a FromDevice (skipped without root, the veth removed even when it fails).
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { request, type IncomingMessage } from 'node:http';
import { join } from 'node:path';
import { monitoring, type EngineEventT } from 'pktgraph';
import { monitoredEngine } from './lib/monitored-engine.js';

const engine = await monitoredEngine('pgo-observe-', { intervalMs: 100, surgeDropsPerSecond: 500, surgeShare: 0.3 });
t.teardown(() => engine.close());
const { work, local, token } = engine;
const base = new URL(engine.url);

// A generator into a Counter (no drops), and one sending 4000/s into a 20-packet queue drained at 1000/s (drops, a queue always full).
const gen = join(work, 'gen.ts');
writeFileSync(gen, `import { graph, InfiniteSource, Counter, Discard } from 'pktgraph';
export default graph({ name: 'gen', params: { rate: 1000 } }, (p) => {
  InfiniteSource({ rate: p.rate, burst: 8, length: 100 }, 'source').to(Counter({}, 'counter')).to(Discard({}, 'sink'));
});
`);
const lossy = join(work, 'lossy.ts');
writeFileSync(lossy, `import { graph, InfiniteSource, Queue, RatedUnqueue, Discard } from 'pktgraph';
export default graph({ name: 'lossy', params: { rate: 4000 } }, (p) => {
  InfiniteSource({ rate: p.rate, burst: 8, length: 64 }, 'source').to(Queue({ capacity: 20 }, 'q')).to(RatedUnqueue({ rate: 1000, burst: 1 }, 'pump')).to(Discard({}, 'sink'));
});
`);

const admin = await token('admin', 'admin');
const viewA = await token('viewa', 'viewer', 'A');
const viewB = await token('viewb', 'viewer', 'B');

await local('vr.create', { name: 'a1', source: { file: gen, params: { rate: 2000 } }, tenant: 'A', start: true });
await local('vr.create', { name: 'b1', source: { file: gen, params: { rate: 2000 } }, tenant: 'B', start: true });
await local('vr.create', { name: 'n1', source: { file: gen }, start: false });

function get(path: string, tok?: string): Promise<{ status: number; type: string; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ hostname: base.hostname, port: base.port, path, headers: tok ? { authorization: `Bearer ${tok}` } : {} }, (res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode!, type: String(res.headers['content-type']), body }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** The value of the one series of `name` whose labels include `labels`, or undefined. */
function value(text: string, name: string, labels: Record<string, string>): number | undefined {
  for (const line of text.split('\n')) {
    const m = /^([a-z_]+)\{([^}]*)\} (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const have = Object.fromEntries([...m[2].matchAll(/([a-z_]+)="([^"]*)"/g)].map((x) => [x[1], x[2]]));
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) return Number(m[3]);
  }
  return undefined;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

t.test('metrics: values are the counters, by router, element and reason', async (t) => {
  await sleep(300);
  const before = (await local('vr.counters', { name: 'a1' })) as Record<string, Record<string, string>>;
  const m = await get('/v1/metrics', admin);
  const after = (await local('vr.counters', { name: 'a1' })) as Record<string, Record<string, string>>;
  t.equal(m.status, 200);
  t.match(m.type, /^text\/plain; version=0\.0\.4/);
  t.equal(value(m.body, 'pktgraph_router_state', { router: 'a1', tenant: 'A', state: 'running' }), 1);
  t.equal(value(m.body, 'pktgraph_router_state', { router: 'n1', tenant: '', state: 'defined' }), 1);
  t.equal(value(m.body, 'pktgraph_router_elements', { router: 'a1' }), 3);
  // A counter read between two API reads of the same counter lies between them.
  const pk = value(m.body, 'pktgraph_element_packets_total', { router: 'a1', element: 'counter', class: 'Counter' })!;
  t.ok(pk > 0 && pk >= Number(before.counter.packets) && pk <= Number(after.counter.packets), `packets ${pk} within [${before.counter.packets}, ${after.counter.packets}]`);
  const by = value(m.body, 'pktgraph_element_bytes_total', { router: 'a1', element: 'counter' })!;
  t.ok(by >= pk * 100 && by <= Number(after.counter.bytes), `bytes ${by}: 100 a packet`);
  t.ok(value(m.body, 'pktgraph_router_source_packets_total', { router: 'a1' })! > 0);
  t.ok(value(m.body, 'pktgraph_worker_cpu_seconds_total', { worker: '0' })! > 0, 'engine series for the admin');
  t.equal(value(m.body, 'pktgraph_pool_buffers', { state: 'capacity' }), 4096);
  t.match(m.body, /# HELP pktgraph_element_packets_total packets an element handled/);
  t.match(m.body, /^pktgraph_process_cpu_seconds_total /m, "Node's process metrics (prom-client) for the admin");
  t.match(m.body, /# TYPE pktgraph_element_packets_total counter/);
});

t.test('metrics: queue lengths and drops by reason', async (t) => {
  await local('vr.create', { name: 'a2', source: { file: lossy }, tenant: 'A', start: true });
  await sleep(500);
  const m = await get('/v1/metrics', admin);
  const len = value(m.body, 'pktgraph_queue_length', { router: 'a2', element: 'q', class: 'Queue' });
  t.ok(len !== undefined && len >= 15 && len <= 20, `queue length ${len} (capacity 20, filled 4x faster than drained)`);
  const drops = value(m.body, 'pktgraph_element_drops_total', { router: 'a2', element: 'q', reason: 'unspecified' })!;
  t.ok(drops > 500, `${drops} drops of a full queue`);
  t.equal(value(m.body, 'pktgraph_router_drops_total', { router: 'a2' }), drops, "the router's drops are its elements'");
  t.ok(value(m.body, 'pktgraph_element_counter_total', { router: 'a2', element: 'q', counter: 'enqueued' })! > 0);
});

t.test("metrics: a tenant's token sees only its tenant's series", async (t) => {
  const a = await get('/v1/metrics', viewA);
  t.equal(a.status, 200);
  t.ok(value(a.body, 'pktgraph_router_state', { router: 'a1' }));
  const routersSeen = new Set([...a.body.matchAll(/router="([^"]*)"/g)].map((x) => x[1]));
  t.same([...routersSeen].sort(), ['a1', 'a2'], 'only tenant A routers');
  t.notMatch(a.body, /tenant="B"|tenant=""/);
  t.notMatch(a.body, /^pktgraph_(worker|pool|process)_/m, 'no engine-wide series');
  const b = await get('/v1/metrics', viewB);
  t.same([...new Set([...b.body.matchAll(/router="([^"]*)"/g)].map((x) => x[1]))], ['b1']);
  const other = await get('/v1/metrics?tenant=B', viewA);
  t.equal(other.status, 403);
  t.match(JSON.parse(other.body).error, /'viewa' sees only tenant 'A'/);
  const scoped = await get('/v1/metrics?tenant=B', admin);
  t.same([...new Set([...scoped.body.matchAll(/router="([^"]*)"/g)].map((x) => x[1]))], ['b1'], 'an admin may scope to a tenant');
  t.equal((await get('/v1/metrics')).status, 401);
  t.equal((await get('/v1/metrics', 'pgt_x_y')).status, 401);
});

t.test('every monitoring endpoint with every role: scoped answers, refusals in one sentence', async (t) => {
  const opB = await token('opb', 'operator', 'B');
  for (const [name, m] of Object.entries(monitoring)) {
    const path = '/v1' + m.http.path.replace(':name', 'a1');
    // The event stream answers 200 at once and stays open: only its status is read here.
    const ask = (tok?: string, query = '') =>
      name === 'events.stream'
        ? new Promise<{ status: number; body: string }>((resolve, reject) => {
            const req = request({ hostname: base.hostname, port: base.port, path: path + query, headers: tok ? { authorization: `Bearer ${tok}` } : {} }, (res) => {
              let body = '';
              res.on('data', (d) => (body += d));
              if (res.statusCode === 200) (resolve({ status: 200, body: '' }), req.destroy());
              else res.on('end', () => resolve({ status: res.statusCode!, body }));
            });
            req.on('error', reject);
            req.end();
          })
        : get(path + query, tok);
    t.equal((await ask()).status, 401, `${name}: no token`);
    t.equal((await ask('pgt_bad_token')).status, 401, `${name}: a bad token`);
    for (const [who, tok] of [['admin', admin], ['viewer of A', viewA]] as const) t.equal((await ask(tok)).status, 200, `${name}: ${who}`);
    // a1 is tenant A's: B's operator is answered as if it did not exist; the rest answer B's own.
    t.equal((await ask(opB)).status, name === 'vr.graph.svg' ? 404 : 200, `${name}: operator of B`);
    const bad = await ask(viewA, '?colour=red');
    t.equal(bad.status, 400, `${name}: an unknown query field`);
    t.match(JSON.parse(bad.body).error, new RegExp(`^${name.replace(/\./g, '\\.')}: unknown query field 'colour'`));
  }
  const svg = await get('/v1/routers/a1/graph.svg', viewA);
  t.match(svg.type, /^image\/svg\+xml/);
  t.match(svg.body, /<title>counter<\/title>/, 'each element a node titled with its name');
  t.equal((await get('/v1/events/recent?limit=-1', viewA)).status, 400);
  t.match(JSON.parse((await get('/v1/events/recent?limit=x', viewA)).body).error, /^events\.recent: query field 'limit'/);
});

/** An SSE stream's events, parsed as they come. */
function events(tok: string) {
  const got: EngineEventT[] = [];
  let res: IncomingMessage | undefined;
  const req = request({ hostname: base.hostname, port: base.port, path: '/v1/events', headers: { authorization: `Bearer ${tok}` } }, (r) => {
    res = r;
    let buf = '';
    r.setEncoding('utf8');
    r.on('data', (d: string) => {
      buf += d;
      let cut;
      while ((cut = buf.indexOf('\n\n')) >= 0) {
        const data = buf.slice(0, cut).split('\n').find((l) => l.startsWith('data: '));
        buf = buf.slice(cut + 2);
        if (data) got.push(JSON.parse(data.slice(6)));
      }
    });
  });
  req.on('error', () => {});
  req.end();
  return { got, status: () => res?.statusCode, type: () => res?.headers['content-type'], close: () => req.destroy() };
}

async function until(what: string, ok: () => boolean, ms = 5000) {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

t.test("events: a tenant's viewer gets its routers' state changes and drop surges, never another tenant's", async (t) => {
  const a = events(viewA);
  const all = events(admin);
  t.teardown(() => (a.close(), all.close()));
  await until('the streams', () => a.status() === 200 && all.status() === 200);
  t.match(a.type(), /^text\/event-stream/);
  await local('vr.stop', { name: 'a1' });
  await local('vr.stop', { name: 'b1' });
  await local('vr.create', { name: 'a3', source: { file: lossy }, tenant: 'A', start: true });
  await until("a1's stop, a3's creation and its drop surge", () => a.got.some((e) => e.router === 'a1' && e.type === 'router.state' && e.to === 'stopped') && a.got.some((e) => e.router === 'a3' && e.type === 'drops.surge'));
  await until("the admin's view of b1's stop", () => all.got.some((e) => e.router === 'b1' && e.type === 'router.state' && e.to === 'stopped'));
  t.ok(a.got.some((e) => e.router === 'a3' && e.type === 'router.state' && e.from === null && e.to === 'running'), 'a3 created running');
  const surge = a.got.find((e) => e.router === 'a3' && e.type === 'drops.surge') as Extract<EngineEventT, { type: 'drops.surge' }>;
  t.ok(surge.dropsPerSecond > 1000 && surge.share > 0.5, `surge ${surge.dropsPerSecond}/s, ${surge.share} of what is sent`);
  t.ok(surge.reasons['q.drops'] > 0, 'its reason: the queue');
  t.notOk(a.got.some((e) => e.tenant !== 'A'), 'nothing of another tenant');
  t.notOk(a.got.some((e) => e.router === 'a1' && e.type === 'drops.surge'), 'a router that drops nothing has no surge');
  await local('vr.delete', { name: 'a3' });
  await until('a3 deleted', () => a.got.some((e) => e.router === 'a3' && e.type === 'router.state' && e.to === null));
  // Recent events and rates, as the dashboard reads them: scoped too.
  const recent = JSON.parse((await get('/v1/events/recent?limit=1000', viewA)).body) as EngineEventT[];
  t.ok(recent.length >= 3 && recent.every((e) => e.tenant === 'A'), `${recent.length} recent events, all tenant A's`);
  t.ok(JSON.parse((await get('/v1/events/recent', admin)).body).some((e: EngineEventT) => e.tenant === 'B'));
  t.equal((await get('/v1/events/recent?limit=x', viewA)).status, 400);
  await local('vr.start', { name: 'a1' });
  await sleep(400);
  const rates = JSON.parse((await get('/v1/dashboard/rates', viewA)).body) as { name: string; packetsPerSecond: number }[];
  t.same(rates.map((r) => r.name).sort(), ['a1', 'a2']);
  const r1 = rates.find((r) => r.name === 'a1')!;
  t.ok(r1.packetsPerSecond > 500 && r1.packetsPerSecond < 4000, `a1 sends ${r1.packetsPerSecond}/s (rate 2000)`);
  const session = JSON.parse((await get('/v1/dashboard/session', viewA)).body);
  t.same(session, { user: 'viewa', role: 'viewer', tenant: 'A', actions: [], intervalMs: 100 });
  t.same(JSON.parse((await get('/v1/dashboard/session', admin)).body).actions, ['vr.start', 'vr.stop', 'vr.delete']);
  t.equal((await get('/v1/routers/b1/graph.svg', viewA)).status, 404, "another tenant's graph: as if it did not exist");
});

t.test('events: link down and up of a real device (root)', async (t) => {
  if (process.getuid?.() !== 0) return void t.skip('needs root to make a veth pair (ip link add)', () => {});
  const ip = (...args: string[]) => execFileSync('ip', args, { stdio: 'pipe' });
  try {
    ip('link', 'add', 'pgo-ev0', 'type', 'veth', 'peer', 'name', 'pgo-ev1');
  } catch (err) {
    return void t.skip(`cannot make a veth pair here: ${(err as Error).message}`, () => {});
  }
  t.teardown(() => {
    try {
      ip('link', 'del', 'pgo-ev0');
    } catch {}
  });
  ip('link', 'set', 'pgo-ev0', 'up');
  ip('link', 'set', 'pgo-ev1', 'up');
  const dev = join(work, 'dev.ts');
  writeFileSync(dev, `import { graph, FromDevice, Discard } from 'pktgraph';
export default graph({ name: 'dev' }, () => { FromDevice({ device: 'pgo-ev0' }, 'rx').to(Discard({}, 'sink')); });
`);
  const a = events(viewA);
  const b = events(viewB);
  t.teardown(() => (a.close(), b.close()));
  await local('vr.create', { name: 'port1', source: { file: dev }, tenant: 'A', start: true });
  t.teardown(() => local('vr.delete', { name: 'port1' }).catch(() => {}));
  const link = (to: string) => () => a.got.some((e) => e.type === 'link' && e.router === 'port1' && e.to === to);
  await until('link up', link('up'));
  ip('link', 'set', 'pgo-ev0', 'down');
  await until('link down', link('down'));
  ip('link', 'set', 'pgo-ev0', 'up');
  await until('link up again', () => a.got.filter((e) => e.type === 'link' && e.router === 'port1' && e.to === 'up').length === 2);
  const m = await get('/v1/metrics', viewA);
  t.equal(value(m.body, 'pktgraph_port_up', { router: 'port1', device: 'pgo-ev0', state: 'up' }), 1);
  t.ok(a.got.some((e) => e.type === 'link' && (e as { device: string }).device === 'pgo-ev0' && e.from === 'up' && e.to === 'down'));
  t.notOk(b.got.some((e) => e.router === 'port1'), "tenant B's viewer saw none of it");
});
