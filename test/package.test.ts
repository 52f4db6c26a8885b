// The package as users get it (README "Set up"): `npm link` puts `pktgraph` on the PATH,
// and a project outside the checkout that links or installs it imports 'pktgraph' from a
// plain script and from graph files, with no hand-made symlinks. npm runs offline against a private global prefix, so nothing outside the
// test's temporary directory changes.
import t from 'tap';
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readlinkSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const work = mkdtempSync(join(tmpdir(), 'pktgraph-package-'));
t.teardown(() => rmSync(work, { recursive: true, force: true }));
const prefix = join(work, 'prefix');
mkdirSync(prefix);

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

// npm with a private global prefix and no network; children get no NODE_OPTIONS from tap.
const env: NodeJS.ProcessEnv = { ...process.env, npm_config_prefix: prefix, npm_config_offline: 'true', npm_config_audit: 'false', npm_config_fund: 'false', npm_config_update_notifier: 'false', PATH: `${join(prefix, 'bin')}:${process.env.PATH}`, XDG_RUNTIME_DIR: work };
delete env.NODE_OPTIONS;

function sh(cmd: string, args: string[], cwd: string): Promise<Result> {
  return new Promise((resolve) => {
    execFile(cmd, args, { cwd, env, timeout: 120_000 }, (err, stdout, stderr) => resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }));
  });
}

const project = join(work, 'project');
mkdirSync(project);
writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'my-graphs', private: true, type: 'module' }));
writeFileSync(
  join(project, 'tiny.ts'),
  `import { graph, InfiniteSource, Counter, Discard } from 'pktgraph';
export default graph({ name: 'tiny', params: { n: 50 } }, (p) => {
  InfiniteSource({ limit: p.n, length: 80 }, 'src').to(Counter({}, 'c')).to(Discard({}, 'sink'));
});
`,
);
// A script using the library directly (no CLI, no resolve hook).
const scriptText = `import { compile, graph, InfiniteSource, Discard, runPlan } from 'pktgraph';
const plan = compile(graph('lib', () => { InfiniteSource({ limit: 321 }, 'src').to(Discard({}, 'sink')); }));
const s = await runPlan(plan, { threads: 1 });
console.log(JSON.stringify({ packets: s.packets, sink: s.elements.sink.packets }));
`;
writeFileSync(join(project, 'script.mjs'), scriptText);

t.test('npm link puts pktgraph on the PATH; a linked project imports it from scripts and graph files', async (t) => {
  const link = await sh('npm', ['link', '--ignore-scripts'], root);
  t.equal(link.code, 0, link.stderr);
  t.equal(realpathSync(join(prefix, 'bin', 'pktgraph')), realpathSync(join(root, 'bin', 'pktgraph.js')), 'pktgraph in the prefix bin is the checkout\'s');

  const compiled = await sh('pktgraph', ['compile', 'tiny.ts', '-p', 'n=7'], project);
  t.equal(compiled.code, 0, compiled.stderr);
  t.same(JSON.parse(compiled.stdout).params, { n: 7 }, 'pktgraph (from the PATH) compiles a graph file outside the checkout');

  const linked = await sh('npm', ['link', 'pktgraph', '--ignore-scripts'], project);
  t.equal(linked.code, 0, linked.stderr);
  t.equal(realpathSync(join(project, 'node_modules', 'pktgraph')), realpathSync(root), 'node_modules/pktgraph is the checkout');
  const script = await sh(process.execPath, ['script.mjs'], project);
  t.equal(script.code, 0, script.stderr);
  t.same(JSON.parse(script.stdout), { packets: 321, sink: 321 }, "a plain node script imports 'pktgraph' and runs a graph");
  const run = await sh(join(project, 'node_modules', '.bin', 'pktgraph'), ['run', 'tiny.ts', '--json', '-t', '1', '--no-control'], project);
  t.equal(run.code, 0, run.stderr);
  t.same(JSON.parse(run.stdout).elements.c, { packets: 50, bytes: 4000 }, "the project's node_modules/.bin/pktgraph runs it");
});

t.test('npm install /path/to/checkout works the same', async (t) => {
  const other = join(work, 'other');
  mkdirSync(other);
  writeFileSync(join(other, 'package.json'), JSON.stringify({ name: 'other', private: true }));
  writeFileSync(join(other, 'script.mjs'), scriptText);
  const r = await sh('npm', ['install', root, '--ignore-scripts'], other);
  t.equal(r.code, 0, r.stderr);
  t.ok(readlinkSync(join(other, 'node_modules', 'pktgraph')), 'installed as a link to the checkout');
  const script = await sh(process.execPath, ['script.mjs'], other);
  t.equal(script.code, 0, script.stderr);
  t.same(JSON.parse(script.stdout), { packets: 321, sink: 321 });
});
