// Monitoring on the HTTP API (an HttpPlugin, docs/management.md): Prometheus metrics
// (metrics.ts), the event stream and recent events (events.ts), the dashboard's own readings
// (who is asking and what it may do, rates, a router's graph laid out by Graphviz) and the
// dashboard's static page (src/service/dashboard/, plain modules, no build step). Every
// reading is scoped: an admin sees every router, a tenant's user only its tenant's.
import { execFile } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { extname, join } from 'node:path';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { Value } from 'typebox/value';
import { packageRoot } from '../runtime/native.js';
import { httpRoute, monitoring, type HttpRoute, type MonitoringName, type OperationName } from './api.js';
import { RANK } from './access.js';
import { Monitor, type MonitorOptions } from './events.js';
import { MetricsExporter, type Scope } from './metrics.js';
import { ServiceError } from './routers.js';
import type { HttpContext, HttpPlugin } from './http.js';
import type { Principal } from './users.js';

/** The lifecycle actions the dashboard offers, each shown only to roles its operation allows. */
const ACTIONS: OperationName[] = ['vr.start', 'vr.stop', 'vr.delete'];

const TYPES: Record<string, string> = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8', '.png': 'image/png', '.svg': 'image/svg+xml' };

/** The dashboard's files, read once (a few kB). */
function dashboardFiles(): Map<string, { type: string; body: Buffer }> {
  const dir = join(packageRoot(), 'src', 'service', 'dashboard');
  return new Map(readdirSync(dir).filter((f) => TYPES[extname(f)]).map((f) => [f, { type: TYPES[extname(f)], body: readFileSync(join(dir, f)) }]));
}

/** DOT -> SVG with Graphviz's dot; the last layouts are kept (a graph changes only on reconfiguration). */
function layout(cache: Map<string, string>, dot: string): Promise<string> {
  const hit = cache.get(dot);
  if (hit) return Promise.resolve(hit);
  return new Promise((resolve, reject) => {
    const child = execFile('dot', ['-Tsvg', '-Gpad=0.3' /* room for the rates under the boxes */], { timeout: 10_000, maxBuffer: 16 << 20 }, (err, svg) => {
      if (err) {
        const missing = (err as NodeJS.ErrnoException).code === 'ENOENT';
        return reject(new ServiceError(missing ? "the graph cannot be drawn: Graphviz's `dot` is not installed on the engine's host (apt-get install graphviz)" : `the graph cannot be drawn: dot failed: ${err.message}`, missing ? 'unavailable' : 'invalid'));
      }
      if (cache.size >= 200) cache.delete(cache.keys().next().value!);
      cache.set(dot, svg);
      resolve(svg);
    });
    child.stdin?.end(dot);
  });
}

export interface ObserveOptions extends MonitorOptions {}

/** The plugin; once the API runs, `monitor` is its Monitor (tests drive its `tick`). */
export type ObservePlugin = HttpPlugin & { monitor?: Monitor };

/** The plugin: `serveEngine({ httpPlugins: [observe()] })` (pktgraph serve adds it). */
export function observe(options: ObserveOptions = {}): ObservePlugin {
  const plugin: ObservePlugin = async ({ app, access, management }: HttpContext) => {
    const monitor = new Monitor(management.routers, options).start();
    plugin.monitor = monitor;
    // Open event streams end before the server closes (it waits for its connections).
    const streams = new Set<() => void>();
    app.addHook('preClose', async () => {
      for (const end of streams) end();
      monitor.stop();
    });
    const metrics = new MetricsExporter(management.routers);
    const files = dashboardFiles();
    const layouts = new Map<string, string>();

    // Each endpoint of the monitoring table (api.ts): the caller authenticated, its role checked,
    // its query checked against the schema, then answered within its scope.
    const handlers: Record<MonitoringName, (c: { req: FastifyRequest; reply: FastifyReply; who: Principal; scope: Scope; query: Record<string, number | string | undefined> }) => Promise<unknown>> = {
      'metrics.scrape': async ({ reply, scope }) => reply.type(metrics.contentType).send(await metrics.scrape(scope)),
      'events.recent': async ({ scope, query }) => monitor.recent(scope, (query.limit as number | undefined) ?? 100, (query.after as number | undefined) ?? 0),
      'events.stream': async ({ req, reply, scope, query }) => {
        // The recent events after Last-Event-ID (or ?after=), then each new one.
        const header = req.headers['last-event-id'];
        if (header !== undefined && !/^\d+$/.test(String(header))) throw new ServiceError(`events.stream: the Last-Event-ID header must be an event id (a whole number), got '${header}'`);
        const after = header !== undefined ? Number(header) : (query.after as number | undefined);
        reply.hijack();
        const res = reply.raw;
        res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store', connection: 'keep-alive', 'x-accel-buffering': 'no' });
        const send = (e: { id: number; type: string }) => res.write(`id: ${e.id}\nevent: ${e.type}\ndata: ${JSON.stringify(e)}\n\n`);
        res.write(`retry: 2000\n: pktgraph events (the engine looks every ${monitor.intervalMs} ms)\n\n`);
        if (after !== undefined) for (const e of monitor.recent(scope, undefined, after)) send(e);
        const unsubscribe = monitor.subscribe(scope, send);
        const ping = setInterval(() => res.write(': ping\n\n'), 15_000);
        const end = () => {
          unsubscribe();
          clearInterval(ping);
          streams.delete(end);
          res.end();
        };
        streams.add(end);
        req.raw.on('close', end);
      },
      'dashboard.session': async ({ who }) => ({ user: who.user, role: who.role, ...(who.tenant ? { tenant: who.tenant } : {}), actions: ACTIONS.filter((op) => RANK[who.role] >= RANK[httpRoute(op).role]), intervalMs: monitor.intervalMs }),
      'dashboard.rates': async ({ scope }) => monitor.currentRates(scope),
      'vr.graph.svg': async ({ req, reply, who }) => {
        const { name } = req.params as { name: string };
        // Through the management layer: authorised and scoped like GET /v1/routers/:name/graph.
        const { dot } = (await management.perform(who, 'vr.graph', { name }, { via: 'http', source: req.ip })) as { dot: string };
        return reply.type('image/svg+xml').send(await layout(layouts, dot));
      },
    };
    for (const name of Object.keys(monitoring) as MonitoringName[]) {
      const m = monitoring[name];
      const route = m.http as HttpRoute;
      app.get('/v1' + route.path, async (req, reply) => {
        const who = await access(req);
        if (RANK[who.role] < RANK[route.role]) throw new ServiceError(`${name} needs the ${route.role} role; '${who.user}' is ${who.role}`, 'forbidden');
        const query = Value.Convert(m.query, { ...(req.query as object) }) as Record<string, number | string | undefined>;
        const problem = [...Value.Errors(m.query, query)][0];
        if (problem) {
          const field = problem.instancePath.replace(/^\//, '');
          throw new ServiceError(problem.keyword === 'additionalProperties' || problem.keyword === 'boolean' ? `${name}: unknown query field '${field}'` : `${name}: query field '${field}' ${problem.message}`);
        }
        // An admin sees every router, or one tenant's with ?tenant=; the others only their tenant's.
        const tenant = query.tenant as string | undefined;
        if (who.role !== 'admin' && tenant !== undefined && tenant !== who.tenant) throw new ServiceError(`'${who.user}' sees only tenant '${who.tenant}'; leave out ?tenant= or give its own`, 'forbidden');
        const scope: Scope = who.role === 'admin' ? (tenant ? { tenant } : { all: true }) : { tenant: who.tenant! };
        return handlers[name]({ req, reply, who, scope, query });
      });
    }

    app.get('/', async (_req, reply) => reply.redirect('/dashboard/'));
    app.get('/dashboard', async (_req, reply) => reply.redirect('/dashboard/'));
    app.get('/dashboard/*', async (req, reply) => {
      const file = (req.params as { '*': string })['*'] || 'index.html';
      const f = files.get(file);
      if (!f) return reply.code(404).send({ error: `no such dashboard file: ${file}` });
      return reply.type(f.type).header('cache-control', 'no-cache').send(f.body);
    });
  };
  return plugin;
}
