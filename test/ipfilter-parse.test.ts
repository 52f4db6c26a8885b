// The tcpdump-expression parser and compiler on their own: errors name the token and its
// position; precedence, abbreviations and constant folding; the program text format.
import t from 'tap';
import { parseFilter, FilterSyntaxError, compileRules, serializeProgram, classifierRules, filterRules, DROP_OUTPUT, DROP_RULE_OUTPUT, parseIPv6, SERVICES_FILE } from '../src/filter/index.js';

function error(expr: string): FilterSyntaxError {
  try {
    parseFilter(expr);
  } catch (e) {
    if (e instanceof FilterSyntaxError) return e;
    throw e;
  }
  throw new Error(`'${expr}' parsed`);
}

t.test('syntax errors name the token and its position', async (t) => {
  const cases: [string, string, number, RegExp][] = [
    ['ppp host 02:00:00:00:00:01', 'ppp', 0, /not supported/],
    ['tcp and gateway 198.18.0.1', 'gateway', 8, /not supported/],
    ['host www.example.com', 'www.example.com', 5, /unknown primitive|host names/],
    ['port nosuchservice', 'nosuchservice', 5, /unknown port 'nosuchservice'/],
    ['udp port smtp', 'smtp', 9, /port 'smtp' is tcp/],
    ['ip broadcast', 'broadcast', 3, /netmask/],
    ['ip6 broadcast', 'broadcast', 4, /ether broadcast/],
    ['ether net 198.18.0.0/16', 'net', 6, /not valid/],
    ['ether host 198.18.0.1', '198.18.0.1', 11, /Ethernet address/],
    ['ether', 'ether', 0, /needs host, src, dst, proto/],
    ['ether proto \\ipx', '\\ipx', 12, /not supported/],
    ['ether proto 0x10000', '0x10000', 12, /EtherType/],
    ['net 198.18.0.1/15', '198.18.0.1', 4, /non-network bits/],
    ['tcp protochain 6', 'protochain', 4, /is not valid/],
    ['arp multicast', 'multicast', 4, /not valid/],
    ['net 198.18.0.0 mask 255.255.0.0 mask', 'mask', 32, /unexpected token/],
    ['tcp port', '', 8, /port must be a number.*ended/],
    ['tcp and (udp', '', 12, /expected '\)'/],
    ['tcp ) or udp', ')', 4, /unexpected token/],
    ['ip[0:3] = 1', '3', 5, /size .* must be 1, 2 or 4/],
    ['ip[0] = 1 / 0', '/', 10, /division by zero/],
    ['net 198.18.0.1/15', '198.18.0.1', 4, /non-network bits/],
    ['net fd00::1/8', 'fd00::1', 4, /non-network bits/],
    ['host 198.18.0.256', '198.18.0.256', 5, /not a valid IPv4 address/],
    ['host fd00:::1', 'fd00:::1', 5, /not a valid IPv6 address/],
    ['ip port 80', '80', 8, /illegal qualifier of 'port'/],
    ['proto tcp', 'tcp', 6, /backslash/],
    ['tcp proto 6', 'proto', 4, /is not valid/],
    ['vlan 5000', '5000', 5, /VLAN id/],
    ['80', '80', 0, /needs a qualifier/],
    ['198.18.0.1', '198.18.0.1', 0, /needs a qualifier/],
    ['tcp $ udp', '$', 4, /unexpected character/],
    ['', '', 0, /empty expression/],
    ['arp[0] = 1', 'arp', 0, /not supported/],
    ['len > ', '', 6, /expected a number/],
  ];
  for (const [expr, token, pos, re] of cases) {
    const e = error(expr);
    t.equal(e.token, token, `'${expr}': token`);
    t.equal(e.position, pos, `'${expr}': position`);
    t.match(e.message, re, `'${expr}': reason`);
  }
});

t.test('tcpdump spellings that mean the same thing', async (t) => {
  const same = (a: string, b: string) => t.same(parseFilter(a), parseFilter(b), `'${a}' is '${b}'`);
  same('tcp portrange 25', 'tcp portrange 25-25');
  same('net 198.18.0.0 mask 255.255', 'net 198.18.0.0/16');
  same('host 198.18', 'net 198.18.0.0/16');
  same('net 198', 'net 198.0.0.0/8');
  same('host 3323068417', 'host 198.18.0.1');
  same('port smtp', 'tcp port 25'); // smtp is TCP only in the services table
  same('port domain', 'port 53'); // TCP and UDP agree: both, and SCTP, as a number
  same('portrange ftp-smtp', 'tcp portrange 21-25');
  same('port smtp or domain', 'tcp port 25 or port 53');
  same('broadcast', 'ether broadcast');
  same('multicast', 'ether multicast');
  same('link src 2:0:0:0:0:1', 'ether src 02:00:00:00:00:01');
  same('src 0:1:2:3:4:5', 'ether src 00:01:02:03:04:05'); // Click's shorthand
  same('ether host 2:0:0:0:0:1 or 2:0:0:0:0:2', 'ether host 2:0:0:0:0:1 or ether host 2:0:0:0:0:2');
  same('ether proto \\arp', 'ether proto 0x806');
  same('ether proto \\ip', 'ip');
  same('ip6 protochain \\tcp', 'ip6 protochain 6');
});

t.test('without a services table, a port name is an error that says so', async (t) => {
  const saved = SERVICES_FILE.path;
  SERVICES_FILE.path = '/nonexistent/services';
  try {
    const e = error('port smtp');
    t.equal(e.token, 'smtp');
    t.match(e.message, /services table \/nonexistent\/services.*netbase.*give the port number/);
    t.ok(parseFilter('port 25'), 'numbers still work');
  } finally {
    SERVICES_FILE.path = saved;
  }
});

t.test('and/or have equal precedence, left to right; not binds tightest', async (t) => {
  const a = parseFilter('tcp or udp and icmp');
  t.equal(a.k, 'and', "'tcp or udp and icmp' is (tcp or udp) and icmp");
  const b = parseFilter('not tcp and udp');
  t.ok(b.k === 'and' && b.a.k === 'not', "'not tcp and udp' is (not tcp) and udp");
});

t.test('bare ids inherit the previous qualifiers', async (t) => {
  t.same(parseFilter('host 198.18.0.1 or 198.18.0.2'), parseFilter('host 198.18.0.1 or host 198.18.0.2'));
  t.same(parseFilter('tcp dst port 80 or 443'), parseFilter('tcp dst port 80 or tcp dst port 443'));
  t.same(parseFilter('src net 198.18.0.0/15 and not 198.18.0.1'), parseFilter('src net 198.18.0.0/15 and not src net 198.18.0.1'));
  t.same(parseFilter('dst 198.18.0.1'), parseFilter('dst host 198.18.0.1'));
  t.same(parseFilter('tcp[tcpflags] & tcp-syn != 0'), parseFilter('tcp[13] & 2 != 0'), 'named constants');
  t.same(parseFilter('ip6 host ::ffff:198.18.0.1'), parseFilter('ip6 host ::ffff:c612:1'), 'IPv6 with an embedded IPv4 address');
  t.same(parseIPv6('fd00::1'), [0xfd, 0, ...new Array(13).fill(0), 1]);
});

t.test('programs: first match, shared nodes, constant folding, format', async (t) => {
  const p = compileRules(classifierRules(['tcp', 'tcp or udp', '-']));
  const text = serializeProgram(p);
  t.match(text, /^pgf1 \d+ \d+( -?\d+)+$/, 'text format');
  // `tcp` appears in both rules; the second rule's copy leads elsewhere, but each node is a
  // comparison: the count stays small.
  t.ok(p.nodes.length <= 20, `small program (${p.nodes.length} nodes)`);
  for (let i = 0; i < p.nodes.length; i++)
    for (const s of [p.nodes[i].yes, p.nodes[i].no, p.nodes[i].fail]) t.ok(s < i, 'successors precede their node');
  const folded = compileRules([{ cond: parseFilter('tcp[tcpflags + 0] & (tcp-syn|tcp-ack) != 0'), output: 0 }]);
  t.ok(folded.nodes.some((n) => n.code[0] === 0 && n.code[1] === 13 && n.code[2] === (1 | (1 << 8) | (1 << 16))), 'constant offsets are folded');
  const all = compileRules(classifierRules(['-']));
  t.equal(all.entry, -1, "'-' alone needs no node");
  const rules = filterRules(['deny tcp', 'allow all', '2 udp', 'drop', 'allow any', '1 -']);
  t.equal(rules[0].output, DROP_RULE_OUTPUT, 'deny drops');
  t.equal(rules[1].cond, undefined, 'all matches everything');
  t.equal(rules[2].output, 2, 'N sends to output N');
  t.ok(rules[3].cond === undefined && rules[3].output === DROP_RULE_OUTPUT, "a bare 'drop' drops everything (Click)");
  t.ok(rules[4].cond === undefined && rules[5].cond === undefined, "'any' and '-' match everything");
  t.equal(compileRules(filterRules([])).entry, -(DROP_OUTPUT + 1), 'no rules: everything dropped');
  const chain = compileRules(classifierRules(['ip6 protochain 6']));
  t.ok(chain.nodes.some((n) => n.code.includes(14 | (6 << 8))), 'protochain is one native walk');
  t.equal(compileRules([{ cond: parseFilter('tcp'), output: 0 }]).nodes.some((n) => n.no === -(DROP_OUTPUT + 1)), true, 'no match drops');
});
