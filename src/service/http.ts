// The HTTP API of `pktgraph serve` (fastify): one route per operation of api.ts, made from its
// `http` entry (method, /v1 path), JSON in and out, bearer tokens (users.ts), the management
// layer (access.ts) deciding and auditing, and /v1/openapi.json made from the same table. It
// listens on TCP (127.0.0.1 unless told; TLS when given a certificate) and always on a local
// Unix socket (owner-only). Every refusal is `{ "error": "one sentence" }` with a 4xx status.
// Later parts (metrics, events, the dashboard) are fastify plugins given to startHttpApi: they
// get the app, `access(request)` (who is asking: role and tenant) and the management layer.
import { chmodSync, unlinkSync } from 'node:fs';
import { probeSocket } from '../control/client.js';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import Fastify, { type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { Value } from 'typebox/value';
import { httpRoute, operations, type OperationName } from './api.js';
import { inQuery, openApiDocument, pathFields } from './openapi.js';
import type { Management } from './access.js';
import { HTTP_STATUS, ServiceError } from './routers.js';
import type { Principal } from './users.js';

/** What a plugin gets: the app (add routes under /v1), who is asking, and the management layer (its routers). */
export interface HttpContext {
  app: FastifyInstance;
  /** The caller of a request (role, tenant); throws a ServiceError (401, 429) without a valid token. */
  access(request: FastifyRequest): Promise<Principal>;
  management: Management;
}

export type HttpPlugin = (ctx: HttpContext) => Promise<void> | void;

export interface HttpOptions {
  /** TCP address to listen on (none: the Unix socket only). */
  listen?: { host: string; port: number };
  tls?: { cert: string | Buffer; key: string | Buffer };
  /** The Unix socket (mode 0600). */
  socketPath: string;
  /** Largest request body, bytes (default 64 MiB: a bulk route change is large). */
  bodyLimit?: number;
  plugins?: HttpPlugin[];
  version?: string;
}

export interface HttpApi extends HttpContext {
  /** The TCP URL it serves (when it listens on TCP). */
  url?: string;
  socketPath: string;
  close(): Promise<void>;
}

/** Failed logins a source may make in a window before it is refused for the rest of it. */
const MAX_FAILURES = 10;
const FAILURE_WINDOW_MS = 60_000;

/** Failed logins per source: after MAX_FAILURES in FAILURE_WINDOW_MS, the source waits out the window. */
class LoginLimiter {
  private readonly failures = new Map<string, { count: number; since: number }>();

  /** Seconds the source must still wait, or 0. */
  blocked(source: string, now = Date.now()): number {
    const f = this.failures.get(source);
    if (!f) return 0;
    if (now - f.since >= FAILURE_WINDOW_MS) {
      this.failures.delete(source);
      return 0;
    }
    return f.count >= MAX_FAILURES ? Math.ceil((f.since + FAILURE_WINDOW_MS - now) / 1000) : 0;
  }

  fail(source: string, now = Date.now()): void {
    // Forget finished windows now and then, so many sources cannot grow the map without end.
    if (this.failures.size >= 10000) for (const [s, f] of this.failures) if (now - f.since >= FAILURE_WINDOW_MS) this.failures.delete(s);
    const f = this.failures.get(source);
    if (!f || now - f.since >= FAILURE_WINDOW_MS) this.failures.set(source, { count: 1, since: now });
    else f.count++;
  }
}

const sourceOf = (req: FastifyRequest) => req.ip || 'unix';

/** Fastify's own refusals (before an operation runs) as one sentence naming the request. */
function describeFastifyError(err: FastifyError, req: FastifyRequest, bodyLimit: number): string {
  const what = `${req.method} ${req.url.split('?')[0]}`;
  switch (err.code) {
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return `${what}: the body is not valid JSON; send a JSON object`;
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return `${what}: the body is empty but its Content-Type says JSON; send a JSON object ({} for none) or no Content-Type`;
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return `${what}: the body is larger than the ${bodyLimit} bytes this engine takes; send less at a time`;
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return `${what}: the body must be JSON (Content-Type: application/json), not ${req.headers['content-type']}`;
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return `${what}: the Content-Length does not match the body`;
  }
  return `${what}: ${err.message}`;
}

/** Build the app (routes, authentication, errors), add the plugins, listen. */
export async function startHttpApi(management: Management, options: HttpOptions): Promise<HttpApi> {
  const bodyLimit = options.bodyLimit ?? 64 << 20;
  const app = Fastify({ logger: false, bodyLimit, ...(options.tls ? { https: { cert: options.tls.cert, key: options.tls.key } } : {}) }) as unknown as FastifyInstance;
  const limiter = new LoginLimiter();
  const principals = new WeakMap<FastifyRequest, Principal>();
  const opOf = (req: FastifyRequest) => (req.routeOptions.config as { op?: OperationName } | undefined)?.op;

  async function access(req: FastifyRequest): Promise<Principal> {
    const known = principals.get(req);
    if (known) return known;
    const source = sourceOf(req);
    const wait = limiter.blocked(source);
    if (wait) throw new ServiceError(`too many failed logins from ${source}; try again in ${wait} s`, 'limited');
    const header = req.headers.authorization;
    const users = management.users;
    if (!users) throw new ServiceError('this engine has no users: start it with --state DIR', 'unauthorized');
    const m = header === undefined ? null : /^Bearer\s+(\S+)\s*$/i.exec(header);
    const who = m ? await users.verify(m[1]) : undefined;
    if (!who) {
      if (header !== undefined) limiter.fail(source); // a request with no token is no login attempt
      throw new ServiceError(
        header === undefined ? 'no token: send `Authorization: Bearer TOKEN` (make one with `pktgraph user create`)' : m ? 'the bearer token is not valid (mistyped, or its user was deleted)' : 'the Authorization header must be `Bearer TOKEN`',
        'unauthorized',
      );
    }
    principals.set(req, who);
    return who;
  }

  const refuse = (reply: FastifyReply, status: number, message: string) => reply.code(status).send({ error: message });

  app.setErrorHandler(async (err: FastifyError, req, reply) => {
    const op = opOf(req);
    const origin = { via: 'http' as const, source: sourceOf(req) };
    if (err instanceof ServiceError) {
      // Refusals by the management layer are audited there; authentication failures here.
      if (err.kind === 'unauthorized' || err.kind === 'limited') management.record(undefined, op ?? `${req.method} ${req.url}`, undefined, origin, err);
      if (err.kind === 'limited') reply.header('retry-after', String(limiter.blocked(origin.source) || 1));
      if (err.kind === 'unauthorized') reply.header('www-authenticate', 'Bearer');
      return refuse(reply, HTTP_STATUS[err.kind], err.message);
    }
    const status = err.statusCode && err.statusCode >= 400 && err.statusCode < 500 ? err.statusCode : 500;
    const message = status === 500 ? `${req.method} ${req.url.split('?')[0]}: internal error: ${err.message}` : describeFastifyError(err, req, bodyLimit);
    management.record(principals.get(req), op ?? `${req.method} ${req.url}`, undefined, origin, new ServiceError(message), status);
    return refuse(reply, status, message);
  });
  app.setNotFoundHandler(async (req, reply) => refuse(reply, 404, `no such endpoint: ${req.method} ${req.url.split('?')[0]}; the endpoints are in /v1/openapi.json`));

  // Authenticate before the body is read: an unauthenticated caller's body is never parsed.
  app.addHook('onRequest', async (req) => {
    if (opOf(req)) await access(req);
  });

  const document = openApiDocument(options.version ?? '0');
  app.get('/v1/openapi.json', async () => document);

  for (const op of Object.keys(operations) as OperationName[]) {
    const route = httpRoute(op);
    const fields = pathFields(op);
    app.route({
      method: route.method,
      url: '/v1' + route.path,
      config: { op },
      handler: async (req, reply) => {
        const who = await access(req);
        const params = req.params as Record<string, string>;
        const origin = { via: 'http' as const, source: sourceOf(req) };
        let args: Record<string, unknown>;
        if (inQuery(op)) {
          // Query values are text: convert those the schema types otherwise (limit=10).
          args = Value.Convert(operations[op].request, { ...(req.query as object), ...params }) as Record<string, unknown>;
        } else {
          const body = req.body ?? {};
          const problem =
            typeof body !== 'object' || body === null || Array.isArray(body)
              ? `${op}: the body must be a JSON object`
              : fields.filter((f) => Object.hasOwn(body, f)).map((f) => `${op}: '${f}' is given by the path (${route.path}); leave it out of the body`)[0];
          if (problem) {
            const err = new ServiceError(problem);
            management.record(who, op, params[route.router ?? ''], origin, err);
            throw err;
          }
          args = { ...(body as object), ...params };
        }
        // Serialised here: fastify would send a string answer (a handler's value) as plain text.
        const value = await management.perform(who, op, args, origin);
        return reply.type('application/json; charset=utf-8').send(JSON.stringify(value));
      },
    });
  }

  const ctx: HttpContext = { app, access, management };
  for (const plugin of options.plugins ?? []) await plugin(ctx);
  await app.ready();

  let url: string | undefined;
  if (options.listen) {
    await app.listen({ host: options.listen.host, port: options.listen.port });
    const a = app.server.address() as AddressInfo;
    const host = a.family === 'IPv6' ? `[${a.address}]` : a.address;
    url = `${options.tls ? 'https' : 'http'}://${host}:${a.port}`;
  }
  // The Unix socket: plain HTTP into the same routes, owner-only from the moment it exists.
  const local: Server = createServer((req, res) => app.routing(req, res));
  const state = await probeSocket(options.socketPath);
  if (state === 'live') throw new Error(`another pktgraph engine serves ${options.socketPath}: give this one another --state DIR`);
  if (state === 'stale') unlinkSync(options.socketPath);
  await new Promise<void>((resolve, reject) => {
    const old = process.umask(0o177);
    local.once('error', (err) => reject(new Error(`cannot open the HTTP socket ${options.socketPath}: ${err.message}`)));
    try {
      local.listen(options.socketPath, resolve);
    } finally {
      process.umask(old);
    }
  });
  chmodSync(options.socketPath, 0o600);

  let closed = false;
  return {
    ...ctx,
    url,
    socketPath: options.socketPath,
    async close() {
      if (closed) return;
      closed = true;
      local.close();
      local.closeAllConnections();
      try {
        unlinkSync(options.socketPath);
      } catch {}
      await app.close();
    },
  };
}
