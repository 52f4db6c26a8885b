// The control socket of a running engine: a Unix socket serving newline-delimited JSON
// requests (see protocol.ts) on the JS thread, with RunningGraph.read/write doing the
// work. Only the owner may connect (socket mode 0600, default directory mode 0700).
import { createServer, type Server, type Socket } from 'node:net';
import { chmodSync, lstatSync, unlinkSync } from 'node:fs';
import type { Runtime, RunningGraph } from '../runtime/runtime.js';
import type { Plan } from '../compiler/plan.js';
import type { ControlRequest, ControlResponse, ReplaceResult } from './protocol.js';
import { probeSocket } from './client.js';
import { checkSocketDir } from './path.js';

/** Longest request line accepted; a client sending more is cut off. A replace request carries
 *  a whole plan (a router's inline routes: megabytes). */
const MAX_LINE = 64 << 20;

export interface ControlServer {
  readonly path: string;
  /** Stop serving, drop connections and remove the socket file. Idempotent. */
  close(): void;
}

/** Answer one request. Never throws: problems become `{ ok: false, error }`. */
export function handleRequest(runtime: Runtime, request: unknown): ControlResponse {
  try {
    return { ok: true, value: dispatch(runtime, request) };
  } catch (err) {
    return { ok: false, error: (err as Error).message };
  }
}

/** A request line as a ControlRequest, or an error if it is not a JSON object. */
export function asRequest(request: unknown): ControlRequest {
  if (typeof request !== 'object' || request === null || Array.isArray(request)) throw new Error('a request must be a JSON object');
  return request as ControlRequest;
}

/** A request field that must be a non-empty string when given (or always, if required). */
export function requestText(req: ControlRequest, field: 'graph' | 'element' | 'handler', required: boolean): string | undefined {
  const v = req[field];
  if (v === undefined && !required) return undefined;
  if (typeof v !== 'string' || v === '') throw new Error(`request field '${field}' must be a non-empty string`);
  return v;
}

function dispatch(runtime: Runtime, request: unknown): unknown {
  const req = asRequest(request);
  if (req.op === 'list') {
    const name = requestText(req, 'graph', false);
    const graphs = name === undefined ? runtime.allGraphs() : [runtime.graph(name)];
    return graphs.map((g) => ({ name: g.name, elements: g.plan.elements.map((e) => ({ name: e.name, class: e.class })) }));
  }
  if (req.op === 'replace') {
    // Hot reconfiguration of a `pktgraph run` graph (RunningGraph.replace): the engine checks the
    // plan again and refuses a bad one with the old graph untouched. (`pktgraph serve` has its
    // own operations on virtual routers.)
    const plan = req.plan as Plan | undefined;
    if (typeof plan !== 'object' || plan === null || Array.isArray(plan)) throw new Error(`request field 'plan' must be a compiled plan (pktgraph compile FILE)`);
    const g = runtime.graph(requestText(req, 'graph', false)).replace(plan);
    return { graph: g.name, ...g.swap! } satisfies ReplaceResult;
  }
  if (!['read', 'write', 'handlers', 'counters', 'profile'].includes(req.op))
    throw new Error(`unknown op ${JSON.stringify(req.op)}: use read, write, handlers, list, counters, profile or replace`);
  return graphRequest(runtime.graph(requestText(req, 'graph', false)), req);
}

/** The requests on one graph: read, write, handlers, counters and profile (req.graph already resolved to `g`). */
export function graphRequest(g: RunningGraph, req: ControlRequest): unknown {
  const text = (field: 'element' | 'handler', required: boolean) => requestText(req, field, required);
  switch (req.op) {
    case 'read':
      return g.read(text('element', true)!, text('handler', true)!);
    case 'write': {
      const v = req.value ?? '';
      if (typeof v !== 'string' && typeof v !== 'number' && typeof v !== 'boolean') throw new Error(`request field 'value' must be a string`);
      g.write(text('element', true)!, text('handler', true)!, String(v));
      return '';
    }
    case 'handlers':
      return g.handlers(text('element', true)!);
    case 'counters': {
      // Counters are 64-bit: sent as decimal strings so no precision is lost.
      const strings = (c: Record<string, bigint>) => Object.fromEntries(Object.entries(c).map(([k, v]) => [k, v.toString()]));
      const element = text('element', false);
      if (element !== undefined) return strings(g.counters(element));
      return Object.fromEntries(Object.entries(g.allCounters()).map(([e, c]) => [e, strings(c)]));
    }
    case 'profile': {
      // Per-element cost (RunningGraph.profile): switched on, off or reset first when asked.
      const action = req.value ?? '';
      if (action === 'on') g.setProfiling(true);
      else if (action === 'off') g.setProfiling(false);
      else if (action === 'reset') g.resetProfile();
      else if (action !== '') throw new Error(`profile takes 'on', 'off', 'reset' or nothing, got ${JSON.stringify(action)}`);
      return g.profile();
    }
    default:
      throw new Error(`unknown op ${JSON.stringify(req.op)}`);
  }
}

// Each request is answered in order, one after another.
/** Answers one parsed request line (handleRequest for a `pktgraph run`, the service's for `pktgraph serve`). */
export type RequestHandler = (request: unknown) => ControlResponse | Promise<ControlResponse>;

function serveConnection(socket: Socket, answer: RequestHandler) {
  // A request of many megabytes (a bulk route change) comes in thousands of chunks: each is
  // searched for the end of the line once, and the line decoded once, at its end.
  const chunks: Buffer[] = [];
  let buffered = 0;
  let answered: Promise<void> = Promise.resolve();
  socket.on('error', () => socket.destroy());
  socket.on('data', (chunk: Buffer) => {
    let start = 0;
    let nl: number;
    while ((nl = chunk.indexOf(0x0a, start)) >= 0) {
      chunks.push(chunk.subarray(start, nl));
      start = nl + 1;
      const line = Buffer.concat(chunks).toString('utf8').trim();
      chunks.length = 0;
      buffered = 0;
      if (line === '') continue;
      answered = answered.then(async () => {
        let request: unknown;
        try {
          request = JSON.parse(line);
        } catch {
          return writeResponse(socket, { ok: false, error: 'the request is not valid JSON' });
        }
        let response: ControlResponse;
        try {
          response = await answer(request);
        } catch (err) {
          response = { ok: false, error: (err as Error).message };
        }
        return writeResponse(socket, response);
      });
    }
    if (start < chunk.length) {
      chunks.push(chunk.subarray(start));
      buffered += chunk.length - start;
    }
    if (buffered > MAX_LINE) {
      socket.end(JSON.stringify({ ok: false, error: `request longer than ${MAX_LINE} bytes` }) + '\n');
      chunks.length = 0;
      buffered = 0;
    }
  });
}

/** Answers up to this many characters go out as one write; longer ones in slices this long. */
const SLICE = 1 << 20;

// A long string value (a whole routing table) is escaped and sent a slice at a time, each
// once the socket has taken the previous one, so the answer is never held twice over.
// Escaping a slice on its own gives the same JSON text as escaping the whole string (a
// surrogate pair cut in two becomes two \u escapes, which JSON.parse joins again).
async function writeResponse(socket: Socket, response: ControlResponse): Promise<void> {
  if (!response.ok || typeof response.value !== 'string' || response.value.length <= SLICE) {
    socket.write(JSON.stringify(response) + '\n');
    return;
  }
  const value = response.value;
  const write = (text: string) =>
    socket.write(text)
      ? Promise.resolve()
      : new Promise<void>((resolve) => {
          const go = () => {
            socket.off('drain', go).off('close', go);
            resolve();
          };
          socket.on('drain', go).on('close', go);
        });
  await write('{"ok":true,"value":"');
  for (let i = 0; i < value.length && !socket.destroyed; i += SLICE) await write(JSON.stringify(value.slice(i, i + SLICE)).slice(1, -1));
  socket.write('"}\n');
}

/**
 * Listen on `path` for `runtime` (its requests answered by `answer`, by default
 * handleRequest). A stale socket file (nobody listening) is replaced; a live one is an
 * error. The caller must close the server before closing the runtime.
 */
export async function startControlServer(runtime: Runtime, path: string, answer: RequestHandler = (r) => handleRequest(runtime, r)): Promise<ControlServer> {
  checkSocketDir(path);
  const state = await probeSocket(path);
  if (state === 'live')
    throw new Error(`another pktgraph engine is already serving the control socket ${path}; stop it or give this one another with --control NAME`);
  if (state === 'stale') unlinkSync(path);

  const connections = new Set<Socket>();
  const server: Server = createServer((socket) => {
    connections.add(socket);
    socket.on('close', () => connections.delete(socket));
    serveConnection(socket, answer);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    // The umask makes the socket owner-only from the moment it exists; chmod below makes sure.
    const old = process.umask(0o177);
    try {
      server.listen(path, () => {
        server.off('error', reject);
        resolve();
      });
    } finally {
      process.umask(old);
    }
  }).catch((err: NodeJS.ErrnoException) => {
    throw new Error(`cannot open the control socket ${path}: ${err.code === 'EACCES' ? 'permission denied' : err.message}`);
  });
  chmodSync(path, 0o600);
  const ino = lstatSync(path).ino;

  let closed = false;
  return {
    path,
    close() {
      if (closed) return;
      closed = true;
      server.close();
      for (const s of connections) s.destroy();
      // Remove the file ourselves (synchronously, so this also works from an exit handler),
      // unless someone else's socket has replaced it meanwhile.
      try {
        if (lstatSync(path).ino === ino) unlinkSync(path);
      } catch {
        // already gone
      }
    },
  };
}
