// Talking to a running engine's control socket: one request, one response.
import { connect } from 'node:net';
import { lstatSync } from 'node:fs';
import type { ControlRequest, ControlResponse } from './protocol.js';

/** Nobody serves the socket: no file, or a file nobody listens on. */
export class NoEngineError extends Error {
  override name = 'NoEngineError';
  constructor(readonly path: string) {
    super(`no pktgraph engine is running with the control socket ${path}`);
  }
}

/** Send one request and wait for its response (at most timeoutMs). */
export function controlRequest(path: string, request: ControlRequest, timeoutMs = 5000): Promise<ControlResponse> {
  return new Promise((resolve, reject) => {
    const socket = connect(path);
    let buffered = '';
    let done = false;
    const finish = (err: Error | undefined, response?: ControlResponse) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      if (err) reject(err);
      else resolve(response!);
    };
    const timer = setTimeout(() => finish(new Error(`the engine at ${path} did not answer within ${timeoutMs} ms`)), timeoutMs);
    socket.setEncoding('utf8');
    socket.on('connect', () => socket.write(JSON.stringify(request) + '\n'));
    socket.on('data', (chunk: string) => {
      buffered += chunk;
      const nl = buffered.indexOf('\n');
      if (nl < 0) return;
      try {
        finish(undefined, JSON.parse(buffered.slice(0, nl)) as ControlResponse);
      } catch {
        finish(new Error(`the engine at ${path} sent a response that is not JSON`));
      }
    });
    socket.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT' || err.code === 'ECONNREFUSED') finish(new NoEngineError(path));
      else if (err.code === 'EACCES') finish(new Error(`cannot connect to ${path}: permission denied (the engine belongs to another user)`));
      else finish(new Error(`cannot talk to the engine at ${path}: ${err.message}`));
    });
    socket.on('close', () => finish(new Error(`the engine at ${path} closed the connection without answering`)));
  });
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
