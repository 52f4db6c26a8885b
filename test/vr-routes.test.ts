// Route programming and quotas of virtual routers in one `pktgraph serve` engine (issue 11,
// items 4, 7 and 8), through the whole path a user takes: client or CLI -> control socket ->
// operations layer -> native FIB handlers. Two routers from one graph file with the same
// prefixes keep separate tables (packets forwarded and lookups); add, replace, del, show and
// load, single and bulk, IPv4 and IPv6; a bulk change with one bad line, an existing prefix or
// a missing one changes nothing (both routers' tables compared before and after); a bulk
// replace under paced traffic becomes visible at one instant (every packet is numbered, and
// in number order the outputs change exactly once per replace, never back and forth); quotas
// refuse plans (FromPort rings, ToPort class queues and schedulers included), route requests
// and handler writes (HTBSched classes added at run time included) beyond them with nothing
// changed and the other tenant untouched, and a NAT table at its quota drops and counts new
// flows. No root needed: pcap files and generators only.
import t, { type Test } from 'tap';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Engine, EngineError } from '../src/service/client.js';
import { decodeRouterFile, encodeRouterFile } from '../src/service/routerFile.js';
import { LINKTYPE_RAW, readPcap, writePcap } from './lib/pcap.js';
import { ipv4, udp, PROTO_UDP } from './lib/packets.js';
import { startCli, waitFor } from './lib/cli.js';

const work = mkdtempSync(join(tmpdir(), 'pktgraph-routes-'));
t.teardown(() => rmSync(work, { recursive: true, force: true }));

const cli = (args: string[], input?: string) => startCli(args, { cwd: work, runtimeDir: work, input }).done;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// Every tenant: raw IPv4 packets from a pcap (played when `in.active` is set), looked up in its
// IPv4 table `rt` and sent to out0 or out1 (counted, written to pcaps); an IPv6 table `rt6` too;
// a queue whose capacity counts against the buffers quota.
const tenant = join(work, 'tenant.ts');
writeFileSync(
  tenant,
  `import { graph, FromPcap, CheckIPHeader, IPLookup, LookupIP6Route, Counter, ToPcap, Idle, Discard, Queue, Unqueue } from 'pktgraph';
export default graph({ name: 'tenant', params: { input: '', out0: '', out1: '', timing: false, queue: 1000 } }, (p) => {
  const rt = FromPcap({ file: p.input, timing: p.timing, active: false }, 'in').to(CheckIPHeader({}, 'check')).to(IPLookup({ routes: ['198.18.0.0/24 dev 0'] }, 'rt'));
  rt.out(0).to(Counter({}, 'c0')).to(ToPcap({ file: p.out0 }, 'out0'));
  rt.out(1).to(Counter({}, 'c1')).to(ToPcap({ file: p.out1 }, 'out1'));
  Idle({}, 'idle').to(LookupIP6Route({ routes: ['fd00::/8 dev 0'] }, 'rt6')).to(Queue({ capacity: p.queue }, 'q')).to(Unqueue({}, 'uq')).to(Discard({}, 'sink6'));
});
`,
);
// A NAT tenant: FlowSource's flows through a source NAT of `capacity` mappings.
const natGraph = join(work, 'nat.ts');
writeFileSync(
  natGraph,
  `import { graph, FlowSource, CheckIPHeader, IPRewriter, Counter, Discard } from 'pktgraph';
export default graph({ name: 'nat', params: { capacity: 65536, flows: 10 } }, (p) => {
  const nat = FlowSource({ flows: p.flows, limit: p.flows, srcIp: '10.0.0.1', dstIp: '198.18.9.9' }, 'src').to(CheckIPHeader({ offset: 14 }, 'check'))
    .to(IPRewriter({ capacity: p.capacity, inputs: [{ kind: 'snat', address: '198.18.2.1', forward: 0, reply: 1 }] }, 'nat'));
  nat.out(0).to(Counter({}, 'fwd')).to(Discard({}, 'd0'));
  nat.out(1).to(Discard({}, 'd1'));
});
`,
);
// A tenant that resolves next hops with ARP: its table counts against the neighbours quota.
const arpGraph = join(work, 'arp.ts');
writeFileSync(
  arpGraph,
  `import { graph, Idle, ARPQuerier, Discard } from 'pktgraph';
export default graph('arp', () => {
  const arp = ARPQuerier({ ip: '198.18.0.1', mac: '02:00:00:00:00:01' }, 'arp');
  Idle({}, 'ip').to(arp.in(0));
  Idle({}, 'replies').to(arp.in(1));
  arp.out(0).to(Discard({}, 'd'));
});
`,
);

// A tenant on a shared port: the port's ingress ring (FromPort) and the router's class queue in
// the port's scheduler (ToPort) hold its frames, so both count against the buffers quota.
const portGraph = join(work, 'port.ts');
writeFileSync(
  portGraph,
  `import { graph, FromPort, ToPort } from 'pktgraph';
export default graph({ name: 'port', params: { ring: 1024, queue: 1000 } }, (p) => {
  FromPort({ port: 'uplink', vlan: 7, capacity: p.ring }, 'in').to(ToPort({ port: 'uplink', vlan: 7, capacity: p.queue }, 'out'));
});
`,
);
// A tenant shaping with a class tree: its leaves' queues count, and so do classes added at run time.
// Fragments read from a pcap file (its pump off until written) into an IPReassembler.
const fragGraph = join(work, 'frag.ts');
writeFileSync(
  fragGraph,
  `import { graph, FromPcap, IPReassembler, Counter, Discard } from 'pktgraph';
export default graph({ name: 'frag', params: { max: 1024 } }, (p) => {
  FromPcap({ file: 'frags.pcap', active: false }, 'in').to(IPReassembler({ maxFragments: p.max }, 'reasm')).to(Counter({}, 'whole')).to(Discard({}, 'sink'));
});
`,
);

const htbGraph = join(work, 'htb.ts');
writeFileSync(
  htbGraph,
  `import { graph, Idle, HTBSched, Unqueue, Discard } from 'pktgraph';
export default graph({ name: 'htb', params: { cap: 1000 } }, (p) => {
  Idle({}, 'src').to(HTBSched({ default: 'a', classes: [{ name: 'link', parent: 'root', rate: 1e9 }, { name: 'a', parent: 'link', rate: 1e6, ceil: 1e9, capacity: p.cap }] }, 'shaper'))
    .to(Unqueue({}, 'uq')).to(Discard({}, 'sink'));
});
`,
);

// Schedulers and shapers hold what they pulled ahead: 32 per input of a byte scheduler, a batch
// (256) in a byte-rate shaper.
const schedGraph = join(work, 'sched.ts');
writeFileSync(
  schedGraph,
  `import { graph, Idle, Queue, DRRSched, BandwidthShaper, Unqueue, Discard } from 'pktgraph';
export default graph('sched', () => {
  const drr = DRRSched({}, 'drr');
  Idle({}, 'a').to(Queue({ capacity: 10 }, 'qa')).to(drr.in(0));
  Idle({}, 'b').to(Queue({ capacity: 10 }, 'qb')).to(drr.in(1));
  drr.to(BandwidthShaper({ rate: 1e6 }, 'shape')).to(Unqueue({}, 'uq')).to(Discard({}, 'sink'));
});
`,
);

/** Raw IPv4 UDP packets to `dst(i)`, each carrying its index; timestamps `gapNs` apart. */
function writePackets(file: string, n: number, dst: (i: number) => string, gapNs = 1000n) {
  const list = [];
  for (let i = 0; i < n; i++) {
    const payload = Buffer.alloc(8);
    payload.writeUInt32BE(i, 0);
    list.push({ data: ipv4({ src: '198.19.255.1', dst: dst(i), proto: PROTO_UDP, payload: udp({ sport: 1000, dport: 7, payload }) }), tsNs: 1_700_000_000_000_000_000n + BigInt(i) * gapNs });
  }
  writePcap(file, list, { linktype: LINKTYPE_RAW });
}
/** The packet indexes in a pcap the routers wrote (raw IPv4: the UDP payload at 28). */
const indexes = (file: string) => readPcap(file).packets.map((p) => Buffer.from(p.data).readUInt32BE(28));

const sock = join(work, 'engine.sock');
let engine: Engine;

t.before(async () => {
  // Every router's default quotas: 5000 buffers; no limit on the rest.
  startCli(['serve', '--control', sock, '--threads', '2', '--pool', '16384', '--quota', 'buffers=5000'], { cwd: work, runtimeDir: work });
  engine = new Engine(sock);
  await waitFor('the engine to serve its socket', async () => (await engine.status().catch(() => undefined)) !== undefined);
});
t.teardown(async () => {
  await engine?.stop().catch(() => undefined);
});

const create = (name: string, params: Record<string, string | number | boolean> = {}, quotas = {}) =>
  engine.createRouter(name, { file: tenant, params: { input: join(work, existsSync(join(work, `${name}.pcap`)) ? `${name}.pcap` : 'a.pcap'), out0: join(work, `${name}-0.pcap`), out1: join(work, `${name}-1.pcap`), ...params } }, { start: true, quotas });
const table = async (name: string) => [(await engine.showRoutes(name, { family: 'ipv4' })).routes, (await engine.showRoutes(name, { family: 'ipv6' })).routes];
const look = async (name: string, addr: string) => (await engine.showRoutes(name, { lookup: addr })).lookup;

/** Expect a refusal whose message matches `re`. */
async function refused(t: Test, p: Promise<unknown>, re: RegExp, what: string) {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  t.ok(err instanceof EngineError, `${what}: refused`);
  t.match((err as Error | undefined)?.message ?? '', re, what);
}

t.test('two routers with the same prefixes: separate tables, for lookups and for forwarded packets', async (t) => {
  writePackets(join(work, 'a.pcap'), 30, (i) => (i < 20 ? `198.18.1.${1 + i}` : `198.18.0.${1 + i}`));
  writePackets(join(work, 'b.pcap'), 30, (i) => (i < 20 ? `198.18.1.${1 + i}` : `198.18.0.${1 + i}`));
  await create('a');
  await create('b');
  const ra = await engine.addRoutes('a', ['198.18.1.0/24 dev 1', '10.0.0.0/8 via 192.0.2.1 dev 0']);
  t.match(ra, { name: 'a', table: 'rt', changed: 2, count: 3 });
  await engine.addRoutes('b', ['198.18.1.0/24 dev 0', '10.0.0.0/8 dev 1']);
  t.equal(await look('a', '198.18.1.9'), 'dev 1', "a's 198.18.1.0/24");
  t.equal(await look('b', '198.18.1.9'), 'dev 0', "b's own 198.18.1.0/24");
  t.equal(await look('a', '10.1.2.3'), 'via 192.0.2.1 dev 0');
  t.equal(await look('b', '10.1.2.3'), 'dev 1');
  for (const r of ['a', 'b']) await engine.write(r, 'in', 'active', 'true');
  await waitFor('both pcaps forwarded', async () => {
    const [a, b] = [await engine.counters('a'), await engine.counters('b')];
    return a.c0.packets + a.c1.packets === 30n && b.c0.packets + b.c1.packets === 30n;
  });
  const [a, b] = [await engine.counters('a'), await engine.counters('b')];
  t.equal(a.c1.packets, 20n, 'a sends 198.18.1.0/24 to output 1');
  t.equal(a.c0.packets, 10n);
  t.equal(b.c0.packets, 30n, 'b sends both prefixes to output 0');
  t.equal(b.c1.packets, 0n);

  // IPv6 routes find the router's IPv6 table by their family.
  t.match(await engine.addRoutes('a', ['fd01::/16 via fd00::1 dev 0', '2001:db8::/32 dev 0']), { table: 'rt6', count: 3 });
  t.same((await engine.showRoutes('a', { family: 'ipv6' })).routes, ['2001:db8::/32 dev 0', 'fd00::/8 dev 0', 'fd01::/16 via fd00::1 dev 0']);
  t.same((await engine.showRoutes('b', { table: 'rt6' })).routes, ['fd00::/8 dev 0'], "b's IPv6 table is its own");

  // replace: an existing prefix's route changes, a new one is added; del removes.
  t.match(await engine.replaceRoutes('a', ['198.18.1.0/24 dev 0', '198.18.2.0/24 dev 1']), { changed: 2, count: 4 });
  t.equal(await look('a', '198.18.1.9'), 'dev 0');
  t.equal(await look('a', '198.18.2.9'), 'dev 1');
  t.match(await engine.deleteRoutes('a', '198.18.2.0/24\n10.0.0.0/8\n'), { count: 2 }, 'del, the prefixes as text');
  t.equal(await look('a', '10.1.2.3'), 'no route');
  t.equal(await look('b', '10.1.2.3'), 'dev 1', "b's 10.0.0.0/8 stays");
  t.same((await engine.showRoutes('a', { family: 'ipv4' })).routes, ['198.18.0.0/24 dev 0', '198.18.1.0/24 dev 0']);
});

t.test('bad route requests are refused with one sentence, and change nothing in either router', async (t) => {
  const before = [await table('a'), await table('b')];
  const good = Array.from({ length: 1000 }, (_, i) => `172.${16 + (i >> 8)}.${i & 255}.0/24 dev 1`);
  const bad = [...good.slice(0, 500), '172.31.0.0/33 dev 1', ...good.slice(500)];
  await refused(t, engine.addRoutes('a', bad), /virtual router 'a' table 'rt': route\.add refused, nothing changed: route 501 \('172\.31\.0\.0\/33 dev 1'\)/, 'a bulk add with one bad line');
  await refused(t, engine.replaceRoutes('a', [...good, 'bogus 1']), /route 1001 \('bogus 1'\): 'bogus' is not an IPv4/, 'a bulk replace with one bad line');
  await refused(t, engine.addRoutes('a', `# as text\n${good.join('\n')}\nbogus 1\n`), /route 1002 \('bogus 1'\): 'bogus' is not an IPv4/, 'a bulk add as text with one bad line (route N: its line)');
  await refused(t, engine.request('route.add', { name: 'a', routes: ['172.16.0.0/24 dev 1'], text: '172.17.0.0/24 dev 1' }), /route\.add: give the routes as 'routes' \(a list\) or as 'text' \(one per line\), one of the two/, 'both a list and text');
  await refused(t, engine.addRoutes('a', [...good, '198.18.1.0/24 dev 1']), /route 1001 \('198\.18\.1\.0\/24 dev 1'\): prefix 198\.18\.1\.0\/24 is already in the table/, 'add of an existing prefix names it');
  await refused(t, engine.addRoutes('a', ['172.16.0.0/24 dev 1', '172.16.0.0/24 dev 0']), /route 2 .*is also route 1/, 'a prefix twice in one add');
  await refused(t, engine.deleteRoutes('a', ['198.18.1.0/24', '192.0.2.0/24']), /no route for 192\.0\.2\.0\/24/, 'del of a missing prefix names it');
  await refused(t, engine.addRoutes('a', ['172.16.0.0/24 dev 7']), /output 7 does not exist: the element has 2 output\(s\)/, 'an output the table does not have');
  await refused(t, engine.addRoutes('a', ['172.16.0.0/24 dev 1\n172.17.0.0/24 dev 1']), /route 1 .* contains a line break; give one route per entry/, 'a line break inside one route');
  await refused(t, engine.addRoutes('a', ['172.16.0.0/24 dev 1'], { table: 'c0' }), /virtual router 'a' has no FIB table 'c0'; its tables: rt \(IPLookup\), rt6 \(LookupIP6Route\)/, 'a table that is not a FIB');
  await refused(t, engine.addRoutes('nobody', ['172.16.0.0/24 dev 1']), /there is no virtual router named 'nobody'/, 'an unknown router');
  await refused(t, engine.request('route.load', { name: 'a', file: 'relative.txt' }), /must be an absolute path/, 'a relative file');
  await refused(t, engine.request('route.add', { name: 'a', routes: [] } as never), /route\.add: field 'routes'/, 'no routes');
  await engine.createRouter('idle', { file: tenant, params: { input: join(work, 'a.pcap'), out0: join(work, 'idle-0.pcap'), out1: join(work, 'idle-1.pcap') } });
  await refused(t, engine.addRoutes('idle', ['172.16.0.0/24 dev 1']), /virtual router 'idle' is defined: its tables exist once it is started/, 'a router not started');
  await engine.deleteRouter('idle');
  t.same([await table('a'), await table('b')], before, 'both tables as before');
});

t.test('bulk routes from a file the engine reads, from a file and stdin through the CLI', async (t) => {
  const routes = Array.from({ length: 3000 }, (_, i) => `10.${i >> 8}.${i & 255}.0/24 dev ${i & 1}`);
  const file = join(work, 'routes.txt');
  writeFileSync(file, `# 3000 routes\n${routes.join('\n')}\n`);
  const r = await cli(['route', 'load', '--vr', 'b', file, '--control', sock]);
  t.equal(r.code, 0, r.stderr);
  t.match(r.stdout, /^b\/rt: '.*routes\.txt' loaded \(add\) in [\d.]+ ms; 3003 routes in the table\n$/);
  t.equal(await look('b', '10.11.183.7'), 'dev 1', 'route 2999 (10.11.183.0/24 dev 1)');
  t.equal(await look('a', '10.11.183.7'), 'no route', 'not in a');
  // The same file again: every prefix is there already, so nothing is added.
  const again = await cli(['route', 'load', '--vr', 'b', file, '--control', sock]);
  t.equal(again.code, 1);
  t.match(again.stderr, /pktgraph: virtual router 'b' table 'rt': route\.load refused, nothing changed: file '.*routes\.txt' line 2 \('10\.0\.0\.0\/24 dev 0'\): prefix 10\.0\.0\.0\/24 is already in the table\n/);
  // A bad line in a file: nothing changed.
  const badFile = join(work, 'bad.txt');
  writeFileSync(badFile, `${routes.map((l) => l.replace('dev', 'dev 1 #')).join('\n')}\n10.200.0.0/16 via nowhere\n`);
  await refused(t, engine.loadRoutes('b', badFile, { mode: 'replace' }), /line 3001 \('10\.200\.0\.0\/16 via nowhere'\): gateway 'nowhere' is not an IPv4 address/, 'a bad line in a file');
  t.equal(await look('b', '10.0.0.1'), 'dev 0', 'unchanged');
  // set: the file becomes the whole table.
  t.match(await engine.loadRoutes('b', file, { mode: 'set' }), { table: 'rt', count: 3000 });
  t.equal(await look('b', '198.18.0.1'), 'no route', "set dropped the routes the file lacks");
  // A bulk replace (merged into the table in one pass): every route flipped, 100 new, and a prefix
  // given twice, the later winning.
  const flipped = routes.map((l) => l.replace(/dev (\d)$/, (_, d) => `dev ${1 - Number(d)}`));
  const fresh = Array.from({ length: 100 }, (_, i) => `10.100.${i}.0/24 dev 0`);
  t.match(await engine.replaceRoutes('b', [...fresh, ...flipped, '10.100.7.0/24 dev 1']), { count: 3100 });
  t.equal(await look('b', '10.0.0.1'), 'dev 1', 'flipped');
  t.equal(await look('b', '10.11.183.7'), 'dev 0', 'flipped');
  t.equal(await look('b', '10.100.7.1'), 'dev 1', 'the later of a prefix given twice');
  t.equal(await look('b', '10.100.8.1'), 'dev 0', 'new');
  t.equal((await engine.showRoutes('b', { table: 'rt' })).routes!.length, 3100);
  await engine.loadRoutes('b', file, { mode: 'set' });

  // Through the CLI: arguments, a file, stdin; show; del; JSON.
  const add = await cli(['route', 'add', '--vr', 'b', '198.18.0.0/24 dev 1', '198.18.1.0/24 via 192.0.2.7 dev 0', '--control', sock]);
  t.equal(add.code, 0, add.stderr);
  t.equal(add.stdout, 'b/rt: 2 routes added; 3002 in the table\n');
  const stdin = await cli(['route', 'replace', '--vr', 'b', '--file', '-', '--control', sock], '# from stdin\n198.18.0.0/24 dev 0\n\nfd02::/16 dev 0\n');
  t.equal(stdin.code, 1, 'two families in one request');
  t.match(stdin.stderr, /route 2 \('fd02::\/16 dev 0'\)/);
  const stdin4 = await cli(['route', 'replace', '--vr', 'b', '--file', '-', '--json', '--control', sock], '# from stdin\n198.18.0.0/24 dev 0\n\n198.18.3.0/24 dev 1\n');
  t.equal(stdin4.code, 0, stdin4.stderr);
  t.match(JSON.parse(stdin4.stdout), { name: 'b', table: 'rt', changed: 2, count: 3003 });
  const six = join(work, 'six.txt');
  writeFileSync(six, 'fd03::/16 dev 0\nfd04::/16 dev 0\n');
  const add6 = await cli(['route', 'add', '--vr', 'b', '--file', six, '--control', sock]);
  t.equal(add6.stdout, 'b/rt6: 2 routes added; 3 in the table\n', add6.stderr);
  const show = await cli(['route', 'show', '--vr', 'b', '--table', 'rt6', '--control', sock]);
  t.equal(show.stdout, '# b/rt6 (LookupIP6Route): 3 routes\nfd00::/8 dev 0\nfd03::/16 dev 0\nfd04::/16 dev 0\n');
  const lookup = await cli(['route', 'show', '--vr', 'b', '--lookup', '198.18.1.1', '--control', sock]);
  t.equal(lookup.stdout, '198.18.1.1: via 192.0.2.7 dev 0\n');
  const del = await cli(['route', 'del', '--vr', 'b', 'fd03::/16', '--control', sock]);
  t.equal(del.stdout, 'b/rt6: 1 route removed; 2 in the table\n', del.stderr);
  const several = await cli(['route', 'show', '--vr', 'b', '--control', sock]);
  t.equal(several.code, 1);
  t.equal(several.stderr, "pktgraph: virtual router 'b' has several FIB tables (rt, rt6): name one with 'table' (--table)\n");
  const none = await cli(['route', 'add', '--vr', 'b', '--control', sock]);
  t.match(none.stderr, /no routes given/);
});

t.test('a bulk replace under traffic becomes visible at one instant', async (t) => {
  // 2000 /24s the packets cycle over, among 18000 other routes (a change of 2000 is patched, not
  // rebuilt: the path that must still publish all of it at once; patched in place, it would
  // take milliseconds, thousands of packets, to go through).
  const flips = Array.from({ length: 2000 }, (_, i) => `100.${64 + (i >> 8)}.${i & 255}.0/24`);
  const filler = Array.from({ length: 18000 }, (_, i) => `10.${i >> 8}.${i & 255}.0/24 dev 0`);
  const file = join(work, 'flip.txt');
  writeFileSync(file, [...filler, ...flips.map((p) => `${p} dev 0`)].join('\n'));
  const n = 240000;
  writePackets(join(work, 'flip.pcap'), n, (i) => `100.${64 + ((i % 2000) >> 8)}.${(i % 2000) & 255}.1`, 5_000n); // 200k packets/s, 1.2 s
  await create('flip', { timing: true });
  t.match(await engine.loadRoutes('flip', file), { count: 20001 });
  await engine.write('flip', 'in', 'active', 'true');
  await waitFor('traffic to start', async () => (await engine.counters('flip')).c0.packets > 10000n);
  let made = 0;
  for (let k = 1; k <= 6; k++) {
    const before = (await engine.counters('flip')).check.packets;
    await engine.replaceRoutes('flip', flips.map((p) => `${p} dev ${k & 1}`));
    if ((await engine.counters('flip')).check.packets > before) made++;
    await sleep(100);
  }
  await waitFor('every packet forwarded', async () => {
    const c = await engine.counters('flip');
    return c.c0.packets + c.c1.packets === BigInt(n);
  });
  await engine.deleteRouter('flip'); // the pcaps are complete once it is gone
  const out = new Int8Array(n).fill(-1);
  for (const i of indexes(join(work, 'flip-0.pcap'))) out[i] = 0;
  for (const i of indexes(join(work, 'flip-1.pcap'))) out[i] = 1;
  t.equal(out.indexOf(-1), -1, 'every packet came out once');
  let changes = 0;
  for (let i = 1; i < n; i++) if (out[i] !== out[i - 1]) changes++;
  t.ok(made >= 2, `${made} replaces made while packets flowed`);
  t.ok(changes >= 1 && changes <= 6, `in packet order the output changed ${changes} times for 6 replaces (a half-visible replace would switch back and forth)`);
});

t.test('quotas: plans, route requests and handler writes beyond them are refused, nothing changed, the other tenant untouched', async (t) => {
  const list = async () => (await engine.listRouters()).map((r) => `${r.name}:${r.state}`);
  const routers = await list();
  await refused(t, create('big', { queue: 8000 }), /virtual router 'big': its graph may hold 8000 packet buffers in its queues \(q 8000 \(Queue capacity\)\), over its buffers quota of 5000; lower the queue capacities or raise the quota \(vr quota big buffers=N\); nothing was changed/, "the engine's default buffers quota");
  await refused(t, engine.createRouter('nat1', { file: natGraph }, { quotas: { nat: 1000 } }), /its graph may hold 65536 NAT mappings \(nat 65536 \(IPRewriter capacity\)\), over its nat quota of 1000/, 'the nat quota');
  await refused(t, engine.createRouter('arp1', { file: arpGraph }, { quotas: { neighbours: 100 } }), /its graph may hold 4096 ARP\/ND entries \(arp 4096 \(ARPQuerier entryCapacity\)\), over its neighbours quota of 100/, 'the neighbours quota');
  await refused(t, engine.createRouter('arp2', { file: arpGraph }, { quotas: { buffers: 1000 } }), /its graph may hold 2048 packet buffers in its queues \(arp 2048 \(ARPQuerier capacity\)\), over its buffers quota of 1000/, 'packets a resolver holds count as buffers');
  t.same(await list(), routers, 'no router created');

  await create('qa', {}, { routes: 10, buffers: 20000 });
  await create('qb');
  t.same((await engine.showRouter('qa')).quotas, { routes: { used: 2, limit: 10 }, nat: { used: 0, limit: null }, neighbours: { used: 0, limit: null }, buffers: { used: 1000, limit: 20000 } });
  await engine.addRoutes('qa', Array.from({ length: 8 }, (_, i) => `10.0.${i}.0/24 dev 1`));
  const qa = await table('qa');
  const qb = await table('qb');
  await refused(t, engine.addRoutes('qa', ['10.1.0.0/24 dev 1']), /virtual router 'qa': route\.add would make 11 routes in its tables, over its routes quota of 10; remove routes or raise the quota \(vr quota qa routes=N\); nothing was changed/, 'a route beyond the quota');
  await refused(t, engine.addRoutes('qa', ['fd09::/16 dev 0']), /would make 11 routes in its tables, over its routes quota of 10/, 'the quota covers both tables');
  await refused(t, engine.loadRoutes('qa', join(work, 'routes.txt'), { mode: 'set' }), /route\.load would make 3001 routes/, 'a file beyond the quota');
  await refused(t, engine.write('qa', 'rt', 'add', '10.2.0.0/24 dev 1').then(() => undefined), /more than the table's limit of 9 \(max_routes\)/, 'a handler write beyond it too');
  await refused(t, engine.setQuotas('qa', { routes: 5 }), /virtual router 'qa' holds 10 routes, more than the routes quota of 5 asked; remove routes first/, 'a quota below use');
  await refused(t, engine.write('qa', 'q', 'capacity', '50000').then(() => undefined), /its graph may hold 50000 packet buffers .*over its buffers quota of 20000/, 'a queue capacity beyond the buffers quota');
  t.equal(await engine.read('qa', 'q', 'capacity'), '1000', 'capacity unchanged');
  t.same(await table('qa'), qa, "qa's tables unchanged");
  t.same((await engine.showRouter('qa')).quotas.routes, { used: 10, limit: 10 });
  t.match(await engine.replaceRoutes('qa', ['10.0.0.0/24 dev 0']), { count: 9 }, 'replacing within the quota works');
  t.match(await engine.deleteRoutes('qa', ['10.0.0.0/24']), { count: 8 });
  t.match(await engine.addRoutes('qa', ['10.0.0.0/24 dev 1']), { count: 9 }, 'and adding once there is room');
  // The other tenant, same graph, no routes quota: untouched, and free to grow.
  t.same(await table('qb'), qb, "qb's tables unchanged");
  t.match(await engine.addRoutes('qb', Array.from({ length: 100 }, (_, i) => `10.0.${i}.0/24 dev 1`)), { count: 101 });
  t.same(await engine.setQuotas('qa', { routes: 20 }), { routes: { used: 10, limit: 20 }, nat: { used: 0, limit: null }, neighbours: { used: 0, limit: null }, buffers: { used: 1000, limit: 20000 } });
  t.match(await engine.addRoutes('qa', ['10.1.0.0/24 dev 1']), { count: 10 }, 'a raised quota takes effect');
  // CLI: vr quota, vr show.
  const q = await cli(['vr', 'quota', 'qa', 'routes=none', '--control', sock]);
  t.equal(q.code, 0, q.stderr);
  t.match(q.stdout, /routes\s+11\s+none/);
  t.match((await cli(['vr', 'show', 'qa', '--control', sock])).stdout, /quotas:\n\s+routes\s+11 of no limit\n\s+nat\s+0 of no limit\n\s+neighbours\s+0 of no limit\n\s+buffers\s+1000 of 20000\n/);
  const badQuota = await cli(['vr', 'quota', 'qa', 'routs=5', '--control', sock]);
  t.match(badQuota.stderr, /--quota expects NAME=N or NAME=none with NAME one of routes, nat, neighbours, buffers, got 'routs=5'/);
  for (const r of ['qa', 'qb']) await engine.deleteRouter(r);

  // NAT at its quota: a new flow beyond the table is a counted drop for that tenant only.
  await engine.createRouter('nat4', { file: natGraph, params: { capacity: 4 } }, { start: true, quotas: { nat: 4 } });
  await engine.createRouter('nat16', { file: natGraph, params: { capacity: 16 } }, { start: true, quotas: { nat: 16 } });
  await waitFor('both NAT tenants to see their 10 flows', async () => {
    const [a, b] = [await engine.counters('nat4'), await engine.counters('nat16')];
    return a.nat.new_mappings + a.nat.drops_table_full === 10n && b.nat.new_mappings === 10n;
  });
  const [n4, n16] = [await engine.counters('nat4'), await engine.counters('nat16')];
  t.equal(n4.nat.new_mappings, 4n, 'four mappings within the quota');
  t.equal(n4.nat.drops_table_full, 6n, 'six new flows dropped and counted');
  t.equal(n16.nat.drops_table_full, 0n, 'the other tenant lost nothing');
  t.equal(n16.fwd.packets, 10n);
  for (const r of ['nat4', 'nat16']) await engine.deleteRouter(r);
});

t.test("the buffers quota counts IPReassembler's held fragments: beyond maxFragments they are dropped and counted", async (t) => {
  // 80 datagrams whose first fragment comes and whose last never does, then 10 whole ones.
  const frags = Array.from({ length: 80 }, (_, i) => ipv4({ src: '198.18.1.1', dst: '198.18.2.2', id: 100 + i, mf: true, payload: Buffer.alloc(64) }));
  const whole = Array.from({ length: 10 }, (_, i) => ipv4({ src: '198.18.1.1', dst: '198.18.2.2', id: 500 + i, proto: PROTO_UDP, payload: udp({ payload: Buffer.alloc(32) }) }));
  writePcap(join(work, 'frags.pcap'), [...frags, ...whole].map((data) => ({ data })), { linktype: LINKTYPE_RAW });
  await refused(
    t,
    engine.createRouter('f1', { file: fragGraph, params: { max: 200 } }, { quotas: { buffers: 100 } }),
    /virtual router 'f1': its graph may hold 200 packet buffers in its queues \(reasm 200 \(IPReassembler maxFragments\)\), over its buffers quota of 100; lower the queue capacities or raise the quota/,
    'fragments it may hold count',
  );
  await engine.createRouter('f1', { file: fragGraph, params: { max: 50 } }, { start: true, quotas: { buffers: 100 } });
  t.same((await engine.showRouter('f1')).quotas.buffers, { used: 50, limit: 100 });
  await refused(t, engine.reconfigureRouter('f1', { file: fragGraph, params: { max: 101 } }), /its graph may hold 101 packet buffers .*over its buffers quota of 100/, 'a reconfiguration over the quota');
  await engine.write('f1', 'in', 'active', 'true');
  await waitFor('the pcap file to be read', async () => (await engine.counters('f1')).in.packets === 90n);
  const c = (await engine.counters('f1')).reasm;
  t.equal(c.fragments, 50n, '50 fragments held');
  t.equal(c.drops_memory, 30n, 'the 30 beyond maxFragments dropped and counted');
  t.equal((await engine.counters('f1')).whole.packets, 10n, 'whole datagrams pass');
  t.equal((await engine.showRouter('f1')).heldPackets, 50, 'the router holds 50 buffers, its quota allows 100');
  t.same(await engine.deleteRouter('f1').then((d) => d.releasedPackets), 50, 'deleting it gives them back');
});

t.test('the buffers quota counts every buffer a graph can hold: port rings and class queues, and HTBSched classes added at run time', async (t) => {
  const list = async () => (await engine.listRouters()).map((r) => `${r.name}:${r.state}`);
  const routers = await list();
  await refused(
    t,
    engine.createRouter('p1', { file: portGraph }, { quotas: { buffers: 2000 } }),
    /virtual router 'p1': its graph may hold 2024 packet buffers in its queues \(in 1024 \(FromPort capacity\), out 1000 \(ToPort capacity\)\), over its buffers quota of 2000; lower the queue capacities or raise the quota \(vr quota p1 buffers=N\); nothing was changed/,
    "a FromPort's ring and a ToPort's class queue count",
  );
  await refused(
    t,
    engine.createRouter('s1', { file: schedGraph }, { quotas: { buffers: 300 } }),
    /its graph may hold 340 packet buffers in its queues \(drr 64 \(DRRSched\), qa 10 \(Queue capacity\), qb 10 \(Queue capacity\), shape 256 \(BandwidthShaper\)\), over its buffers quota of 300/,
    'what schedulers and shapers pull ahead counts',
  );
  t.same(await list(), routers, 'no router created');
  await engine.createRouter('p1', { file: portGraph, params: { ring: 64, queue: 100 } }, { quotas: { buffers: 2000 } });
  t.same((await engine.showRouter('p1')).quotas.buffers, { used: 164, limit: 2000 }, 'vr show counts the ring and the class queue');
  const p1 = await engine.showRouter('p1');
  await refused(t, engine.reconfigureRouter('p1', { file: portGraph, params: { ring: 4096 } }), /its graph may hold 5096 packet buffers .*over its buffers quota of 2000/, 'a reconfiguration over the quota');
  await refused(t, engine.cloneRouter('p1', 'p2', { params: { queue: 5000 } }), /virtual router 'p2': its graph may hold 5064 packet buffers/, 'a clone over the quota');
  t.same(await engine.showRouter('p1'), p1, 'p1 unchanged');
  t.same(await list(), [...routers, 'p1:defined'], 'no clone made');
  // A router file whose quota its ports' buffers exceed (one saved before they counted): refused.
  const saved = join(work, 'p1.router');
  await engine.saveRouter('p1', saved);
  const { manifest, image } = await decodeRouterFile(readFileSync(saved), saved);
  writeFileSync(saved, await encodeRouterFile({ ...manifest, quotas: { ...manifest.quotas!, buffers: 150 } }, image));
  await refused(t, engine.restoreRouter(saved, { name: 'p3' }), /virtual router 'p3': its graph may hold 164 packet buffers .*over its buffers quota of 150/, 'a restore over the quota');
  t.same(await list(), [...routers, 'p1:defined'], 'nothing restored');
  await engine.deleteRouter('p1');

  await engine.createRouter('h', { file: htbGraph }, { start: true, quotas: { buffers: 3000 } });
  const use = async () => (await engine.showRouter('h')).quotas.buffers;
  const classes = () => engine.read('h', 'shaper', 'classes').then((c) => c.split('\n').filter((l) => l).map((l) => l.replace(/ mode=.*/, '')));
  t.same(await use(), { used: 1000, limit: 3000 });
  await engine.write('h', 'shaper', 'add', '{"name":"b","parent":"link","rate":1e6,"capacity":1500}');
  t.same(await use(), { used: 2500, limit: 3000 }, 'a class added at run time counts');
  const before = await engine.showRouter('h');
  const tree = await classes();
  await refused(
    t,
    engine.write('h', 'shaper', 'add', '{"name":"c","parent":"link","rate":1e6}').then(() => undefined),
    /virtual router 'h': after the write to shaper\.add its graph may hold 3500 packet buffers in its queues \(shaper 3500 \(HTBSched\)\), over its buffers quota of 3000; lower the queue capacities or raise the quota \(vr quota h buffers=N\); nothing was changed/,
    'a class add over the quota (a leaf holds 1000 by default)',
  );
  await refused(t, engine.write('h', 'shaper', 'change', '{"name":"b","capacity":2500}').then(() => undefined), /after the write to shaper\.change its graph may hold 3500 packet buffers/, 'a capacity change over the quota');
  await refused(t, engine.setQuotas('h', { buffers: 2000 }), /its graph may hold 2500 packet buffers .*over its buffers quota of 2000/, 'a quota below what the live classes hold');
  t.same(await engine.showRouter('h'), before, 'vr show unchanged');
  t.same(await classes(), tree, 'the class tree unchanged');
  await engine.write('h', 'shaper', 'change', '{"name":"b","capacity":2000}');
  t.same(await use(), { used: 3000, limit: 3000 }, 'a change up to the quota is taken');
  // A leaf that gets a child becomes inner: its queue no longer counts, the child's does.
  await engine.write('h', 'shaper', 'add', '{"name":"b1","parent":"b","rate":1e5,"capacity":500}');
  t.same(await use(), { used: 1500, limit: 3000 }, 'an inner class holds nothing');
  await engine.write('h', 'shaper', 'remove', 'b1');
  t.same(await use(), { used: 3000, limit: 3000 }, 'a leaf again, its queue counts again');
  // The class added at run time carries over a reconfiguration, and counts in its quota check.
  await engine.reconfigureRouter('h', { file: htbGraph });
  t.same(await classes(), tree.map((l) => l.replace(/^(b .*capacity=)1500/, '$12000')), 'reconfigured: b is kept');
  const h = await engine.showRouter('h');
  await refused(t, engine.reconfigureRouter('h', { file: htbGraph, params: { cap: 1500 } }), /virtual router 'h': its graph may hold 3500 packet buffers in its queues \(shaper 3500 \(HTBSched\)\), over its buffers quota of 3000/, 'a reconfiguration whose classes with the one carried over exceed the quota');
  t.same(await engine.showRouter('h'), h, 'h unchanged');
  // ... and a save and restore, and a clone.
  const hFile = join(work, 'h.router');
  await engine.saveRouter('h', hFile);
  await engine.restoreRouter(hFile, { name: 'h2' });
  t.same(await engine.read('h2', 'shaper', 'classes').then((c) => c.split('\n').filter((l) => l).map((l) => l.replace(/ mode=.*/, ''))), await classes(), 'restored: the same classes');
  t.same((await engine.showRouter('h2')).quotas.buffers, { used: 3000, limit: 3000 });
  await engine.cloneRouter('h', 'h3', { start: true });
  t.same(await engine.read('h3', 'shaper', 'classes').then((c) => c.split('\n').filter((l) => l).map((l) => l.replace(/ mode=.*/, ''))), await classes(), 'cloned: the same classes');
  for (const r of ['h', 'h2', 'h3']) await engine.deleteRouter(r);
});
