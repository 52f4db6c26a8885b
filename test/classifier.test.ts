// Classifier: the native decision tree checked against a naive reference implementation of
// the pattern semantics on random pattern sets and random packets (including packets too
// short for the clauses), compile-time syntax errors, the clauses the plan carries and the native
// side's check of them, the output-count check, and the program handler.
import t, { type Test } from 'tap';
import { rmSync } from 'node:fs';
import { graph, compile, Runtime, GraphError, Classifier, FromPcap, ToPcap, InfiniteSource, Discard, type Plan } from 'pktgraph';
import { runCompiled, tmpPath } from './lib/run.js';
import { writePcap, readPcap } from './lib/pcap.js';
import { rng, type Rng } from './lib/rng.js';

// ---- the reference: pattern semantics, one clause and one byte at a time ----

function clauseMatches(clause: string, pkt: Uint8Array): boolean {
  const negated = clause.startsWith('!');
  const body = negated ? clause.slice(1) : clause;
  const [offText, rest] = body.split('/');
  const [value, mask] = rest.split('%');
  const off = Number(offText);
  const n = value.length / 2;
  let ok = off + n <= pkt.length; // every byte the clause names must be in the packet
  for (let i = 0; ok && i < value.length; i++) {
    if (value[i] === '?') continue;
    const m = mask ? parseInt(mask[i], 16) : 0xf;
    const byte = pkt[off + (i >> 1)];
    const nib = i % 2 ? byte & 0xf : byte >> 4;
    if ((nib & m) !== (parseInt(value[i], 16) & m)) ok = false;
  }
  return negated ? !ok : ok;
}

function reference(patterns: string[], pkt: Uint8Array): number {
  for (let i = 0; i < patterns.length; i++) {
    const clauses = patterns[i].split(/\s+/).filter(Boolean);
    if (clauses.length === 1 && clauses[0] === '-') return i;
    if (clauses.every((c) => clauseMatches(c, pkt))) return i;
  }
  return -1; // dropped
}

// ---- random pattern sets ----

const hex2 = (b: number) => b.toString(16).padStart(2, '0');
const ALPHABET = [0x00, 0x08, 0x06, 0x45, 0x11, 0xff, 0x81];

interface PatternSet {
  patterns: string[];
  packets: Buffer[];
}

function randomTemplate(r: Rng): Buffer {
  const b = Buffer.alloc(48);
  for (let i = 0; i < b.length; i++) b[i] = r.next() < 0.7 ? r.pick(ALPHABET) : r.int(0, 255);
  return b;
}

function randomClause(r: Rng, templates: Buffer[]): string {
  const hot = [0, 2, 3, 6, 12, 13, 14, 20, 23, 26, 30, 40, 46];
  const off = r.next() < 0.5 ? r.pick(hot) : r.int(0, 50);
  const n = r.int(1, 6);
  const src = r.pick(templates);
  let value = '';
  let mask = '';
  const masked = r.next() < 0.25;
  for (let i = 0; i < n; i++) {
    const byte = off + i < src.length && r.next() < 0.85 ? src[off + i] : r.pick(ALPHABET);
    let v = hex2(r.next() < 0.1 ? r.int(0, 255) : byte);
    const roll = r.next();
    if (roll < 0.08) v = '??';
    else if (roll < 0.16) v = v[0] + '?';
    else if (roll < 0.22) v = '?' + v[1];
    value += v;
    if (masked) mask += hex2(r.pick([0xff, 0xf0, 0x0f, 0x00, 0x80, 0x7e, r.int(0, 255)]));
  }
  // Trailing wildcards: the clause still needs those bytes to be present.
  if (n > 1 && r.next() < 0.2) {
    const k = r.int(1, n - 1);
    value = value.slice(0, 2 * (n - k)) + '??'.repeat(k);
  }
  if (r.next() < 0.3) value = value.toUpperCase();
  return (r.next() < 0.25 ? '!' : '') + `${off}/${value}` + (masked ? `%${mask}` : '');
}

function randomSet(r: Rng, opts: { maxPatterns: number; maxClauses: number; packets: number }): PatternSet {
  const templates = Array.from({ length: r.int(1, 3) }, () => randomTemplate(r));
  const np = r.int(1, opts.maxPatterns);
  const patterns: string[] = [];
  for (let i = 0; i < np; i++) {
    if (r.next() < 0.08) patterns.push('-');
    else patterns.push(Array.from({ length: r.int(1, opts.maxClauses) }, () => randomClause(r, templates)).join(r.next() < 0.1 ? '  ' : ' '));
  }
  const packets: Buffer[] = [];
  for (let i = 0; i < opts.packets; i++) {
    const p = Buffer.from(r.pick(templates));
    for (let k = r.int(0, 3); k > 0; k--) p[r.int(0, p.length - 1)] = r.next() < 0.5 ? r.pick(ALPHABET) : r.int(0, 255);
    const roll = r.next();
    const len = roll < 0.15 ? r.int(0, 8) : roll < 0.4 ? r.int(9, 30) : roll < 0.6 ? r.int(31, 47) : 48;
    packets.push(Buffer.from(p.subarray(0, len)));
  }
  return { patterns, packets };
}

// Runs many pattern sets in one graph (an independent FromPcap -> Classifier -> ToPcap per
// output pipeline each) and checks every packet landed where the reference says, in order.
async function checkSets(t: Test, sets: PatternSet[], tag: string): Promise<string[]> {
  const files: string[] = [];
  const programs: string[] = [];
  const plan: Plan = compile(
    graph(`classifier-${tag}`, () => {
      sets.forEach((s, k) => {
        const input = tmpPath(`cls-${tag}-${k}-in.pcap`);
        writePcap(input, s.packets.map((data) => ({ data })));
        files.push(input);
        const c = FromPcap({ file: input, burst: 16 }, `src${k}`).to(Classifier({ patterns: s.patterns }, `cl${k}`));
        s.patterns.forEach((_, i) => {
          const out = tmpPath(`cls-${tag}-${k}-out${i}.pcap`);
          files.push(out);
          c.out(i).to(ToPcap({ file: out }, `sink${k}_${i}`));
        });
      });
    }),
  );
  // Read the programs while loaded (also exercises the handler on every tree).
  const rt = new Runtime({ threads: 1, poolBuffers: 1024 });
  try {
    const g = rt.load(plan);
    sets.forEach((_, k) => programs.push(g.read(`cl${k}`, 'program')));
    g.remove();
  } finally {
    rt.close();
  }
  const summary = await runCompiled(plan, { threads: 2, poolBuffers: 16384 });
  let mismatches = 0;
  sets.forEach((s, k) => {
    const expected: Buffer[][] = s.patterns.map(() => []);
    let drops = 0;
    for (const p of s.packets) {
      const o = reference(s.patterns, p);
      if (o < 0) drops++;
      else expected[o].push(p);
    }
    const got = s.patterns.map((_, i) => readPcap(tmpPath(`cls-${tag}-${k}-out${i}.pcap`)).packets.map((p) => p.data));
    const counters = summary.elements[`cl${k}`];
    let ok = counters.packets === s.packets.length && counters.drops_no_match === drops;
    for (let i = 0; ok && i < s.patterns.length; i++) {
      ok = got[i].length === expected[i].length && got[i].every((d, j) => d.equals(expected[i][j]));
    }
    if (!ok && mismatches++ < 3) {
      // Show the first packet that went astray.
      let detail = '';
      for (const p of s.packets) {
        const o = reference(s.patterns, p);
        const where = got.findIndex((g) => g.some((d) => d.equals(p)));
        if (where !== o) {
          detail = `packet ${p.toString('hex')} (${p.length} bytes): reference says ${o < 0 ? 'drop' : o}, engine sent it to ${where < 0 ? 'drop' : where}`;
          break;
        }
      }
      t.fail(`set ${tag}/${k}: ${JSON.stringify(s.patterns)}: ${detail || 'order or counters differ'}\n${programs[k]}`);
    }
  });
  t.equal(mismatches, 0, `${sets.length} pattern sets: every packet went to the reference's output, in order`);
  t.equal(summary.pool.available, summary.pool.capacity, 'every buffer back in the pool');
  for (const f of files) rmSync(f, { force: true });
  return programs;
}

t.test('random pattern sets agree with the naive reference', async (t) => {
  const r = rng(20261121);
  const sets: PatternSet[] = [];
  for (let i = 0; i < 200; i++) sets.push(randomSet(r, { maxPatterns: 6, maxClauses: 4, packets: 60 }));
  // A few hand-picked sets too: Click's usual ones and edge cases.
  const eth = (type: number, extra: number[] = [], len = 60) => {
    const b = Buffer.alloc(60);
    b.writeUInt16BE(type, 12);
    extra.forEach((v, i) => (b[20 + i] = v));
    return Buffer.from(b.subarray(0, len));
  };
  const common = [eth(0x0806, [0, 1]), eth(0x0806, [0, 2]), eth(0x0806, [0, 3]), eth(0x0800), eth(0x86dd), eth(0x0800, [], 13), eth(0x0806, [0, 1], 21), Buffer.alloc(0)];
  sets.push({ patterns: ['12/0806 20/0001', '12/0806 20/0002', '12/0800', '-'], packets: common });
  sets.push({ patterns: ['12/0806 20/0001', '12/0806 20/0002', '12/0800'], packets: common });
  sets.push({ patterns: ['!12/0800', '!40/00', '12/08??', '-'], packets: common });
  sets.push({ patterns: ['12/0800 12/0806', '12/08 13/00', '12/????', '12/08%f0 13/06%0f'], packets: common });
  sets.push({ patterns: ['0/000000000000 6/000000000000 12/0806 !20/0001', '12/0806', '-'], packets: common });
  // What a held test proves depends on the length it needed: 12/0800 holding on a 15-byte
  // packet says nothing about 12/0800???? (18 bytes), nor does its failing on a short one.
  const lens = (p: Buffer) => Array.from({ length: 22 }, (_, n) => Buffer.from(p.subarray(0, n)));
  const ip = eth(0x0800, [], 40);
  sets.push({ patterns: ['12/0800 30/ff', '12/0800????', '!12/0800??', '12/08', '-'], packets: [...lens(ip), ...lens(eth(0x0806, [], 40))] });
  sets.push({ patterns: ['12/0800???? 30/ff', '12/0800', '!12/08 !16/????', '-'], packets: lens(ip) });
  const programs = await checkSets(t, sets, 'random');
  t.ok(programs.every((p) => p.startsWith('patterns:\n')), 'every program prints');
});

t.test('large pattern sets (falling back to less shared knowledge) still agree with the reference', async (t) => {
  const r = rng(77);
  const sets: PatternSet[] = [];
  for (let i = 0; i < 6; i++) sets.push(randomSet(r, { maxPatterns: 120, maxClauses: 5, packets: 400 }));
  for (const s of sets) while (s.patterns.length < 80) s.patterns.push(...s.patterns.slice(0, 80 - s.patterns.length));
  const programs = await checkSets(t, sets, 'large');
  const tiers = programs.map((p) => /tree: \d+ node\(s\), (.*)/.exec(p)?.[1]);
  t.ok(tiers.every((x) => x), 'every program names its tree kind');
  t.comment(`tree kinds: ${tiers.join('; ')}`);
});

t.test('the decision tree skips tests earlier tests decided', async (t) => {
  const plan = compile(
    graph('tree', () => {
      const c = InfiniteSource({ limit: 0 }).to(Classifier({ patterns: ['12/0806 20/0001', '12/0806 20/0002', '12/0800', '-'] }, 'arp'));
      for (let i = 0; i < 4; i++) c.out(i).to(Discard());
      const d = InfiniteSource({ limit: 0 }).to(Classifier({ patterns: ['-', '12/0800'] }, 'any'));
      d.out(0).to(Discard());
      d.out(1).to(Discard());
      const e = InfiniteSource({ limit: 0 }).to(Classifier({ patterns: ['12/0800 12/0806', '14/45%e0 !23/06'] }, 'never'));
      e.out(0).to(Discard());
      e.out(1).to(Discard());
    }),
  );
  const rt = new Runtime({ threads: 1, poolBuffers: 256 });
  try {
    const g = rt.load(plan);
    const arp = g.read('arp', 'program');
    t.comment(arp);
    t.match(arp, /^patterns:\n  \[0\] 12\/0806 20\/0001\n  \[1\] 12\/0806 20\/0002\n  \[2\] 12\/0800\n  \[3\] -\n/, 'lists the patterns');
    t.match(arp, /tree: 4 node\(s\), knowledge shared across patterns/, 'four tests: 12/0806 once, 20/0001, 20/0002, 12/0800 once');
    t.match(arp, /\n  0: 12\/0806\?\?\?\? +len>=14 +yes->1  no->3\n/, 'the root tests the ethertype');
    t.match(arp, /\n  2: 20\/0002\?\?\?\? +len>=22 +yes->\[1\]  no->\[3\]\n/, 'after 12/0806 held, 12/0800 is known false');
    t.match(arp, /\n  3: 12\/0800\?\?\?\? +len>=14 +yes->\[2\]  no->\[3\]\n/, 'after 12/0806 failed, pattern 1 is skipped');
    t.match(g.read('any', 'program'), /tree: 0 node\(s\).*\n  every packet -> \[0\]\n/, "'-' first: no test at all");
    const never = g.read('never', 'program');
    t.notMatch(never.slice(never.indexOf('tree:')), /0806/, 'a pattern whose clauses contradict each other is never tested');
    t.match(never, /12\/00004000%0000e000/, 'a partial-nibble mask prints as value%mask');
  } finally {
    rt.close();
  }
});

// Syntax errors, found once, by the descriptor's check (compile time).
const BAD: [string[], string][] = [
  [['12/0800', ''], "pattern 1 is empty: use '-' to match every packet"],
  [['   '], "pattern 0 is empty: use '-' to match every packet"],
  [['12/0800 -'], "pattern 0 ('12/0800 -'): '-' must be the whole pattern"],
  [['12=0800'], "pattern 0 ('12=0800'): '12=0800': expected OFFSET/VALUE or OFFSET/VALUE%MASK"],
  [['-', '!'], "pattern 1 ('!'): '!': expected OFFSET/VALUE or OFFSET/VALUE%MASK"],
  [['x2/08'], "pattern 0 ('x2/08'): 'x2/08': the offset must be a decimal number"],
  [['/08'], "pattern 0 ('/08'): '/08': the offset must be a decimal number"],
  [['!!12/08'], "pattern 0 ('!!12/08'): '!!12/08': the offset must be a decimal number"],
  [['65536/08'], "pattern 0 ('65536/08'): '65536/08': the offset must be at most 65535"],
  [['000001/08'], "pattern 0 ('000001/08'): '000001/08': the offset must be at most 65535"],
  [['12/08 23/0g'], "pattern 0 ('12/08 23/0g'): '23/0g': the value must be hex digits or '?'"],
  [['12/'], "pattern 0 ('12/'): '12/': the value must be hex digits or '?'"],
  [['12/%ff'], "pattern 0 ('12/%ff'): '12/%ff': the value must be hex digits or '?'"],
  [['12/080'], "pattern 0 ('12/080'): '12/080': the value must have an even number of hex digits"],
  [['12/08%'], "pattern 0 ('12/08%'): '12/08%': the mask must be hex digits"],
  [['12/08%f?'], "pattern 0 ('12/08%f?'): '12/08%f?': the mask must be hex digits"],
  [['12/08%ff%ff'], "pattern 0 ('12/08%ff%ff'): '12/08%ff%ff': the mask must be hex digits"],
  [['12/0800%ff'], "pattern 0 ('12/0800%ff'): '12/0800%ff': the mask must have as many hex digits as the value"],
  [['65535/0000'], "pattern 0 ('65535/0000'): '65535/0000': the clause reaches beyond byte 65535"],
  [['-', `0/${'00'.repeat(40000)}`, `0/${'00'.repeat(40000)}`], 'the patterns need 20000 word tests; at most 16384 are supported'],
];
const GOOD = ['-', '12/0800', ' 12/0800\t!23/06 ', '65535/??', '0/aBcD%F0f0', '14/4?%f0', '!30/0a000001'];

t.test('syntax errors come at compile time, naming the pattern and the token', async (t) => {
  for (const [patterns, message] of BAD) {
    const g = graph('bad', () => {
      const c = InfiniteSource({ limit: 1 }).to(Classifier({ patterns }, 'cl'));
      patterns.forEach((_, i) => c.out(i).to(Discard()));
    });
    t.throws(() => compile(g), new RegExp(`element 'cl' \\(Classifier\\).*: ${escape(message)}`), message.slice(0, 60));
  }
  for (const p of GOOD) {
    t.doesNotThrow(() => compile(graph('good', () => InfiniteSource({ limit: 1 }).to(Classifier({ patterns: [p] })).to(Discard()))), `'${p}' is accepted`);
  }
});

t.test('the plan carries each pattern parsed into clauses of bytes', async (t) => {
  const plan = compile(
    graph('clauses', () => {
      const c = InfiniteSource({ limit: 1 }).to(Classifier({ patterns: ['12/0800 !23/06', '14/4?%f0', '0/aBcD%F0f0', '-'] }, 'cl'));
      for (let i = 0; i < 4; i++) c.out(i).to(Discard());
    }),
  );
  const cl = plan.elements.find((e) => e.name === 'cl')!;
  t.same(
    cl.config.clauses,
    [
      [
        { offset: 12, value: [0x08, 0x00], mask: [0xff, 0xff], not: false },
        { offset: 23, value: [0x06], mask: [0xff], not: true },
      ],
      [{ offset: 14, value: [0x40], mask: [0xf0], not: false }],
      [{ offset: 0, value: [0xa0, 0xc0], mask: [0xf0, 0xf0], not: false }],
      [],
    ],
    "offsets, values (bits outside the mask cleared), masks ('?' nibbles left out), negation; '-' has no clauses",
  );
  t.throws(
    () => compile(graph('x', () => InfiniteSource({ limit: 1 }).to(Classifier({ patterns: ['-'], clauses: [[]] }, 'cl')).to(Discard()))),
    /element 'cl' \(Classifier\).*: config field 'clauses' is filled in by the compiler from 'patterns': leave it out/,
  );
});

t.test('the native side parses no pattern text: it checks the clauses again and refuses a bad plan by name', async (t) => {
  const good = compile(
    graph('native', () => {
      const c = InfiniteSource({ limit: 1 }).to(Classifier({ patterns: ['12/0800', '-'] }, 'cl'));
      for (let i = 0; i < 2; i++) c.out(i).to(Discard({}, `d${i}`));
    }),
  );
  const rt = new Runtime({ threads: 1, poolBuffers: 256 });
  try {
    const load = (clauses: unknown[], patterns = ['p', 'q']) => () => {
      const plan = structuredClone(good);
      const cl = plan.elements.find((e) => e.name === 'cl')!;
      cl.config = { ...cl.config, patterns, clauses } as typeof cl.config;
      rt.load(plan).remove();
    };
    const clause = (offset: unknown, value: unknown, mask: unknown, not: unknown = false) => ({ offset, value, mask, not });
    const BAD_PLANS: [unknown[], string][] = [
      // Types, ranges and counts: the class facts' (Config::checked), the same for every element.
      [[[clause(65536, [8], [255])], []], "config field 'clauses' item 0 item 0\\.offset must be from 0 to 65535, got 65536"],
      [[[clause(1.5, [8], [255])], []], "config field 'clauses' item 0 item 0\\.offset must be of type integer, got 1\\.5"],
      [[[clause(0, [], [])], []], "config field 'clauses' item 0 item 0\\.value must have at least 1 items, got 0"],
      [[[clause(0, [256], [255])], []], "config field 'clauses' item 0 item 0\\.value item 0 must be from 0 to 255, got 256"],
      [[[clause(0, ['08'], [255])], []], "config field 'clauses' item 0 item 0\\.value item 0 must be of type integer, got \"08\""],
      [[[{ ...clause(0, [8], [255]), offest: 1 }], []], "config field 'clauses' item 0 item 0 has 'offest', which its descriptor does not declare"],
      [['12/0800', []], "config field 'clauses' item 0 must be of type array, got \"12/0800\""],
      [[['12/0800'], []], "config field 'clauses' item 0 item 0 must be of type object, got \"12/0800\""],
      [[], "config field 'clauses' must have from 1 to 4096 items, got 0"],
      // What the facts cannot say: the element's own checks.
      [[[], [clause(0, [8, 0], [255])]], "config field 'clauses' item 1 clause 0: value and mask must be the same number of bytes"],
      [[[clause(65535, [0, 0], [255, 255])], []], 'reaches beyond byte 65535'],
      [[[{ offset: 12, value: [8] }], []], 'must be \\{ offset, value, mask, not \\}'],
      [[[]], "config fields 'patterns' and 'clauses' must have one item per pattern each"],
      [[[clause(0, new Array(40000).fill(0), new Array(40000).fill(255))], [clause(0, new Array(40000).fill(0), new Array(40000).fill(255))]], 'the patterns need 20000 word tests; at most 16384 are supported'],
    ];
    for (const [clauses, message] of BAD_PLANS) t.throws(load(clauses), new RegExp(`element 'cl' \\(Classifier\\): .*${message}`), message.slice(0, 70));
    t.doesNotThrow(load([[clause(12, [8, 0], [255, 255])], []]), 'the clauses the compiler makes load');
  } finally {
    rt.close();
  }
});

t.test('the number of outputs must equal the number of patterns', async (t) => {
  const fewer = graph('fewer', () => {
    const c = InfiniteSource({ limit: 1 }).to(Classifier({ patterns: ['12/0800', '12/0806', '-'] }, 'cl'));
    c.out(0).to(Discard());
    c.out(1).to(Discard());
  });
  t.throws(() => compile(fewer), /element 'cl' \(Classifier\).*: has 3 pattern\(s\) but 2 output\(s\): give one pattern per output/);
  const more = graph('more', () => {
    const c = InfiniteSource({ limit: 1 }).to(Classifier({ patterns: ['-'] }, 'cl'));
    c.out(0).to(Discard());
    c.out(1).to(Discard());
  });
  t.throws(() => compile(more), GraphError);
  t.throws(() => compile(more), /has 1 pattern\(s\) but 2 output\(s\)/);
  // The native side checks too.
  const plan = compile(
    graph('n', () => {
      const c = InfiniteSource({ limit: 1 }).to(Classifier({ patterns: ['12/0800', '-'] }, 'cl'));
      c.out(0).to(Discard());
      c.out(1).to(Discard());
    }),
  );
  const cl = plan.elements.find((e) => e.name === 'cl')!;
  cl.config = { ...cl.config, patterns: ['-'], clauses: [[]] };
  const rt = new Runtime({ threads: 1, poolBuffers: 256 });
  try {
    t.throws(() => rt.load(plan), /element 'cl' \(Classifier\): has 1 pattern\(s\) but 2 output\(s\): give one pattern per output/);
  } finally {
    rt.close();
  }
});

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
