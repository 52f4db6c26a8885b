// The audit log: STATE/audit.log, one JSON line (api.ts AuditEntry: who, role, what, target,
// result, time) per change and per refusal, appended and never rewritten. Admins read it
// through the API (audit.read); it is plain JSON lines for `tail -f` and `jq` too.
//
// A line is appended off the request's path: `record` queues it and one write at a time
// appends what is queued (in order, whole lines, to a file opened for appending), so a request
// never waits for the disk (a synchronous write per line cost the route-change bench up to
// 50 ms now and then on a busy machine). Reading and closing wait for the queue. A kill -9
// loses at most the lines queued behind the write in flight (microseconds of requests).
import { closeSync, openSync, readFileSync, write } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { AuditEntryT } from './api.js';

const writeAsync = promisify(write);

export class AuditLog {
  readonly file: string;
  private fd: number | undefined;
  private queue: string[] = [];
  private writing: Promise<void> | undefined;
  private failed = false;

  constructor(stateDir: string) {
    this.file = join(stateDir, 'audit.log');
    this.fd = openSync(this.file, 'a', 0o600);
  }

  record(entry: Omit<AuditEntryT, 'time'>): void {
    if (this.fd === undefined) return;
    this.queue.push(JSON.stringify({ time: new Date().toISOString(), ...entry }) + '\n');
    this.writing ??= this.drain();
  }

  /** Append what is queued, one write at a time, until nothing is. */
  private async drain(): Promise<void> {
    try {
      while (this.queue.length && this.fd !== undefined) {
        let bytes = Buffer.from(this.queue.join(''));
        this.queue = [];
        while (bytes.length) bytes = bytes.subarray((await writeAsync(this.fd, bytes)).bytesWritten);
      }
    } catch (err) {
      // Told once: the engine goes on serving (a full disk must not stop forwarding).
      if (!this.failed) console.error(`pktgraph: cannot append to the audit log ${this.file}: ${(err as Error).message}`);
      this.failed = true;
      this.queue = [];
    } finally {
      this.writing = undefined;
    }
  }

  /** Resolves once every line recorded so far is in the file. */
  async flush(): Promise<void> {
    while (this.writing) await this.writing;
  }

  /** The last `limit` entries at or after `since` (an ISO 8601 time), oldest first. */
  async read(limit = 1000, since?: string): Promise<AuditEntryT[]> {
    await this.flush();
    const from = since === undefined ? undefined : Date.parse(since);
    const lines = readFileSync(this.file, 'utf8').split('\n');
    const out: AuditEntryT[] = [];
    for (let i = lines.length - 1; i >= 0 && out.length < limit; i--) {
      if (!lines[i]) continue;
      let e: AuditEntryT;
      try {
        e = JSON.parse(lines[i]);
      } catch {
        continue; // a line cut short by a crash
      }
      if (from !== undefined && Date.parse(e.time) < from) break;
      out.push(e);
    }
    return out.reverse();
  }

  /** Write what is queued, then close the file. */
  async close(): Promise<void> {
    await this.flush();
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }
}
