// The HTTP API of `pktgraph serve` (src/service/http.ts) against a real engine process: the
// role x endpoint matrix (every operation of api.ts with admin, operator and viewer of tenant
// A, operator of tenant B, no token and a bad token: the status each gets, lists filtered, and
// no answer showing another tenant's routers, a refused name answered exactly as a missing one);
// the audit log's entries for changes and refusals; bad requests (malformed JSON, wrong types,
// unknown fields, oversize bodies, wrong tokens) answered 4xx with nothing changed (the state
// compared); /v1/openapi.json; the CLI with --url giving the same output as over the control
// socket; TLS with a certificate openssl makes here; failed logins rate-limited. No root needed.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitoring, operations, type OperationName } from '../src/service/api.js';
import { Engine } from '../src/service/client.js';
import { parseListen } from '../src/cli/vr.js';
import { startCli, waitFor, type CliResult } from './lib/cli.js';

const work = mkdtempSync(join(tmpdir(), 'pgh-api-'));
t.teardown(() => rmSync(work, { recursive: true, force: true }));

const start = (args: string[], env: Record<string, string> = {}) => {
  for (const [k, v] of Object.entries(env)) process.env[k] = v;
  try {
    return startCli(args, { cwd: work, runtimeDir: work });
  } finally {
    for (const k of Object.keys(env)) delete process.env[k];
  }
};
const cli = (args: string[], env: Record<string, string> = {}): Promise<CliResult> => start(args, env).done;

const gen = join(work, 'gen.ts');
writeFileSync(
  gen,
  `import { graph, InfiniteSource, Counter, Discard } from 'pktgraph';
export default graph({ name: 'gen', params: { rate: 1000 } }, (p) => {
  InfiniteSource({ rate: p.rate, burst: 8 }, 'source').to(Counter({}, 'counter')).to(Discard({}, 'sink'));
});
`,
);

/** `pktgraph serve` with a state directory and the HTTP API on a free port; its URL once it answers. */
async function serve(name: string, extra: string[] = []) {
  const state = join(work, `${name}-state`);
  const tokenFile = join(work, `${name}-admin.tok`);
  const control = join(work, `${name}.sock`);
  const s = start(['serve', '--control', control, '--threads', '1', '--pool', '4096', '--state', state, '--http', '127.0.0.1:0', '--init-admin', tokenFile, ...extra]);
  let out = '';
  s.child.stdout!.on('data', (d) => (out += d));
  let url = '';
  await waitFor('the HTTP API banner', () => {
    url = /HTTP API on (https?:\/\/[0-9.]+:\d+)/.exec(out)?.[1] ?? '';
    return url !== '';
  });
  return { ...s, url, state, control, admin: readFileSync(tokenFile, 'utf8').trim(), socket: join(state, 'http.sock') };
}

interface Answer {
  status: number;
  body: any;
  text: string;
  headers: Record<string, string | string[] | undefined>;
}

/** One HTTP request (over TCP, or the Unix socket when `socketPath` is given); the body sent as given (a string is sent raw). */
function http(base: string, method: string, path: string, opts: { token?: string; body?: unknown; headers?: Record<string, string>; socketPath?: string; from?: string } = {}): Promise<Answer> {
  const raw = opts.body === undefined ? undefined : typeof opts.body === 'string' || Buffer.isBuffer(opts.body) ? opts.body : JSON.stringify(opts.body);
  const headers: Record<string, string> = { ...(raw !== undefined ? { 'content-type': 'application/json' } : {}), ...(opts.token ? { authorization: `Bearer ${opts.token}` } : {}), ...opts.headers };
  const u = new URL(base);
  return new Promise((resolve, reject) => {
    const where = opts.socketPath ? { socketPath: opts.socketPath } : { hostname: u.hostname, port: u.port, ...(opts.from ? { localAddress: opts.from } : {}) };
    const req = request({ method, path, headers, ...where }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let body: unknown;
        try {
          body = JSON.parse(text);
        } catch {
          body = undefined;
        }
        resolve({ status: res.statusCode!, body, text, headers: res.headers });
      });
    });
    req.on('error', reject);
    req.end(raw);
  });
}

const main = await serve('main', ['--body-limit', '65536']);
const local = new Engine(main.control);
const api = (method: string, path: string, opts: Parameters<typeof http>[3] = {}) => http(main.url, method, path, opts);
const asAdmin = (method: string, path: string, body?: unknown) => api(method, path, { token: main.admin, body });

// Users and routers: tenant A (alpha1), tenant B (bravo1), and one of no tenant (admin1).
const tokens: Record<string, string> = { admin: main.admin };
for (const [name, role, tenant] of [['opA', 'operator', 'A'], ['viewA', 'viewer', 'A'], ['opB', 'operator', 'B']]) {
  const r = await asAdmin('POST', '/v1/users', { name, role, tenant });
  if (r.status !== 200) throw new Error(`user.create ${name}: ${r.text}`);
  tokens[name] = r.body.token;
}
for (const [name, tenant] of [['alpha1', 'A'], ['bravo1', 'B'], ['admin1', undefined]]) {
  const r = await asAdmin('POST', '/v1/routers', { name, source: { file: gen }, start: true, ...(tenant ? { tenant } : {}) });
  if (r.status !== 200) throw new Error(`vr.create ${name}: ${r.text}`);
}

type Caller = 'admin' | 'opA' | 'viewA' | 'opB' | 'none' | 'bad';
const callers: Caller[] = ['admin', 'opA', 'viewA', 'opB', 'none', 'bad'];
// Failed logins are limited per source address: wrong tokens come from addresses of their own
// (all of 127/8 is this host), so the other callers on 127.0.0.1 are not held back.
let spare = 0;
const elsewhere = () => `127.0.9.${(spare++ % 250) + 1}`;
const tokenOf = (c: Caller) => (c === 'none' ? undefined : c === 'bad' ? 'pgt_AAAAAAAAAAAA_' + 'A'.repeat(43) : tokens[c]);
const RANK = { viewer: 0, operator: 1, admin: 2 } as const;
const callerRole = { admin: 'admin', opA: 'operator', viewA: 'viewer', opB: 'operator' } as const;

// The least role each operation needs, as this test expects it (independently of api.ts);
// operations added later fall back to api.ts's entry (and the test says so).
const needs: Partial<Record<OperationName, 'admin' | 'operator' | 'viewer'>> = {
  'vr.list': 'viewer', 'vr.show': 'viewer', 'vr.graph': 'viewer', 'vr.counters': 'viewer', 'handler.list': 'viewer', 'handler.read': 'viewer',
  'vr.start': 'operator', 'vr.stop': 'operator', 'handler.write': 'operator',
  'vr.create': 'admin', 'vr.reconfigure': 'admin', 'vr.confirm': 'admin', 'vr.rollback': 'admin', 'vr.assign': 'admin', 'vr.delete': 'admin', 'engine.status': 'admin', 'engine.stop': 'admin',
  'user.list': 'admin', 'user.create': 'admin', 'user.token': 'admin', 'user.delete': 'admin', 'tenant.list': 'admin', 'audit.read': 'admin',
};

interface Case {
  /** The request (path fields filled from `args`, the rest in the query or body). */
  args: Record<string, unknown>;
  /** Run before each caller's request (as admin, over the control socket). */
  before?: () => Promise<unknown>;
  after?: () => Promise<unknown>;
  /** The status an allowed caller gets (default 200). */
  ok?: number;
  /** Callers for which the allowed request is not made (it would end the test's engine). */
  skip?: Caller[];
}

const quiet = (p: Promise<unknown>) => p.catch(() => undefined);
const cases: Partial<Record<OperationName, Case>> = {
  'vr.list': { args: {} },
  'vr.show': { args: { name: 'alpha1' } },
  'vr.create': { args: { name: 'tmp1', source: { file: gen }, tenant: 'A' }, after: () => quiet(local.deleteRouter('tmp1')) },
  'vr.assign': { args: { name: 'alpha1', tenant: 'A' } },
  'vr.start': { args: { name: 'alpha1' }, ok: 409 }, // already running: past authorisation, refused by the engine
  'vr.stop': { args: { name: 'alpha1' }, before: () => quiet(local.startRouter('alpha1')), after: () => quiet(local.startRouter('alpha1')) },
  'vr.reconfigure': { args: { name: 'alpha1', source: { file: gen, params: { rate: 2000 } } } },
  'vr.confirm': { args: { name: 'alpha1' }, ok: 409 }, // nothing waits for confirmation: past authorisation, refused by the engine
  'vr.rollback': { args: { name: 'alpha1' }, ok: 409 },
  'vr.delete': { args: { name: 'tmp2' }, before: () => quiet(local.createRouter('tmp2', { file: gen }, { tenant: 'A' })), after: () => quiet(local.deleteRouter('tmp2')) },
  'vr.graph': { args: { name: 'alpha1' } },
  'vr.counters': { args: { name: 'alpha1' } },
  'handler.list': { args: { name: 'alpha1', element: 'counter' } },
  'handler.read': { args: { name: 'alpha1', element: 'counter', handler: 'count' } },
  'handler.write': { args: { name: 'alpha1', element: 'counter', handler: 'reset', value: '' } },
  'engine.status': { args: {} },
  'engine.stop': { args: {}, skip: ['admin'] },
  'user.list': { args: {} },
  'user.create': { args: { name: 'tmpu', role: 'viewer', tenant: 'A' }, after: () => quiet(local.request('user.delete', { name: 'tmpu' })) },
  'user.token': { args: { name: 'viewA' } },
  'user.delete': { args: { name: 'tmpd' }, before: () => quiet(local.request('user.create', { name: 'tmpd', role: 'viewer', tenant: 'A' })), after: () => quiet(local.request('user.delete', { name: 'tmpd' })) },
  'tenant.list': { args: {} },
  'audit.read': { args: { limit: 5 } },
};

/** Method, path and body of an operation's request, as the HTTP entry in api.ts maps it. */
function httpOf(op: OperationName, args: Record<string, unknown>) {
  const route = operations[op].http;
  const used = new Set<string>();
  const path = '/v1' + route.path.replace(/:([a-z]+)/g, (_, f: string) => (used.add(f), encodeURIComponent(String(args[f]))));
  const rest = Object.fromEntries(Object.entries(args).filter(([k]) => !used.has(k)));
  if (route.method === 'GET' || route.method === 'DELETE') {
    const q = new URLSearchParams(Object.entries(rest).map(([k, v]) => [k, String(v)])).toString();
    return { method: route.method, path: q ? `${path}?${q}` : path, body: undefined };
  }
  return { method: route.method, path, body: rest };
}

/** What `caller` should get for `op` on tenant A's router (or no router). */
function expected(op: OperationName, c: Caller, kase: Case): number {
  if (c === 'none' || c === 'bad') return 401;
  const need = needs[op] ?? operations[op].http.role;
  if (c === 'admin') return kase.ok ?? 200;
  if (RANK[callerRole[c]] < RANK[need]) return 403;
  const router = (operations[op].http as { router?: string }).router;
  if (c === 'opB' && router !== undefined && typeof kase.args[router] === 'string') return 404;
  return kase.ok ?? 200;
}

const otherTenant: Record<Caller, RegExp | undefined> = { admin: undefined, opA: /bravo1|admin1/, viewA: /bravo1|admin1/, opB: /alpha1|admin1|tmp2/, none: /alpha1|bravo1|admin1/, bad: /alpha1|bravo1|admin1/ };

t.test('role x endpoint matrix: every operation with every caller', async (t) => {
  for (const op of Object.keys(operations) as OperationName[]) {
    let kase = cases[op];
    if (!kase) {
      // An operation this test does not know yet: its router field pointed at tenant A's router.
      const router = (operations[op].http as { router?: string }).router;
      kase = { args: router ? { [router]: 'alpha1' } : {}, ok: 0 };
      t.comment(`${op}: no case of its own here; checked with ${JSON.stringify(kase.args)} and the role in api.ts`);
    }
    for (const c of callers) {
      if (kase.skip?.includes(c)) continue;
      await kase.before?.();
      const req = httpOf(op, kase.args);
      const r = await api(req.method, req.path, { token: tokenOf(c), body: req.body, ...(c === 'bad' ? { from: elsewhere() } : {}) });
      await kase.after?.();
      const want = expected(op, c, kase);
      const what = `${op} as ${c}: ${req.method} ${req.path}`;
      if (want === 0) t.notOk([401, 403].includes(r.status), `${what}: allowed (${r.status})`);
      else t.equal(r.status, want, `${what} -> ${want}${r.status !== want ? ` (${r.text})` : ''}`);
      if (r.status >= 400) t.type(r.body?.error, 'string', `${what}: the refusal is one sentence`);
      const leak = otherTenant[c];
      // A B-user naming alpha1 sees the name it gave; nothing else of tenant A.
      const text = c === 'opB' ? r.text.replaceAll("named 'alpha1'", '') : r.text;
      if (leak) t.notMatch(text, leak, `${what}: nothing of another tenant`);
      // Another tenant's router is answered exactly as a router that does not exist.
      if (want === 404 && c === 'opB') {
        const missing = httpOf(op, { ...kase.args, name: 'nosuch1' });
        const m = await api(missing.method, missing.path, { token: tokenOf(c), body: missing.body });
        t.same({ status: m.status, error: m.body?.error }, { status: r.status, error: r.body?.error.replace('alpha1', 'nosuch1') }, `${what}: as if it did not exist`);
      }
    }
  }
});

t.test('lists show a tenant only its own routers', async (t) => {
  const names = async (c: Caller) => ((await api('GET', '/v1/routers', { token: tokenOf(c) })).body as { name: string }[]).map((r) => r.name).sort();
  t.same(await names('admin'), ['admin1', 'alpha1', 'bravo1']);
  t.same(await names('opA'), ['alpha1']);
  t.same(await names('viewA'), ['alpha1']);
  t.same(await names('opB'), ['bravo1']);
  // The refusal of a router's engine error (vr.start of a running router) names only the router asked for.
  const r = await api('POST', '/v1/routers/bravo1/start', { token: tokenOf('opB') });
  t.equal(r.status, 409);
  t.match(r.body.error, /bravo1.*already running/);
});

t.test('operators manage their routers: stop, start, handler writes; not their graphs', async (t) => {
  const op = { token: tokenOf('opA') };
  t.equal((await api('POST', '/v1/routers/alpha1/stop', op)).body.state, 'stopped');
  t.equal((await local.showRouter('alpha1')).state, 'stopped', 'the engine agrees');
  t.equal((await api('POST', '/v1/routers/alpha1/start', op)).body.state, 'running');
  await waitFor('alpha1 to count packets', async () => Number(await local.read('alpha1', 'counter', 'count')) > 0);
  t.equal((await api('PUT', '/v1/routers/alpha1/elements/counter/handlers/reset', { ...op, body: {} })).status, 200);
  t.ok(Number((await api('GET', '/v1/routers/alpha1/elements/counter/handlers/count', op)).body) < 1000, 'reset through the API (a JSON string answer)');
  // A graph chooses the devices and files the engine opens: replacing one is an admin's.
  const before = await local.showRouter('alpha1');
  const r = await api('PUT', '/v1/routers/alpha1/graph', { ...op, body: { source: { recipe: 'ipRouter', description: { interfaces: [] } } } });
  t.equal(r.status, 403, r.text);
  t.equal(r.body.error, "vr.reconfigure needs the admin role; 'opA' is operator of tenant 'A'");
  t.same(await local.showRouter('alpha1'), { ...before, heldPackets: (await local.showRouter('alpha1')).heldPackets }, 'nothing changed');
});

t.test('the audit log: every change and every refusal, read by admins', async (t) => {
  const r = await asAdmin('GET', '/v1/audit?limit=100000');
  t.equal(r.status, 200);
  const log = r.body as { who: string; role: string | null; tenant?: string; what: string; target?: string; result: string; status?: number; error?: string; via: string; time: string }[];
  const has = (what: string, f: (e: (typeof log)[number]) => boolean) => t.ok(log.some(f), what);
  has('a change by an admin', (e) => e.who === 'admin' && e.what === 'vr.create' && e.target === 'alpha1' && e.result === 'ok' && e.via === 'http');
  has("an operator's change", (e) => e.who === 'opA' && e.role === 'operator' && e.tenant === 'A' && e.what === 'vr.stop' && e.target === 'alpha1' && e.result === 'ok');
  has('a refusal for the role', (e) => e.who === 'opA' && e.what === 'vr.delete' && e.result === 'refused' && e.status === 403 && /needs the admin role/.test(e.error ?? ''));
  has('a refusal across tenants', (e) => e.who === 'opB' && e.what === 'vr.show' && e.target === 'alpha1' && e.status === 404);
  has('a refusal without a token', (e) => e.who === '-' && e.role === null && e.status === 401);
  has("the engine's refusal", (e) => e.what === 'vr.start' && e.status === 409);
  has('a change over the control socket', (e) => e.who === 'local' && e.via === 'control' && e.what === 'user.create' && e.target === 'tmpd');
  t.notOk(log.some((e) => e.result === 'ok' && ['vr.list', 'vr.show', 'handler.read'].includes(e.what)), 'reads are not changes');
  t.ok(log.every((e, i) => i === 0 || e.time >= log[i - 1].time), 'oldest first');
  // The file itself: one JSON object a line, appended.
  const lines = readFileSync(join(main.state, 'audit.log'), 'utf8').trimEnd().split('\n');
  t.equal(lines.length, log.length, 'the API gives every line of the file');
  t.equal((await api('GET', '/v1/audit', { token: tokenOf('opA') })).status, 403, 'operators cannot read it');
});

t.test('bad requests get a clear 4xx and change nothing', async (t) => {
  const snapshot = async () => ({
    routers: (await local.listRouters()).map((r) => ({ name: r.name, state: r.state, tenant: r.tenant, source: r.source })),
    users: (await local.request('user.list', {})).map((u) => ({ ...u })),
    tenants: await local.request('tenant.list', {}),
  });
  const before = await snapshot();
  const bad: [string, Promise<Answer>, number, RegExp][] = [
    ['malformed JSON', api('POST', '/v1/routers', { token: main.admin, body: '{"name": "x1", "source": ' }), 400, /not valid JSON/],
    ['empty JSON body', api('POST', '/v1/users', { token: main.admin, body: '' }), 400, /body is empty/],
    ['a JSON array', api('POST', '/v1/users', { token: main.admin, body: '[1,2]' }), 400, /must be a JSON object/],
    ['a wrong type', api('POST', '/v1/routers', { token: main.admin, body: { name: 5, source: { file: gen } } }), 400, /field 'name'|name/],
    ['a wrong type in the query', api('GET', '/v1/audit?limit=many', { token: main.admin }), 400, /limit/],
    ['an unknown field', api('POST', '/v1/routers', { token: main.admin, body: { name: 'x2', source: { file: gen }, colour: 'red' } }), 400, /unknown field 'colour'/],
    ['an unknown query field', api('GET', '/v1/routers?colour=red', { token: main.admin }), 400, /unknown field 'colour'/],
    ['a path field repeated in the body', api('PUT', '/v1/routers/alpha1/tenant', { token: main.admin, body: { name: 'bravo1', tenant: 'B' } }), 400, /given by the path/],
    ['a bad role', api('POST', '/v1/users', { token: main.admin, body: { name: 'x3', role: 'root', tenant: 'A' } }), 400, /role/],
    ['an operator without a tenant', api('POST', '/v1/users', { token: main.admin, body: { name: 'x4', role: 'operator' } }), 400, /belongs to a tenant/],
    ['an oversize body', api('POST', '/v1/routers', { token: main.admin, body: JSON.stringify({ name: 'x5', source: { file: gen, params: { pad: 'x'.repeat(70000) } } }) }), 413, /larger than the 65536 bytes/],
    ['not JSON at all', api('POST', '/v1/users', { token: main.admin, body: 'name=x6', headers: { 'content-type': 'application/x-www-form-urlencoded' } }), 415, /must be JSON/],
    ['a bad token', api('GET', '/v1/routers', { token: 'pgt_nottoken', from: elsewhere() }), 401, /not valid/],
    ['a mangled Authorization header', api('GET', '/v1/routers', { headers: { authorization: 'Basic YTpi' }, from: elsewhere() }), 401, /Bearer TOKEN/],
    ['a deleted user', (async () => {
      const u = (await asAdmin('POST', '/v1/users', { name: 'gone', role: 'viewer', tenant: 'A' })).body.token;
      t.equal((await api('GET', '/v1/routers', { token: u })).status, 200, 'the token works');
      await asAdmin('DELETE', '/v1/users/gone');
      return api('GET', '/v1/routers', { token: u, from: elsewhere() });
    })(), 401, /not valid/],
    ['an unknown endpoint', api('GET', '/v1/nothing', { token: main.admin }), 404, /no such endpoint/],
    ['an unknown router', api('GET', '/v1/routers/nosuch', { token: main.admin }), 404, /no virtual router named 'nosuch'/],
  ];
  for (const [what, p, status, message] of bad) {
    const r = await p;
    t.equal(r.status, status, `${what}: ${status}`);
    t.match(r.body?.error, message, `${what}: ${r.body?.error}`);
  }
  t.same(await snapshot(), before, 'routers, users and tenants as before');
  const audit = (await asAdmin('GET', '/v1/audit?limit=40')).body as { what: string; status?: number; error?: string }[];
  t.ok(audit.some((e) => e.status === 413 && /larger than/.test(e.error ?? '')), 'the oversize body is audited');
  t.ok(audit.some((e) => e.what === 'vr.create' && /unknown field 'colour'/.test(e.error ?? '')), 'the unknown field is audited');
});

t.test('/v1/openapi.json: every operation once, its schemas from api.ts', async (t) => {
  const r = await api('GET', '/v1/openapi.json');
  t.equal(r.status, 200, 'served without a token');
  const doc = r.body;
  t.equal(doc.openapi, '3.1.0');
  const found = new Map<string, { path: string; method: string; item: any }>();
  for (const [path, methods] of Object.entries(doc.paths as Record<string, Record<string, any>>))
    for (const [method, item] of Object.entries(methods)) {
      t.notOk(found.has(item.operationId), `${item.operationId} once`);
      found.set(item.operationId, { path, method, item });
    }
  t.same([...found.keys()].sort(), [...Object.keys(operations), ...Object.keys(monitoring)].sort(), 'every operation and monitoring endpoint, nothing else');
  for (const [op, o] of Object.entries(operations)) {
    const f = found.get(op)!;
    t.equal(`${f.method.toUpperCase()} ${f.path}`, `${o.http.method} /v1${o.http.path.replace(/:([a-z]+)/g, '{$1}')}`, `${op}: method and path`);
    t.equal(f.item['x-pktgraph-role'], o.http.role, `${op}: role`);
    t.same(f.item.responses[200].content['application/json'].schema, JSON.parse(JSON.stringify(o.answer)), `${op}: answer schema`);
  }
  const create = found.get('vr.create')!.item.requestBody.content['application/json'].schema;
  t.same(Object.keys(create.properties).sort(), ['name', 'quotas', 'source', 'start', 'tenant']);
  t.same(found.get('vr.show')!.item.parameters.map((p: any) => `${p.in}:${p.name}`), ['path:name']);
});

t.test('the CLI with --url: the same commands and the same output as over the control socket', async (t) => {
  const tokenFile = join(work, 'admin.tok');
  writeFileSync(tokenFile, main.admin + '\n', { mode: 0o600 });
  const over = { control: ['--control', main.control], url: ['--url', main.url, '--token-file', tokenFile], unix: ['--url', `unix:${main.socket}`] };
  const env = { PKTGRAPH_TOKEN: main.admin };
  for (const args of [['vr', 'list'], ['vr', 'show', 'alpha1'], ['vr', 'show', 'nosuch'], ['vr', 'list', '--json']]) {
    const [a, b, c] = await Promise.all([cli([...args, ...over.control]), cli([...args, ...over.url]), cli([...args, ...over.unix], env)]);
    const norm = (r: CliResult) => ({ code: r.code, stdout: r.stdout, stderr: r.stderr });
    t.same(norm(b), norm(a), `${args.join(' ')}: --url as --control`);
    t.same(norm(c), norm(a), `${args.join(' ')}: unix: URL with PKTGRAPH_TOKEN as --control`);
  }
  const created = await cli(['vr', 'create', 'cli1', gen, '-p', 'rate=500', '--tenant', 'A', '--start', ...over.url]);
  t.equal(created.stdout, "virtual router 'cli1' is running\n", created.stderr);
  t.equal((await local.showRouter('cli1')).tenant, 'A', 'created with its tenant');
  const viewer = join(work, 'viewA.tok');
  writeFileSync(viewer, tokens.viewA);
  const stop = await cli(['vr', 'stop', 'cli1', '--url', main.url, '--token-file', viewer]);
  t.equal(stop.code, 1);
  t.equal(stop.stderr, "pktgraph: vr.stop needs the operator role; 'viewA' is viewer of tenant 'A'\n", 'the refusal, one sentence');
  const made = await cli(['user', 'create', 'cliu', '--role', 'viewer', '--tenant', 'B', ...over.url]);
  t.match(made.stdout, /^pgt_\S+\n$/, 'user create prints the token alone');
  const seen = await cli(['vr', 'list', '--url', main.url], { PKTGRAPH_TOKEN: made.stdout.trim() });
  t.match(seen.stdout, /bravo1/);
  t.notMatch(seen.stdout, /alpha1|cli1/, "a viewer of B sees only B's routers");
  const noToken = await cli(['vr', 'list', '--url', main.url]);
  t.equal(noToken.stderr, `pktgraph: --url ${main.url} needs a token: set PKTGRAPH_TOKEN or give --token-file FILE\n`);
  await local.deleteRouter('cli1');
});

const noOpenssl = spawnSync('openssl', ['version']).status !== 0 && 'openssl is not installed: cannot make a certificate';
t.test('--http [ADDR:]PORT: 127.0.0.1 unless told', async (t) => {
  t.same(parseListen('8080'), { host: '127.0.0.1', port: 8080 });
  t.same(parseListen('0.0.0.0:80'), { host: '0.0.0.0', port: 80 });
  t.same(parseListen('[::1]:8443'), { host: '::1', port: 8443 });
  for (const bad of ['', 'http', 'a:b', '70000', '1.2.3.4:'])
    t.throws(() => parseListen(bad), { message: `--http takes [ADDR:]PORT, like 8080 or 0.0.0.0:8080 or [::1]:8080, got '${bad}'` }, `'${bad}' refused`);
});

t.test('TLS with a self-signed certificate', { skip: noOpenssl }, async (t) => {
  const cert = join(work, 'cert.pem');
  const key = join(work, 'key.pem');
  const made = spawnSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=pktgraph-test', '-addext', 'subjectAltName=IP:127.0.0.1']);
  t.equal(made.status, 0, `openssl made a certificate ${made.stderr}`);
  const s = await serve('tls', ['--tls-cert', cert, '--tls-key', key]);
  t.teardown(() => s.child.kill('SIGTERM'));
  t.match(s.url, /^https:\/\/127\.0\.0\.1:\d+$/, 'served over https');
  const ok = await cli(['vr', 'list', '--url', s.url, '--cacert', cert], { PKTGRAPH_TOKEN: s.admin });
  t.equal(ok.stdout, 'no virtual routers\n', ok.stderr);
  const untrusted = await cli(['vr', 'list', '--url', s.url], { PKTGRAPH_TOKEN: s.admin });
  t.equal(untrusted.code, 1);
  t.match(untrusted.stderr, /cannot talk to the engine at https:.*self.signed/i, 'an untrusted certificate is refused');
  const plain = await http(s.url.replace('https', 'http'), 'GET', '/v1/routers', { token: s.admin }).catch((e: Error) => e);
  t.ok(plain instanceof Error || plain.status === 400, 'plain HTTP is not served on the TLS port');
  s.child.kill('SIGTERM');
  t.equal((await s.done).code, 0, 'stopped cleanly');
});

t.test('failed logins are rate-limited per source', async (t) => {
  // Over the Unix socket (source 'unix'), so TCP callers are not held back.
  const viaUnix = (token: string) => http('http://localhost', 'GET', '/v1/routers', { token, socketPath: main.socket });
  t.equal((await viaUnix(main.admin)).status, 200);
  const statuses: number[] = [];
  for (let i = 0; i < 12; i++) statuses.push((await viaUnix('pgt_' + 'B'.repeat(12) + '_' + 'C'.repeat(43))).status);
  t.same(statuses.slice(0, 10), Array(10).fill(401), 'ten failures answered 401');
  t.same(statuses.slice(10), [429, 429], 'then 429');
  const blocked = await viaUnix(main.admin);
  t.equal(blocked.status, 429, 'even a valid token waits out the window');
  t.match(blocked.body.error, /too many failed logins from unix; try again in \d+ s/);
  t.equal(blocked.body.error, `too many failed logins from unix; try again in ${blocked.headers['retry-after']} s`, 'Retry-After says the same wait');
  t.equal((await api('GET', '/v1/routers', { token: main.admin })).status, 200, 'another source is not held back');
});

t.test('a second engine on the same state directory is refused, the first untouched', async (t) => {
  const r = await cli(['serve', '--control', join(work, 'second.sock'), '--threads', '1', '--pool', '1024', '--state', main.state]);
  t.equal(r.code, 1);
  t.match(r.stderr, `another pktgraph engine serves ${main.socket}: give this one another --state DIR`);
  t.equal((await http('http://localhost', 'GET', '/v1/routers', { token: main.admin, socketPath: main.socket })).status, 429, "the first still serves its socket (and still holds back the source 'unix')");
});

/** Tenant A's routers as its operator saw them before the engine stopped (the restart below must show the same). */
let keptForA: unknown;

t.test('engine.stop by an admin over HTTP stops the engine cleanly', async (t) => {
  keptForA = (await api('GET', '/v1/routers', { token: tokens.opA })).body;
  const r = await asAdmin('POST', '/v1/engine/stop');
  t.same(r.body, { stopping: true });
  const done = await main.done;
  t.equal(done.code, 0, done.stderr);
  t.match(done.stdout, /every virtual router deleted, every buffer back in the pool/);
  const lines = readFileSync(join(main.state, 'audit.log'), 'utf8').trimEnd().split('\n');
  t.match(JSON.parse(lines[lines.length - 1]), { who: 'admin', what: 'engine.stop', result: 'ok' }, 'audited');
});

t.test('users and tokens survive a restart, stored only hashed; --init-admin makes no second admin', async (t) => {
  const stored = readFileSync(join(main.state, 'users.json'), 'utf8');
  for (const [who, token] of Object.entries(tokens)) t.notOk(stored.includes(token.slice(17)), `${who}'s token secret is not in users.json`);
  const again = join(work, 'again-admin.tok');
  const s = start(['serve', '--control', join(work, 'again.sock'), '--threads', '1', '--pool', '1024', '--state', main.state, '--http', '127.0.0.1:0', '--init-admin', again]);
  t.teardown(() => s.child.kill('SIGTERM'));
  let out = '';
  s.child.stdout!.on('data', (d) => (out += d));
  let url = '';
  await waitFor('the HTTP API banner', () => (url = /HTTP API on (http:\/\/[0-9.]+:\d+)/.exec(out)?.[1] ?? '') !== '');
  t.notMatch(out, /made the user 'admin'/, 'no new admin');
  t.throws(() => readFileSync(again), { code: 'ENOENT' }, 'no token file written');
  const list = await http(url, 'GET', '/v1/routers', { token: tokens.opA });
  t.equal(list.status, 200, "the operator's token from before the restart works");
  t.same(list.body, keptForA, "tenant A's routers as before the stop (the desired state: test/state-recovery.test.ts)");
  t.equal((await http(url, 'GET', '/v1/users', { token: main.admin })).body.length, Object.keys(tokens).length + 1, 'every user is back (and the one the CLI test made)');
  s.child.kill('SIGTERM');
  t.equal((await s.done).code, 0);
});
