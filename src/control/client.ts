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

/**
 * Send one request and wait for its response. `timeoutMs` bounds the wait for the engine to
 * start answering (and any pause of that long within an answer), not the answer's length:
 * an answer of any size arrives, chunk by chunk, and is decoded once, at its end.
 */
export function controlRequest(path: string, request: ControlRequest, timeoutMs = 5000): Promise<ControlResponse> {
  return new Promise((resolve, reject) => {
    const socket = connect(path);
    const chunks: Buffer[] = [];
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
    socket.on('data', (chunk: Buffer) => {
      // Look for the end of the line in the new chunk only: an answer of many megabytes
      // comes in thousands of chunks.
      const nl = chunk.indexOf(0x0a);
      chunks.push(nl < 0 ? chunk : chunk.subarray(0, nl));
      if (nl < 0) return;
      let response: ControlResponse;
      try {
        response = JSON.parse(Buffer.concat(chunks).toString('utf8')) as ControlResponse;
      } catch {
        return finish(new Error(`the engine at ${path} sent a response that is not JSON`));
      }
      chunks.length = 0;
      finish(undefined, response);
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
