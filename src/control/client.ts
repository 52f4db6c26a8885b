// Talking to a running engine's control socket: one request, one response.
import { connect, type Socket } from 'node:net';
import { lstatSync } from 'node:fs';
import type { ControlRequest, ControlResponse } from './protocol.js';

/** Nobody serves the socket: no file, or a file nobody listens on. */
export class NoEngineError extends Error {
  override name = 'NoEngineError';
  constructor(readonly path: string) {
    super(`no pktgraph engine is running with the control socket ${path}`);
  }
}

/**
 * Send one request and wait for its response. `timeoutMs` bounds the wait for the engine to
 * start answering (and any pause of that long within an answer), not the answer's length:
 * an answer of any size arrives, chunk by chunk, and is decoded once, at its end.
 */
export function controlRequest(path: string, request: ControlRequest, timeoutMs = 5000): Promise<ControlResponse> {
  return new Promise((resolve, reject) => {
    const socket = connect(path);
    let done = false;
    const finish = (err: Error | undefined, response?: ControlResponse) => {
      if (done) return;
      done = true;
      socket.destroy();
      if (err) reject(err);
      else resolve(response!);
    };
    socket.setTimeout(timeoutMs, () => finish(new Error(`the engine at ${path} did not answer within ${timeoutMs} ms`)));
    socket.on('connect', () => socket.write(JSON.stringify(request) + '\n'));
    socket.on('data', responseReader(path, finish).onData);
    socket.on('error', (err: NodeJS.ErrnoException) => finish(connectError(path, err)));
    socket.on('close', () => finish(new Error(`the engine at ${path} closed the connection without answering`)));
  });
}

/**
 * Requests to one engine over connections kept open between them (the Engine client's):
 * a request takes an idle connection or opens one, so requests one after another pay no
 * connect and accept each (a thousand small route changes did), while requests in flight
 * together still have a connection each, as with controlRequest (the engine answers one
 * connection's requests one at a time, in order). An idle connection does not keep the
 * process alive, and one the engine closed is dropped.
 */
export class ControlClient {
  private readonly idle: Socket[] = [];

  /** `timeoutMs` as controlRequest's. */
  constructor(
    readonly path: string,
    private readonly timeoutMs = 5000,
  ) {}

  async request(request: ControlRequest): Promise<ControlResponse> {
    const reused = this.idle.pop();
    const socket = reused ?? (await this.open());
    socket.ref();
    let response: ControlResponse;
    try {
      response = await exchange(socket, this.path, request, this.timeoutMs);
    } catch (err) {
      // A kept connection the engine ended before it read the request (it stopped, and its end
      // is not seen yet here): asked again on a new one, which says whether an engine is there.
      if (reused && err instanceof Unanswered) return this.request(request);
      throw err;
    }
    if (socket.destroyed) return response;
    socket.setTimeout(0);
    socket.unref();
    this.idle.push(socket);
    return response;
  }

  /** Close the idle connections (requests in flight finish on theirs, which then close). */
  close(): void {
    for (const s of this.idle.splice(0)) s.destroy();
  }

  private open(): Promise<Socket> {
    return new Promise((resolve, reject) => {
      const socket = connect(this.path);
      const failed = (err: NodeJS.ErrnoException) => reject(connectError(this.path, err));
      socket.once('error', failed);
      socket.once('connect', () => {
        socket.off('error', failed);
        // Idle: an error or the engine's end drops it from the pool.
        const drop = () => {
          const i = this.idle.indexOf(socket);
          if (i >= 0) this.idle.splice(i, 1);
          socket.destroy();
        };
        socket.on('error', drop).on('close', drop);
        resolve(socket);
      });
    });
  }
}

/**
 * Gathers one response line from a connection's chunks and hands it over parsed, or an error
 * when it is not JSON. The end of the line is looked for in each new chunk only: an answer of
 * many megabytes comes in thousands of chunks.
 */
function responseReader(path: string, done: (err: Error | undefined, response?: ControlResponse) => void) {
  const chunks: Buffer[] = [];
  return {
    /** Whether any of the answer has come. */
    started: () => chunks.length > 0,
    onData(chunk: Buffer) {
      const nl = chunk.indexOf(0x0a);
      chunks.push(nl < 0 ? chunk : chunk.subarray(0, nl));
      if (nl < 0) return;
      let response: ControlResponse;
      try {
        response = JSON.parse(Buffer.concat(chunks).toString('utf8')) as ControlResponse;
      } catch {
        return done(new Error(`the engine at ${path} sent a response that is not JSON`));
      }
      chunks.length = 0;
      done(undefined, response);
    },
  };
}

/** The connection failed before any of the answer came. */
class Unanswered extends Error {}

/** One request on an open connection and its response; the connection is destroyed on any failure (its next answer could not be matched). */
function exchange(socket: Socket, path: string, request: ControlRequest, timeoutMs: number): Promise<ControlResponse> {
  return new Promise((resolve, reject) => {
    const finish = (err: Error | undefined, response?: ControlResponse) => {
      socket.off('data', onData).off('error', onError).off('close', onClose).off('timeout', onTimeout);
      if (err) {
        socket.destroy();
        reject(err);
      } else resolve(response!);
    };
    const reader = responseReader(path, finish);
    const onData = reader.onData;
    const unanswered = (why: string) => (reader.started() ? new Error(why) : new Unanswered(why));
    const onError = (err: NodeJS.ErrnoException) => finish(unanswered(`cannot talk to the engine at ${path}: ${err.message}`));
    const onClose = () => finish(unanswered(`the engine at ${path} closed the connection without answering`));
    const onTimeout = () => finish(new Error(`the engine at ${path} did not answer within ${timeoutMs} ms`));
    socket.on('data', onData).on('error', onError).on('close', onClose).on('timeout', onTimeout);
    socket.setTimeout(timeoutMs);
    socket.write(JSON.stringify(request) + '\n');
  });
}

/** A failed connect as controlRequest words it. */
function connectError(path: string, err: NodeJS.ErrnoException): Error {
  if (err.code === 'ENOENT' || err.code === 'ECONNREFUSED') return new NoEngineError(path);
  if (err.code === 'EACCES') return new Error(`cannot connect to ${path}: permission denied (the engine belongs to another user)`);
  return new Error(`cannot talk to the engine at ${path}: ${err.message}`);
}

/** Whether a socket file is served ('live'), left over ('stale') or missing ('absent'). */
export async function probeSocket(path: string, timeoutMs = 1000): Promise<'live' | 'stale' | 'absent'> {
  try {
    if (!lstatSync(path).isSocket()) throw new Error(`${path} exists and is not a socket; remove it or choose another with --control`);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 'absent';
    throw err;
  }
  return new Promise((resolve) => {
    const socket = connect(path);
    // A listener that does not accept in time is still someone's: treat it as live.
    const timer = setTimeout(() => {
      socket.destroy();
      resolve('live');
    }, timeoutMs);
    socket.on('connect', () => {
      clearTimeout(timer);
      socket.destroy();
      resolve('live');
    });
    socket.on('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(err.code === 'ENOENT' ? 'absent' : err.code === 'ECONNREFUSED' ? 'stale' : 'live');
    });
  });
}
