// `pktgraph new element NAME --cpp`: the package it creates builds with `npm install` and passes
// `npm test` as created, offline, depending on this checkout by path (as a user's would on a
// version); and the command refuses bad names, a missing kind and a folder in use.
import t from 'tap';
import { execFile, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

// npm install builds the plugin (node-gyp, about 20 s of CPU), longer on a busy machine.
t.setTimeout(400_000);
const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const work = mkdtempSync(join(tmpdir(), 'pgx-new-'));
t.teardown(() => rmSync(work, { recursive: true, force: true }));
// npm offline, quiet, with no NODE_OPTIONS from tap.
const env: NodeJS.ProcessEnv = { ...process.env, npm_config_offline: 'true', npm_config_audit: 'false', npm_config_fund: 'false', npm_config_update_notifier: 'false' };
delete env.NODE_OPTIONS;
const cli = (args: string[], cwd = work) => spawnSync(process.execPath, [join(root, 'bin', 'pktgraph.js'), ...args], { cwd, env, encoding: 'utf8' });
const npm = (args: string[], cwd: string) =>
  new Promise<{ code: number; out: string }>((resolve) =>
    execFile('npm', args, { cwd, env, timeout: 240_000 }, (err, stdout, stderr) => resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, out: stdout + stderr })),
  );

t.test('a --cpp element package builds with npm install and passes npm test as created', { timeout: 300_000 }, async (t) => {
  const made = cli(['new', 'element', 'PgxTagger', '--cpp', 'pgx-tagger']);
  t.equal(made.status, 0, made.stderr);
  const dir = join(work, 'pgx-tagger');
  for (const f of ['package.json', 'binding.gyp', 'index.ts', 'src/PgxTagger.ts', 'src/PgxTagger.cc', 'test/PgxTagger.test.mjs', 'test/graph.ts', 'README.md', '.gitignore'])
    t.ok(existsSync(join(dir, f)), `${f} created`);
  const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
  t.equal(pkg.name, 'pgx-tagger');
  t.equal(pkg.dependencies.pktgraph, `file:${root}`, 'depends on this checkout by path');
  t.notMatch(readFileSync(join(dir, 'src', 'PgxTagger.cc'), 'utf8'), /__[A-Z]+__/, 'every placeholder filled');

  const install = await npm(['install'], dir);
  t.equal(install.code, 0, install.out);
  t.ok(existsSync(join(dir, 'build', 'Release', 'pgx_tagger.node')), 'npm install built the plugin library');
  const test = await npm(['test'], dir);
  t.equal(test.code, 0, test.out);
  t.match(test.out, /# pass 2/, 'both of its tests pass');
  t.match(test.out, /# fail 0/);
});

t.test('bad names, no kind and a folder in use are refused with one sentence, creating nothing', async (t) => {
  const cases: [string[], RegExp][] = [
    [['new', 'element', 'lowercase', '--cpp'], /'lowercase' is not an element class name: start with a capital letter/],
    [['new', 'element', 'Counter', '--cpp'], /'Counter' is a built-in element class/],
    [['new', 'element', 'PgxThing'], /say which kind of element: --cpp .* or --ts/],
    [['new', 'element', 'PgxThing', '--cpp', '--ts'], /say which kind of element/],
  ];
  for (const [args, message] of cases) {
    const r = cli(args);
    t.not(r.status, 0, args.join(' '));
    t.match(r.stderr, message, args.join(' '));
  }
  t.notOk(existsSync(join(work, 'lowercase')) || existsSync(join(work, 'pgx-thing')), 'no folder made');
  mkdirSync(join(work, 'used'));
  writeFileSync(join(work, 'used', 'keep.txt'), 'mine');
  const r = cli(['new', 'element', 'PgxThing', '--cpp', 'used']);
  t.match(r.stderr, /used exists and is not an empty folder; give another DIR/);
  t.equal(readFileSync(join(work, 'used', 'keep.txt'), 'utf8'), 'mine', 'the folder is untouched');
});
