// Route text for IPLookup and LookupIP6Route has one parser, the native one
// (native/fib/routes.cc), which reads route files, the route handlers' text and, through
// parsedRoutes below, the `routes` config at compile time, once: the plan carries those routes
// typed (`compiledRoutes`), and the load reads them without parsing text again:
//
//   PREFIX OUTPUT | PREFIX GATEWAY OUTPUT | PREFIX [via GATEWAY] [dev OUTPUT]
//   PREFIX nexthop [via GW] [dev OUT] nexthop ...      (ECMP)
// PREFIX: ADDRESS/LEN, a bare ADDRESS (host route) or `default`; '#' starts a comment.
// Addresses and prefixes alone (other elements' configs) are parsed by src/util/address.ts.

import { Type } from 'typebox';
import { loadNative, type TypedRoute } from '../../src/runtime/native.js';

type Width = 32 | 128;

// The parse of one config's routes, from its check to its plan hook (the same object).
const parsed = new WeakMap<object, TypedRoute[]>();

/** The descriptors' check: the first bad route, named, or a prefix given twice (by the native
 *  parser); the routes it parsed are kept for the plan hook. */
export function checkRoutes(config: { routes?: string[]; compiledRoutes?: unknown }, width: Width, outputs: number): string | undefined {
  if (config.compiledRoutes !== undefined) return "config field 'compiledRoutes' is filled in by the compiler from 'routes': leave it out";
  const routes = config.routes ?? [];
  const r = routes.length === 0 ? new Float64Array(0) : loadNative().parseRoutes(width, outputs, routes);
  if (typeof r === 'string') return r;
  parsed.set(config, typedRoutes(r, width));
  return undefined;
}

/** The plan's typed routes from parseRoutes' flat answer (its layout: native/addon.cc). */
function typedRoutes(flat: Float64Array, width: Width): TypedRoute[] {
  const out: TypedRoute[] = [];
  let i = 0;
  const addr = (): number | number[] => {
    if (width === 32) return flat[i++];
    const a = Array.from(flat.subarray(i, i + 16));
    i += 16;
    return a;
  };
  while (i < flat.length) {
    const len = flat[i++];
    const hops = flat[i++];
    // At its exact size: grown by push, each array kept room for 19 values (a thousand routers
    // of 1000 routes held about 170 MB more).
    const r: TypedRoute = new Array(2 + 2 * hops);
    r[0] = addr();
    r[1] = len;
    for (let h = 0; h < hops; h++) {
      const port = flat[i++];
      const hasGw = flat[i++];
      const gw = addr();
      r[2 + 2 * h] = hasGw ? gw : null;
      r[3 + 2 * h] = port;
    }
    out.push(r);
  }
  return out;
}

/** The plan hook: the routes the check parsed, typed. */
export function planRoutes(config: { routes?: string[] }): { compiledRoutes: TypedRoute[] } {
  const r = parsed.get(config);
  if (!r) throw new Error('internal: planRoutes before checkRoutes');
  return { compiledRoutes: r };
}

/** What differs between IPLookup and LookupIP6Route in their descriptors. */
export interface LookupFamily {
  width: Width;
  /** The doc's first words, up to "with a compact, fast table". */
  click: string;
  /** Example routes: `PREFIX OUTPUT` and `PREFIX GATEWAY OUTPUT`, then the iproute2 form's two. */
  examples: [string, string, string, string];
  /** The default prefix spelled out ('0.0.0.0/0'). */
  defaultPrefix: string;
  /** How the destination is read: the annotation, described. */
  annotation: string;
  /** The header's size in bytes. */
  headerBytes: number;
  /** The destination annotation a routed packet gets, described. */
  setAnnotation: string;
  /** The full table's figures: memory, lookups per second, table. */
  fullTable: string;
  /** Route changes: the table and its rebuild time. */
  updates: [string, string];
  /** Anything after the route-change paragraph. */
  extra?: string;
}

/** The doc, config, counters and handlers IPLookup and LookupIP6Route share, for one family. */
export function lookupDescriptorParts(f: LookupFamily) {
  const fam = f.width === 32 ? 'IPv4' : 'IPv6';
  const doc = `${f.click} with a compact, fast table. Routes come from \`routes\` (one
per entry) and from \`file\` (one per line, \`#\` comments); each is one of

- \`PREFIX OUTPUT\`, e.g. \`${f.examples[0]}\`;
- \`PREFIX GATEWAY OUTPUT\` (Click's form), e.g. \`${f.examples[1]}\`;
- \`PREFIX [via GATEWAY] [dev OUTPUT]\` (iproute2's form, at least one of the two; \`dev 0\` if omitted),
  e.g. \`${f.examples[2]}\`, \`${f.examples[3]}\`;
- \`PREFIX nexthop [via GW] [dev OUT] nexthop ...\`: ECMP over several next hops (iproute2's multipath
  form); a flow hash of the source and destination addresses picks one, the same for every packet
  of a flow.

PREFIX is \`ADDRESS/LEN\`, a bare address (a /${f.width} host route) or \`default\` (${f.defaultPrefix}). A prefix with
bits set beyond its length is refused (with the canonical prefix suggested), and so is a prefix
given twice. OUTPUT is this element's output number. \`routes\` is parsed once, at compile time, by the native
route parser: a bad route is refused then with an error naming the element and the route, and the
plan carries the routes typed (\`compiledRoutes\`, docs/plan.md), which the load checks again
without parsing text. \`file\` is read when the
graph loads, by the native side: plain text, or gzip when its name ends in \`.gz\` (a corrupt or
truncated gzip file fails the load with an error naming the file).

Each packet's destination is ${f.annotation}, else
the ${fam} destination from the header at the network-header annotation, or at data + 14 (after an
Ethernet header) when that annotation is not set. A packet whose header is not wholly inside the
packet (${f.headerBytes} bytes from that offset) and has no annotation is dropped and counted in
\`drops_short\`; one without a route is dropped and counted in \`drops_no_route\`. A routed packet gets
${f.setAnnotation} set to the route's gateway (or, without a gateway, to its own
destination: the annotation always names the next hop, as in Click) and goes to the route's output.

A batch is looked up whole (the table's batched lookup, prefetching), then split into one
sub-batch per output. The table (native/fib/lpm.h) is a Poptrie-style compressed multibit trie: a
16-bit root (8-bit for up to 4096 routes, so a small table costs about a kilobyte) and 8-bit
nodes whose runs of equal entries are stored once; ${f.fullTable} (bench/fib.ts).

Route changes: the handlers edit the authoritative route set on the control thread. An \`add\` or
\`remove\` then changes the published table in place (about 10 µs a route on the ${f.updates[0]},
bench/fib-updates.ts): only the slots the changed prefix covers are recomputed; their new subtrees
are written where no lookup can reach them yet, and each changed value is published with one atomic
store, so a lookup sees the table before or after the change, never a part of one. Parts replaced
stay allocated until the table's spare room (an eighth of its size, doubled up to a half each time
updates use it up) is used up; then, as for \`set\`, a change that covers most of the table (the
default route, short prefixes) or a write of very many routes, a new table is built in one pass
(${f.updates[1]}) and published with an atomic pointer swap, the old one freed once every
worker has finished the batch it was in. Changes never pause traffic; several routes in one write
cost one rebuild at most, and become visible at one instant: a write that changes more than one
prefix patches a private copy of the table (a memory copy, about a millisecond for a full table)
or builds a new one, and publishes it whole, so no lookup sees part of the change.${f.extra ? `\n${f.extra}` : ''}`;
  return {
    doc,
    config: Type.Object(
      {
        routes: Type.Optional(Type.Array(Type.String(), { default: [], description: "Routes, one per entry: 'PREFIX OUTPUT', 'PREFIX GATEWAY OUTPUT', 'PREFIX [via GW] [dev OUTPUT]' or multipath." })),
        file: Type.Optional(Type.String({ default: '', description: "A file of more routes, one per line ('#' comments), read at load time: plain text, or gzip when the name ends in .gz; '' for none." })),
        compiledRoutes: Type.Optional(
          Type.Array(Type.Unknown(), {
            description: "Filled in by the compiler from 'routes': each route typed, [ADDRESS, LEN, GATEWAY or null, OUTPUT, ...] (docs/plan.md); leave it out.",
          }),
        ),
      },
      { additionalProperties: false },
    ),
    quotas: { routes: (c: { routes?: string[]; compiledRoutes?: unknown[] }) => (c.compiledRoutes ?? c.routes ?? []).length },
    counters: {
      drops_no_route: 'packets dropped because no route matched their destination',
      drops_short: `packets dropped because their ${fam} header is not inside the packet (and no destination annotation is set)`,
    },
    handlers: {
      add: { doc: 'write routes (one per line); a route for an existing prefix replaces it (as replace); all or nothing', write: true },
      replace: { doc: 'write routes (one per line), each added or replacing the route of its prefix; all or nothing', write: true },
      insert: { doc: 'write routes (one per line) for new prefixes only: a prefix already in the table is refused, naming it; all or nothing', write: true },
      remove: { doc: 'write prefixes (one per line) whose routes are removed (a prefix with no route is refused); all or nothing', write: true },
      set: { doc: 'write the whole table (routes, one per line), replacing every route', write: true },
      load: { doc: "write 'insert PATH', 'replace PATH' or 'set PATH': the routes of a file (one per line, gzip when it ends in .gz) read here, natively, inserted, replacing, or as the whole table; all or nothing", write: true },
      max_routes: { doc: "the most routes the table may hold ('none': no limit; a serving engine sets it from the virtual router's routes quota): a change beyond it is refused whole", read: true, write: true },
      table: { doc: "every route, one per line, sorted by prefix, as 'PREFIX [via GW] dev OUTPUT'", read: true },
      count: { doc: 'the number of routes', read: true },
      memory: { doc: 'bytes used by the published lookup structure (table, next hops)', read: true },
      lookup: { doc: `write an ${fam} address: looks it up in the published table; read the answer from lookup_result`, write: true },
      lookup_result: { doc: "the answer to the last lookup: '[via GW] dev OUTPUT' (multipath: 'nexthop ... nexthop ...') or 'no route'", read: true },
    },
  };
}
