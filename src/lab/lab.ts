// Labs on one host: network namespaces joined by veth pairs, for tests and experiments.
//
// A topology names hosts (each becomes a network namespace) and links (each a veth pair).
// A link joins two hosts, or a host and the root namespace (`b: 'engine'`), where the
// engine opens its end with FromDevice/ToDevice. Every object the lab creates carries the
// prefix `pg-<run id>-`, so `sweep()` finds and removes leftovers of a run that crashed.
//
//   const lab = createLab({
//     hosts: [{ name: 'h1', routes: [{ to: '198.18.2.0/24', via: '198.18.1.254' }] }, { name: 'h2' }],
//     links: [{ a: 'h1', b: 'engine', aAddresses: ['198.18.1.1/24'] }, { a: 'h2', b: 'engine' }],
//   });
//   lab.link(0).b        // the root-namespace end of link 0, e.g. 'pg-3f2a-0b'
//   await lab.exec('h1', ['ping', '-c', '1', '198.18.1.2']);
//   lab.destroy();
//
// Addresses and routes must lie in 198.18.0.0/15 (benchmarking, RFC 2544) or fd00::/8
// (unique local); anything else is refused. IPv6 addresses are added with `nodad` and
// duplicate address detection is off on lab interfaces, so addresses work at once.
// Checksum and segmentation offloads are turned off on every lab interface (with ethtool)
// unless a link asks to keep them: a packet socket forwarding between veths would
// otherwise see TCP segments of 64 KB with checksums not yet filled in. Without ethtool
// installed they stay on and `lab.warnings` says so.
//
// Everything runs `ip` (iproute2), `sysctl` and `ethtool` through child_process with argument
// arrays (no shell). Requires root (CAP_NET_ADMIN and CAP_SYS_ADMIN); `labAvailable()` says
// whether a lab can be built here, and why not.
import { execFile, spawnSync, spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { parseIP, parsePrefix } from '../util/address.js';

export const LAB_PREFIX = 'pg-';

export interface LabRoute {
  /** Destination prefix ('198.18.2.0/24', 'fd00:2::/64') or 'default' (IPv4) / 'default6'. */
  to: string;
  /** Next hop address (optional when `dev` is given). */
  via?: string;
  /** Index of the link whose interface in this host the route uses (optional). */
  link?: number;
}

export interface LabHost {
  /** 1 to 8 characters, [a-z0-9]; not 'engine'. The namespace is `pg-<id>-<name>`. */
  name: string;
  routes?: LabRoute[];
}

export interface LabLink {
  /** A host name. */
  a: string;
  /** A host name, or 'engine' for the root namespace (where the engine opens it). */
  b: string;
  /** Addresses (CIDR) of the `a` end and the `b` end. */
  aAddresses?: string[];
  bAddresses?: string[];
  /** MTU of both ends (default the kernel's, 1500). */
  mtu?: number;
  /** Keep checksum and segmentation offloads on (default false: turned off). */
  offloads?: boolean;
}

export interface Topology {
  hosts: LabHost[];
  links: LabLink[];
}

export interface LinkInfo {
  /** Interface name of the `a` end (in host a's namespace). */
  a: string;
  /** Interface name of the `b` end (in host b's namespace, or the root namespace). */
  b: string;
}

export interface ExecResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export class LabError extends Error {
  override name = 'LabError';
}

/** Run `ip` (or another tool) synchronously; throw a LabError with its stderr on failure. */
function run(cmd: string, args: string[], what?: string): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 10_000 });
  if (r.error) throw new LabError(`${what ?? cmd}: cannot run ${cmd}: ${r.error.message}`);
  if (r.status !== 0) {
    throw new LabError(`${what ?? cmd}: \`${cmd} ${args.join(' ')}\` failed (exit ${r.status}): ${(r.stderr || r.stdout).trim()}`);
  }
  return r.stdout;
}

function hasCommand(cmd: string, args: string[]): boolean {
  const r = spawnSync(cmd, args, { stdio: 'ignore', timeout: 5000 });
  return !r.error && r.status === 0;
}

let ethtool: boolean | undefined;
function ethtoolAvailable(): boolean {
  return (ethtool ??= hasCommand('ethtool', ['--version']));
}

/** Whether a lab can be built here; when not, `reason` says why. */
export function labAvailable(): { ok: boolean; reason?: string } {
  if (process.platform !== 'linux') return { ok: false, reason: 'labs need Linux network namespaces' };
  if (typeof process.getuid === 'function' && process.getuid() !== 0)
    return { ok: false, reason: 'labs need root (CAP_NET_ADMIN and CAP_SYS_ADMIN to create namespaces and veth pairs)' };
  if (!hasCommand('ip', ['-V'])) return { ok: false, reason: '`ip` (iproute2) is not installed' };
  const probe = `${LAB_PREFIX}probe-${process.pid}`;
  const r = spawnSync('ip', ['netns', 'add', probe], { encoding: 'utf8', timeout: 5000 });
  if (r.error || r.status !== 0) {
    return { ok: false, reason: `\`ip netns add\` does not work here: ${(r.stderr || r.error?.message || '').trim()}` };
  }
  spawnSync('ip', ['netns', 'del', probe], { stdio: 'ignore', timeout: 5000 });
  return { ok: true };
}

// ---- address checks: only 198.18.0.0/15 and fd00::/8 ----

/** Check an address or prefix ('198.18.1.1', '198.18.1.1/24', 'fd00::1/64') is in the lab ranges. */
export function checkLabAddress(text: string, what: string): 4 | 6 {
  const [addr, len, extra] = text.split('/');
  if (extra !== undefined) throw new LabError(`${what}: '${text}' is not an address or prefix`);
  const a = parseIP(addr);
  if (!a) throw new LabError(`${what}: '${text}' is not an IPv4 or IPv6 address`);
  if (len !== undefined && typeof parsePrefix(text, { width: a.width }) === 'string') throw new LabError(`${what}: bad prefix length in '${text}'`);
  if (a.width === 32) {
    if (a.addr >> 17n !== 0x6309n || (len !== undefined && Number(len) < 15))
      throw new LabError(`${what}: '${text}' is outside 198.18.0.0/15; labs use only 198.18.0.0/15 and fd00::/8`);
    return 4;
  }
  if (a.addr >> 120n !== 0xfdn || (len !== undefined && Number(len) < 8))
    throw new LabError(`${what}: '${text}' is outside fd00::/8; labs use only 198.18.0.0/15 and fd00::/8`);
  return 6;
}

// ---- the lab ----

export interface LabOptions {
  /** Run id (4 to 6 characters [a-z0-9]); default random. Interface names are `pg-<id>-<link><a|b>`. */
  id?: string;
}

export class Lab {
  readonly id: string;
  /** `pg-<id>-`: every namespace and interface of this lab starts with it. */
  readonly prefix: string;
  readonly topology: Topology;
  /** Things the lab could not do as asked (e.g. ethtool missing, offloads left on). */
  readonly warnings: string[] = [];
  private readonly links: LinkInfo[] = [];
  private readonly children = new Set<ChildProcess>();
  // What this lab created, so destroy() removes exactly that (never another lab's objects).
  private readonly createdNamespaces: string[] = [];
  private readonly createdInterfaces: string[] = [];
  private destroyed = false;

  /** Use createLab(). */
  constructor(topology: Topology, options: LabOptions = {}) {
    this.id = options.id ?? randomBytes(2).toString('hex');
    if (!/^[a-z0-9]{4,6}$/.test(this.id)) throw new LabError(`lab id '${this.id}': 4 to 6 characters [a-z0-9]`);
    this.prefix = `${LAB_PREFIX}${this.id}-`;
    this.topology = topology;
    validate(topology);
    topology.links.forEach((_, i) => this.links.push({ a: `${this.prefix}${i}a`, b: `${this.prefix}${i}b` }));
    for (const l of this.links)
      if (l.a.length > 15 || l.b.length > 15) throw new LabError(`interface name '${l.a}' is longer than 15 characters (too many links)`);
  }

  /** The namespace of a host. */
  netns(host: string): string {
    if (!this.topology.hosts.some((h) => h.name === host)) throw new LabError(`lab has no host '${host}'`);
    return `${this.prefix}${host}`;
  }

  /** Interface names of link i. */
  link(i: number): LinkInfo {
    const l = this.links[i];
    if (!l) throw new LabError(`lab has no link ${i}`);
    return l;
  }

  /** Build everything; on failure, removes what it had built and throws. */
  build(): this {
    const taken = labObjects(this.prefix);
    if (taken.namespaces.length || taken.interfaces.length)
      throw new LabError(`lab id '${this.id}' is in use (${[...taken.namespaces, ...taken.interfaces].join(', ')}); pick another, or sweep('${this.prefix}') if it is a leftover`);
    try {
      for (const h of this.topology.hosts) {
        const ns = this.netns(h.name);
        run('ip', ['netns', 'add', ns], `host '${h.name}'`);
        this.createdNamespaces.push(ns);
        run('ip', ['-n', ns, 'link', 'set', 'lo', 'up'], `host '${h.name}'`);
      }
      this.topology.links.forEach((l, i) => this.buildLink(l, i));
      for (const h of this.topology.hosts) {
        for (const r of h.routes ?? []) {
          const ns = this.netns(h.name);
          const v6 = r.to === 'default6' || (r.to !== 'default' && checkLabAddress(r.to, 'route') === 6);
          const args = ['-n', ns, v6 ? '-6' : '-4', 'route', 'add', r.to === 'default6' ? 'default' : r.to];
          if (r.via) args.push('via', r.via);
          if (r.link !== undefined) args.push('dev', this.endIn(h.name, r.link));
          run('ip', args, `host '${h.name}' route to ${r.to}`);
        }
      }
    } catch (e) {
      this.destroy();
      throw e;
    }
    return this;
  }

  /** The interface of link i inside host `host`. */
  private endIn(host: string, i: number): string {
    const l = this.topology.links[i];
    if (!l) throw new LabError(`host '${host}': route uses link ${i}, which does not exist`);
    if (l.a === host) return this.links[i].a;
    if (l.b === host) return this.links[i].b;
    throw new LabError(`host '${host}': route uses link ${i}, which does not reach it`);
  }

  private buildLink(l: LabLink, i: number) {
    const names = this.links[i];
    const what = `link ${i} (${l.a} - ${l.b})`;
    // Create both ends in the root namespace, then move them: a name never clashes in a namespace.
    run('ip', ['link', 'add', names.a, ...(l.mtu ? ['mtu', String(l.mtu)] : []), 'type', 'veth', 'peer', 'name', names.b, ...(l.mtu ? ['mtu', String(l.mtu)] : [])], what);
    this.createdInterfaces.push(names.a, names.b);
    const ends: [string, string, string[]][] = [
      [l.a, names.a, l.aAddresses ?? []],
      [l.b, names.b, l.bAddresses ?? []],
    ];
    for (const [host, ifname, addrs] of ends) {
      const nsArgs = host === 'engine' ? [] : ['-n', this.netns(host)];
      if (host !== 'engine') run('ip', ['link', 'set', ifname, 'netns', this.netns(host)], what);
      // No duplicate address detection; in the root namespace, no IPv6 at all on the engine's
      // end unless it has an IPv6 address (so the host's stack sends nothing on it).
      const has6 = addrs.some((a) => checkLabAddress(a, what) === 6);
      const sysctl = (key: string, value: string) =>
        run(host === 'engine' ? 'sysctl' : 'ip', [...(host === 'engine' ? [] : ['netns', 'exec', this.netns(host), 'sysctl']), '-qw', `${key}=${value}`], what);
      sysctl(`net.ipv6.conf.${ifname}.accept_dad`, '0');
      if (host === 'engine' && !has6) sysctl(`net.ipv6.conf.${ifname}.disable_ipv6`, '1');
      if (!l.offloads && !ethtoolAvailable()) {
        if (!this.warnings.some((w) => w.includes('ethtool')))
          this.warnings.push('ethtool is not installed: offloads stay on (TCP through a packet-socket bridge may fail); apt-get install ethtool');
      } else if (!l.offloads) {
        const args = ['-K', ifname, 'rx', 'off', 'tx', 'off', 'tso', 'off', 'gso', 'off', 'gro', 'off'];
        if (host === 'engine') run('ethtool', args, `${what}: turning offloads off (install ethtool, or set offloads: true)`);
        else run('ip', ['netns', 'exec', this.netns(host), 'ethtool', ...args], `${what}: turning offloads off (install ethtool, or set offloads: true)`);
      }
      for (const a of addrs) run('ip', [...nsArgs, 'addr', 'add', a, 'dev', ifname, ...(a.includes(':') ? ['nodad'] : [])], what);
      run('ip', [...nsArgs, 'link', 'set', ifname, 'up'], what);
    }
  }

  /** Run a command in a host's namespace; resolves when it exits (never rejects on a non-zero exit). */
  exec(host: string, cmd: string[], options: { timeoutMs?: number; input?: string } = {}): Promise<ExecResult> {
    const ns = this.netns(host);
    return new Promise((resolve, reject) => {
      const child = execFile(
        'ip',
        ['netns', 'exec', ns, ...cmd],
        { encoding: 'utf8', timeout: options.timeoutMs ?? 30_000, maxBuffer: 64 * 1024 * 1024 },
        (err, stdout, stderr) => {
          this.children.delete(child);
          if (err && typeof (err as NodeJS.ErrnoException).code === 'string') return reject(new LabError(`exec in '${host}': ${err.message}`));
          resolve({ code: child.exitCode, signal: child.signalCode, stdout, stderr });
        },
      );
      this.children.add(child);
      if (options.input !== undefined) child.stdin?.end(options.input);
    });
  }

  /** Start a long-running command in a host's namespace (killed by destroy()). */
  spawn(host: string, cmd: string[], options: SpawnOptions = {}): ChildProcess {
    const child = spawn('ip', ['netns', 'exec', this.netns(host), ...cmd], { stdio: 'pipe', ...options });
    this.children.add(child);
    child.on('exit', () => this.children.delete(child));
    return child;
  }

  /** Remove every namespace and interface of this lab (idempotent). Kills commands it started. */
  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    for (const c of this.children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    this.children.clear();
    for (const ns of this.createdNamespaces) removeNamespace(ns);
    // Ends in the root namespace (the engine's), and pairs not yet moved; the kernel destroys
    // the ends inside namespaces asynchronously, so delete what is left here explicitly.
    const present = new Set(labObjects(this.prefix).interfaces);
    for (const ifname of this.createdInterfaces) if (present.has(ifname)) spawnSync('ip', ['link', 'del', ifname], { stdio: 'ignore', timeout: 10_000 });
  }
}

/** Build a lab from a topology (see the top of this file). Throws LabError on a bad topology. */
export function createLab(topology: Topology, options: LabOptions = {}): Lab {
  return new Lab(topology, options).build();
}

function validate(t: Topology) {
  const names = new Set<string>();
  for (const h of t.hosts) {
    if (!/^[a-z0-9]{1,8}$/.test(h.name)) throw new LabError(`host name '${h.name}': 1 to 8 characters [a-z0-9]`);
    if (h.name === 'engine') throw new LabError(`host name 'engine' is reserved for the root namespace`);
    if (names.has(h.name)) throw new LabError(`host '${h.name}' is defined twice`);
    names.add(h.name);
    for (const r of h.routes ?? []) {
      if (r.to !== 'default' && r.to !== 'default6') checkLabAddress(r.to, `host '${h.name}' route`);
      if (r.via) checkLabAddress(r.via, `host '${h.name}' route via`);
      if (!r.via && r.link === undefined) throw new LabError(`host '${h.name}' route to ${r.to}: give via or link`);
    }
  }
  if (t.links.length > 99) throw new LabError('at most 99 links');
  t.links.forEach((l, i) => {
    for (const end of [l.a, l.b])
      if (end !== 'engine' && !names.has(end)) throw new LabError(`link ${i}: no host '${end}' (hosts: ${[...names].join(', ')})`);
    if (l.a === 'engine') throw new LabError(`link ${i}: put 'engine' on the b side`);
    if (l.a === l.b) throw new LabError(`link ${i}: both ends on '${l.a}'`);
    for (const a of [...(l.aAddresses ?? []), ...(l.bAddresses ?? [])]) {
      if (!a.includes('/')) throw new LabError(`link ${i}: address '${a}' needs a prefix length (CIDR)`);
      checkLabAddress(a, `link ${i}`);
    }
    if (l.mtu !== undefined && !(Number.isInteger(l.mtu) && l.mtu >= 68 && l.mtu <= 65535)) throw new LabError(`link ${i}: mtu from 68 to 65535`);
  });
}

/** Namespaces and root-namespace interfaces whose names start with `prefix`, sorted. */
export function labObjects(prefix: string = LAB_PREFIX): { namespaces: string[]; interfaces: string[] } {
  const namespaces: string[] = [];
  const interfaces: string[] = [];
  const ns = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8', timeout: 10_000 });
  for (const line of (ns.stdout ?? '').split('\n')) {
    const name = line.trim().split(/\s+/)[0];
    if (name && name.startsWith(prefix)) namespaces.push(name);
  }
  const links = spawnSync('ip', ['-o', 'link', 'show'], { encoding: 'utf8', timeout: 10_000 });
  for (const line of (links.stdout ?? '').split('\n')) {
    const m = /^\d+:\s+([^:@\s]+)/.exec(line);
    if (m && m[1].startsWith(prefix)) interfaces.push(m[1]);
  }
  return { namespaces: namespaces.sort(), interfaces: interfaces.sort() };
}

/**
 * Remove every namespace and root-namespace interface whose name starts with `prefix`
 * (default 'pg-': every lab's leftovers; pass a lab's own prefix to touch only that lab,
 * as other labs may be running). Returns what it removed.
 */
export function sweep(prefix: string = LAB_PREFIX): { namespaces: string[]; interfaces: string[] } {
  if (!prefix.startsWith(LAB_PREFIX)) throw new LabError(`sweep only removes objects named '${LAB_PREFIX}...'`);
  const found = labObjects(prefix);
  for (const ns of found.namespaces) removeNamespace(ns);
  // Deleting one end of a veth removes its peer; ignore ends already gone.
  for (const ifname of found.interfaces) spawnSync('ip', ['link', 'del', ifname], { stdio: 'ignore', timeout: 10_000 });
  return found;
}

/** Kill what still runs in a namespace (a server a test left behind), then delete it. */
export function removeNamespace(ns: string) {
  const pids = spawnSync('ip', ['netns', 'pids', ns], { encoding: 'utf8', timeout: 10_000 }).stdout ?? '';
  for (const pid of pids.split(/\s+/).filter(Boolean).map(Number))
    if (pid > 1 && pid !== process.pid) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {}
    }
  spawnSync('ip', ['netns', 'del', ns], { stdio: 'ignore', timeout: 10_000 });
}
