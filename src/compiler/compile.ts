// The compiler: a graph definition in, a checked and normalised plan out.
// Checks, in order: element names; configs against each descriptor's schema (defaults
// filled in); compounds flattened; port counts; push/pull resolved with Click's rules
// (agnostic ports take the processing of what they connect to, push by default; a push
// output feeds exactly one input; a pull input has exactly one connection); every port
// connected; no push or pull cycle; each descriptor's own checks. All problems are
// reported together, each naming the element, port or field and how to fix it.
import { Value } from 'typebox/value';
import type { TObject } from 'typebox';
import { GraphError, at, type GraphBuilder, type GraphDefinition, type ElementNode, type ParamValue } from '../graph/graph.js';
import type { ElementDescriptor, GraphContext } from '../graph/descriptor.js';
import { ADDRESS_KIND, addressKindOf, describeAddress, mapAddresses, taggedVariant, typedAddress } from '../graph/types.js';
import { closest } from '../util/suggest.js';
import { PLAN_FORMAT, PLAN_VERSION, type Plan, type PlanClass, type PlanElement, type PlanField, type PortProcessing } from './plan.js';

export interface CompileOptions {
  params?: Partial<Record<string, ParamValue>>;
}

interface RealEdge {
  from: ElementNode;
  fromPort: number;
  to: ElementNode;
  toPort: number;
}

export function compile(def: GraphDefinition, options: CompileOptions = {}): Plan {
  const builder = def.build(options.params);
  return compileBuilder(def.name, builder, paramsOf(def, options.params));
}

function paramsOf(def: GraphDefinition, overrides: CompileOptions['params']): Plan['params'] {
  const out: Plan['params'] = { ...def.params };
  for (const [k, v] of Object.entries(overrides ?? {})) if (v !== undefined && k in out) out[k] = v;
  return out;
}

export function compileBuilder(name: string, builder: GraphBuilder, params: Plan['params'] = {}): Plan {
  const problems = [...builder.problems];
  const elements = builder.nodes.filter((n) => n.kind === 'element');
  if (elements.length === 0) throw new GraphError([`graph '${name}' has no elements`]);

  const configs = new Map<ElementNode, Record<string, unknown> | undefined>();
  for (const e of elements) configs.set(e, normaliseConfig(e, problems));

  const edges = flatten(builder, problems);
  const ports = countPorts(elements, edges, problems);
  const processing = resolveProcessing(elements, edges, ports, problems);
  checkConnections(elements, edges, ports, processing, problems);
  checkCycles(elements, edges, processing, problems);

  const context = (e: ElementNode) => graphContext(e, elements, edges, ports, processing);
  for (const e of elements) {
    const d = e.descriptor!;
    if (d.check && configs.get(e)) {
      const msg = d.check(configs.get(e) as never, ports.get(e)!, context(e));
      if (msg) problems.push(`${desc(e)}: ${msg}`);
    }
    const t = e.options.thread;
    if (t !== undefined && (!Number.isInteger(t) || t < 0 || t > 62))
      problems.push(`${desc(e)}: thread must be a worker number from 0 to 62, got ${t}`);
  }
  if (problems.length) throw new GraphError(problems);
  for (const e of elements) {
    const d = e.descriptor!;
    if (d.plan) Object.assign(configs.get(e)!, d.plan(configs.get(e) as never, ports.get(e)!, context(e)));
    configs.set(e, typedValue(d.config, configs.get(e)) as Record<string, unknown>);
  }

  const planElements: PlanElement[] = elements.map((e) => {
    const p = ports.get(e)!;
    const pe: PlanElement = {
      name: e.name,
      class: e.className,
      config: configs.get(e)!,
      inputs: Array.from({ length: p.inputs }, (_, i) => processing.get(key(e, 'in', i))!),
      outputs: Array.from({ length: p.outputs }, (_, i) => processing.get(key(e, 'out', i))!),
    };
    if (e.options.thread !== undefined) pe.thread = e.options.thread;
    if (e.site) pe.site = e.site;
    return pe;
  });
  const classes: Record<string, PlanClass> = {};
  for (const e of elements) classes[e.className] ??= classFacts(e.descriptor!);
  return {
    format: PLAN_FORMAT,
    version: PLAN_VERSION,
    name,
    params,
    classes,
    elements: planElements,
    connections: edges.map((c) => ({ from: c.from.name, fromPort: c.fromPort, to: c.to.name, toPort: c.toPort })),
  };
}

/** What the native side takes from a descriptor (docs/plan.md, `classes`): ports, processing,
 *  counters in order, endsPushCycles, and each config field's type and range. */
export function classFacts(d: ElementDescriptor): PlanClass {
  const fields: Record<string, PlanField> = {};
  for (const [k, s] of Object.entries<any>(d.config.properties ?? {})) fields[k] = fieldFacts(s);
  const c: PlanClass = { inputs: d.inputs, outputs: d.outputs, processing: d.processing, counters: Object.keys(d.counters), fields };
  if (d.endsPushCycles) c.endsPushCycles = true;
  if (d.hopLimited) c.hopLimited = true;
  if (d.copiesPackets) c.copiesPackets = true;
  if (d.library) c.library = d.library;
  return c;
}

// A union's numeric branch gives the range, its string literals the values (ICMPError's
// `type`: a number or a name); an enum gives values; an array (or a union's array branch) its
// item count bounds and, recursively, its items' facts; an object its properties' facts.
function fieldFacts(s: any): PlanField {
  const address = addressKindOf(s);
  if (address) {
    // The plan holds the typed form (typedValue): its JSON type, and the kind that says how to read it.
    const one = address.kind === 'ipv4' ? 'integer' : address.kind === 'ip' ? ['integer', 'array'] : address.kind.endsWith('prefix') ? 'object' : 'array';
    const type = address.array ? 'array' : s.anyOf ? [one, 'null'].flat() : one;
    return { type, kind: address.kind };
  }
  const branches: any[] = s.anyOf ?? [s];
  const types = [...new Set(branches.map((b) => b.type ?? (typeof b.const === 'string' || b.enum ? 'string' : 'any')))];
  const f: PlanField = { type: types.length === 1 ? types[0] : types };
  const num = branches.find((b) => b.type === 'integer' || b.type === 'number');
  for (const k of ['minimum', 'maximum', 'exclusiveMinimum', 'exclusiveMaximum'] as const) if (num?.[k] !== undefined) f[k] = num[k];
  const literals = branches.flatMap((b) => (b.enum ? b.enum : typeof b.const === 'string' ? [b.const] : []));
  if (literals.length && !branches.some((b) => b.type === 'string' && b.const === undefined)) f.values = literals;
  const arr = branches.find((b) => b.type === 'array');
  if (arr) {
    for (const k of ['minItems', 'maxItems'] as const) if (arr[k] !== undefined) f[k] = arr[k];
    if (arr.items && !Array.isArray(arr.items)) f.items = fieldFacts(arr.items);
  }
  // An object (not a union of them): its properties' facts.
  if (branches.length === 1 && s.type === 'object' && s.properties)
    f.properties = Object.fromEntries(Object.entries<any>(s.properties).map(([k, p]) => [k, fieldFacts(p)]));
  return f;
}

function desc(e: ElementNode): string {
  return `element '${e.name}' (${e.className})${at(e.site)}`;
}

function key(e: ElementNode, side: 'in' | 'out', port: number): string {
  return `${e.id}:${side}:${port}`;
}

// ---- the graph around an element, for descriptors' check and plan hooks ----

function graphContext(
  self: ElementNode,
  elements: ElementNode[],
  edges: RealEdge[],
  ports: Map<ElementNode, { inputs: number; outputs: number }>,
  processing: Map<string, PortProcessing>,
): GraphContext {
  const isQueue = (n: ElementNode) =>
    (ports.get(n)?.outputs ?? 0) > 0 && processing.get(key(n, 'in', 0)) === 'push' && processing.get(key(n, 'out', 0)) === 'pull';
  return {
    queuesDownstream(output) {
      const found: string[] = [];
      const seen = new Set<ElementNode>([self]);
      const follow = (from: ElementNode, port: number) => {
        if (processing.get(key(from, 'out', port)) !== 'push') return;
        for (const c of edges) {
          if (c.from !== from || c.fromPort !== port || seen.has(c.to)) continue;
          seen.add(c.to);
          if (isQueue(c.to)) found.push(c.to.name);
          else for (let i = 0; i < (ports.get(c.to)?.outputs ?? 0); i++) follow(c.to, i);
        }
      };
      follow(self, output);
      return found;
    },
    findQueue(name) {
      const scope = self.name.includes('/') ? self.name.slice(0, self.name.lastIndexOf('/') + 1) : '';
      const e = elements.find((n) => n.name === scope + name) ?? elements.find((n) => n.name === name);
      if (!e) return { error: `no element '${name}' in the graph` };
      if (!isQueue(e)) return { error: `'${e.name}' (${e.className}) is not a queue (an element with a push input and a pull output, such as Queue)` };
      return { name: e.name };
    },
  };
}

// ---- configs ----

function normaliseConfig(e: ElementNode, problems: string[]): Record<string, unknown> | undefined {
  const d = e.descriptor as ElementDescriptor<TObject>;
  const schema = d.config;
  const given = e.config;
  if (typeof given !== 'object' || given === null || Array.isArray(given)) {
    problems.push(`${desc(e)}: config must be an object of named fields`);
    return undefined;
  }
  const fields = Object.keys(schema.properties ?? {});
  let ok = true;
  for (const k of Object.keys(given)) {
    if (!fields.includes(k)) {
      const near = closest(k, fields);
      problems.push(
        `${desc(e)}: unknown config field '${k}'${near ? ` (did you mean '${near}'?)` : ''}; ${d.name} takes: ${fields.join(', ') || 'no fields'}`,
      );
      ok = false;
    }
  }
  if (!ok) return undefined;
  const filled = Value.Default(schema, structuredClone(given)) as Record<string, unknown>;
  const found = schemaProblems(schema, filled, '');
  if (!found.length) found.push(...addressProblems(schema, filled, ''));
  for (const m of found) problems.push(`${desc(e)}: ${m}`);
  return found.length ? undefined : filled;
}

// Problems of `value` against `schema`, each naming the field by its dotted path. Walks objects,
// arrays and unions itself (typebox's own errors for a union say only "expected one of"), so a
// misspelt field inside an array of specs is named with a suggestion, and a union of tagged
// objects (`{ kind: 'snat', ... } | { kind: 'dnat', ... }`) is checked against the variant its
// tag selects. Leaves use typebox's messages.
function schemaProblems(schema: any, value: unknown, path: string): string[] {
  if (Value.Check(schema, value)) return [];
  const field = path.replace(/^\./, '');
  // Address text the pattern refuses: the address parser's words, not the pattern.
  const address = addressKindOf(schema);
  if (address && !address.array && typeof value === 'string' && value !== '') {
    const r = typedAddress(address.kind, value);
    if (typeof r === 'string') return [`config field '${field}': ${r}`];
  }
  if (schema.anyOf) {
    const variants: any[] = schema.anyOf;
    if (value && typeof value === 'object' && !Array.isArray(value)) {
      const v = value as Record<string, unknown>;
      const tags = (s: any) => Object.entries(s?.properties ?? {}).filter(([, p]: [string, any]) => p?.const !== undefined) as [string, any][];
      const tagged = variants.filter((s) => s?.type === 'object' && tags(s).length > 0);
      if (tagged.length === variants.length) {
        const match = taggedVariant(schema, value);
        if (match) return schemaProblems(match, value, path);
        const tagName = tags(tagged[0])[0][0];
        const allowed = tagged.map((s) => JSON.stringify(s.properties[tagName].const)).join(', ');
        return [`config field '${field ? `${field}.` : ''}${tagName}' must be one of ${allowed}, got ${JSON.stringify(v[tagName])}`];
      }
    }
    return [`config field '${field}' must be ${describeSchema(schema)}, got ${JSON.stringify(value)}`];
  }
  if (schema.type === 'object' && schema.properties && value && typeof value === 'object' && !Array.isArray(value)) {
    const v = value as Record<string, unknown>;
    const fields = Object.keys(schema.properties);
    const out: string[] = [];
    for (const k of Object.keys(v)) {
      if (fields.includes(k)) continue;
      const near = closest(k, fields);
      out.push(`unknown config field '${path ? `${field}.` : ''}${k}'${near ? ` (did you mean '${near}'?)` : ''}; ${path ? `'${field}' takes` : 'takes'}: ${fields.join(', ')}`);
    }
    const missing = (schema.required ?? []).filter((k: string) => v[k] === undefined);
    if (missing.length) {
      const names = missing.map((m: string) => `'${path ? `${field}.` : ''}${m}'`).join(', ');
      out.push(`config field${missing.length > 1 ? 's' : ''} ${names} must be given`);
    }
    for (const k of fields) if (v[k] !== undefined) out.push(...schemaProblems(schema.properties[k], v[k], `${path}.${k}`));
    if (out.length) return out;
  } else if (schema.type === 'array' && schema.items && Array.isArray(value)) {
    const out = (value as unknown[]).flatMap((item, i) => schemaProblems(schema.items, item, `${path}.${i}`));
    // Item problems first; the array's own constraints (length) below if the items were fine.
    if (out.length) return out;
  }
  const expected = describeSchema(schema);
  const seen = new Set<string>();
  const out: string[] = [];
  for (const er of Value.Errors(schema, value)) {
    if (er.keyword === 'additionalProperties' || er.keyword === 'boolean') continue;
    const sub = er.instancePath.replace(/\//g, '.');
    const name = `${field}${sub && field ? sub : sub.replace(/^\./, '')}`;
    const m = `config field '${name}' ${er.message}${expected && !sub ? ` (expected ${expected})` : ''}, got ${JSON.stringify(valueAt(value, er.instancePath))}`;
    if (!seen.has(m)) { seen.add(m); out.push(m); }
  }
  return out.length ? out : [`config field '${field}' must be ${expected}, got ${JSON.stringify(value)}`];
}

// Address fields (src/graph/types.ts) whose text the schema's pattern let through but the
// address parser refuses (an IPv6 address's pattern is loose), at any depth.
function addressProblems(schema: any, value: unknown, path: string): string[] {
  const field = path.replace(/^\./, '');
  const address = addressKindOf(schema);
  if (address) {
    const texts = address.array ? (value as string[]).map((v, i) => [v, `${field}.${i}`] as const) : [[value as string, field] as const];
    return texts.flatMap(([text, name]) => {
      if (text === '') return [];
      const r = typedAddress(address.kind, text);
      return typeof r === 'string' ? [`config field '${name}': ${r}`] : [];
    });
  }
  if (schema?.type === 'object' && schema.properties && value && typeof value === 'object')
    return Object.keys(schema.properties).flatMap((k) => ((value as any)[k] === undefined ? [] : addressProblems(schema.properties[k], (value as any)[k], `${path}.${k}`)));
  if (schema?.type === 'array' && schema.items && Array.isArray(value)) return value.flatMap((item, i) => addressProblems(schema.items, item, `${path}.${i}`));
  return [];
}

// The plan's form of a checked config: every address field's text replaced by its typed form
// ('' by null), at any depth of objects, arrays and unions of tagged objects (IPRewriter's
// `inputs`); a field a plan hook typed itself stays as it is.
function typedValue(schema: any, value: unknown): unknown {
  return mapAddresses(schema, value, (kind, text) => {
    if (typeof text !== 'string') return text; // typed already (a plan hook's)
    if (text === '') return null;
    const r = typedAddress(kind, text);
    if (typeof r === 'string') throw new Error(`internal: an address the checks passed is refused: ${r}`);
    return r;
  });
}

function valueAt(v: unknown, path: string): unknown {
  let cur: any = v;
  for (const part of path.split('/').filter(Boolean)) cur = cur?.[part];
  return cur;
}

export function describeSchema(s: any): string {
  if (!s) return '';
  if (s[ADDRESS_KIND]) return describeAddress(s[ADDRESS_KIND]);
  if (s.anyOf) return s.anyOf.map(describeSchema).join(' or ');
  if (s.const !== undefined) return JSON.stringify(s.const);
  if (s.enum) return s.enum.map((x: unknown) => JSON.stringify(x)).join(' | ');
  let t = s.type === 'integer' ? 'a whole number' : s.type === 'number' ? 'a number' : s.type === 'string' ? 'a string' : s.type === 'boolean' ? 'true or false' : s.type === 'array' ? `an array of ${describeSchema(s.items)}` : s.type ?? 'a value';
  if (s.minimum !== undefined && s.maximum !== undefined) t += ` from ${s.minimum} to ${s.maximum}`;
  else if (s.exclusiveMinimum !== undefined && s.maximum !== undefined) t += ` more than ${s.exclusiveMinimum} and at most ${s.maximum}`;
  else if (s.minimum !== undefined) t += ` >= ${s.minimum}`;
  else if (s.exclusiveMinimum !== undefined) t += ` > ${s.exclusiveMinimum}`;
  else if (s.maximum !== undefined) t += ` <= ${s.maximum}`;
  if (s.pattern) t += ` matching ${s.pattern}`;
  return t;
}

// ---- compounds: splice boundary nodes out ----

function flatten(builder: GraphBuilder, problems: string[]): RealEdge[] {
  const from = new Map<string, { to: ElementNode; toPort: number }[]>();
  for (const c of builder.connections) {
    const k = `${c.from.id}:${c.fromPort}`;
    if (!from.has(k)) from.set(k, []);
    from.get(k)!.push({ to: c.to, toPort: c.toPort });
  }
  for (const c of builder.connections) {
    for (const [n, port, side] of [[c.from, c.fromPort, 'outputs'], [c.to, c.toPort, 'inputs']] as const) {
      if (n.kind === 'compound' && port >= n.declaredPorts![side])
        problems.push(`compound '${n.name}' (${n.className}) has ${n.declaredPorts![side]} ${side}; ${side === 'inputs' ? 'input' : 'output'} ${port} does not exist`);
      if (n.kind === 'compound-input' && side === 'outputs' && port >= n.declaredPorts!.outputs)
        problems.push(`compound '${n.scope.prefix.slice(0, -1)}' has ${n.declaredPorts!.outputs} inputs; input ${port} does not exist`);
      if (n.kind === 'compound-output' && side === 'inputs' && port >= n.declaredPorts!.inputs)
        problems.push(`compound '${n.scope.prefix.slice(0, -1)}' has ${n.declaredPorts!.inputs} outputs; output ${port} does not exist`);
    }
  }
  // Where packets leaving (node, port) end up, through any number of boundaries.
  const compoundOf = new Map<ElementNode, ElementNode>();
  for (const n of builder.nodes) if (n.kind === 'compound' && n.inner) {
    compoundOf.set(n.inner.input, n);
    compoundOf.set(n.inner.output, n);
  }
  const dests = (node: ElementNode, port: number, depth = 0): { to: ElementNode; toPort: number }[] => {
    if (depth > 256) return [];
    const out: { to: ElementNode; toPort: number }[] = [];
    for (const d of from.get(`${node.id}:${port}`) ?? []) {
      if (d.to.kind === 'element') out.push(d);
      else if (d.to.kind === 'compound') {
        const inner = d.to.inner!.input;
        const next = dests(inner, d.toPort, depth + 1);
        if (next.length === 0) problems.push(`compound '${d.to.name}' (${d.to.className}): input ${d.toPort} is not connected to anything inside`);
        out.push(...next);
      } else if (d.to.kind === 'compound-output') {
        const c = compoundOf.get(d.to)!;
        const next = dests(c, d.toPort, depth + 1);
        if (next.length === 0) problems.push(`compound '${c.name}' (${c.className}): output ${d.toPort} is not connected`);
        out.push(...next);
      }
    }
    return out;
  };
  const edges: RealEdge[] = [];
  for (const n of builder.nodes) {
    if (n.kind !== 'element') continue;
    const usedPorts = new Set<number>();
    for (const c of builder.connections) if (c.from === n) usedPorts.add(c.fromPort);
    for (const p of [...usedPorts].sort((a, b) => a - b))
      for (const d of dests(n, p)) edges.push({ from: n, fromPort: p, to: d.to, toPort: d.toPort });
  }
  // Compound inputs fed from nothing.
  for (const n of builder.nodes) {
    if (n.kind !== 'compound') continue;
    for (let i = 0; i < n.declaredPorts!.inputs; i++) {
      if (!builder.connections.some((c) => c.to === n && c.toPort === i) && from.has(`${n.inner!.input.id}:${i}`))
        problems.push(`compound '${n.name}' (${n.className}): input ${i} is not connected`);
    }
  }
  return edges;
}

// ---- ports ----

function parseRange(spec: string): [number, number] {
  if (spec === '-') return [0, Infinity];
  const m = /^(\d+)(?:-(\d*))?$/.exec(spec);
  if (!m) throw new Error(`bad port count '${spec}'`);
  const lo = Number(m[1]);
  const hi = m[2] === undefined ? lo : m[2] === '' ? Infinity : Number(m[2]);
  return [lo, hi];
}

function countPorts(elements: ElementNode[], edges: RealEdge[], problems: string[]) {
  const ports = new Map<ElementNode, { inputs: number; outputs: number }>();
  for (const e of elements) {
    const d = e.descriptor!;
    let maxIn = -1;
    let maxOut = -1;
    for (const c of edges) {
      if (c.to === e) maxIn = Math.max(maxIn, c.toPort);
      if (c.from === e) maxOut = Math.max(maxOut, c.fromPort);
    }
    const [inLo, inHi] = parseRange(d.inputs);
    const [outLo, outHi] = parseRange(d.outputs);
    // Use as many ports as are connected, at least the minimum.
    const inputs = Math.max(maxIn + 1, inLo);
    const outputs = Math.max(maxOut + 1, outLo);
    if (inputs > inHi)
      problems.push(inHi === 0 ? `${desc(e)} has no inputs, but something is connected to its input ${maxIn}` : `${desc(e)} takes ${d.inputs} input(s), but input ${maxIn} is connected`);
    if (outputs > outHi)
      problems.push(outHi === 0 ? `${desc(e)} has no outputs, but its output ${maxOut} is connected` : `${desc(e)} takes ${d.outputs} output(s), but output ${maxOut} is connected`);
    ports.set(e, { inputs: Math.min(inputs, inHi), outputs: Math.min(outputs, outHi) });
  }
  return ports;
}

// ---- push and pull ----

function letter(code: string, port: number): string {
  if (!code) return 'a';
  return code[Math.min(port, code.length - 1)];
}

function resolveProcessing(
  elements: ElementNode[],
  edges: RealEdge[],
  ports: Map<ElementNode, { inputs: number; outputs: number }>,
  problems: string[],
): Map<string, PortProcessing> {
  const value = new Map<string, PortProcessing>();
  const fixed = new Set<string>();
  const agnosticOf = new Map<ElementNode, string[]>();
  const peers = new Map<string, string[]>();
  const label = new Map<string, string>();
  for (const e of elements) {
    const [inCode, outCode] = splitCode(e.descriptor!.processing);
    const p = ports.get(e)!;
    const agn: string[] = [];
    for (const [side, n, code] of [['in', p.inputs, inCode], ['out', p.outputs, outCode]] as const) {
      for (let i = 0; i < n; i++) {
        const k = key(e, side, i);
        label.set(k, side === 'in' ? `input ${i} of '${e.name}' (${e.className})` : `output ${i} of '${e.name}' (${e.className})`);
        const l = letter(code, i);
        if (l === 'h' || l === 'l') {
          value.set(k, l === 'h' ? 'push' : 'pull');
          fixed.add(k);
        } else agn.push(k);
      }
    }
    agnosticOf.set(e, agn);
  }
  for (const c of edges) {
    const a = key(c.from, 'out', c.fromPort);
    const b = key(c.to, 'in', c.toPort);
    if (!peers.has(a)) peers.set(a, []);
    if (!peers.has(b)) peers.set(b, []);
    peers.get(a)!.push(b);
    peers.get(b)!.push(a);
  }
  const elementOf = new Map<string, ElementNode>();
  for (const [e, ks] of agnosticOf) for (const k of ks) elementOf.set(k, e);
  const reported = new Set<string>();

  const propagate = (start: string[]) => {
    const queue = [...start];
    while (queue.length) {
      const k = queue.shift()!;
      const v = value.get(k)!;
      const next: string[] = [...(peers.get(k) ?? [])];
      const owner = elementOf.get(k);
      if (owner) next.push(...agnosticOf.get(owner)!);
      for (const n of next) {
        if (n === k) continue;
        const nv = value.get(n);
        if (nv === undefined) {
          value.set(n, v);
          queue.push(n);
        } else if (nv !== v) {
          const pair = [k, n].sort().join('|');
          if (reported.has(pair)) continue;
          reported.add(pair);
          const kOut = k.includes(':out:');
          const nOut = n.includes(':out:');
          if (kOut !== nOut && (peers.get(k) ?? []).includes(n)) {
            const [outK, inK] = kOut ? [k, n] : [n, k];
            const outV = value.get(outK)!;
            problems.push(
              outV === 'push'
                ? `${label.get(outK)} is push but ${label.get(inK)} is pull: put a Queue between them`
                : `${label.get(outK)} is pull but ${label.get(inK)} is push: put an Unqueue between them`,
            );
          } else {
            problems.push(`${label.get(n)} must be both push and pull (its agnostic ports are tied to ${label.get(k)}): put a Queue or Unqueue on one side`);
          }
        }
      }
    }
  };
  propagate([...fixed]);
  // Agnostic ports nothing decided default to push, as in Click.
  for (const e of elements)
    for (const k of agnosticOf.get(e)!)
      if (!value.has(k)) {
        value.set(k, 'push');
        propagate([k]);
      }
  return value;
}

function splitCode(code: string): [string, string] {
  const i = code.indexOf('/');
  return i < 0 ? [code, code] : [code.slice(0, i), code.slice(i + 1)];
}

function checkConnections(
  elements: ElementNode[],
  edges: RealEdge[],
  ports: Map<ElementNode, { inputs: number; outputs: number }>,
  processing: Map<string, PortProcessing>,
  problems: string[],
) {
  for (const e of elements) {
    const p = ports.get(e)!;
    for (let i = 0; i < p.outputs; i++) {
      const conns = edges.filter((c) => c.from === e && c.fromPort === i);
      const mode = processing.get(key(e, 'out', i));
      if (conns.length === 0) problems.push(`${desc(e)}: output ${i} is not connected; connect it (to a Discard if its packets are not wanted)`);
      else if (conns.length > 1 && mode === 'push')
        problems.push(`${desc(e)}: push output ${i} is connected to ${conns.length} inputs (${conns.map((c) => c.to.name).join(', ')}); a push output feeds one input: use a Tee to copy packets`);
      else if (conns.length > 1 && mode === 'pull')
        problems.push(`${desc(e)}: pull output ${i} is pulled by ${conns.length} inputs (${conns.map((c) => c.to.name).join(', ')}); a pull output feeds one input`);
    }
    for (let i = 0; i < p.inputs; i++) {
      const conns = edges.filter((c) => c.to === e && c.toPort === i);
      const mode = processing.get(key(e, 'in', i));
      if (conns.length === 0) problems.push(`${desc(e)}: input ${i} is not connected; connect a source to it`);
      else if (conns.length > 1 && mode === 'pull')
        problems.push(`${desc(e)}: pull input ${i} has ${conns.length} connections (${conns.map((c) => c.from.name).join(', ')}); merge them with a scheduler such as RoundRobinSched or PrioSched`);
    }
  }
}

// ---- cycles ----

// A push cycle (a push output reaching its own element again through push connections)
// would send a packet round for ever, one nested call per pass, and a pull cycle would
// pull for ever: both crash or hang a worker. Elements that declare endsPushCycles let a
// push cycle through: ICMPError never answers an error and DecIPTTL bounds a routing loop,
// so Click's router, whose errors go back to the route lookup, compiles. But a cycle through an
// element that copies packets (copiesPackets: Tee) that only a hop count ends (hopLimited:
// DecIPTTL) is refused: each pass would multiply the packets, 2^255 times.
function checkCycles(elements: ElementNode[], edges: RealEdge[], processing: Map<string, PortProcessing>, problems: string[]) {
  const push = new Map<ElementNode, ElementNode[]>();
  const pull = new Map<ElementNode, ElementNode[]>();
  for (const e of elements) {
    push.set(e, []);
    pull.set(e, []);
  }
  for (const c of edges) {
    if (processing.get(key(c.from, 'out', c.fromPort)) === 'push') {
      if (!c.from.descriptor!.endsPushCycles && !c.to.descriptor!.endsPushCycles) push.get(c.from)!.push(c.to);
    } else pull.get(c.to)!.push(c.from);
  }
  const name = (e: ElementNode) => `'${e.name}' (${e.className})`;
  const pushCycles = findCycles(elements, push);
  for (const cycle of pushCycles)
    problems.push(
      `push cycle: ${cycle.map(name).join(' -> ')} -> back to '${cycle[0].name}'${at(cycle[0].site)}: a packet pushed into it would go round for ever; put a Queue in the cycle (and an Unqueue after it to push its packets on)`,
    );
  if (!pushCycles.length) {
    // Every push cycle left passes an element that ends it; one through a copier that only
    // hopLimited elements end is refused.
    const ends = (e: ElementNode) => e.descriptor!.endsPushCycles && !e.descriptor!.hopLimited;
    const all = new Map<ElementNode, ElementNode[]>(elements.map((e) => [e, []]));
    for (const c of edges)
      if (processing.get(key(c.from, 'out', c.fromPort)) === 'push' && !ends(c.from) && !ends(c.to)) all.get(c.from)!.push(c.to);
    const reported = new Set<ElementNode>();
    for (const e of elements) {
      if (!e.descriptor!.copiesPackets || reported.has(e)) continue;
      const cycle = cycleThrough(e, all);
      if (!cycle) continue;
      cycle.forEach((n) => reported.add(n));
      const enders = cycle.filter((n) => n.descriptor!.endsPushCycles).map(name).join(' and ');
      problems.push(
        `push cycle through a packet-copying element: ${cycle.map(name).join(' -> ')} -> back to '${e.name}'${at(e.site)}: ${name(e)} copies packets, so each pass round the cycle multiplies them, and ${enders} ends the cycle only at the hop limit (up to 255 passes: 2^255 packets); put a Queue in the cycle (and an Unqueue after it to push its packets on), or take '${e.name}' out of it`,
      );
    }
  }
  for (const cycle of findCycles(elements, pull))
    problems.push(
      `pull cycle: ${cycle.map(name).join(' pulls from ')}, which pulls from '${cycle[0].name}' again${at(cycle[0].site)}: a pull would never end; put an Unqueue and a Queue after it in the cycle`,
    );
}

// The shortest cycle from `start` back to itself (breadth first), or undefined.
function cycleThrough<T>(start: T, next: Map<T, T[]>): T[] | undefined {
  const parent = new Map<T, T>();
  const queue: T[] = [start];
  for (let i = 0; i < queue.length; i++) {
    const u = queue[i];
    for (const v of next.get(u) ?? []) {
      if (v === start) {
        const path = [u];
        while (path[0] !== start) path.unshift(parent.get(path[0])!);
        return path;
      }
      if (!parent.has(v)) {
        parent.set(v, u);
        queue.push(v);
      }
    }
  }
  return undefined;
}

// Cycles of a directed graph, each once, in traversal order: an iterative depth-first
// search reports the path from a back edge's target to its source; cycles sharing an
// element with one already reported are left out (fixing that one is the first step).
function findCycles<T>(nodes: T[], next: Map<T, T[]>): T[][] {
  const state = new Map<T, 'open' | 'done'>();
  const inCycle = new Set<T>();
  const cycles: T[][] = [];
  for (const root of nodes) {
    if (state.has(root)) continue;
    const path: T[] = [root];
    const iters = [0];
    state.set(root, 'open');
    while (path.length) {
      const u = path[path.length - 1];
      const out = next.get(u) ?? [];
      const i = iters[iters.length - 1]++;
      if (i >= out.length) {
        state.set(u, 'done');
        path.pop();
        iters.pop();
        continue;
      }
      const v = out[i];
      const sv = state.get(v);
      if (sv === undefined) {
        state.set(v, 'open');
        path.push(v);
        iters.push(0);
      } else if (sv === 'open') {
        const cycle = path.slice(path.indexOf(v));
        if (!cycle.some((n) => inCycle.has(n))) {
          cycles.push(cycle);
          for (const n of cycle) inCycle.add(n);
        }
      }
    }
  }
  return cycles;
}
