// The desired state of `pktgraph serve --state DIR` (docs/management.md, "Desired state"): what
// was asked of the engine (ports; virtual routers with their configuration, state, tenant,
// quotas and shares; their routes), kept so that after a restart or a kill -9 the engine comes
// back the same. Users and tokens are users.ts's (users.json).
//
// STATE/desired.json is a snapshot (written whole: temporary file, fsync, rename, fsync of the
// directory) naming each router's router file in STATE/routers/ (routerFile.ts, the format of
// vr.save: configuration and tables); STATE/journal.N holds every acknowledged change after it,
// one line each (CRC-32, then JSON), appended and fsynced before the change is answered (group
// commit: the changes that arrive during one fsync share the next). Bulk changes are written as
// a router file of the router's tables, compact, and the journal line names it. Compaction folds
// the journal into a new snapshot off the request path (a new journal starts at that instant).
import { closeSync, fdatasync as fdatasyncCb, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { open, readFile, rename } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { crc32 } from 'node:zlib';
import { decodeRouterFile, encodeRouterFile } from './routerFile.js';
import { packageVersion } from '../runtime/native.js';
import { ServiceError, routeWrite, type RouterRecord, type VirtualRouters } from './routers.js';
import type { OperationName, OperationRequest, RouterStateT } from './api.js';

const fdatasync = promisify(fdatasyncCb);

export const DESIRED_FORMAT = 'pktgraph-desired';
/** The snapshot and journal format this build writes and the only one it reads. */
export const DESIRED_VERSION = 1;
const SNAPSHOT = 'desired.json';
const ROUTER_DIR = 'routers';
const JOURNAL = /^journal\.(\d+)$/;
/** A route change whose text is larger than this is kept as the router's tables (a router file), not as text. */
const BULK_BYTES = 256 * 1024;
/** Compact once the journal holds this many records or bytes. */
const COMPACT_RECORDS = 20_000;
const COMPACT_BYTES = 64 * 1024 * 1024;
/** And at the latest this long after the first change since the last compaction: coming back replays at most that much. */
const COMPACT_AFTER_MS = 30_000;

/** A router's settings (what vr.start, stop, assign, quota and share change). */
type Settings = Pick<RouterRecord, 'name' | 'state' | 'tenant' | 'quotas' | 'shares'>;
interface PortRecord {
  name: string;
  device: string;
  tap?: boolean;
  rate: number;
}

/** One journal record: a change as it left the engine. */
type Change =
  | { t: 'router'; router: RouterRecord }
  | { t: 'settings'; router: Settings }
  | { t: 'file'; file: string; router: Settings }
  | { t: 'write'; name: string; element: string; handler: string; value: string }
  | { t: 'delete'; name: string }
  | { t: 'port'; port: PortRecord }
  | { t: 'port.del'; name: string };
type Entry = Change & { seq: number };

interface Snapshot {
  format: typeof DESIRED_FORMAT;
  version: number;
  seq: number;
  savedAt: string;
  ports: PortRecord[];
  routers: (Settings & { file: string })[];
}

/** Write a file whole or not at all, durably: a temporary file, fsync, rename, fsync of its directory. */
export function writeDurably(dir: string, name: string, data: string, mode = 0o600): void {
  const tmp = join(dir, `${name}.tmp`);
  const fd = openSync(tmp, 'w', mode);
  try {
    writeSync(fd, data);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, join(dir, name));
  syncDir(dir);
}

/** writeDurably without blocking: the directory's fsync is the caller's (one for many files). */
async function writeFileDurably(dir: string, name: string, data: Buffer): Promise<void> {
  const tmp = join(dir, `${name}.tmp`);
  const fh = await open(tmp, 'w', 0o600);
  try {
    await fh.writeFile(data);
    await fh.datasync();
  } finally {
    await fh.close();
  }
  await rename(tmp, join(dir, name));
}

async function syncDirAsync(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

function syncDir(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** What a recovery did, for engine.status and serve's log. */
export interface RecoveryReport {
  ms: number;
  routers: number;
  ports: number;
  replayed: number;
  /** Routers that came back failed, ports that could not be opened, changes that could not be replayed: one sentence each. */
  problems: string[];
}

export class DesiredState {
  private seq = 0;
  /** The seq the last snapshot holds everything up to. */
  private snapshotSeq = 0;
  /** The journal being appended to: its descriptor and the seq it starts at. */
  private journal!: { fd: number; start: number };
  /** Records taken but not yet durable, in seq order, each to the journal it was taken for. */
  private pending: { seq: number; fd: number; line: Promise<Buffer> }[] = [];
  private durableSeq = 0;
  private flushing: Promise<void> | undefined;
  private records = 0;
  private bytes = 0;
  /** Each router's router file in the snapshot (or a bulk change's), while its configuration and tables are those. */
  private readonly files = new Map<string, string>();
  /** Routers changed since their file was written. */
  private readonly dirty = new Set<string>();
  /** The state each router was asked to be in (a router that failed to come back keeps it). */
  private readonly wanted = new Map<string, RouterStateT>();
  private readonly ports = new Map<string, PortRecord>();
  private compacting: Promise<void> | undefined;
  private broken: Error | undefined;
  private closed = false;
  private timer: NodeJS.Timeout | undefined;
  report: RecoveryReport | undefined;

  private constructor(
    readonly dir: string,
    private readonly routers: VirtualRouters,
  ) {}

  /**
   * Read the state directory and bring `routers` (a fresh engine's) back to what it holds.
   * A snapshot, journal or router file that is corrupt or of a newer format throws one sentence
   * naming the file and what to do; nothing is served then. A router the engine refuses (a port
   * gone, a plan this build cannot run) comes back `failed` with its reason.
   */
  static async open(dir: string, routers: VirtualRouters): Promise<DesiredState> {
    const t0 = performance.now();
    const s = new DesiredState(dir, routers);
    mkdirSync(join(dir, ROUTER_DIR), { recursive: true, mode: 0o700 });
    // Restored plans are not compiled: the quota checks read the element descriptors.
    await import('../../elements/index.js');
    const snap = s.readSnapshot();
    const journals = s.readJournals();
    const problems: string[] = [];
    for (const p of snap?.ports ?? []) await s.applyPort(p, problems);
    const decoded = await Promise.all((snap?.routers ?? []).map(async (r) => ({ settings: r, ...(await s.readRouterFile(r.file)) })));
    for (const d of decoded) {
      s.adopt({ ...d.record, ...d.settings }, d.image, problems);
      s.files.set(d.settings.name, d.settings.file);
    }
    s.seq = s.snapshotSeq = snap?.seq ?? 0;
    // Records after the snapshot, in order, up to the first gap: one after a gap was never acknowledged.
    let replayed = 0;
    for (const e of journals) {
      if (e.seq <= s.seq) continue;
      if (e.seq !== s.seq + 1) break;
      await s.replay(e, problems);
      s.seq = e.seq;
      replayed++;
    }
    s.durableSeq = s.seq;
    s.startJournal();
    s.report = { ms: performance.now() - t0, routers: routers.owners().length, ports: s.ports.size, replayed, problems };
    // Fold what was replayed into a snapshot, off the start's path.
    if (replayed || journals.length) s.schedule(1000);
    return s;
  }

  private readSnapshot(): Snapshot | undefined {
    const file = join(this.dir, SNAPSHOT);
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw new Error(`cannot read the state file ${file}: ${(err as Error).message}`);
    }
    const fix = `restore the state directory from a backup, or move ${SNAPSHOT}, the journal.* files and ${ROUTER_DIR}/ out of ${this.dir} to start with no routers`;
    let snap: Snapshot;
    try {
      snap = JSON.parse(text);
    } catch {
      throw new Error(`the state file ${file} is corrupt (not JSON); ${fix}`);
    }
    if (snap?.format !== DESIRED_FORMAT || typeof snap.version !== 'number') throw new Error(`the state file ${file} is not a pktgraph state snapshot; ${fix}`);
    if (snap.version !== DESIRED_VERSION)
      throw new Error(
        `the state file ${file} is of format version ${snap.version}, and this pktgraph reads version ${DESIRED_VERSION}${snap.version > DESIRED_VERSION ? ': serve it with the newer pktgraph that wrote it' : `; ${fix}`}`,
      );
    if (!Number.isInteger(snap.seq) || !Array.isArray(snap.ports) || !Array.isArray(snap.routers)) throw new Error(`the state file ${file} is corrupt (its seq, ports or routers are missing); ${fix}`);
    return snap;
  }

  /**
   * Every journal's records, by seq. A journal that starts at seq S supersedes the records of
   * older journals from S on (they were never acknowledged: a journal starts after recovery or
   * compaction with everything before it accounted for). A line cut short by a crash at the end
   * of a journal was never acknowledged and is dropped; a bad line before good ones is corruption.
   */
  private readJournals(): Entry[] {
    const files = readdirSync(this.dir)
      .map((f) => JOURNAL.exec(f))
      .filter((m) => m !== null)
      .map((m) => ({ name: m[0], start: Number(m[1]) }))
      .sort((a, b) => a.start - b.start);
    const out: Entry[] = [];
    files.forEach((f, i) => {
      const end = i + 1 < files.length ? files[i + 1].start : Infinity;
      const file = join(this.dir, f.name);
      const lines = readFileSync(file).toString('utf8').split('\n');
      let bad: number | undefined;
      lines.forEach((line, n) => {
        if (line === '') return;
        const e = parseLine(line);
        if (!e) {
          bad ??= n + 1;
          return;
        }
        if (bad !== undefined)
          throw new Error(
            `the state journal ${file} is corrupt at line ${bad} (a damaged record before acknowledged ones); restore the state directory from a backup, or remove ${file} to come back as of the last snapshot (${SNAPSHOT})`,
          );
        if (e.seq >= f.start && e.seq < end) out.push(e);
      });
    });
    return out.sort((a, b) => a.seq - b.seq);
  }

  private async readRouterFile(name: string): Promise<{ record: RouterRecord; image: Buffer | undefined }> {
    const file = join(this.dir, ROUTER_DIR, name);
    let bytes: Buffer;
    try {
      bytes = await readFile(file);
    } catch (err) {
      throw new Error(`cannot read the router file ${file} that the state directory names: ${(err as Error).message}; restore the state directory from a backup`);
    }
    const { manifest: m, image } = await decodeRouterFile(bytes, file).catch((err: Error) => {
      throw new Error(`${err.message.replace(/; nothing was changed$/, '')}: the state directory is damaged; restore it from a backup, or move it away to start with no routers`);
    });
    return { record: { name: m.name, state: m.state, source: m.source, graph: m.graph, created: m.created, plan: m.plan, quotas: m.quotas ?? this.routers.defaultQuotas, shares: m.shares ?? [] }, image };
  }

  private adopt(rec: RouterRecord, image: Buffer | undefined, problems: string[]): void {
    this.wanted.set(rec.name, rec.state);
    try {
      const info = this.routers.adopt(rec, image);
      if (info.state === 'failed') problems.push(`virtual router '${rec.name}' came back failed (it was ${rec.state}): ${info.error}`);
    } catch (err) {
      // A hot replacement the engine refused: the router keeps the graph it had.
      problems.push(`virtual router '${rec.name}': its new configuration could not be applied again: ${(err as Error).message}`);
    }
  }

  private async applyPort(p: PortRecord, problems: string[]): Promise<void> {
    this.ports.set(p.name, p);
    try {
      await this.routers.perform('port.add', { name: p.name, device: p.device, ...(p.tap ? { tap: true } : {}), rate: p.rate });
    } catch (err) {
      problems.push(`port '${p.name}' (device ${p.device}) could not be opened again: ${(err as Error).message}`);
    }
  }

  private async replay(e: Entry, problems: string[]): Promise<void> {
    switch (e.t) {
      case 'router':
        this.adopt(e.router, undefined, problems);
        this.files.delete(e.router.name);
        this.dirty.add(e.router.name);
        return;
      case 'file': {
        const { record, image } = await this.readRouterFile(e.file);
        this.adopt({ ...record, ...e.router }, image, problems);
        this.files.set(e.router.name, e.file);
        return;
      }
      case 'settings': {
        this.wanted.set(e.router.name, e.router.state);
        if (!this.routers.has(e.router.name)) return;
        const info = this.routers.resettle(e.router);
        if (info.state === 'failed') problems.push(`virtual router '${e.router.name}' came back failed (it was ${e.router.state}): ${info.error}`);
        this.dirty.add(e.router.name);
        return;
      }
      case 'write':
        try {
          await this.routers.perform('handler.write', { name: e.name, element: e.element, handler: e.handler, value: e.value });
        } catch (err) {
          problems.push(`virtual router '${e.name}': the write of ${e.element}.${e.handler} could not be replayed: ${(err as Error).message}`);
        }
        this.dirty.add(e.name);
        return;
      case 'delete':
        if (this.routers.has(e.name)) this.routers.delete(e.name);
        this.forget(e.name);
        return;
      case 'port':
        return this.applyPort(e.port, problems);
      case 'port.del':
        this.ports.delete(e.name);
        await this.routers.perform('port.del', { name: e.name }).catch(() => undefined);
        return;
    }
  }

  private forget(name: string): void {
    this.files.delete(name);
    this.dirty.delete(name);
    this.wanted.delete(name);
  }

  /** The journal every record from now on goes to: a new file starting at the next seq. */
  private startJournal(): void {
    const start = this.seq + 1;
    // 'w': a journal of this name left by a crash holds nothing acknowledged (recovery ended before it).
    const fd = openSync(join(this.dir, `journal.${start}`), 'w', 0o600);
    syncDir(this.dir);
    this.journal = { fd, start };
    this.records = 0;
    this.bytes = 0;
  }

  /**
   * Keep the change an acknowledged operation made (its request `args`, its answer): resolves
   * once it is durable. Called by the management layer after the operation succeeded, in the
   * same tick, before it answers.
   */
  async record(op: OperationName, args: unknown, answer: unknown): Promise<void> {
    const a = args as Record<string, string>;
    switch (op) {
      case 'vr.create':
      case 'vr.reconfigure': // with `confirm`, recordOf keeps the configuration confirmed before it
      case 'vr.confirm':
      case 'vr.rollback':
        return this.recordRouter(a.name);
      case 'vr.restore':
        return this.recordTables((answer as { name: string }).name);
      case 'vr.clone':
        return this.recordTables(a.newName);
      case 'vr.start':
      case 'vr.stop':
      case 'vr.assign':
      case 'vr.quota':
      case 'vr.share':
        return this.recordSettings(a.name);
      case 'vr.delete':
        this.forget(a.name);
        return this.append({ t: 'delete', name: a.name });
      case 'route.add':
      case 'route.replace':
      case 'route.del':
      case 'route.load': {
        const w = routeWrite(op, args as OperationRequest<'route.add'>);
        // A file the engine read may change later; a bulk change is smaller as tables than as text.
        if (op === 'route.load' || w.value.length > BULK_BYTES) return this.recordTables(a.name);
        return this.recordWrite(a.name, (answer as { table: string }).table, w.handler, w.value);
      }
      case 'handler.write':
        if (a.handler === 'load' || (a.value ?? '').length > BULK_BYTES) return this.recordTables(a.name);
        return this.recordWrite(a.name, a.element, a.handler, a.value ?? '');
      case 'port.add': {
        const p = answer as { name: string; device: string; kind: string; rate: number };
        const port: PortRecord = { name: p.name, device: p.device, ...(p.kind === 'tap' ? { tap: true } : {}), rate: p.rate };
        this.ports.set(p.name, port);
        return this.append({ t: 'port', port });
      }
      case 'port.del':
        this.ports.delete(a.name);
        return this.append({ t: 'port.del', name: a.name });
      default:
        return; // no change to the engine's desired state (vr.save, engine.stop; users are users.json's)
    }
  }

  /**
   * Keep a router's configuration and settings as they are now: the hook for any change of its
   * graph or config (vr.create, vr.reconfigure, vr.confirm and vr.rollback through `record`;
   * the management layer for a rollback by deadline).
   */
  recordRouter(name: string): Promise<void> {
    const router = this.routers.recordOf(name);
    router.state = this.want(router);
    this.files.delete(name);
    this.dirty.add(name);
    return this.append({ t: 'router', router });
  }

  private recordSettings(name: string): Promise<void> {
    const r = this.routers.recordOf(name);
    const router: Settings = { name, state: this.want(r), ...(r.tenant ? { tenant: r.tenant } : {}), quotas: r.quotas, shares: r.shares };
    this.dirty.add(name);
    return this.append({ t: 'settings', router });
  }

  private recordWrite(name: string, element: string, handler: string, value: string): Promise<void> {
    this.dirty.add(name);
    return this.append({ t: 'write', name, element, handler, value });
  }

  /** The state a router is wanted in: its own, or for one that failed, the one asked before. */
  private want(r: RouterRecord): RouterStateT {
    const s = r.state === 'failed' ? (this.wanted.get(r.name) ?? 'defined') : r.state;
    this.wanted.set(r.name, s);
    return s;
  }

  /**
   * Keep a router whole, tables included, as a router file now (bulk changes, restores, clones);
   * the journal line names it. Not compressed (gzip level 0): level 1 took 0.67 s for the full
   * IPv4 table's 8.1 MB image (routerFile.ts), more than the change itself.
   */
  private recordTables(name: string): Promise<void> {
    const seq = ++this.seq;
    const router = this.routers.recordOf(name);
    router.state = this.want(router);
    const image = this.routers.imageOf(name);
    const file = `${name}.${seq}.pgvr`;
    this.files.set(name, file);
    this.dirty.delete(name);
    const { tenant, quotas, shares } = router;
    const written = this.writeRouterFile(file, router, image, 0).then(() => syncDirAsync(join(this.dir, ROUTER_DIR)));
    return this.enqueue(seq, written.then(() => line({ seq, t: 'file', file, router: { name, state: router.state, ...(tenant ? { tenant } : {}), quotas, shares } })));
  }

  /** A router file in routers/ (the directory's fsync is the caller's). */
  private async writeRouterFile(file: string, r: RouterRecord, image: Buffer | undefined, level?: number): Promise<void> {
    const state = r.state === 'failed' ? 'defined' : r.state;
    const bytes = await encodeRouterFile(
      { format: 'pktgraph-router', name: r.name, state, source: r.source, graph: r.graph, created: r.created, savedAt: new Date().toISOString(), pktgraph: packageVersion(), plan: r.plan },
      image,
      level,
    );
    await writeFileDurably(join(this.dir, ROUTER_DIR), file, bytes);
  }

  private append(change: Change): Promise<void> {
    const seq = ++this.seq;
    return this.enqueue(seq, Promise.resolve(line({ seq, ...change } as Entry)));
  }

  /** Take a record (seq order is journal order) and resolve once it and every record before it are durable. */
  private async enqueue(seq: number, text: Promise<Buffer>): Promise<void> {
    if (this.broken) throw this.fault(this.broken);
    if (this.closed) throw new ServiceError('the engine is stopping; it takes no more requests', 'unavailable');
    text.catch(() => undefined); // its failure is the flush's
    this.pending.push({ seq, fd: this.journal.fd, line: text });
    this.records++;
    await this.durableUpTo(seq).catch((err: Error) => {
      throw this.fault(err);
    });
    if (!this.compacting && (this.records >= COMPACT_RECORDS || this.bytes >= COMPACT_BYTES)) this.schedule(0);
    else this.schedule(COMPACT_AFTER_MS);
  }

  private fault(err: Error): ServiceError {
    return new ServiceError(`the change was made but could not be written to the state directory ${this.dir} (${err.message}), so it would not survive a restart; free the disk or fix the directory, then restart the engine`, 'unavailable');
  }

  /** Write every pending record (in order, grouped by journal) and fsync: one group commit. */
  private async flush(): Promise<void> {
    const batch = this.pending;
    this.pending = [];
    try {
      const lines = await Promise.all(batch.map((b) => b.line));
      const fds: number[] = [];
      for (let i = 0; i < batch.length; ) {
        const fd = batch[i].fd;
        let j = i;
        while (j < batch.length && batch[j].fd === fd) j++;
        const buf = Buffer.concat(lines.slice(i, j));
        // Written here, not in the thread pool: a few hundred bytes into the page cache take
        // microseconds, while a trip through the pool waits for a free thread (compaction's
        // router files and gzip hold them) and for the scheduler twice. Only the fdatasync,
        // which takes the disk's time, goes there.
        for (let off = 0; off < buf.length; ) off += writeSync(fd, buf, off, buf.length - off);
        if (fd === this.journal.fd) this.bytes += buf.length;
        fds.push(fd);
        i = j;
      }
      for (const fd of new Set(fds)) await fdatasync(fd);
      if (batch.length) this.durableSeq = batch[batch.length - 1].seq;
    } catch (err) {
      this.broken = err as Error;
      throw err;
    }
  }

  /** Every record up to `seq` is durable (flushing as needed); throws once the journal cannot be written. */
  private async durableUpTo(seq: number): Promise<void> {
    while (this.durableSeq < seq) {
      if (this.broken) throw this.broken;
      this.flushing ??= this.flush().finally(() => (this.flushing = undefined));
      await this.flushing;
    }
  }

  private schedule(ms: number): void {
    if (this.closed) return;
    if (this.timer && ms === 0) {
      clearTimeout(this.timer); // a threshold reached: now, not when the timer would have
      this.timer = undefined;
    }
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.compact().catch((err) => process.stderr.write(`pktgraph: compacting the state directory failed: ${(err as Error).message}\n`));
    }, ms);
    this.timer.unref();
  }

  /**
   * Fold the journal into a new snapshot. In one tick: every router changed since its file was
   * written is taken (configuration and tables), and a new journal starts; then, off the request
   * path, the router files and the snapshot are written, and the old journals and files removed.
   */
  compact(): Promise<void> {
    this.compacting ??= this.doCompact().finally(() => (this.compacting = undefined));
    return this.compacting;
  }

  private async doCompact(): Promise<void> {
    if (this.broken) return;
    const seq = this.seq;
    const taken: { router: RouterRecord; image: Buffer | undefined; file: string }[] = [];
    const routers: Snapshot['routers'] = [];
    for (const { name } of this.routers.owners()) {
      const router = this.routers.recordOf(name);
      router.state = this.want(router);
      let file = this.files.get(name);
      if (!file || this.dirty.has(name)) {
        file = `${name}.${seq}.pgvr`;
        taken.push({ router, image: this.routers.imageOf(name), file });
        this.files.set(name, file);
      }
      routers.push({ file, name, state: router.state, ...(router.tenant ? { tenant: router.tenant } : {}), quotas: router.quotas, shares: router.shares });
    }
    this.dirty.clear();
    const old = this.journal;
    this.startJournal();
    const snap: Snapshot = { format: DESIRED_FORMAT, version: DESIRED_VERSION, seq, savedAt: new Date().toISOString(), ports: [...this.ports.values()], routers };
    try {
      // A few at a time: each waits on its fsync in the thread pool.
      for (let i = 0; i < taken.length; i += 8) await Promise.all(taken.slice(i, i + 8).map((t) => this.writeRouterFile(t.file, t.router, t.image)));
      await syncDirAsync(join(this.dir, ROUTER_DIR));
      await this.durableUpTo(seq); // the old journal's last records, before it goes
      writeDurably(this.dir, SNAPSHOT, JSON.stringify(snap) + '\n');
    } catch (err) {
      // The old snapshot and both journals stay what recovery reads; these routers are written again next time.
      for (const t of taken) if (this.files.get(t.router.name) === t.file) this.dirty.add(t.router.name);
      throw err;
    }
    this.snapshotSeq = seq;
    closeSync(old.fd);
    for (const f of readdirSync(this.dir)) {
      const m = JOURNAL.exec(f);
      if (m && Number(m[1]) < this.journal.start) unlinkSync(join(this.dir, f));
    }
    // Router files neither the snapshot nor a later journal record names.
    const keep = new Set([...routers.map((r) => r.file), ...this.files.values()]);
    for (const f of readdirSync(join(this.dir, ROUTER_DIR))) if (!keep.has(f) && !f.endsWith('.tmp')) unlinkSync(join(this.dir, ROUTER_DIR, f));
  }

  /** What engine.status shows of the state directory. */
  status() {
    return { dir: this.dir, seq: this.seq, snapshotSeq: this.snapshotSeq, journalRecords: this.records, ...(this.report ? { recovery: this.report } : {}) };
  }

  /** A clean stop: everything durable, then one last snapshot so the next start reads no journal. */
  async close(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await this.compacting?.catch(() => undefined);
    await this.durableUpTo(this.seq).catch(() => undefined);
    if (!this.broken) await this.compact();
    this.closed = true;
    closeSync(this.journal.fd);
  }
}

/** A journal line: CRC-32 of the JSON in hex, a space, the JSON, a newline. */
function line(e: Entry): Buffer {
  const json = Buffer.from(JSON.stringify(e));
  return Buffer.concat([Buffer.from(crc32(json).toString(16).padStart(8, '0') + ' '), json, Buffer.from('\n')]);
}

function parseLine(text: string): Entry | undefined {
  const m = /^([0-9a-f]{8}) (.*)$/.exec(text);
  if (!m || crc32(Buffer.from(m[2])) !== parseInt(m[1], 16)) return undefined;
  try {
    const e = JSON.parse(m[2]) as Entry;
    return Number.isInteger(e.seq) && typeof e.t === 'string' ? e : undefined;
  } catch {
    return undefined;
  }
}
