// examples/srv6, the SRv6 plugin, built and tested as an out-of-tree package would be: `npm
// install` (linking this checkout, building the plugin) and `npm test` inside it, offline. Its
// tests (examples/srv6/test) check every behaviour's bytes, the malformed-SRH drops by reason,
// and, as root, interoperation with the kernel's SRv6 in namespaces (skipped with a reason
// otherwise); node:test's totals are checked here.
import t from 'tap';
import { execFile } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

// npm install builds the plugin (about 25 s of CPU), then the functional and lab tests run.
t.setTimeout(400_000);
const dir = join(dirname(fileURLToPath(import.meta.url)), '..', 'examples', 'srv6');
const env: NodeJS.ProcessEnv = { ...process.env, npm_config_offline: 'true', npm_config_audit: 'false', npm_config_fund: 'false', npm_config_update_notifier: 'false' };
delete env.NODE_OPTIONS;
const npm = (args: string[]) =>
  new Promise<{ code: number; out: string }>((resolve) =>
    execFile('npm', args, { cwd: dir, env, timeout: 240_000 }, (err, stdout, stderr) => resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, out: stdout + stderr })),
  );

t.test('examples/srv6: npm install && npm test', { timeout: 300_000 }, async (t) => {
  const install = await npm(['install']);
  t.equal(install.code, 0, install.out);
  const test = await npm(['test']);
  t.equal(test.code, 0, test.out);
  const n = (what: string) => Number(new RegExp(`# ${what} (\\d+)`).exec(test.out)?.[1] ?? -1);
  t.equal(n('fail'), 0, 'no test failed');
  t.ok(n('pass') >= 7, `its functional tests passed (${n('pass')} passed, ${n('skipped')} skipped)`);
  // Its lab test skips (saying why) without root or without the kernel's seg6: pass that on.
  for (const line of test.out.split('\n').filter((l) => /# SKIP/.test(l))) t.comment(`examples/srv6: ${line.trim()}`);
});
