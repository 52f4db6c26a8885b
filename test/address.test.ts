// The TypeScript address parsers (src/util/address.ts) accept exactly what the native side's
// inet_pton(3) accepts, and read the same bytes: a table of valid and invalid inputs (hand-picked
// edge cases plus random mutations of valid ones) is checked against libc's inet_pton through
// Python's socket module, an independent caller of the same function, and against Node's net module. Formatting agrees with
// inet_ntop, prefixes and MACs parse as the native side reads them.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { isIPv4, isIPv6 } from 'node:net';
import { ipv4Address } from '../src/graph/types.js';
import { checkLabAddress } from '../src/lab/lab.js';
import { compile, graph, InfiniteSource, ICMP6Error, Discard, IPLookup, LookupIP6Route, Runtime } from 'pktgraph';
import { subnetBroadcast } from '../elements/ethernet/ARPQuerier.js';
import { arpEntryError } from '../elements/ethernet/ARPResponder.js';
import { formatIPv4, formatIPv6, ipv6Bytes, netmaskLength, parseIP, parseIPv4, parseIPv6, parseMac, parsePrefix } from '../src/util/address.js';

const hasPython = spawnSync('python3', ['-c', 'import socket'], { stdio: 'ignore' }).status === 0;

/** libc's verdicts for each input: the address as hex bytes, or null when inet_pton refuses it. */
function libc(family: 4 | 6, inputs: string[]): (string | null)[] {
  const py = `
import json, socket, sys
fam = socket.AF_INET if sys.argv[1] == '4' else socket.AF_INET6
out = []
for s in json.load(sys.stdin):
    try: out.append(socket.inet_pton(fam, s).hex())
    except (OSError, ValueError, UnicodeEncodeError): out.append(None)
print(json.dumps(out))
`;
  const r = spawnSync('python3', ['-c', py, String(family)], { input: JSON.stringify(inputs), encoding: 'utf8' });
  if (r.status !== 0) throw new Error(r.stderr);
  return JSON.parse(r.stdout);
}

const hex = (v: bigint | number, bytes: number) => v.toString(16).padStart(2 * bytes, '0');

const v4Table = [
  '0.0.0.0', '255.255.255.255', '198.18.0.1', '1.2.3.4', '01.2.3.4', '1.2.3.04', '00.0.0.0', '1.2.3.256', '1.2.3', '1.2.3.4.',
  '.1.2.3.4', '1..2.3', '1.2.3.4.5', '1234.1.1.1', ' 1.2.3.4', '1.2.3.4 ', '1.2.3.-4', '1.2.3.+4', '0x1.2.3.4', '1.2.3.4/24',
  '', '.', '999.1.1.1', '10', '1.2.3.4\n', '١.2.3.4',
];
const v6Table = [
  '::', '::1', '1::', 'fd00::1', 'FD00::A', '2001:db8::1', '1:2:3:4:5:6:7:8', '1:2:3:4:5:6:7::', '::2:3:4:5:6:7:8', '1:2:3:4:5:6:7:8:9',
  '1:2:3:4:5:6:7', '1::2::3', ':::', ':1::2', '1::2:', '1:2:3:4:5:6:7:8::', '::1:2:3:4:5:6:7:8', '12345::', '0000:0000::', '00000::',
  '::ffff:198.18.0.1', '::FFFF:1.2.3.4', '::1.2.3.4', '64:ff9b::198.18.0.1', '1:2:3:4:5:6:1.2.3.4', '1:2:3:4:5:6:7:1.2.3.4',
  '::1:2:3:4:5:6:1.2.3.4', '1::1:2:3:4:5:1.2.3.4', '::ffff:01.2.3.4', '::ffff:1.2.3', '::ffff:1.2.3.4.5', '::ffff:256.1.1.1',
  '1.2.3.4', ':1.2.3.4', '::1.2.3.4:5', '1.2.3.4::', 'fd00::1/64', 'fd00::g', ' ::1', '::1 ', 'fe80::1%eth0', '', ':', '1:',
  '::ffff:1.2.3.4:', 'ffff::ffff:ffff:ffff:ffff:ffff:ffff', 'a:b:c:d:e:f:1.2.3.4', '::0:0:0:0:0:0:0',
];

/** Random mutations of valid addresses: drop, duplicate or replace a character. */
function mutations(seeds: string[], n: number): string[] {
  let x = 12345;
  const rnd = (k: number) => ((x = (Math.imul(x, 1103515245) + 12345) >>> 0) % k);
  const alphabet = '0123456789abcdefABCDEF:.x ';
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    let s = seeds[rnd(seeds.length)];
    for (let k = 1 + rnd(2); k > 0; k--) {
      const p = rnd(s.length + 1);
      const op = rnd(3);
      const c = alphabet[rnd(alphabet.length)];
      s = op === 0 ? s.slice(0, p) + s.slice(p + 1) : op === 1 ? s.slice(0, p) + c + s.slice(p) : s.slice(0, p) + c + s.slice(p + 1);
    }
    out.push(s);
  }
  return out;
}

t.test('IPv4 and IPv6 parsing agrees with inet_pton', { skip: !hasPython && 'python3 is not installed (the libc oracle)' }, async (t) => {
  const v4 = [...v4Table, ...mutations(['198.18.0.1', '255.255.255.255', '10.0.0.0', '1.2.3.4'], 3000)];
  const want4 = libc(4, v4);
  let bad4 = 0;
  for (const [i, s] of v4.entries()) {
    const got = parseIPv4(s);
    const g = got === undefined ? null : hex(got, 4);
    if (g !== want4[i] && bad4++ < 10) t.fail(`parseIPv4(${JSON.stringify(s)}) = ${g}, inet_pton says ${want4[i]}`);
  }
  t.equal(bad4, 0, `${v4.length} IPv4 inputs (${want4.filter((x) => x).length} valid): every verdict and value agrees with inet_pton`);
  const schema = new RegExp((ipv4Address('') as { pattern?: string }).pattern!);
  t.same(v4.filter((s) => schema.test(s) !== (parseIPv4(s) !== undefined)), [], "the descriptors' ipv4Address schema accepts the same inputs");

  const v6 = [...v6Table, ...mutations(['fd00::1', '2001:db8:0:1:2:3:4:5', '::ffff:198.18.0.1', '64:ff9b::1.2.3.4', '1:2:3:4:5:6:7:8', '::'], 6000)];
  const want6 = libc(6, v6);
  let bad6 = 0;
  for (const [i, s] of v6.entries()) {
    const got = parseIPv6(s);
    const g = got === undefined ? null : hex(got, 16);
    if (g !== want6[i] && bad6++ < 10) t.fail(`parseIPv6(${JSON.stringify(s)}) = ${g}, inet_pton says ${want6[i]}`);
  }
  t.equal(bad6, 0, `${v6.length} IPv6 inputs (${want6.filter((x) => x).length} valid): every verdict and value agrees with inet_pton`);
});

// The native side parses text only where it arrives at run time (native/address.h: handlers,
// route files): through the lookups' handlers, the same table against the same libc verdicts.
t.test('the native parser of handler text (native/address.h) agrees with inet_pton', { skip: !hasPython && 'python3 is not installed (the libc oracle)' }, async (t) => {
  const rt = new Runtime({ threads: 1, poolBuffers: 256 });
  t.teardown(() => rt.close());
  const g = rt.load(compile(graph('native-parse', () => {
    InfiniteSource({ limit: 0 }).to(IPLookup({ routes: ['default dev 0'] }, 'rt')).to(LookupIP6Route({ routes: ['default dev 0'] }, 'rt6')).to(Discard());
  })));
  // The handlers trim white space at the ends of their value (and N-API strings end at a NUL).
  const usable = (s: string) => s === s.trim() && !s.includes('\0') && !s.includes('#');
  for (const [family, el, inputs] of [
    [4, 'rt', [...v4Table, ...mutations(['198.18.0.1', '255.255.255.255', '10.0.0.0', '1.2.3.4'], 3000)].filter(usable)],
    [6, 'rt6', [...v6Table, ...mutations(['fd00::1', '2001:db8:0:1:2:3:4:5', '::ffff:198.18.0.1', '64:ff9b::1.2.3.4', '::'], 3000)].filter(usable)],
  ] as const) {
    const want = libc(family, inputs);
    const verdicts = inputs.map((s) => {
      try {
        g.write(el, 'lookup', s);
        return true;
      } catch {
        return false;
      }
    });
    t.same(inputs.filter((s, i) => verdicts[i] !== (want[i] !== null)), [], `IPv${family}: ${inputs.length} inputs, the native parser accepts exactly what inet_pton accepts`);
    // Values: every valid input as a host route; the table prints each address the parser read.
    const valid = [...new Map(inputs.map((s, i) => [want[i], s] as const).filter(([w]) => w !== null)).entries()];
    g.write(el, 'set', valid.map(([, s]) => `${s} 0`).join('\n'));
    const read = g.read(el, 'table').trim().split('\n').map((l) => l.split('/')[0]);
    const asHex = (a: string) => (family === 4 ? hex(parseIPv4(a)!, 4) : hex(parseIPv6(a)!, 16));
    t.same(new Set(read.map(asHex)), new Set(valid.map(([w]) => w)), `IPv${family}: ${valid.length} distinct addresses read as inet_pton reads them`);
  }
});

t.test("verdicts agree with Node's net.isIPv4/isIPv6 (libuv's own inet_pton) on random inputs", async (t) => {
  // Node also accepts an IPv6 zone ('fe80::1%eth0'), which inet_pton does not: inputs with '%'
  // are left out.
  const inputs = [...v4Table, ...v6Table, ...mutations(['fd00::1', '::ffff:198.18.0.1', '64:ff9b::1.2.3.4', '1:2:3:4:5:6:7:8', '198.18.0.1', '::'], 50000)].filter(
    (s) => !s.includes('%'),
  );
  t.same(inputs.filter((s) => isIPv4(s) !== (parseIPv4(s) !== undefined)), [], `${inputs.length} inputs: parseIPv4 accepts what isIPv4 accepts`);
  t.same(inputs.filter((s) => isIPv6(s) !== (parseIPv6(s) !== undefined)), [], 'parseIPv6 accepts what isIPv6 accepts');
});

t.test('formatting agrees with inet_ntop and round-trips', { skip: !hasPython && 'python3 is not installed (the libc oracle)' }, async (t) => {
  const addrs = ['::', '::1', '1::', 'fd00::1', '2001:db8:0:0:1:0:0:1', '2001:0:0:1::1', '::ffff:198.18.0.1', '::1.2.3.4', '1:0:1:0:1:0:1:0', 'fd00:0:0:1::', '0:0:1::'];
  const r = spawnSync('python3', ['-c', 'import json,socket,sys\nprint(json.dumps([socket.inet_ntop(socket.AF_INET6, socket.inet_pton(socket.AF_INET6, s)) for s in json.load(sys.stdin)]))'], {
    input: JSON.stringify(addrs),
    encoding: 'utf8',
  });
  const want: string[] = JSON.parse(r.stdout);
  t.same(addrs.map((a) => formatIPv6(parseIPv6(a)!)), want, 'formatIPv6 prints what inet_ntop prints');
  for (const a of want) t.equal(formatIPv6(parseIPv6(a)!), a, `${a} round-trips`);
  t.equal(formatIPv4(parseIPv4('198.18.255.0')!), '198.18.255.0');
  t.equal(formatIPv4(0xffffffffn), '255.255.255.255', 'bigints too');
});

t.test('prefixes', async (t) => {
  t.same(parsePrefix('198.18.1.254/24'), { width: 32, addr: 0xc61201fen, len: 24, net: 0xc6120100n }, 'IPv4, host bits kept in addr');
  t.same(parsePrefix('::ffff:198.18.0.1/120', { width: 128 }), { width: 128, addr: 0xffffc6120001n, len: 120, net: 0xffffc6120000n }, 'embedded IPv4');
  t.equal(parsePrefix('198.18.1.1', {}), "'198.18.1.1' is not an IPv4 or IPv6 prefix ADDRESS/LENGTH", 'a bare address is refused unless allowed');
  t.equal((parsePrefix('198.18.1.1', { bareAddress: true }) as { len: number }).len, 32, 'a bare address is a host prefix');
  t.equal(parsePrefix('10.0.0.1/8', { strict: true }), "'10.0.0.1/8' has bits set beyond its length (did you mean 10.0.0.0/8?)");
  t.equal(parsePrefix('fd00::1/8', { strict: true }), "'fd00::1/8' has bits set beyond its length (did you mean fd00::/8?)");
  t.equal(parsePrefix('10.0.0.0/33'), "prefix length '33' must be a number from 0 to 32");
  t.equal(parsePrefix('10.0.0.0/08'), "prefix length '08' must be a number from 0 to 32", 'no leading zeros in lengths');
  t.equal(parsePrefix('fd00::/129'), "prefix length '129' must be a number from 0 to 128");
  t.equal(parsePrefix('fd00::/64', { width: 32 }), "'fd00::' is not an IPv4 address", 'the family is checked');
  t.equal(parsePrefix('0.0.0.0/0', { strict: true, width: 32 }).toString(), '[object Object]', 'the default route');
  // Click's dotted netmasks, where asked for (ARPResponder).
  t.same([0, 1, 8, 23, 24, 31, 32].map((len) => netmaskLength(formatIPv4(len ? (0xffffffffn << BigInt(32 - len)) & 0xffffffffn : 0n))), [0, 1, 8, 23, 24, 31, 32], 'every length from its mask');
  for (const bad of ['255.0.255.0', '0.0.0.255', '255.255.255.254x', '255.255.254.1']) t.equal(netmaskLength(bad), undefined, `${bad} is not a netmask`);
  t.same(parsePrefix('198.18.0.7/255.255.255.0', { netmask: true }), { width: 32, addr: 0xc6120007n, len: 24, net: 0xc6120000n }, 'a dotted netmask');
  t.equal(parsePrefix('198.18.0.0/255.0.255.0', { netmask: true }), "netmask '255.0.255.0' is not a dotted IPv4 netmask with its one bits together at the top (like 255.255.255.0)");
  t.equal(parsePrefix('198.18.0.0/255.255.255.0'), "prefix length '255.255.255.0' must be a number from 0 to 32", 'only where asked for');
  t.same(parseIP('fd00::1'), { width: 128, addr: 0xfd000000000000000000000000000001n });
  t.same(ipv6Bytes(parseIPv6('fd00::ffff:198.18.0.1')!), [0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 198, 18, 0, 1], 'bytes in network order');
});

t.test('MAC addresses as the native parse_mac reads them', async (t) => {
  t.same(parseMac('02:00:00:00:00:0a'), [2, 0, 0, 0, 0, 10]);
  t.same(parseMac('FF:ff:FF:ff:FF:ff'), [255, 255, 255, 255, 255, 255], 'either case');
  for (const bad of ['02:00:00:00:00', '02:00:00:00:00:00:00', '2:0:0:0:0:1', '02-00-00-00-00-01', '020000000001', '02:00:00:00:00:0g', ' 02:00:00:00:00:01'])
    t.equal(parseMac(bad), undefined, `'${bad}' is refused`);
});

t.test("the lab's address check (src/lab/lab.ts) reads addresses with the same parsers", async (t) => {
  t.equal(checkLabAddress('198.18.0.1', 'a'), 4);
  t.equal(checkLabAddress('198.19.255.254/24', 'a'), 4);
  t.equal(checkLabAddress('fd00::1/64', 'a'), 6);
  t.equal(checkLabAddress('fd12:3456::198.18.0.1', 'a'), 6, 'an embedded IPv4 address in a lab IPv6 address');
  t.throws(() => checkLabAddress('198.20.0.1', 'a'), /'198\.20\.0\.1' is outside 198\.18\.0\.0\/15/);
  t.throws(() => checkLabAddress('198.18.0.0/14', 'a'), /outside 198\.18\.0\.0\/15/, 'a prefix wider than the lab range');
  t.throws(() => checkLabAddress('::ffff:198.18.0.1', 'a'), /outside fd00::\/8/, 'an IPv4-mapped address is IPv6, outside fd00::/8');
  t.throws(() => checkLabAddress('::fd00:1', 'a'), /outside fd00::\/8/, 'the first byte, not the first written group, decides');
  t.throws(() => checkLabAddress('198.18.0.01', 'a'), /'198\.18\.0\.01' is not an IPv4 or IPv6 address/, 'a leading zero (inet_pton refuses it)');
  t.throws(() => checkLabAddress('fd00::1/129', 'a'), /bad prefix length in 'fd00::1\/129'/);
  t.throws(() => checkLabAddress('198.18.0.1/24/1', 'a'), /is not an address or prefix/);
});

t.test('descriptor checks read addresses with the same parsers', async (t) => {
  t.equal(subnetBroadcast('198.18.1.7/24'), '198.18.1.255', "ARPQuerier's subnet broadcast");
  t.equal(subnetBroadcast('198.18.1.7/30'), '198.18.1.7');
  t.equal(subnetBroadcast('198.18.1.7/31'), '255.255.255.255', 'no broadcast address on /31 (RFC 3021)');
  t.equal(subnetBroadcast('198.18.1.7'), '255.255.255.255');
  t.equal(arpEntryError('198.18.0.1 198.18.7.0/24 02:00:00:00:00:01'), undefined);
  t.match(arpEntryError('198.18.0.01 02:00:00:00:00:01'), /'198\.18\.0\.01' is not an IPv4 address/, 'a leading zero, refused as inet_pton refuses it');
  t.match(arpEntryError('198.18.0.0/08 02:00:00:00:00:01'), /'\/08': a prefix length is a number at most 32/);
  t.match(arpEntryError('198.18.0.1 02:00:00:00:00:1'), /is not 'ADDRESS\[\/LEN\] \.\.\. MAC'/);
  const icmp6 = (src: string) => () => compile(graph('g', () => InfiniteSource({ limit: 0 }).to(ICMP6Error({ src, type: 1, code: 0 }, 'e')).to(Discard())));
  t.doesNotThrow(icmp6('fd00::198.18.0.1'), "ICMP6Error's src in the embedded IPv4 form, as inet_pton reads it");
  t.throws(icmp6('fd00::198.18.0.01'), /element 'e' \(ICMP6Error\).*config field 'src': 'fd00::198\.18\.0\.01' is not an IPv6 address/, 'the compiler checks an address field with the same parser');
  t.throws(icmp6('ff02::1.2.3.4'), /is a multicast address/);
});
