// `pktgraph lab up|down|exec|list`: labs (src/lab) from the command line.
//
// `lab up FILE` builds the topology in FILE (JSON, or a TypeScript/JavaScript module whose
// default export, or export named `topology`, is one; an optional `id` field fixes the lab
// id, so interface names are known in advance) and leaves it standing; a small state
// file in <tmpdir>/pktgraph-labs/<id>.json lets later commands find it by id. `lab down ID`
// removes every namespace and interface carrying the lab's prefix (pg-<id>-), `lab down
// --all` every pg- object on the host; `lab exec HOST -- CMD...` runs a command in a host's
// namespace with its exit code passed through; `lab list` shows the labs the state files know.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { constants, tmpdir } from 'node:os';
import { join, resolve as resolvePath } from 'node:path';
import { pathToFileURL } from 'node:url';
import { createLab, labAvailable, labObjects, sweep, LabError, LAB_PREFIX, type Topology } from '../lab/index.js';
import { CliError } from './errors.js';

interface LabState {
  id: string;
  prefix: string;
  file: string;
  created: string;
  /** Host name -> namespace. */
  hosts: Record<string, string>;
  links: { a: string; b: string; aInterface: string; bInterface: string; aAddresses: string[]; bAddresses: string[] }[];
}

const stateDir = () => join(tmpdir(), 'pktgraph-labs');
const statePath = (id: string) => join(stateDir(), `${id}.json`);

function needRoot(what: string) {
  const a = labAvailable();
  if (!a.ok) throw new CliError(`lab ${what}: ${a.reason}; run it as root (sudo pktgraph lab ${what} ...)`);
}

function checkId(id: string): string {
  if (!/^[a-z0-9]{4,6}$/.test(id)) throw new CliError(`lab id '${id}': 4 to 6 characters [a-z0-9] (see pktgraph lab list)`);
  return id;
}

function readState(id: string): LabState | undefined {
  try {
    return JSON.parse(readFileSync(statePath(id), 'utf8')) as LabState;
  } catch {
    return undefined;
  }
}

function allStates(): LabState[] {
  if (!existsSync(stateDir())) return [];
  return readdirSync(stateDir())
    .filter((f) => f.endsWith('.json'))
    .map((f) => readState(f.slice(0, -5)))
    .filter((s): s is LabState => s !== undefined)
    .sort((a, b) => a.created.localeCompare(b.created));
}

async function loadTopology(file: string): Promise<Topology> {
  const path = resolvePath(file);
  if (!existsSync(path) || statSync(path).isDirectory()) throw new CliError(`cannot find the topology file ${file}`);
  let value: unknown;
  if (path.endsWith('.json')) {
    try {
      value = JSON.parse(readFileSync(path, 'utf8'));
    } catch (err) {
      throw new CliError(`${file} is not valid JSON: ${err instanceof Error ? err.message : String(err)}`);
    }
  } else {
    try {
      const { tsImport } = await import('tsx/esm/api');
      const mod = (await tsImport(pathToFileURL(path).href, import.meta.url)) as Record<string, unknown>;
      const inner = (mod.default ?? {}) as Record<string, unknown>;
      value = [mod.default, mod.topology, inner.default, inner.topology].find((v) => v && typeof v === 'object' && 'hosts' in (v as object));
    } catch (err) {
      throw new CliError(`loading the topology file ${file} failed: ${err instanceof Error ? err.message.split('\n')[0] : String(err)}`, err);
    }
  }
  const t = value as Partial<Topology> | undefined;
  if (!t || !Array.isArray(t.hosts) || !Array.isArray(t.links))
    throw new CliError(`${file} is not a lab topology: expected { hosts: [{ name }...], links: [{ a, b, aAddresses?, bAddresses? }...] } (as the default export of a module)`);
  return t as Topology;
}

/** A topology file may name its lab id (`"id": "demo"`), so its interface names are known in advance. */
function fileId(t: Topology & { id?: unknown }): string | undefined {
  return typeof t.id === 'string' ? t.id : undefined;
}

export async function labUpCommand(file: string, opts: { id?: string; json?: boolean }): Promise<void> {
  const topology = await loadTopology(file);
  needRoot('up');
  const id = opts.id ?? fileId(topology);
  if (id !== undefined) checkId(id);
  let lab;
  try {
    lab = createLab({ hosts: topology.hosts, links: topology.links }, { id });
  } catch (err) {
    if (err instanceof LabError) throw new CliError(`lab up ${file}: ${err.message}`, err);
    throw err;
  }
  const state: LabState = {
    id: lab.id,
    prefix: lab.prefix,
    file: resolvePath(file),
    created: new Date().toISOString(),
    hosts: Object.fromEntries(topology.hosts.map((h) => [h.name, lab.netns(h.name)])),
    links: topology.links.map((l, i) => ({
      a: l.a,
      b: l.b,
      aInterface: lab.link(i).a,
      bInterface: lab.link(i).b,
      aAddresses: l.aAddresses ?? [],
      bAddresses: l.bAddresses ?? [],
    })),
  };
  mkdirSync(stateDir(), { recursive: true, mode: 0o700 });
  writeFileSync(statePath(lab.id), JSON.stringify(state, null, 2) + '\n');
  if (opts.json) {
    console.log(JSON.stringify({ ...state, warnings: lab.warnings }));
    return;
  }
  console.log(`lab ${lab.id} is up (remove it with: pktgraph lab down ${lab.id})`);
  for (const line of describe(state)) console.log(line);
  for (const w of lab.warnings) console.error(`pktgraph: warning: ${w}`);
}

function describe(s: LabState): string[] {
  const out = ['  hosts:'];
  for (const [h, ns] of Object.entries(s.hosts)) out.push(`    ${h.padEnd(8)} namespace ${ns}`);
  out.push('  links:');
  s.links.forEach((l, i) => {
    const end = (host: string, ifname: string, addrs: string[]) =>
      `${host === 'engine' ? 'engine (root namespace)' : host} ${ifname}${addrs.length ? ` ${addrs.join(' ')}` : ''}`;
    out.push(`    ${i}: ${end(l.a, l.aInterface, l.aAddresses)} <-> ${end(l.b, l.bInterface, l.bAddresses)}`);
  });
  return out;
}

export async function labDownCommand(id: string | undefined, opts: { all?: boolean }): Promise<void> {
  if (opts.all && id !== undefined) throw new CliError('lab down: give a lab id or --all, not both');
  needRoot('down');
  if (opts.all) {
    const removed = sweep(LAB_PREFIX);
    for (const s of allStates()) rmSync(statePath(s.id), { force: true });
    console.log(`removed ${removed.namespaces.length} namespaces and ${removed.interfaces.length} interfaces named ${LAB_PREFIX}*`);
    return;
  }
  if (id === undefined) {
    const labs = allStates();
    if (labs.length !== 1)
      throw new CliError(labs.length === 0 ? 'lab down: no lab is up (pktgraph lab list)' : `lab down: ${labs.length} labs are up; name one (${labs.map((l) => l.id).join(', ')}) or use --all`);
    id = labs[0].id;
  }
  checkId(id);
  const prefix = `${LAB_PREFIX}${id}-`;
  const known = readState(id) !== undefined;
  const removed = sweep(prefix);
  rmSync(statePath(id), { force: true });
  if (!known && removed.namespaces.length + removed.interfaces.length === 0) throw new CliError(`lab down: no lab '${id}' (pktgraph lab list)`);
  console.log(`lab ${id} is down (removed ${removed.namespaces.length} namespaces and ${removed.interfaces.length} interfaces)`);
}

export async function labExecCommand(host: string, cmd: string[], opts: { lab?: string }): Promise<void> {
  if (cmd.length === 0) throw new CliError('lab exec: give a command after the host: pktgraph lab exec HOST -- CMD ARGS...');
  let state: LabState | undefined;
  if (opts.lab !== undefined) {
    state = readState(checkId(opts.lab));
    if (!state) throw new CliError(`lab exec: no lab '${opts.lab}' (pktgraph lab list)`);
  } else {
    const labs = allStates().filter((s) => host in s.hosts);
    if (labs.length === 0) throw new CliError(`lab exec: no lab has a host '${host}' (pktgraph lab list)`);
    if (labs.length > 1) throw new CliError(`lab exec: several labs have a host '${host}' (${labs.map((l) => l.id).join(', ')}); pick one with --lab ID`);
    state = labs[0];
  }
  const ns = state.hosts[host];
  if (!ns) throw new CliError(`lab exec: lab ${state.id} has no host '${host}' (hosts: ${Object.keys(state.hosts).join(', ')})`);
  needRoot('exec');
  const code = await new Promise<number>((resolve, reject) => {
    const child = spawn('ip', ['netns', 'exec', ns, ...cmd], { stdio: 'inherit' });
    child.on('error', (err) => reject(new CliError(`lab exec: cannot run ip netns exec: ${err.message}`)));
    // Like a shell: a command killed by a signal exits with 128 + the signal's number.
    child.on('close', (code, signal) => resolve(code ?? 128 + (signal ? (constants.signals[signal] ?? 0) : 0)));
  });
  process.exitCode = code;
}

export async function labListCommand(opts: { json?: boolean }): Promise<void> {
  const labs = allStates().map((s) => {
    const objs = labObjects(s.prefix);
    return { ...s, present: objs.namespaces.length + objs.interfaces.length > 0 };
  });
  if (opts.json) {
    console.log(JSON.stringify(labs));
    return;
  }
  if (labs.length === 0) {
    console.log('no lab is up (start one with: pktgraph lab up FILE)');
    return;
  }
  for (const s of labs) {
    console.log(`lab ${s.id}${s.present ? '' : ' (gone: its namespaces and interfaces no longer exist)'}  from ${s.file}  since ${s.created}`);
    for (const line of describe(s)) console.log(line);
  }
}
