// `pktgraph lab create|exec|reboot|modify|show|destroy -f FILE` run as users run them (the CLI in
// a child process), on the examples in configs/scenarios with their lab id replaced by a random
// pgnXX one: each builds, pings end to end and destroys to nothing (ip netns, ip link, the
// engine's socket); create again makes nothing; destroy after a create that failed half-way;
// reboot of one router leaves its neighbours' interfaces as they were; modify of one impairment
// leaves the others, and adding a node touches nothing else; save and restore keep both; an imported VNX scenario runs.
// Needs root and namespaces; skips with the reason otherwise.
import t from 'tap';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { labAvailable, labObjects } from '../src/lab/index.js';
import { scenarioKit, examples } from './lib/scenario-lab.js';

const avail = labAvailable();
if (!avail.ok) t.plan(0, `skip: ${avail.reason}`);
else if (spawnSync('ping', ['-V'], { stdio: 'ignore' }).status !== 0) t.plan(0, 'skip: ping (iputils-ping) is not installed; scripts/ensure-test-tools.sh installs it');
else main();

function main() {
  const { work, cli, example, readNs, ifindex, operstate, nothingLeft, cleanup } = scenarioKit(t);

  t.test('the VNX-style tutorial: create, ping, create again, reboot r1, destroy', async (t) => {
    const lab = example('tutorial.yaml');
    t.teardown(cleanup(lab));
    const c = await cli(['lab', 'create', '-f', lab.path, '--json']);
    t.equal(c.code, 0, c.stderr);
    const made = JSON.parse(c.stdout);
    t.equal(made.made.length, 10, 'made the engine, 3 nets and 6 nodes');
    const again = JSON.parse((await cli(['lab', 'create', '-f', lab.path, '--json'])).stdout);
    t.same([again.made.length, again.kept.length], [0, 10], 'create again makes nothing and reports everything kept');
    const ping = await cli(['lab', 'exec', '-f', lab.path, '-c', 'ping']);
    t.equal(ping.code, 0, 'every host pings across both pktgraph routers (IPv4 and IPv6)');
    t.equal((ping.stdout.match(/ 0% packet loss/g) ?? []).length, 5, 'five pings, none lost');

    const h1 = `${lab.prefix}h1`;
    const before = { h1: ifindex(h1, 'eth0'), h2: ifindex(`${lab.prefix}h2`, 'eth0'), objs: labObjects(lab.prefix) };
    const rb = await cli(['lab', 'reboot', '-f', lab.path, '-M', 'r1', '--json']);
    t.equal(rb.code, 0, rb.stderr);
    t.same(JSON.parse(rb.stdout).removed, ['node r1']);
    t.same([ifindex(h1, 'eth0'), ifindex(`${lab.prefix}h2`, 'eth0')], [before.h1, before.h2], "r1's neighbours keep their interfaces");
    t.equal(operstate(h1, 'eth0'), 'up', "h1's link stayed up");
    t.same(labObjects(lab.prefix), before.objs, 'the same kernel objects by name after the reboot');
    const after = await cli(['lab', 'exec', '-f', lab.path, '-M', 'h1,h3', '-c', 'ping']);
    t.equal(after.code, 0, 'ping across the rebuilt r1');

    const show = await cli(['lab', 'show', '-f', lab.path, '--json']);
    t.ok(JSON.parse(show.stdout).nodes.every((n: { up: boolean }) => n.up), 'show: every node up');
    const svg = join(work, 'tutorial.svg');
    const draw = await cli(['lab', 'show', '-f', lab.path, '--svg', svg]);
    if (draw.code === 0) t.match(readFileSync(svg, 'utf8'), /<svg[\s\S]*r1/, 'show --svg draws the topology');
    else t.match(draw.stderr, /apt-get install graphviz/, 'show --svg says how to get Graphviz');

    const d = await cli(['lab', 'destroy', '-f', lab.path]);
    t.match(d.stdout, /2 virtual routers, 4 namespaces, \d+ interfaces removed; nothing left/);
    nothingLeft(t, lab);
  });

  t.test('destroy after a create that failed half-way', async (t) => {
    // h3's route has a gateway on no net of h3: the kernel refuses it after h1, h2, r1 and r2 stand.
    const lab = example('tutorial.yaml', (s) => s.replace('{ to: default, via: 198.18.2.1 }\n      - { to: default6, via: "fd00:0:0:2::1" }\n    exec:\n      ping: [ping -c 2 -W 2 198.18.0.2]', '{ to: default, via: 198.18.9.1 }\n    exec:\n      ping: [ping -c 2 -W 2 198.18.0.2]'));
    t.teardown(cleanup(lab));
    const c = await cli(['lab', 'create', '-f', lab.path]);
    t.equal(c.code, 1);
    t.match(c.stderr, /lab create: node 'h3': /, 'the error names the node');
    const half = labObjects(lab.prefix);
    t.ok(half.namespaces.includes(`${lab.prefix}h1`) && !half.namespaces.includes(`${lab.prefix}h3`), 'h1 stands, h3 was removed whole');
    t.ok(existsSync(lab.socket), 'the engine runs with r1 and r2');
    const d = await cli(['lab', 'destroy', '-f', lab.path]);
    t.equal(d.code, 0, d.stderr);
    t.match(d.stdout, /2 virtual routers, 2 namespaces/, 'r1, r2, h1 and h2 removed');
    nothingLeft(t, lab);
  });

  t.test('shaped WAN: one impairment changed live, the others kept; a node added alone', async (t) => {
    const lab = example('shaped-wan.yaml');
    t.teardown(cleanup(lab));
    t.equal((await cli(['lab', 'create', '-f', lab.path])).code, 0);
    const rtt = async () => {
      const r = await cli(['lab', 'exec', '-f', lab.path, '-M', 'a1', '-c', 'ping']);
      const m = /rtt min\/avg\/max\/mdev = ([\d.]+)/.exec(r.stdout);
      return m ? Number(m[1]) : NaN;
    };
    const r0 = await rtt();
    t.ok(r0 >= 30 && r0 < 60, `round trip ${r0} ms over 15 ms each way (at least 30 ms)`);
    const read = async (h: string) => (await cli(['read', `link-wan/${h}`, '--control', lab.socket])).stdout.trim();
    const m = await cli(['lab', 'modify', '-f', lab.path, '--set', 'wan.ab.delay=0.05']);
    t.equal(m.code, 0, m.stderr);
    t.same([await read('ab.delay'), await read('ab.rate'), await read('ab.loss'), await read('ba.delay'), await read('ba.rate')], ['0.05', '20000000', '0.1', '0.015', '20000000'], 'only ab.delay changed');
    const r1 = await rtt();
    t.ok(r1 >= 65 && r1 < 100, `round trip ${r1} ms after ab.delay=0.05 (at least 65 ms)`);
    t.match((await cli(['lab', 'show', '-f', lab.path])).stdout, /"ab":\{"rate":20000000,"delay":0.05,"loss":0.1\}/, 'show prints the changed value');

    // The file with one more host on siteb: modify builds it and nothing else.
    const b1 = ifindex(`${lab.prefix}b1`, 'eth0');
    const ra = ifindex(`${lab.prefix}ra`, 'eth0');
    writeFileSync(lab.path, readFileSync(lab.path, 'utf8').replace('delay: 0.015, loss: 0.1', 'delay: 0.05, loss: 0.1') + '  - name: b2\n    type: host\n    interfaces:\n      - { net: siteb, addresses: [198.18.11.3/24] }\n');
    const add = await cli(['lab', 'modify', '-f', lab.path, '--json']);
    t.equal(add.code, 0, add.stderr);
    t.same(JSON.parse(add.stdout), { lab: lab.id, made: ['node b2 (host, namespace ' + `${lab.prefix}b2)`], kept: [], removed: [] }, 'only b2 made');
    t.same([ifindex(`${lab.prefix}b1`, 'eth0'), ifindex(`${lab.prefix}ra`, 'eth0')], [b1, ra], 'the other nodes untouched');
    t.equal(await read('ab.delay'), '0.05');
    const p = spawnSync('ip', ['netns', 'exec', `${lab.prefix}b2`, 'ping', '-c', '3', '-i', '0.3', '-W', '2', '198.18.11.2'], { encoding: 'utf8' });
    t.equal(p.status, 0, 'b2 reaches b1');

    // save writes the lab as it stands; restore rebuilds it from that file, the change kept.
    const saved = join(work, `${lab.id}-saved.yaml`);
    t.equal((await cli(['lab', 'save', '-f', lab.path, '-o', saved])).code, 0);
    const text = readFileSync(saved, 'utf8');
    t.match(text, /delay: 0\.05/, 'the saved file has the live change');
    t.match(text, /name: b2/, 'and the added node');
    const rs = await cli(['lab', 'restore', '-f', saved]);
    t.equal(rs.code, 0, rs.stderr);
    t.equal(await read('ab.delay'), '0.05', 'restored with the change');
    t.equal(await read('ab.loss'), '0.1', 'and the rest');
    t.equal(spawnSync('ip', ['netns', 'exec', `${lab.prefix}a1`, 'ping', '-c', '3', '-i', '0.3', '-W', '2', '198.18.11.2'], { encoding: 'utf8' }).status, 0, 'a1 reaches b1 across the restored WAN');
    t.equal((await cli(['lab', 'destroy', '-f', lab.path])).code, 0);
    nothingLeft(t, lab);
  });

  t.test('an imported VNX scenario builds, runs its exec sequences and goes', async (t) => {
    const id = `pgn${randomBytes(1).toString('hex')}`;
    const path = join(work, `${id}.yaml`);
    const imp = await cli(['lab', 'import', join(examples, 'vnx-simple.xml'), '--name', id, '-o', path]);
    t.equal(imp.code, 0, 'imported');
    t.match(imp.stderr, /vm h1: type lxc, filesystem, mem ignored/, 'with warnings');
    const lab = { id, path, prefix: `pg-${id}-`, socket: join(work, 'pktgraph-labs', `${id}.sock`) };
    t.teardown(cleanup(lab));
    t.equal((await cli(['lab', 'create', '-f', path])).code, 0);
    const ping = await cli(['lab', 'exec', '-f', path, '-M', 'h2', '-c', 'ping']);
    t.equal(ping.code, 0, 'h2 pings h1 through the Linux router r1 (IPv4 and IPv6)');
    t.match((await cli(['lab', 'exec', '-f', path, '-c', 'hello'])).stdout, /\[h1\] hello from h1/);
    t.equal((await cli(['lab', 'destroy', '-f', path])).code, 0);
    nothingLeft(t, lab);
  });

  t.test('malformed file: an error naming the line and field, nothing created', async (t) => {
    const lab = example('tutorial.yaml', (s) => s.replace('198.18.2.3/24', '198.18.2.3/99'));
    const c = await cli(['lab', 'create', '-f', lab.path]);
    t.equal(c.code, 1);
    t.match(c.stderr, new RegExp(`${lab.id}\\.yaml:\\d+: nodes\\.5\\.interfaces\\.0\\.addresses\\.0: `));
    t.same(labObjects(lab.prefix), { namespaces: [], interfaces: [] }, 'nothing created');
  });
}
