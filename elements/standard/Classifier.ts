import { Type } from 'typebox';
import { defineElement } from '../../src/graph/descriptor.js';

const HEX = /^[0-9a-fA-F]*$/;
const HEX_OR_WILD = /^[0-9a-fA-F?]*$/;

/** One clause as the plan carries it: the bytes from `offset` on, compared under `mask` (value
 *  bits outside the mask are 0); `not` negates it. */
export interface ClassifierClause {
  offset: number;
  value: number[];
  mask: number[];
  not: boolean;
}


/** The most 32-bit word tests all patterns together may need (a clause covering bytes a..b needs b/4 - a/4 + 1). */
export const CLASSIFIER_MAX_WORD_TESTS = 16384;

/** Parses one pattern into its clauses ('-': none, so it matches every packet) and the word
 *  tests they need, or the problem, naming the pattern and the clause. */
function parsePattern(pattern: string, index: number): { error?: string; words: number; clauses: ClassifierClause[] } {
  let words = 0;
  const clauses: ClassifierClause[] = [];
  const tokens = pattern.split(/[ \t\r\n]+/).filter((t) => t !== '');
  const fail = (error: string) => ({ error, words, clauses });
  if (tokens.length === 0) return fail(`pattern ${index} is empty: use '-' to match every packet`);
  const where = `pattern ${index} ('${pattern}')`;
  if (tokens.length === 1 && tokens[0] === '-') return { words, clauses };
  for (const token of tokens) {
    const bad = (why: string) => fail(`${where}: '${token}': ${why}`);
    if (token === '-') return fail(`${where}: '-' must be the whole pattern`);
    const clause = token.startsWith('!') ? token.slice(1) : token;
    const slash = clause.indexOf('/');
    if (slash < 0) return bad('expected OFFSET/VALUE or OFFSET/VALUE%MASK');
    const offset = clause.slice(0, slash);
    if (!/^[0-9]+$/.test(offset)) return bad('the offset must be a decimal number');
    if (offset.length > 5 || Number(offset) > 65535) return bad('the offset must be at most 65535');
    const rest = clause.slice(slash + 1);
    const pct = rest.indexOf('%');
    const value = pct < 0 ? rest : rest.slice(0, pct);
    if (value === '' || !HEX_OR_WILD.test(value)) return bad("the value must be hex digits or '?'");
    if (value.length % 2) return bad('the value must have an even number of hex digits');
    const maskText = pct < 0 ? 'f'.repeat(value.length) : rest.slice(pct + 1);
    if (pct >= 0) {
      if (maskText === '' || !HEX.test(maskText)) return bad('the mask must be hex digits');
      if (maskText.length !== value.length) return bad('the mask must have as many hex digits as the value');
    }
    const first = Number(offset);
    const last = first + value.length / 2 - 1;
    if (last > 65535) return bad('the clause reaches beyond byte 65535');
    words += (last >> 2) - (first >> 2) + 1;
    // A '?' nibble is a nibble the mask leaves out.
    const nibble = (i: number) => (value[i] === '?' ? [0, 0] : [parseInt(value[i], 16), 15]);
    const c: ClassifierClause = { offset: first, value: [], mask: [], not: token !== clause };
    for (let i = 0; i < value.length; i += 2) {
      const [hv, hm] = nibble(i);
      const [lv, lm] = nibble(i + 1);
      const m = ((hm << 4) | lm) & parseInt(maskText.slice(i, i + 2), 16);
      c.mask.push(m);
      c.value.push(((hv << 4) | lv) & m);
    }
    clauses.push(c);
  }
  return { words, clauses };
}

export const Classifier = defineElement({
  name: 'Classifier',
  group: 'standard',
  summary: 'Sends each packet to the output of the first pattern its bytes match.',
  doc: `Click's Classifier. \`patterns\` has one pattern per output. A pattern is a space-separated list of
clauses that must all match:

- \`OFFSET/VALUE\`: the bytes at OFFSET (decimal, counted from the packet's data start) equal VALUE
  (hex digits, an even number of them; \`?\` is a wildcard nibble), e.g. \`12/0800\`, \`23/06\`, \`30/0a0000??\`;
- \`OFFSET/VALUE%MASK\`: the same, comparing only the bits set in MASK (hex, as many digits as VALUE),
  e.g. \`14/40%f0\`;
- \`!\` before a clause negates it: \`!12/0800\` matches when the clause does not;
- the pattern \`-\` alone matches every packet.

A clause reads the bytes from OFFSET to OFFSET + length(VALUE) - 1, wildcards included, and a packet too
short to hold them does not match it (so the negated clause does match): \`12/08??\` needs at least 14
bytes, and \`!40/00\` matches every packet shorter than 41 bytes.

A packet goes to output i when it matches pattern i and no earlier pattern; a packet that matches no
pattern is dropped and counted in \`drops_no_match\` (end with \`-\` to keep every packet). The number of
outputs must equal the number of patterns. \`packets\` counts every packet classified, dropped or not.

The patterns are compiled into a decision tree of 32-bit word tests (each clause becomes tests of the
aligned words it covers, tests of one word in one pattern are merged), where a test whose outcome
earlier tests already decide is skipped, so a packet is examined once per word rather than once per
pattern. The \`program\` handler prints the tree. Very large pattern sets fall back to a tree that
shares less knowledge between patterns, so the tree stays small (linear in the number of tests).
Each batch is classified whole, then each output receives one sub-batch in arrival order.

The compiler parses the patterns once into the plan's \`clauses\` field: for each pattern its clauses
as \`{ offset, value, mask, not }\` with the value and mask as bytes (a \`?\` nibble is a zero mask
nibble; \`-\` is a pattern of no clauses); the engine builds the tree from those alone.`,
  inputs: '1',
  outputs: '1-',
  processing: 'h/h',
  config: Type.Object(
    {
      patterns: Type.Array(Type.String(), {
        minItems: 1,
        maxItems: 4096,
        description: "One pattern per output: space-separated clauses OFFSET/VALUE[%MASK], '!' to negate, or '-' for every packet.",
      }),
      clauses: Type.Optional(
        Type.Array(
          Type.Array(
            Type.Object(
              {
                offset: Type.Integer({ minimum: 0, maximum: 65535 }),
                value: Type.Array(Type.Integer({ minimum: 0, maximum: 255 }), { minItems: 1 }),
                mask: Type.Array(Type.Integer({ minimum: 0, maximum: 255 }), { minItems: 1 }),
                not: Type.Boolean(),
              },
              { additionalProperties: false },
            ),
          ),
          { minItems: 1, maxItems: 4096, description: "Filled in by the compiler from 'patterns' (each pattern's clauses as bytes); leave it out." },
        ),
      ),
    },
    { additionalProperties: false },
  ),
  counters: { packets: 'packets classified (including those dropped)', drops_no_match: 'packets dropped because they matched no pattern' },
  handlers: { program: { doc: 'the compiled decision tree, one node per line', read: true } },
  check: (config, ports) => {
    if (config.clauses) return "config field 'clauses' is filled in by the compiler from 'patterns': leave it out";
    let words = 0;
    for (let i = 0; i < config.patterns.length; i++) {
      const r = parsePattern(config.patterns[i], i);
      if (r.error) return r.error;
      words += r.words;
    }
    if (words > CLASSIFIER_MAX_WORD_TESTS)
      return `the patterns need ${words} word tests; at most ${CLASSIFIER_MAX_WORD_TESTS} are supported`;
    if (config.patterns.length !== ports.outputs)
      return `has ${config.patterns.length} pattern(s) but ${ports.outputs} output(s): give one pattern per output`;
    return undefined;
  },
  plan: (config) => ({ clauses: config.patterns.map((p, i) => parsePattern(p, i).clauses) }),
  examples: [
    "Classifier({ patterns: ['12/0806 20/0001', '12/0806 20/0002', '12/0800', '-'] }) // ARP requests, ARP replies, IPv4, other",
  ],
});
