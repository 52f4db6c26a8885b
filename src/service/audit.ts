// The audit log: STATE/audit.log, one JSON line (api.ts AuditEntry: who, role, what, target,
// result, time) per change and per refusal, appended and never rewritten. Admins read it
// through the API (audit.read); it is plain JSON lines for `tail -f` and `jq` too.
import { closeSync, openSync, readFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import type { AuditEntryT } from './api.js';

export class AuditLog {
  readonly file: string;
  private fd: number | undefined;

  constructor(stateDir: string) {
    this.file = join(stateDir, 'audit.log');
    this.fd = openSync(this.file, 'a', 0o600);
  }

  record(entry: Omit<AuditEntryT, 'time'>): void {
    if (this.fd === undefined) return;
    // One write per line, to a file opened for appending: lines never interleave.
    writeSync(this.fd, JSON.stringify({ time: new Date().toISOString(), ...entry }) + '\n');
  }

  /** The last `limit` entries at or after `since` (an ISO 8601 time), oldest first. */
  read(limit = 1000, since?: string): AuditEntryT[] {
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

  close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }
}
