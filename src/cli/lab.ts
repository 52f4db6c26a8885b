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
import { dirname, join, resolve as resolvePath } from 'node:path';
import { pathToFileURL } from 'node:url';
import { createLab, labAvailable, labObjects, sweep, LabError, LAB_PREFIX, type Topology } from '../lab/index.js';
import { stringify } from 'yaml';
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

// ---- scenarios (docs/scenarios.md): `lab create|destroy|show|exec|reboot|modify|save|restore -f FILE` ----
// The lab's current scenario (the file as created, then as modified) is kept in
// <tmpdir>/pktgraph-labs/ID.scenario, so reboot, show and modify work from what stands.

const scenarioStatePath = (id: string) => join(stateDir(), `${id}.scenario`);

async function readScenarioFile(file: string) {
  const { loadScenario, ScenarioError } = await import('../lab/scenario-schema.js');
  const path = resolvePath(file);
  if (!existsSync(path) || statSync(path).isDirectory()) throw new CliError(`cannot find the scenario file ${file}`);
  try {
    return loadScenario(readFileSync(path, 'utf8'), file);
  } catch (err) {
    if (err instanceof ScenarioError) throw new CliError(err.message, err);
    throw err;
  }
}

/** The lab of a scenario file: as it stands (its saved scenario) when it was created, else as the file says. */
async function scenarioLab(file: string, fresh = false) {
  const { ScenarioLab } = await import('../lab/scenario.js');
  const s = await readScenarioFile(file);
  const saved = scenarioStatePath(s.name);
  if (!fresh && existsSync(saved)) {
    const st = JSON.parse(readFileSync(saved, 'utf8')) as { dir: string; scenario: typeof s };
    return new ScenarioLab(st.scenario, st.dir);
  }
  return new ScenarioLab(s, dirname(resolvePath(file)));
}

function saveScenarioState(lab: { id: string; dir: string; scenario: unknown }) {
  mkdirSync(stateDir(), { recursive: true, mode: 0o700 });
  writeFileSync(scenarioStatePath(lab.id), JSON.stringify({ dir: lab.dir, scenario: lab.scenario }, null, 2) + '\n');
}

function printChanges(verb: string, id: string, ch: { made: string[]; kept: string[]; removed: string[] }, json?: boolean) {
  if (json) return console.log(JSON.stringify({ lab: id, ...ch }));
  console.log(`lab ${id}: ${verb}: made ${ch.made.length}, kept ${ch.kept.length}, removed ${ch.removed.length}`);
  for (const m of ch.removed) console.log(`  - ${m}`);
  for (const m of ch.made) console.log(`  + ${m}`);
  for (const m of ch.kept) console.log(`  = ${m}`);
}

async function wrap<T>(what: string, f: () => Promise<T>): Promise<T> {
  try {
    return await f();
  } catch (err) {
    if (err instanceof LabError || (err instanceof Error && err.name === 'EngineError')) throw new CliError(`lab ${what}: ${err.message}`, err);
    throw err;
  }
}

const nodeList = (m: string | undefined) => (m ? m.split(',').map((x) => x.trim()).filter(Boolean) : undefined);

export async function scenarioCreateCommand(opts: { file: string; json?: boolean }): Promise<void> {
  const lab = await scenarioLab(opts.file, true);
  needRoot('create');
  // Saved before anything is built, so destroy finds a lab whose create failed half-way.
  saveScenarioState(lab);
  const ch = await wrap('create', () => lab.create());
  printChanges('created', lab.id, ch, opts.json);
}

export async function scenarioDestroyCommand(opts: { file: string; json?: boolean }): Promise<void> {
  const lab = await scenarioLab(opts.file);
  needRoot('destroy');
  const r = await wrap('destroy', () => lab.destroy());
  rmSync(scenarioStatePath(lab.id), { force: true });
  if (opts.json) console.log(JSON.stringify({ lab: lab.id, ...r }));
  else console.log(`lab ${lab.id} destroyed: ${r.routers} virtual routers, ${r.namespaces} namespaces, ${r.interfaces} interfaces removed${r.left.length ? `; still there: ${r.left.join(', ')}` : '; nothing left'}`);
  if (r.left.length) process.exitCode = 1;
}

export async function scenarioShowCommand(opts: { file: string; json?: boolean; dot?: boolean; svg?: string }): Promise<void> {
  const lab = await scenarioLab(opts.file);
  if (opts.dot) return void process.stdout.write(lab.dot());
  if (opts.svg) {
    const { spawnSync } = await import('node:child_process');
    const r = spawnSync('dot', ['-Tsvg', '-o', opts.svg], { input: lab.dot(), encoding: 'utf8' });
    if (r.error) throw new CliError('lab show --svg: Graphviz `dot` is not installed (apt-get install graphviz); `lab show --dot` prints the DOT text');
    if (r.status !== 0) throw new CliError(`lab show --svg: dot failed: ${r.stderr.trim()}`);
    return console.log(`wrote ${opts.svg}`);
  }
  const st = await wrap('show', () => lab.status());
  if (opts.json) return console.log(JSON.stringify({ lab: lab.id, ...st }));
  console.log(`lab ${lab.id}${st.engine ? ` (engine on ${st.engine})` : ''}`);
  console.log('  nodes:');
  for (const n of st.nodes) console.log(`    ${n.name.padEnd(8)} ${n.type.padEnd(15)} ${n.up ? 'up  ' : 'DOWN'} ${n.where}${n.addresses.length ? `  ${n.addresses.join(', ')}` : ''}`);
  console.log('  nets:');
  for (const n of st.nets) {
    console.log(`    ${n.name.padEnd(8)} ${n.type.padEnd(15)} ${n.up ? 'up  ' : 'DOWN'} ${n.via}${n.impair ? `  ${JSON.stringify(n.impair)}` : ''}`);
    if (n.leases) console.log(`      DHCP leases: ${n.leases.length ? '' : 'none'}`);
    for (const l of n.leases ?? []) console.log(`        ${l.ip.padEnd(15)} ${l.mac}  ${l.state.padEnd(8)}${l.seconds === undefined ? '' : ` ${l.seconds} s left`}`);
  }
}

export async function scenarioExecCommand(opts: { file: string; nodes?: string; command?: string; lab?: string }): Promise<void> {
  const lab = await scenarioLab(opts.file);
  if (!opts.command) throw new CliError('lab exec -f FILE: name the command sequence with -c NAME (a key of a node\'s exec:)');
  needRoot('exec');
  const names = nodeList(opts.nodes) ?? lab.scenario.nodes.filter((n) => n.exec?.[opts.command!]).map((n) => n.name);
  if (names.length === 0) throw new CliError(`lab exec: no node has a command sequence '${opts.command}'`);
  let failed = 0;
  for (const name of names) {
    const results = await wrap('exec', async () => lab.execSequence(name, opts.command!));
    for (const r of results) {
      console.log(`[${name}] $ ${r.command}`);
      if (r.stdout) process.stdout.write(r.stdout.replace(/^/gm, `[${name}] `).replace(/\[[^\]]*\] $/, ''));
      if (r.stderr) process.stderr.write(r.stderr.replace(/^/gm, `[${name}] `).replace(/\[[^\]]*\] $/, ''));
      if (r.code !== 0) {
        console.error(`[${name}] exit ${r.code}`);
        failed++;
      }
    }
  }
  if (failed) process.exitCode = 1;
}

export async function scenarioRebootCommand(opts: { file: string; nodes?: string; json?: boolean }): Promise<void> {
  const lab = await scenarioLab(opts.file);
  const names = nodeList(opts.nodes);
  if (!names?.length) throw new CliError('lab reboot: name the nodes with -M node,...');
  for (const n of names) lab.node(n);
  needRoot('reboot');
  const ch = await wrap('reboot', () => lab.reboot(names));
  printChanges('rebooted', lab.id, ch, opts.json);
}

export async function scenarioModifyCommand(opts: { file: string; set?: string[]; json?: boolean }): Promise<void> {
  const { IMPAIRMENT_FIELDS } = await import('../lab/scenario-schema.js');
  needRoot('modify');
  if (opts.set?.length) {
    // One parameter at a time: NET.DIR.FIELD=VALUE; nothing else changes.
    const lab = await scenarioLab(opts.file);
    const ch = { made: [] as string[], kept: [] as string[], removed: [] as string[] };
    for (const s of opts.set) {
      const m = /^([a-z][a-z0-9]*)\.(ab|ba)\.([a-zA-Z]+)=([0-9.eE+-]+)$/.exec(s);
      if (!m || !(IMPAIRMENT_FIELDS as readonly string[]).includes(m[3]) || !Number.isFinite(Number(m[4])))
        throw new CliError(`lab modify --set '${s}': give NET.ab|ba.FIELD=NUMBER, FIELD one of ${IMPAIRMENT_FIELDS.join(', ')}`);
      await wrap('modify', () => lab.setImpairment(m[1], m[2] as 'ab' | 'ba', m[3] as (typeof IMPAIRMENT_FIELDS)[number], Number(m[4])));
      ch.made.push(`net ${m[1]} ${m[2]}.${m[3]}=${m[4]}`);
    }
    saveScenarioState(lab);
    return printChanges('modified', lab.id, ch, opts.json);
  }
  const next = await readScenarioFile(opts.file);
  const lab = await scenarioLab(opts.file);
  const ch = await wrap('modify', () => lab.apply(next));
  saveScenarioState(lab);
  printChanges('modified', lab.id, ch, opts.json);
}

export async function scenarioSaveCommand(opts: { file: string; out: string }): Promise<void> {
  const lab = await scenarioLab(opts.file);
  writeFileSync(opts.out, `# pktgraph lab scenario saved from lab ${lab.id} (${new Date().toISOString()}), modifications included\n${stringify(lab.scenario)}`);
  console.log(`saved lab ${lab.id} to ${opts.out} (rebuild it with: pktgraph lab restore -f ${opts.out})`);
}

export async function scenarioRestoreCommand(opts: { file: string; json?: boolean }): Promise<void> {
  const lab = await scenarioLab(opts.file, true);
  needRoot('restore');
  const gone = await wrap('restore', () => lab.destroy());
  saveScenarioState(lab);
  const ch = await wrap('restore', () => lab.create());
  ch.removed.push(...(gone.routers + gone.namespaces + gone.interfaces ? [`the lab as it stood (${gone.routers} routers, ${gone.namespaces} namespaces, ${gone.interfaces} interfaces)`] : []));
  printChanges('restored', lab.id, ch, opts.json);
}

export async function scenarioSchemaCommand(): Promise<void> {
  const { scenarioJsonSchema } = await import('../lab/scenario-schema.js');
  console.log(JSON.stringify(scenarioJsonSchema(), null, 2));
}

export async function scenarioImportCommand(file: string, opts: { out?: string; name?: string }): Promise<void> {
  const { importScenario } = await import('../lab/import.js');
  if (!existsSync(file)) throw new CliError(`cannot find ${file}`);
  let r;
  try {
    r = importScenario(readFileSync(file, 'utf8'), file, opts.name);
  } catch (err) {
    throw new CliError((err as Error).message, err);
  }
  for (const w of r.warnings) console.error(`pktgraph: warning: ${w}`);
  const text = `# imported by pktgraph lab import from ${file}\n${stringify(r.scenario)}`;
  if (opts.out) {
    writeFileSync(opts.out, text);
    console.error(`wrote ${opts.out}`);
  } else process.stdout.write(text);
}

/** `lab exec HOST -- CMD` (a lab up from a topology) or `lab exec -f FILE -c NAME [-M nodes]` (a scenario). */
export async function labOrScenarioExec(host: string | undefined, cmd: string[], opts: { file?: string; nodes?: string; command?: string; lab?: string }): Promise<void> {
  if (opts.file) return scenarioExecCommand({ ...opts, file: opts.file });
  if (host === undefined) throw new CliError('lab exec: give a host and a command (pktgraph lab exec HOST -- CMD), or a scenario (-f FILE -c NAME)');
  return labExecCommand(host, cmd, opts);
}
