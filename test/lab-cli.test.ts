// `pktgraph lab up|list|exec|down`, run as users run it (`node bin/pktgraph.js` in a child
// process): a JSON and a TypeScript topology, exec with the exit code passed through, a
// complete teardown by id, clear errors for a bad topology and for a user without root.
// Needs root and network namespaces; skips with the reason otherwise.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { labAvailable, labObjects, sweep } from '../src/lab/index.js';
import { startCli, repoRoot as root, pktgraphBin as bin } from './lib/cli.js';


const avail = labAvailable();
if (!avail.ok) t.plan(0, `skip: ${avail.reason}`);
else main();

function main() {
  // State files go to this test's own TMPDIR, so `lab list` sees only this test's labs.
  const work = mkdtempSync(join(tmpdir(), 'pktgraph-labcli-'));
  t.teardown(() => rmSync(work, { recursive: true, force: true }));

  const cli = (args: string[]) => startCli(args, { cwd: root, runtimeDir: work, env: { TMPDIR: work } }).done;

  t.test('lab up, list, exec and down from the command line', async (t) => {
    const id = randomBytes(2).toString('hex');
    const id2 = randomBytes(2).toString('hex');
    t.teardown(() => {
      sweep(`pg-${id}-`);
      sweep(`pg-${id2}-`);
    });
    const json = join(work, 'two.json');
    writeFileSync(
      json,
      JSON.stringify({
        hosts: [{ name: 'h1' }, { name: 'h2' }],
        links: [
          { a: 'h1', b: 'h2', aAddresses: ['198.18.9.1/30', 'fd00:9::1/64'], bAddresses: ['198.18.9.2/30'] },
          { a: 'h1', b: 'engine' },
        ],
      }),
    );
    const ts = join(work, 'one.ts');
    writeFileSync(
      ts,
      `import type { Topology } from 'pktgraph';
const topology: Topology = { hosts: [{ name: 'x' }], links: [{ a: 'x', b: 'engine', aAddresses: ['198.18.10.1/24'] }] };
export default topology;
`,
    );

    const up = await cli(['lab', 'up', json, '--id', id]);
    t.equal(up.code, 0, `lab up (JSON) succeeds ${up.stderr}`);
    t.match(up.stdout, new RegExp(`^lab ${id} is up`), 'prints the lab id');
    t.match(up.stdout, new RegExp(`h1 +namespace pg-${id}-h1`), 'prints the namespaces');
    t.match(up.stdout, new RegExp(`0: h1 pg-${id}-0a 198\\.18\\.9\\.1/30 fd00:9::1/64 <-> h2 pg-${id}-0b 198\\.18\\.9\\.2/30`), 'prints the interfaces and addresses');
    t.match(up.stdout, new RegExp(`1: h1 pg-${id}-1a <-> engine \\(root namespace\\) pg-${id}-1b`), 'prints the engine-side interface');
    t.same(labObjects(`pg-${id}-`), { namespaces: [`pg-${id}-h1`, `pg-${id}-h2`], interfaces: [`pg-${id}-1b`] }, 'the namespaces and the engine end exist');

    const up2 = await cli(['lab', 'up', ts, '--id', id2]);
    t.equal(up2.code, 0, `lab up (TypeScript module) succeeds ${up2.stderr}`);
    t.match(up2.stdout, new RegExp(`x +namespace pg-${id2}-x`));

    const list = await cli(['lab', 'list']);
    t.equal(list.code, 0, list.stderr);
    t.match(list.stdout, new RegExp(`^lab ${id} `, 'm'), 'lab list shows the first lab');
    t.match(list.stdout, new RegExp(`^lab ${id2} `, 'm'), '... and the second');
    const listJson = JSON.parse((await cli(['lab', 'list', '--json'])).stdout) as { id: string; present: boolean }[];
    t.same(listJson.map((l) => [l.id, l.present]).sort(), [[id, true], [id2, true]].sort(), 'lab list --json');

    const addr = await cli(['lab', 'exec', 'h1', '--', 'ip', '-o', 'addr']);
    t.equal(addr.code, 0, addr.stderr);
    t.match(addr.stdout, /inet 198\.18\.9\.1\/30/, 'exec h1 -- ip -o addr shows the IPv4 address');
    t.match(addr.stdout, /inet6 fd00:9::1\/64/, '... and the IPv6 address');
    const ping = await cli(['lab', 'exec', 'h2', '--', 'ping', '-c', '1', '-W', '2', '198.18.9.1']);
    if (spawnSync('ping', ['-V'], { stdio: 'ignore' }).status === 0) t.equal(ping.code, 0, `h2 reaches h1 over their link ${ping.stdout}${ping.stderr}`);
    const exit = await cli(['lab', 'exec', 'h1', '--', 'sh', '-c', 'exit 3']);
    t.equal(exit.code, 3, 'exec passes the exit code through');
    const inX = await cli(['lab', 'exec', '--lab', id2, 'x', '--', 'ip', '-o', '-4', 'addr']);
    t.match(inX.stdout, /198\.18\.10\.1\/24/, 'exec --lab picks the lab');
    const nohost = await cli(['lab', 'exec', 'nope', '--', 'true']);
    t.equal(nohost.code, 1);
    t.match(nohost.stderr, /^pktgraph: lab exec: no lab has a host 'nope' \(pktgraph lab list\)\n$/, 'an unknown host is one clear line');

    const down = await cli(['lab', 'down', id]);
    t.equal(down.code, 0, down.stderr);
    t.match(down.stdout, new RegExp(`lab ${id} is down \\(removed 2 namespaces and 1 interfaces\\)`));
    t.same(labObjects(`pg-${id}-`), { namespaces: [], interfaces: [] }, 'no namespace or interface with its prefix is left');
    t.notOk(spawnSync('ip', ['-o', 'link'], { encoding: 'utf8' }).stdout.includes(`pg-${id}-`), 'ip -o link shows none of its interfaces');
    const list2 = await cli(['lab', 'list']);
    t.notMatch(list2.stdout, new RegExp(`lab ${id} `), 'lab list no longer shows it');
    const again = await cli(['lab', 'down', id]);
    t.equal(again.code, 1, 'down of a lab that is gone fails');
    t.match(again.stderr, new RegExp(`no lab '${id}'`));

    const down2 = await cli(['lab', 'down']);
    t.equal(down2.code, 0, `down without an id takes the only lab ${down2.stderr}`);
    t.same(labObjects(`pg-${id2}-`), { namespaces: [], interfaces: [] }, 'the second lab is gone too');
  });

  t.test('a bad topology is one clear error', async (t) => {
    const bad = join(work, 'bad.json');
    writeFileSync(bad, JSON.stringify({ hosts: [{ name: 'x' }], links: [{ a: 'x', b: 'engine', aAddresses: ['10.1.1.1/24'] }] }));
    const r = await cli(['lab', 'up', bad]);
    t.equal(r.code, 1);
    t.match(r.stderr, /^pktgraph: lab up .*bad\.json: link 0: '10\.1\.1\.1\/24' is outside 198\.18\.0\.0\/15/, r.stderr);
    t.notMatch(r.stderr, /\n\s+at /, 'no stack trace');
    const notTopo = join(work, 'not.json');
    writeFileSync(notTopo, '{"nodes": []}');
    const r2 = await cli(['lab', 'up', notTopo]);
    t.match(r2.stderr, /is not a lab topology/);
  });

  t.test('without root, lab up says it needs root', async (t) => {
    if (spawnSync('setpriv', ['--version'], { stdio: 'ignore' }).status !== 0) return t.skip('setpriv (util-linux) is missing', () => {});
    // A topology file user nobody can read.
    const dir = mkdtempSync(join(tmpdir(), 'pktgraph-labcli-nobody-'));
    t.teardown(() => rmSync(dir, { recursive: true, force: true }));
    chmodSync(dir, 0o755);
    const file = join(dir, 'topo.json');
    writeFileSync(file, JSON.stringify({ hosts: [{ name: 'h1' }], links: [] }));
    chmodSync(file, 0o644);
    const args = ['-i', `PATH=${process.env.PATH ?? '/usr/bin:/bin'}`, 'HOME=/tmp', 'TMPDIR=/tmp', 'setpriv', '--reuid=65534', '--regid=65534', '--clear-groups'];
    const r = spawnSync('env', [...args, process.execPath, bin, 'lab', 'up', file], { encoding: 'utf8', cwd: '/', timeout: 30_000 });
    if (!/^pktgraph: /m.test(r.stderr))
      return t.skip(`cannot run pktgraph as user nobody here (the repository may not be readable by it): ${(r.stderr || r.error?.message || '').slice(0, 300)}`, () => {});
    t.equal(r.status, 1, 'exit code 1');
    t.match(r.stderr, /^pktgraph: lab up: labs need root \(CAP_NET_ADMIN and CAP_SYS_ADMIN to create namespaces and veth pairs\); run it as root \(sudo pktgraph lab up \.\.\.\)\n$/, r.stderr);
  });
}
