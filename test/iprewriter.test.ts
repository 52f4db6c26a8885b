// IPRewriter (NAT) on crafted packets: one pcap file played a packet per batch (so the order
// is exact) is split by source address into input 0 (from the inside, 198.18.1.0/24) and
// input 1 (from the outside); each output is written to a pcap file. Every expected packet is
// built independently with test/lib/packets.ts (full checksums, not incremental ones) and
// compared byte for byte; tcpdump -vv also checks every checksum when it is installed.
// Covers source NAT of TCP, UDP (also with checksum 0) and ICMP echo with replies mapped back,
// unknown replies passed or dropped per spec, port forwarding (DNAT), keep (tracking only),
// port exhaustion, the capacity limit, ICMP errors rewritten in both directions (UDP, TCP
// with an 8-byte quote, echo, and an inside server's error behind DNAT), drop reasons,
// timeouts with freed ports reused, the handlers, two workers pushing at once, and config
// errors. Needs no root.
import t, { type Test } from 'tap';
import { rmSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { graph, compile, Runtime, FromPcap, ToPcap, Classifier, IPRewriter, type RunningGraph } from 'pktgraph';
import { tmpPath } from './lib/run.js';
import { sameBuffers } from './lib/pcapfiles.js';
import { writePcap, readPcap, DEFAULT_TS_NS } from './lib/pcap.js';
import { ipv4, udp, tcp, icmp4, verifyIpv4Checksum, verifyL4Checksum, PROTO_ICMP, PROTO_TCP, TCP_SYN, TCP_ACK, TCP_FIN } from './lib/packets.js';

const LINKTYPE_RAW = 101;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const cleanup: string[] = [];
t.teardown(() => {
  for (const f of cleanup) rmSync(f, { force: true });
});

// Inside hosts, the NAT's outside address, outside hosts.
const A = '198.18.1.2';
const B = '198.18.1.3';
const I = '198.18.1.5'; // an inside server behind port forwarding
const N = '198.18.2.1';
const S = '198.18.2.2';
const X = '198.18.2.9';
const R = '198.18.2.77'; // a router on the outside

// ---------- packet builders (checksums computed in full, independently of the element) ----------

type TcpO = { flags?: number; seq?: number; ack?: number; payload?: string | Buffer; ttl?: number; id?: number };
const tcpIp = (src: string, dst: string, sport: number, dport: number, o: TcpO = {}) =>
  ipv4({ src, dst, proto: PROTO_TCP, ttl: o.ttl, id: o.id, payload: tcp({ src, dst, sport, dport, flags: o.flags ?? TCP_ACK, seq: o.seq ?? 1000, ack: o.ack, payload: o.payload }) });
type UdpO = { payload?: string | Buffer; ttl?: number; id?: number; noChecksum?: boolean };
const udpIp = (src: string, dst: string, sport: number, dport: number, o: UdpO = {}) =>
  ipv4({ src, dst, ttl: o.ttl, id: o.id, payload: udp(o.noChecksum ? { sport, dport, payload: o.payload ?? 'datagram' } : { src, dst, sport, dport, payload: o.payload ?? 'datagram' }) });
const echo = (src: string, dst: string, type: 8 | 0, ident: number, seq: number, o: { ttl?: number; payload?: string } = {}) =>
  ipv4({ src, dst, ttl: o.ttl, proto: PROTO_ICMP, payload: icmp4({ type, rest: ((ident << 16) | seq) >>> 0, payload: o.payload ?? 'ping data' }) });
const icmpError = (src: string, dst: string, type: number, code: number, quoted: Buffer) =>
  ipv4({ src, dst, proto: PROTO_ICMP, payload: icmp4({ type, code, rest: 0, payload: quoted }) });

// ---------- running the element ----------

interface NatRun {
  outs: Buffer[][];
  c: Record<string, bigint>;
  table: string;
  mappings: number;
  g: RunningGraph;
}

type NatConfig = NonNullable<Parameters<typeof IPRewriter>[0]>;

/**
 * Play `packets` (one per batch; with `times`, at those offsets in ms) through a NAT whose input
 * 0 gets packets from 198.18.1.0/24 and input 1 everything else; 3 outputs, each to a file.
 */
async function runNat(t: Test, tag: string, config: NatConfig, packets: Buffer[], times?: number[]): Promise<NatRun> {
  const inFile = tmpPath(`iprw-${tag}-in.pcap`);
  cleanup.push(inFile);
  writePcap(
    inFile,
    packets.map((data, i) => ({ data, tsNs: DEFAULT_TS_NS + BigInt(Math.round((times ? times[i] : i * 0.001) * 1e6)) })),
    { linktype: LINKTYPE_RAW },
  );
  const outFiles = [0, 1, 2].map((o) => tmpPath(`iprw-${tag}-out${o}.pcap`));
  cleanup.push(...outFiles);
  const plan = compile(
    graph(`iprw-${tag}`, () => {
      const nat = IPRewriter(config, 'nat');
      const split = Classifier({ patterns: ['12/c61201', '-'] }, 'split');
      FromPcap({ file: inFile, burst: 1, timing: !!times }, 'src').to(split);
      split.out(0).to(nat.in(0));
      split.out(1).to(nat.in(1));
      outFiles.forEach((f, o) => nat.out(o).to(ToPcap({ file: f, linktype: LINKTYPE_RAW }, `out${o}`)));
    }),
  );
  const rt = new Runtime({ threads: 1, poolBuffers: 4096 });
  t.teardown(() => rt.close());
  const g = rt.load(plan);
  rt.start();
  const deadline = Date.now() + 15_000;
  while (!g.drained() && Date.now() < deadline) await sleep(10);
  if (!g.drained()) throw new Error(`graph iprw-${tag} did not drain`);
  await sleep(20);
  const table = g.read('nat', 'table');
  const mappings = Number(g.read('nat', 'mappings'));
  const c = g.counters('nat');
  rt.stop();
  g.remove();
  return { outs: outFiles.map((f) => readPcap(f).packets.map((p) => p.data)), c, table, mappings, g };
}


const checksumsRight = (pkts: Buffer[]) => pkts.every((p) => verifyIpv4Checksum(p) && verifyL4Checksum(p));

const tcpdumpSkip = spawnSync('tcpdump', ['--version'], { stdio: 'ignore' }).status === 0 ? false : 'tcpdump is not installed (scripts/ensure-test-tools.sh installs it as root)';
function tcpdumpVerdict(t: Test, file: string, what: string) {
  if (tcpdumpSkip) {
    t.skip(`${what}: ${tcpdumpSkip}`, () => {});
    return;
  }
  const r = spawnSync('tcpdump', ['-r', file, '-vv', '-nn'], { encoding: 'utf8' });
  t.equal(r.status, 0, `tcpdump reads ${what}`);
  t.notMatch(r.stdout, /bad cksum|wrong icmp cksum|bad udp cksum|bad tcp cksum|incorrect/i, `tcpdump -vv finds every checksum of ${what} right`);
  return r.stdout;
}

const zero = (c: Record<string, bigint>, names: string[]) => names.reduce((s, n) => s + c[n], 0n);
const DROPS = ['drops_bad_ip', 'drops_truncated', 'drops_fragment', 'drops_protocol', 'drops_no_mapping', 'drops_no_port', 'drops_table_full', 'drops_conflict'];

// Most tests here follow the order ports are handed out in, so they switch port preservation
// off (Click's '#' ranges); preservation has a test of its own.
const gateway = (o: { ports?: string; pass?: boolean; rules?: boolean; preservePort?: boolean } = {}): NatConfig => ({
  inputs: [
    { kind: 'snat', address: N, ports: o.ports, preservePort: o.preservePort ?? false, forward: 0, reply: 1 },
    o.rules
      ? {
          kind: 'dnat',
          rules: [
            { proto: 'tcp', port: 2222, to: I, toPort: 22 },
            { proto: 'udp', port: 5000, to: I },
          ],
          forward: 1,
          reply: 0,
          ...(o.pass === false ? {} : { pass: 2 }),
        }
      : o.pass === false
        ? { kind: 'drop' }
        : { kind: 'pass', output: 2 },
  ],
});

// ---------- tests ----------

t.test('source NAT: TCP, UDP and ICMP echo out, replies back, every checksum right', async (t) => {
  const syn = { flags: TCP_SYN, seq: 7000 };
  const synAck = { flags: TCP_SYN | TCP_ACK, seq: 9000, ack: 7001 };
  const data = { flags: TCP_ACK, seq: 7001, ack: 9001, payload: 'GET / HTTP/1.0\r\n\r\n' };
  const input = [
    tcpIp(A, S, 40000, 80, syn), // 0: new TCP flow -> N:1024
    tcpIp(S, N, 80, 1024, synAck), // 1: reply
    tcpIp(A, S, 40000, 80, data), // 2: same flow
    udpIp(A, S, 5353, 53, { payload: 'query' }), // 3: new UDP flow -> N:1024 (UDP has its own ports)
    udpIp(S, N, 53, 1024, { payload: 'answer' }), // 4: reply
    udpIp(A, S, 5354, 53, { noChecksum: true, payload: 'no checksum' }), // 5: checksum 0 stays 0 -> N:1025
    udpIp(S, N, 53, 1025, { noChecksum: true, payload: 'none back' }), // 6
    echo(A, S, 8, 0x1234, 1), // 7: echo request -> id 1024
    echo(S, N, 0, 1024, 1), // 8: echo reply -> id 0x1234
    tcpIp(B, S, 40000, 80, syn), // 9: another host, same port -> N:1025
    tcpIp(S, N, 80, 1025, synAck), // 10: its reply
    tcpIp(S, N, 80, 4444, { flags: TCP_SYN }), // 11: no mapping: passed to output 2
    echo(X, N, 8, 77, 1), // 12: a ping of the gateway: passed
    echo(S, N, 0, 999, 1), // 13: an echo reply of no mapping: passed
  ];
  const r = await runNat(t, 'snat', gateway(), input);
  sameBuffers(
    t,
    r.outs[0],
    [
      tcpIp(N, S, 1024, 80, syn),
      tcpIp(N, S, 1024, 80, data),
      udpIp(N, S, 1024, 53, { payload: 'query' }),
      udpIp(N, S, 1025, 53, { noChecksum: true, payload: 'no checksum' }),
      echo(N, S, 8, 1024, 1),
      tcpIp(N, S, 1025, 80, syn),
    ],
    'output 0 (to the outside): sources rewritten to N and allocated ports',
  );
  sameBuffers(
    t,
    r.outs[1],
    [
      tcpIp(S, A, 80, 40000, synAck),
      udpIp(S, A, 53, 5353, { payload: 'answer' }),
      udpIp(S, A, 53, 5354, { noChecksum: true, payload: 'none back' }),
      echo(S, A, 0, 0x1234, 1),
      tcpIp(S, B, 80, 40000, synAck),
    ],
    'output 1 (to the inside): replies rewritten back',
  );
  sameBuffers(t, r.outs[2], [input[11], input[12], input[13]], 'output 2: packets of no mapping passed unchanged');
  t.equal(r.outs[0][3].readUInt16BE(20 + 6), 0, 'a UDP checksum of 0 stays 0');
  t.ok(checksumsRight([...r.outs[0], ...r.outs[1]]), 'every IP, TCP, UDP and ICMP checksum verifies');
  t.equal(r.c.new_mappings, 5n, '5 mappings made (2 TCP, 2 UDP, 1 echo)');
  t.equal(r.c.rewritten, 11n, '11 packets rewritten');
  t.equal(r.c.passed, 3n, '3 passed');
  t.equal(zero(r.c, DROPS), 0n, 'no drops');
  t.equal(r.mappings, 5, 'mappings handler: 5');
  const lines = r.table.trim().split('\n');
  t.equal(lines.length, 5, `the table lists 5 mappings:\n${r.table}`);
  t.ok(lines.some((l) => l.startsWith(`tcp ${A}:40000 ${S}:80 => ${N}:1024 ${S}:80 out 0 reply 1 established idle `)), 'the TCP mapping is listed, established');
  t.ok(lines.some((l) => l.startsWith(`icmp ${A}:4660 ${S} => ${N}:1024 ${S} out 0 reply 1 - idle `)), 'the echo mapping is listed by identifier');
  t.ok(lines.some((l) => l.startsWith(`udp ${A}:5354 ${S}:53 => ${N}:1025 ${S}:53 out 0 reply 1 - idle `)), 'the second UDP mapping is listed');
  const outFile = tmpPath('iprw-snat-out0.pcap');
  tcpdumpVerdict(t, outFile, 'output 0');
  tcpdumpVerdict(t, tmpPath('iprw-snat-out1.pcap'), 'output 1');
});

t.test('unknown replies dropped by a drop spec; bad packets dropped by reason', async (t) => {
  const frag2 = ipv4({ src: A, dst: S, proto: 17, fragOffset: 4, payload: Buffer.alloc(16, 7) });
  const first = ipv4({ src: A, dst: S, proto: 17, mf: true, payload: udp({ src: A, dst: S, sport: 6000, dport: 53, payload: Buffer.alloc(24, 1) }).subarray(0, 16) });
  const input = [
    tcpIp(S, N, 80, 1024), // no mapping yet: dropped
    ipv4({ src: A, dst: S, proto: 47, payload: Buffer.alloc(8) }), // GRE: no pass output on the snat input
    frag2, // a later fragment
    first, // a first fragment: translated
    ipv4({ src: A, dst: S, proto: PROTO_TCP, payload: Buffer.alloc(12) }), // TCP header cut short
    ipv4({ src: A, dst: S, proto: PROTO_ICMP, payload: Buffer.alloc(4) }), // ICMP cut short
    ipv4({ src: A, dst: S, version: 6, payload: Buffer.alloc(8) }), // not IPv4
    icmpError(R, N, 3, 1, udpIp(N, S, 1999, 53)), // an error about no mapping
    ipv4({ src: A, dst: S, proto: PROTO_ICMP, payload: icmp4({ type: 3, code: 3, payload: Buffer.alloc(10) }) }), // error quoting 10 bytes
    icmpError(S, N, 3, 3, tcpIp(N, S, 1024, 80)), // ... and the same from outside: no mapping
  ];
  const r = await runNat(t, 'drops', gateway({ pass: false }), input);
  const firstOut = ipv4({ src: N, dst: S, proto: 17, mf: true, payload: udp({ src: N, dst: S, sport: 1024, dport: 53, payload: Buffer.alloc(24, 1) }).subarray(0, 16) });
  sameBuffers(t, r.outs[0], [firstOut], 'only the first fragment went out, translated (its checksum still covers the whole datagram)');
  t.equal(r.outs[1].length + r.outs[2].length, 0, 'nothing else');
  t.equal(r.c.drops_no_mapping, 3n, 'drops_no_mapping: the unknown reply and the two errors about no mapping');
  t.equal(r.c.drops_protocol, 1n, 'drops_protocol: GRE');
  t.equal(r.c.drops_fragment, 1n, 'drops_fragment: the later fragment');
  t.equal(r.c.drops_truncated, 3n, 'drops_truncated: the short TCP and ICMP headers and the short quote');
  t.equal(r.c.drops_bad_ip, 1n, 'drops_bad_ip: version 6');
});

t.test('port forwarding (DNAT): in to the inside server, its replies out as the gateway', async (t) => {
  const input = [
    tcpIp(X, N, 33000, 2222, { flags: TCP_SYN, seq: 5 }), // forwarded to I:22
    tcpIp(I, X, 22, 33000, { flags: TCP_SYN | TCP_ACK, seq: 77, ack: 6 }), // the server answers
    udpIp(X, N, 41000, 5000, { payload: 'to the udp service' }), // forwarded to I:5000
    udpIp(I, X, 5000, 41000, { payload: 'back' }),
    tcpIp(X, N, 33001, 2223, { flags: TCP_SYN }), // no rule: passed
    udpIp(X, N, 41001, 2222), // the TCP rule does not forward UDP: passed
    icmpError(I, X, 3, 3, tcpIp(X, I, 33000, 22, { flags: TCP_ACK, seq: 6 })), // the server's error about the flow
  ];
  const r = await runNat(t, 'dnat', gateway({ rules: true }), input);
  sameBuffers(
    t,
    r.outs[1],
    [tcpIp(X, I, 33000, 22, { flags: TCP_SYN, seq: 5 }), udpIp(X, I, 41000, 5000, { payload: 'to the udp service' })],
    'output 1: forwarded to the inside server',
  );
  sameBuffers(
    t,
    r.outs[0],
    [
      tcpIp(N, X, 2222, 33000, { flags: TCP_SYN | TCP_ACK, seq: 77, ack: 6 }),
      udpIp(N, X, 5000, 41000, { payload: 'back' }),
      icmpError(N, X, 3, 3, tcpIp(X, N, 33000, 2222, { flags: TCP_ACK, seq: 6 })),
    ],
    "output 0: the server's replies (and its ICMP error) come from the gateway's address and public port",
  );
  sameBuffers(t, r.outs[2], [input[4], input[5]], 'output 2: what no rule forwards');
  t.ok(checksumsRight([...r.outs[0], ...r.outs[1]]), 'every checksum verifies');
  t.equal(r.c.new_mappings, 2n, '2 mappings');
  t.equal(r.c.icmp_errors_rewritten, 1n, 'one ICMP error rewritten');
  t.match(r.table, new RegExp(`^tcp ${X}:33000 ${N}:2222 => ${X}:33000 ${I}:22 out 1 reply 0 established`, 'm'), 'the table shows the forward');
  const d = await runNat(t, 'dnat-drop', gateway({ rules: true, pass: false }), [input[4], input[0]]);
  t.equal(d.c.drops_no_mapping, 1n, 'without a pass output, what no rule forwards is dropped');
  t.equal(d.outs[1].length, 1, '... and the rest still forwarded');
  tcpdumpVerdict(t, tmpPath('iprw-dnat-out0.pcap'), 'the DNAT outputs');
});

t.test('ICMP errors about translated flows are rewritten for the inside host', async (t) => {
  const query = (src: string, sport: number) => udpIp(src, S, sport, 53, { ttl: 63, id: 99, payload: 'who is there?' });
  const syn = (src: string, sport: number) => tcpIp(src, S, sport, 80, { flags: TCP_SYN, seq: 4242, ttl: 63, id: 5 });
  const ping = (src: string, ident: number) => echo(src, S, 8, ident, 3, { ttl: 1 });
  const input = [
    udpIp(A, S, 5353, 53, { payload: 'who is there?' }), // -> N:1024
    tcpIp(A, S, 41000, 80, { flags: TCP_SYN, seq: 4242 }), // -> N:1024
    echo(A, S, 8, 0xbeef, 3), // -> id 1024
    icmpError(S, N, 3, 3, query(N, 1024)), // port unreachable from the server about the UDP flow
    icmpError(R, N, 11, 0, syn(N, 1024).subarray(0, 28)), // time exceeded quoting 8 bytes of TCP
    icmpError(R, N, 11, 0, ping(N, 1024)), // time exceeded about the echo request
    icmpError(R, N, 3, 4, query(N, 1024).subarray(0, 30)), // quoting 10 bytes of UDP
  ];
  const r = await runNat(t, 'icmperr', gateway(), input);
  t.equal(r.outs[0].length, 3, 'the three flows went out');
  sameBuffers(
    t,
    r.outs[1],
    [
      icmpError(S, A, 3, 3, query(A, 5353)),
      icmpError(R, A, 11, 0, syn(A, 41000).subarray(0, 28)),
      icmpError(R, A, 11, 0, ping(A, 0xbeef)),
      icmpError(R, A, 3, 4, query(A, 5353).subarray(0, 30)),
    ],
    'the errors reach A quoting its packets as it sent them (outer and quoted checksums all right)',
  );
  t.ok(r.outs[1].every((p) => verifyIpv4Checksum(p) && verifyL4Checksum(p)), 'outer IP and ICMP checksums verify');
  t.ok(verifyL4Checksum(r.outs[1][0].subarray(28)) && verifyIpv4Checksum(r.outs[1][0].subarray(28)), 'the quoted UDP datagram verifies');
  t.ok(verifyL4Checksum(r.outs[1][2].subarray(28)), 'the quoted echo request verifies');
  t.equal(r.c.icmp_errors_rewritten, 4n, 'icmp_errors_rewritten: 4');
  t.equal(r.c.rewritten, 3n, 'errors are not counted as rewritten packets');
  t.equal(zero(r.c, DROPS), 0n, 'no drops');
  tcpdumpVerdict(t, tmpPath('iprw-icmperr-out1.pcap'), 'the rewritten errors');
});

t.test('keep: connection tracking without rewriting', async (t) => {
  const input = [udpIp(A, S, 1000, 2000), udpIp(S, A, 2000, 1000), udpIp(S, A, 2000, 1001), echo(A, S, 8, 5, 1), echo(S, A, 0, 5, 1)];
  const r = await runNat(t, 'keep', { inputs: [{ kind: 'keep', forward: 0, reply: 1 }, { kind: 'drop' }] }, input);
  sameBuffers(t, r.outs[0], [input[0], input[3]], 'forward packets unchanged on output 0');
  sameBuffers(t, r.outs[1], [input[1], input[4]], 'replies unchanged on output 1');
  t.equal(r.c.drops_no_mapping, 1n, 'an unrelated packet from outside is dropped');
});

t.test('port preservation: a flow keeps its source port or echo identifier when free; the second host gets another', async (t) => {
  const input = [
    udpIp(A, S, 40000, 53, { payload: 'a' }), // keeps 40000
    udpIp(B, S, 40000, 53, { payload: 'b' }), // 40000 is taken: the first free one, 1024
    tcpIp(A, S, 40000, 80, { flags: TCP_SYN }), // TCP has its own ports: keeps 40000
    echo(A, S, 8, 0x1234, 1), // keeps identifier 0x1234
    echo(B, S, 8, 0x1234, 1), // taken: 1024
    udpIp(A, S, 80, 53, { payload: 'c' }), // below the range: handed out, 1025
    udpIp(A, X, 40000, 53, { payload: 'd' }), // each mapping holds its own port: 1026
    udpIp(S, N, 53, 40000, { payload: 'to a' }),
    udpIp(S, N, 53, 1024, { payload: 'to b' }),
    echo(S, N, 0, 0x1234, 1),
    echo(S, N, 0, 1024, 1),
  ];
  const r = await runNat(t, 'preserve', gateway({ preservePort: true }), input);
  sameBuffers(
    t,
    r.outs[0],
    [
      udpIp(N, S, 40000, 53, { payload: 'a' }),
      udpIp(N, S, 1024, 53, { payload: 'b' }),
      tcpIp(N, S, 40000, 80, { flags: TCP_SYN }),
      echo(N, S, 8, 0x1234, 1),
      echo(N, S, 8, 1024, 1),
      udpIp(N, S, 1025, 53, { payload: 'c' }),
      udpIp(N, X, 1026, 53, { payload: 'd' }),
    ],
    'own ports kept where free, others handed out in order',
  );
  sameBuffers(t, r.outs[1], [udpIp(S, A, 53, 40000, { payload: 'to a' }), udpIp(S, B, 53, 40000, { payload: 'to b' }), echo(S, A, 0, 0x1234, 1), echo(S, B, 0, 0x1234, 1)], 'replies reach the right host');
  t.ok(checksumsRight([...r.outs[0], ...r.outs[1]]), 'checksums right');
  t.equal(r.c.new_mappings, 7n);
  t.equal(zero(r.c, DROPS), 0n, 'no drops');

  // The default is to preserve; a narrower range, or preservePort: false, hands out ports in order.
  const dflt = await runNat(t, 'preserve-default', { inputs: [{ kind: 'snat', address: N, forward: 0, reply: 1 }, { kind: 'drop' }] }, input.slice(0, 2));
  sameBuffers(t, dflt.outs[0], [udpIp(N, S, 40000, 53, { payload: 'a' }), udpIp(N, S, 1024, 53, { payload: 'b' })], 'preservation is the default');
  const narrow = await runNat(t, 'preserve-narrow', gateway({ ports: '30000-30010', preservePort: true }), [input[0], udpIp(A, S, 30005, 53, { payload: 'e' })]);
  sameBuffers(t, narrow.outs[0], [udpIp(N, S, 30000, 53, { payload: 'a' }), udpIp(N, S, 30005, 53, { payload: 'e' })], 'a port outside the range is replaced; one inside is kept');
  const off = await runNat(t, 'preserve-off', gateway(), input.slice(0, 2));
  sameBuffers(t, off.outs[0], [udpIp(N, S, 1024, 53, { payload: 'a' }), udpIp(N, S, 1025, 53, { payload: 'b' })], 'preservePort: false hands out ports in order');
  tcpdumpVerdict(t, tmpPath('iprw-preserve-out0.pcap'), 'the preserved flows');
});

t.test('port exhaustion with a tiny range; the capacity limit', async (t) => {
  const input = [
    udpIp(A, S, 1, 53), // 3000
    udpIp(A, S, 2, 53), // 3001
    udpIp(B, S, 3, 53), // no port left
    udpIp(A, S, 1, 53), // its mapping still works
    tcpIp(A, S, 1, 80, { flags: TCP_SYN }), // TCP has its own ports: 3000
    echo(A, S, 8, 9, 1), // and so has ICMP: 3000
    udpIp(S, N, 53, 3001), // the second flow's reply
  ];
  const r = await runNat(t, 'ports', gateway({ ports: '3000-3001' }), input);
  sameBuffers(
    t,
    r.outs[0],
    [udpIp(N, S, 3000, 53), udpIp(N, S, 3001, 53), udpIp(N, S, 3000, 53), tcpIp(N, S, 3000, 80, { flags: TCP_SYN }), echo(N, S, 8, 3000, 1)],
    'ports 3000 and 3001 handed out per protocol',
  );
  sameBuffers(t, r.outs[1], [udpIp(S, A, 53, 2)], 'the reply mapped back');
  t.equal(r.c.drops_no_port, 1n, 'drops_no_port: the third UDP flow');

  const reserved: NatConfig = {
    inputs: [
      { kind: 'snat', address: N, ports: '2222-2223', forward: 0, reply: 1 },
      { kind: 'dnat', rules: [{ proto: 'tcp', port: 2222, to: I }], forward: 1, reply: 0 },
    ],
  };
  const res = await runNat(t, 'reserved', reserved, [tcpIp(A, S, 1, 80, { flags: TCP_SYN }), udpIp(A, S, 1, 53), tcpIp(A, S, 2, 80, { flags: TCP_SYN })]);
  sameBuffers(t, res.outs[0], [tcpIp(N, S, 2223, 80, { flags: TCP_SYN }), udpIp(N, S, 2222, 53)], 'a forwarded TCP port is never handed out by source NAT (UDP may use it)');
  t.equal(res.c.drops_no_port, 1n, '... so the range holds one TCP flow');

  const cap = await runNat(t, 'capacity', { ...gateway(), capacity: 2 }, [udpIp(A, S, 1, 53), udpIp(A, S, 2, 53), udpIp(A, S, 3, 53), udpIp(S, N, 53, 1024)]);
  t.equal(cap.outs[0].length, 2, 'two flows mapped');
  t.equal(cap.c.drops_table_full, 1n, 'drops_table_full: the third');
  t.equal(cap.mappings, 2, 'the table holds 2');
  sameBuffers(t, cap.outs[1], [udpIp(S, A, 53, 1)], 'existing mappings keep working');
});

t.test('timeouts: idle mappings expire, their ports are reused; TCP after FINs expires sooner', async (t) => {
  // Timeouts of 0.3 s; what must expire has at least 0.6 s to do so (a busy machine may delay packets).
  const config: NatConfig = { ...gateway({ ports: '3000-3000' }), udpTimeout: 0.3, tcpTimeout: 5, tcpTransitoryTimeout: 0.3, icmpTimeout: 0.3 };
  const schedule: [number, Buffer][] = [
    [0, udpIp(A, S, 1111, 53)], // 3000
    [30, udpIp(B, S, 2222, 53)], // no port
    [60, udpIp(S, N, 53, 3000)], // reply: to A; the mapping lives until 360
    [80, tcpIp(A, S, 40000, 80, { flags: TCP_SYN })], // TCP 3000, transitory
    [100, tcpIp(S, N, 80, 3000, { flags: TCP_SYN | TCP_ACK })], // established: 5 s
    [1000, udpIp(S, N, 53, 3000)], // expired: passed to output 2
    [1020, udpIp(B, S, 2222, 53)], // port 3000 free again: B gets it
    [1040, udpIp(S, N, 53, 3000)], // to B
    [1060, tcpIp(A, S, 40000, 80, { flags: TCP_ACK })], // still established after 960 ms idle
    [1080, tcpIp(A, S, 40000, 80, { flags: TCP_FIN | TCP_ACK })],
    [1100, tcpIp(S, N, 80, 3000, { flags: TCP_FIN | TCP_ACK })], // both FINs: transitory, until 1400
    [2000, tcpIp(S, N, 80, 3000, { flags: TCP_ACK })], // expired: passed
  ];
  const r = await runNat(
    t,
    'timeouts',
    config,
    schedule.map((s) => s[1]),
    schedule.map((s) => s[0]),
  );
  sameBuffers(
    t,
    r.outs[1],
    [udpIp(S, A, 53, 1111), tcpIp(S, A, 80, 40000, { flags: TCP_SYN | TCP_ACK }), udpIp(S, B, 53, 2222), tcpIp(S, A, 80, 40000, { flags: TCP_FIN | TCP_ACK })],
    'replies mapped back while their mappings lived',
  );
  sameBuffers(t, r.outs[2], [schedule[5][1], schedule[11][1]], 'replies after expiry passed unchanged');
  sameBuffers(
    t,
    r.outs[0],
    [udpIp(N, S, 3000, 53), tcpIp(N, S, 3000, 80, { flags: TCP_SYN }), udpIp(N, S, 3000, 53), tcpIp(N, S, 3000, 80, { flags: TCP_ACK }), tcpIp(N, S, 3000, 80, { flags: TCP_FIN | TCP_ACK })],
    "B's flow got the expired flow's port",
  );
  t.equal(r.c.drops_no_port, 1n, 'while A held the only port, B was refused');
  t.ok(r.c.expired >= 2n, `expired mappings counted (${r.c.expired})`);
});

t.test('handlers: clear', async (t) => {
  const inFile = tmpPath('iprw-clear-in.pcap');
  cleanup.push(inFile);
  writePcap(inFile, [udpIp(A, S, 1, 53), udpIp(A, S, 2, 53)].map((data) => ({ data })), { linktype: LINKTYPE_RAW });
  const plan = compile(
    graph('iprw-clear', () => {
      const nat = IPRewriter(gateway(), 'nat');
      FromPcap({ file: inFile }).to(nat.in(0));
      FromPcap({ file: inFile, active: false }).to(nat.in(1));
      for (let o = 0; o < 3; o++) nat.out(o).to(ToPcap({ file: '/dev/null', linktype: LINKTYPE_RAW }));
    }),
  );
  const rt = new Runtime({ threads: 1, poolBuffers: 1024 });
  t.teardown(() => rt.close());
  const g = rt.load(plan);
  rt.start();
  const deadline = Date.now() + 5000;
  while (g.counter('nat', 'new_mappings') < 2n && Date.now() < deadline) await sleep(10);
  t.equal(g.read('nat', 'mappings'), '2', 'two mappings');
  g.write('nat', 'clear', '');
  t.equal(g.read('nat', 'mappings'), '0', 'clear removed them');
  t.equal(g.read('nat', 'table'), '', 'the table is empty');
  t.same(
    g.handlers('nat').map((h) => h.name).filter((n) => ['mappings', 'table', 'clear'].includes(n)),
    ['mappings', 'table', 'clear'],
    'the handlers are listed',
  );
  rt.stop();
  g.remove();
});

t.test('two workers pushing at once: every flow mapped once, nothing lost', async (t) => {
  const n = 3000;
  const inside = Array.from({ length: n }, (_, i) => udpIp(`198.18.1.${2 + (i % 200)}`, S, 10000 + i, 53));
  const outside = Array.from({ length: n }, (_, i) => udpIp(X, N, 20000 + (i % 1000), 60000 - i));
  const files = [inside, outside].map((pk, i) => {
    const f = tmpPath(`iprw-mt-in${i}.pcap`);
    cleanup.push(f);
    writePcap(f, pk.map((data) => ({ data })), { linktype: LINKTYPE_RAW });
    return f;
  });
  const outFiles = [0, 1, 2].map((o) => tmpPath(`iprw-mt-out${o}.pcap`));
  cleanup.push(...outFiles);
  const plan = compile(
    graph('iprw-mt', () => {
      const nat = IPRewriter(gateway(), 'nat');
      FromPcap({ file: files[0], repeat: 2 }).to(nat.in(0));
      FromPcap({ file: files[1], repeat: 2 }).to(nat.in(1));
      outFiles.forEach((f, o) => nat.out(o).to(ToPcap({ file: f, linktype: LINKTYPE_RAW })));
    }),
  );
  const rt = new Runtime({ threads: 2, poolBuffers: 8192 });
  t.teardown(() => rt.close());
  const g = rt.load(plan);
  rt.start();
  const deadline = Date.now() + 15_000;
  while (!g.drained() && Date.now() < deadline) await sleep(10);
  await sleep(20);
  const c = g.counters('nat');
  t.equal(g.read('nat', 'mappings'), String(n), `${n} mappings`);
  rt.stop();
  g.remove();
  t.equal(c.new_mappings, BigInt(n), `${n} made (the second pass used them)`);
  t.equal(c.rewritten, BigInt(2 * n), 'every inside packet rewritten');
  t.equal(c.passed, BigInt(2 * n), 'every outside packet passed');
  const out0 = readPcap(outFiles[0]).packets.map((p) => p.data);
  const ports = new Set(out0.map((p) => p.readUInt16BE(20)));
  t.equal(ports.size, n, 'each flow its own port');
  t.ok(checksumsRight(out0), 'checksums right');
});

t.test('config errors name the field', async (t) => {
  const build = (config: NatConfig, outputs = 2, inputs = 2) =>
    graph('iprw-bad', () => {
      const nat = IPRewriter(config, 'nat');
      for (let i = 0; i < inputs; i++) FromPcap({ file: '/dev/null' }).to(nat.in(i));
      for (let o = 0; o < outputs; o++) nat.out(o).to(ToPcap({ file: '/dev/null' }));
    });
  t.throws(() => compile(build({ inputs: [{ kind: 'snat', address: N, forward: 0, reply: 1 }] })), /'nat' \(IPRewriter\).*inputs: 1 input spec\(s\) but 2 input\(s\) connected/);
  t.throws(
    () => compile(build({ inputs: [{ kind: 'snat', address: N, forward: 0, reply: 2 }, { kind: 'drop' }] })),
    /inputs\[0\]\.reply: output 2 does not exist \(2 output\(s\) connected\)/,
  );
  t.throws(() => compile(build({ inputs: [{ kind: 'snat', address: N, ports: '2000-1000', forward: 0, reply: 1 }, { kind: 'drop' }] })), /inputs\[0\]\.ports: '2000-1000' is not 'LOW-HIGH'/);
  t.throws(
    () =>
      compile(
        build({
          inputs: [
            { kind: 'snat', address: N, ports: '2000-3000', forward: 0, reply: 1 },
            { kind: 'snat', address: N, forward: 1, reply: 0 },
          ],
        }),
      ),
    /inputs\[1\]\.ports: address 198\.18\.2\.1 is used by another snat spec/,
  );
  t.throws(() => compile(build({ inputs: [{ kind: 'snat', address: '198.18.2', forward: 0, reply: 1 }, { kind: 'drop' }] })), /inputs/);
});

t.test('the plan carries the specs normalised; the native side reads only them and checks them again', async (t) => {
  const empty = tmpPath('iprw-plan-in.pcap');
  writePcap(empty, []);
  const outs = [0, 1, 2].map((o) => tmpPath(`iprw-plan-out${o}.pcap`));
  t.teardown(() => [empty, ...outs].forEach((f) => rmSync(f, { force: true })));
  const plan = compile(
    graph('iprw-plan', () => {
      const nat = IPRewriter({ ...gateway({ rules: true }), capacity: 16 }, 'nat');
      for (let i = 0; i < 2; i++) FromPcap({ file: empty }).to(nat.in(i));
      for (let o = 0; o < 3; o++) nat.out(o).to(ToPcap({ file: outs[o] }));
    }),
  );
  const nat = plan.elements.find((e) => e.name === 'nat')!;
  t.same(
    nat.config.specs,
    [
      { kind: 'snat', forward: 0, reply: 1, pass: -1, address: 0xc6120201, low: 1024, high: 65535, preservePort: false, rules: [] },
      {
        kind: 'dnat',
        forward: 1,
        reply: 0,
        pass: 2,
        address: 0,
        low: 0,
        high: 0,
        preservePort: false,
        rules: [
          { proto: 6, port: 2222, to: 0xc6120105, toPort: 22, address: 0 },
          { proto: 17, port: 5000, to: 0xc6120105, toPort: 5000, address: 0 },
        ],
      },
    ],
    'addresses as numbers, the default range and toPort filled in, protocols as numbers, absent outputs -1',
  );
  const rt = new Runtime({ threads: 1, poolBuffers: 256 });
  try {
    const load = (edit: (specs: Record<string, unknown>[]) => void) => () => {
      const p = structuredClone(plan);
      const e = p.elements.find((x) => x.name === 'nat')!;
      edit(e.config.specs as Record<string, unknown>[]);
      rt.load(p).remove();
    };
    t.doesNotThrow(load(() => {}), 'the compiled plan loads');
    t.doesNotThrow(
      load((s) => {
        (s[0] as { address: number }).address = 0xc6120299;
        (s[1].rules as { to: number }[])[0].to = 0xc6120106;
      }),
      'the engine follows the numbers, not the text of inputs',
    );
    const bad: [(s: Record<string, unknown>[]) => void, RegExp][] = [
      [(s) => (s[0].address = 2 ** 32), /specs\[0\]\.address: an integer from 0 to 4294967295/],
      [(s) => (s[0].address = '198.18.2.1'), /specs\[0\]\.address: an integer/],
      [(s) => (s[0].low = 0), /specs\[0\]\.low: an integer from 1 to 65535/],
      [(s) => ((s[0].low = 3000), (s[0].high = 2000)), /specs\[0\]\.high: an integer from 3000 to 65535/],
      [(s) => (s[0].reply = 3), /specs\[0\]\.reply: output 3 does not exist \(3 output\(s\) connected\)/],
      [(s) => ((s[1].rules as { proto: number }[])[1].proto = 1), /specs\[1\]\.rules\[1\]\.proto: 6 \(TCP\) or 17 \(UDP\)/],
      [(s) => ((s[1].rules as { to?: number }[])[0].to = undefined), /specs\[1\]\.rules\[0\]\.to: an integer/],
      [(s) => (s[1].kind = 'nat'), /specs\[1\]\.kind: 'nat' is not one of/],
      [(s) => s.pop(), /specs: 1 input spec\(s\) but 2 input\(s\) connected/],
    ];
    for (const [edit, re] of bad) t.throws(load(edit), new RegExp(`element 'nat' \\(IPRewriter\\): ${re.source}`), re.source);
  } finally {
    rt.close();
  }
  t.throws(
    () =>
      compile(
        graph('iprw-specs', () => {
          const nat = IPRewriter({ inputs: [{ kind: 'drop' }], specs: [] }, 'nat');
          FromPcap({ file: '/dev/null' }).to(nat).to(ToPcap({ file: '/dev/null' }));
        }),
      ),
    /'nat' \(IPRewriter\).*config field 'specs' is filled in by the compiler from 'inputs': leave it out/,
  );
});
