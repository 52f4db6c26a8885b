// The control socket of a running engine: a Unix socket serving newline-delimited JSON
// requests (see protocol.ts) on the JS thread, with RunningGraph.read/write doing the
// work. Only the owner may connect (socket mode 0600, default directory mode 0700).
import { createServer, type Server, type Socket } from 'node:net';
import { chmodSync, lstatSync, unlinkSync } from 'node:fs';
import type { Runtime } from '../runtime/runtime.js';
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

function dispatch(runtime: Runtime, request: unknown): unknown {
  if (typeof request !== 'object' || request === null || Array.isArray(request)) throw new Error('a request must be a JSON object');
  const req = request as ControlRequest;
  const text = (field: 'graph' | 'element' | 'handler', required: boolean): string | undefined => {
    const v = req[field];
    if (v === undefined && !required) return undefined;
    if (typeof v !== 'string' || v === '') throw new Error(`request field '${field}' must be a non-empty string`);
    return v;
  };
  switch (req.op) {
    case 'read':
      return runtime.graph(text('graph', false)).read(text('element', true)!, text('handler', true)!);
    case 'write': {
      const v = req.value ?? '';
      if (typeof v !== 'string' && typeof v !== 'number' && typeof v !== 'boolean') throw new Error(`request field 'value' must be a string`);
      runtime.graph(text('graph', false)).write(text('element', true)!, text('handler', true)!, String(v));
      return '';
    }
    case 'handlers':
      return runtime.graph(text('graph', false)).handlers(text('element', true)!);
    case 'list': {
      const name = text('graph', false);
      const graphs = name === undefined ? runtime.allGraphs() : [runtime.graph(name)];
      return graphs.map((g) => ({ name: g.name, elements: g.plan.elements.map((e) => ({ name: e.name, class: e.class })) }));
    }
    case 'counters': {
      // Counters are 64-bit: sent as decimal strings so no precision is lost.
      const g = runtime.graph(text('graph', false));
      const strings = (c: Record<string, bigint>) => Object.fromEntries(Object.entries(c).map(([k, v]) => [k, v.toString()]));
      const element = text('element', false);
      if (element !== undefined) return strings(g.counters(element));
      return Object.fromEntries(Object.entries(g.allCounters()).map(([e, c]) => [e, strings(c)]));
    }
    case 'profile': {
      // Per-element cost (RunningGraph.profile): switched on, off or reset first when asked.
      const g = runtime.graph(text('graph', false));
      const action = req.value ?? '';
      if (action === 'on') g.setProfiling(true);
      else if (action === 'off') g.setProfiling(false);
      else if (action === 'reset') g.resetProfile();
      else if (action !== '') throw new Error(`profile takes 'on', 'off', 'reset' or nothing, got ${JSON.stringify(action)}`);
      return g.profile();
    }
    case 'replace': {
      // Hot reconfiguration (RunningGraph.replace): the engine checks the plan again and
      // refuses a bad one with the old graph untouched.
      const plan = req.plan as Plan | undefined;
      if (typeof plan !== 'object' || plan === null || Array.isArray(plan)) throw new Error(`request field 'plan' must be a compiled plan (pktgraph compile FILE)`);
      const g = runtime.graph(text('graph', false)).replace(plan);
      return { graph: g.name, ...g.swap! } satisfies ReplaceResult;
    }
    default:
      throw new Error(`unknown op ${JSON.stringify(req.op)}: use read, write, handlers, list, counters, profile or replace`);
  }
}

// Each request is answered in order, one after another.
function serveConnection(socket: Socket, runtime: Runtime) {
  let buffered = '';
  let answered: Promise<void> = Promise.resolve();
  socket.setEncoding('utf8');
  socket.on('error', () => socket.destroy());
  socket.on('data', (chunk: string) => {
    buffered += chunk;
    let nl: number;
    while ((nl = buffered.indexOf('\n')) >= 0) {
      const line = buffered.slice(0, nl).trim();
      buffered = buffered.slice(nl + 1);
      if (line === '') continue;
      answered = answered.then(() => {
        let response: ControlResponse;
        try {
          response = handleRequest(runtime, JSON.parse(line));
        } catch {
          response = { ok: false, error: 'the request is not valid JSON' };
        }
        return writeResponse(socket, response);
      });
    }
    if (buffered.length > MAX_LINE) {
      socket.end(JSON.stringify({ ok: false, error: `request longer than ${MAX_LINE} bytes` }) + '\n');
      buffered = '';
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
 * Listen on `path` for `runtime`. A stale socket file (nobody listening) is replaced; a
 * live one is an error. The caller must close the server before closing the runtime.
 */
export async function startControlServer(runtime: Runtime, path: string): Promise<ControlServer> {
  checkSocketDir(path);
  const state = await probeSocket(path);
  if (state === 'live')
    throw new Error(`another pktgraph engine is already serving the control socket ${path}; stop it or give this one another with --control NAME`);
  if (state === 'stale') unlinkSync(path);

  const connections = new Set<Socket>();
  const server: Server = createServer((socket) => {
    connections.add(socket);
    socket.on('close', () => connections.delete(socket));
    serveConnection(socket, runtime);
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
