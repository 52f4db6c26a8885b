// The harness of the scenario lab tests (test/scenario-lab.test.ts, test/scenario-switch.test.ts):
// a work directory (the labs' state files and engine sockets, by TMPDIR), the CLI run as users run
// it, examples copied with a random pgnXX lab id, and the checks that a lab left nothing behind.
import type { Test } from 'tap';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { labObjects, sweep } from '../../src/lab/index.js';
import { startCli, repoRoot as root } from './cli.js';

export const examples = join(root, 'configs', 'scenarios');

export function scenarioKit(t: Test) {
  const work = mkdtempSync(join(tmpdir(), 'pktgraph-scen-'));
  t.teardown(() => rmSync(work, { recursive: true, force: true }));

  // State files and engine sockets go to this test's own TMPDIR.
  const cli = (args: string[]) => startCli(args, { cwd: root, runtimeDir: work, env: { TMPDIR: work } }).done;
  /** An example with a random pgnXX id, written into the work directory. */
  const example = (file: string, edit: (s: string) => string = (s) => s) => {
    const id = `pgn${randomBytes(1).toString('hex')}`;
    const path = join(work, `${id}.yaml`);
    writeFileSync(path, edit(readFileSync(join(examples, file), 'utf8').replace(/^name: \w+$/m, `name: ${id}`)));
    return { id, path, prefix: `pg-${id}-`, socket: join(work, 'pktgraph-labs', `${id}.sock`) };
  };
  const ifindex = (ns: string, ifname: string) => readNs(ns, `/sys/class/net/${ifname}/ifindex`);
  const operstate = (ns: string, ifname: string) => readNs(ns, `/sys/class/net/${ifname}/operstate`);
  const readNs = (ns: string, path: string) => spawnSync('ip', ['netns', 'exec', ns, 'cat', path], { encoding: 'utf8' }).stdout.trim();
  const nothingLeft = (t: Test, lab: { prefix: string; socket: string }) => {
    t.same(labObjects(lab.prefix), { namespaces: [], interfaces: [] }, 'no namespace or interface left (ip netns, ip link)');
    t.notOk(existsSync(lab.socket), "the lab's engine is gone (its socket removed)");
  };
  const cleanup = (lab: { path: string; prefix: string }) => async () => {
    await cli(['lab', 'destroy', '-f', lab.path]);
    sweep(lab.prefix);
  };

  return { work, cli, example, readNs, ifindex, operstate, nothingLeft, cleanup };
}
