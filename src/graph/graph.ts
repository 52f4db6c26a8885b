// The graph language. A graph file is a TypeScript module whose default export is
// made by `graph(...)`: element constructors called inside its builder add elements,
// and `a.to(b).to(c)`, `a.out(1).to(b)`, `a.to(b.in(1))` connect them. `compound(...)`
// defines a reusable subgraph with its own inputs and outputs; each instance's inner
// elements are named `instance/inner`. Building is deferred until compile time, so
// graph-level parameters can be set from the command line.
import type { ElementDescriptor } from './descriptor.js';

export interface NodeOptions {
  /** Element name (unique in the graph); default `Class@N`. */
  name?: string;
  /** Worker thread for the element's task (sources, Unqueue, ...); default: spread. */
  thread?: number;
}

export type NodeKind = 'element' | 'compound' | 'compound-input' | 'compound-output';

export class GraphError extends Error {
  constructor(readonly problems: string[]) {
    super(problems.length === 1 ? problems[0] : `${problems.length} problems:\n- ${problems.join('\n- ')}`);
    this.name = 'GraphError';
  }
}

export class OutputPort {
  constructor(readonly node: ElementNode, readonly port: number) {}
  /** Connect this output to `target` (input 0 of a node, or a given input port). Returns the target node. */
  to(target: ElementNode | InputPort): ElementNode {
    const input = target instanceof InputPort ? target : target.in(0);
    this.node.scope.builder.connect(this, input);
    return input.node;
  }
}

export class InputPort {
  constructor(readonly node: ElementNode, readonly port: number) {}
}

export class ElementNode {
  /** For compounds: the boundary nodes inside. */
  inner?: { input: ElementNode; output: ElementNode; scope: Scope };
  constructor(
    readonly scope: Scope,
    readonly id: number,
    readonly kind: NodeKind,
    readonly name: string,
    readonly className: string,
    readonly descriptor: ElementDescriptor | undefined,
    readonly config: Record<string, unknown>,
    readonly options: NodeOptions,
    readonly site: string | undefined,
    readonly declaredPorts?: { inputs: number; outputs: number },
  ) {}

  /** Output port n (Click's `[n]` after an element). */
  out(port: number): OutputPort {
    checkPortNumber(port, this, 'output');
    return new OutputPort(this, port);
  }
  /** Input port n (Click's `[n]` before an element). */
  in(port: number): InputPort {
    checkPortNumber(port, this, 'input');
    return new InputPort(this, port);
  }
  /** Connect output 0 to `target`; returns the target node so chains read left to right. */
  to(target: ElementNode | InputPort): ElementNode {
    return this.out(0).to(target);
  }
}

function checkPortNumber(port: number, node: ElementNode, what: string) {
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new GraphError([`${node.name}: ${what} port must be a whole number from 0 to 65535, got ${port}`]);
}

export interface Connection {
  from: ElementNode;
  fromPort: number;
  to: ElementNode;
  toPort: number;
}

// One graph under construction: every node of every scope, and every connection.
export class GraphBuilder {
  readonly nodes: ElementNode[] = [];
  readonly connections: Connection[] = [];
  readonly problems: string[] = [];
  private anonymous = new Map<string, number>();
  private names = new Set<string>();

  uniqueName(prefix: string, wanted: string | undefined, className: string, site: string | undefined): string {
    if (wanted !== undefined) {
      if (!/^[A-Za-z_][A-Za-z0-9_@-]*$/.test(wanted)) {
        this.problems.push(
          `element name '${wanted}'${at(site)} is not valid: use letters, digits, '_', '-' and '@', starting with a letter or '_'`,
        );
      }
      const full = prefix + wanted;
      if (this.names.has(full)) this.problems.push(`two elements are named '${full}'${at(site)}: element names must be unique`);
      this.names.add(full);
      return full;
    }
    for (;;) {
      const n = (this.anonymous.get(prefix + className) ?? 0) + 1;
      this.anonymous.set(prefix + className, n);
      const full = `${prefix}${className}@${n}`;
      if (!this.names.has(full)) {
        this.names.add(full);
        return full;
      }
    }
  }

  connect(from: OutputPort, to: InputPort) {
    if (from.node.scope.builder !== this || to.node.scope.builder !== this)
      throw new GraphError([`cannot connect ${from.node.name} to ${to.node.name}: they belong to different graphs`]);
    if (from.node.scope !== to.node.scope) {
      throw new GraphError([
        `cannot connect ${from.node.name} to ${to.node.name}: one is inside a compound element and the other is not; connect through the compound's inputs and outputs`,
      ]);
    }
    if (from.node.kind === 'compound-output') throw new GraphError([`${from.node.name} is the compound's output: connect into it, not out of it`]);
    if (to.node.kind === 'compound-input') throw new GraphError([`${to.node.name} is the compound's input: connect out of it, not into it`]);
    this.connections.push({ from: from.node, fromPort: from.port, to: to.node, toPort: to.port });
  }
}

export function at(site: string | undefined): string {
  return site ? ` (defined at ${site})` : '';
}

// A naming scope: the root graph or one compound instance.
export class Scope {
  constructor(readonly builder: GraphBuilder, readonly prefix: string) {}

  addElement(descriptor: ElementDescriptor, config: Record<string, unknown>, options: NodeOptions): ElementNode {
    const site = callSite();
    const name = this.builder.uniqueName(this.prefix, options.name, descriptor.name, site);
    const node = new ElementNode(this, this.builder.nodes.length, 'element', name, descriptor.name, descriptor, config, options, site);
    this.builder.nodes.push(node);
    return node;
  }

  addNode(kind: NodeKind, name: string, className: string, ports?: { inputs: number; outputs: number }): ElementNode {
    const node = new ElementNode(this, this.builder.nodes.length, kind, name, className, undefined, {}, {}, callSite(), ports);
    this.builder.nodes.push(node);
    return node;
  }
}

const scopes: Scope[] = [];

export function currentScope(what: string): Scope {
  const s = scopes[scopes.length - 1];
  if (!s) throw new GraphError([`${what} was called outside a graph: call it inside graph(...) or a compound's builder`]);
  return s;
}

function withScope<T>(scope: Scope, fn: () => T): T {
  scopes.push(scope);
  try {
    return fn();
  } finally {
    scopes.pop();
  }
}

// Where the user's code called into the graph language: the first stack frame outside src/graph
// (or the bundle the command line runs, dist/bundle).
function callSite(): string | undefined {
  const stack = new Error().stack?.split('\n').slice(1) ?? [];
  for (const line of stack) {
    if (/[\\/](src[\\/]graph|dist[\\/]bundle)[\\/]/.test(line) || line.includes('node:internal') || line.includes('node_modules')) continue;
    const m = /\(?((?:file:\/\/)?[^()\s]+):(\d+):(\d+)\)?\s*$/.exec(line);
    if (m) {
      let file = m[1].replace(/^file:\/\//, '');
      const cwd = process.cwd() + '/';
      if (file.startsWith(cwd)) file = file.slice(cwd.length);
      return `${file}:${m[2]}`;
    }
  }
  return undefined;
}

// ---- compounds ----

export interface CompoundIO<P> {
  /** The compound's inputs: connect out of them (`input.to(x)`, `input.out(1).to(y)`). */
  input: ElementNode;
  /** The compound's outputs: connect into them (`x.to(output)`, `y.to(output.in(1))`). */
  output: ElementNode;
  params: P;
}

export interface CompoundDefinition<P> {
  name: string;
  inputs: number;
  outputs: number;
  doc?: string;
  /** Default parameter values; an instance's params override them. */
  defaults?: P;
}

export interface CompoundConstructor<P> {
  (params?: Partial<P>, options?: NodeOptions | string): ElementNode;
  readonly definition: CompoundDefinition<P>;
}

/** Define a reusable subgraph. Each call of the result adds one instance. */
export function compound<P extends object = Record<string, never>>(
  definition: CompoundDefinition<P>,
  build: (io: CompoundIO<P>) => void,
): CompoundConstructor<P> {
  const ctor = ((params?: Partial<P>, options?: NodeOptions | string) => {
    const parent = currentScope(`compound ${definition.name}`);
    const opts = typeof options === 'string' ? { name: options } : options ?? {};
    const site = callSite();
    const name = parent.builder.uniqueName(parent.prefix, opts.name, definition.name, site);
    const node = parent.addNode('compound', name, definition.name, { inputs: definition.inputs, outputs: definition.outputs });
    const inner = new Scope(parent.builder, name + '/');
    const input = inner.addNode('compound-input', `${name}/input`, 'input', { inputs: 0, outputs: definition.inputs });
    const output = inner.addNode('compound-output', `${name}/output`, 'output', { inputs: definition.outputs, outputs: 0 });
    node.inner = { input, output, scope: inner };
    const merged = { ...(definition.defaults ?? {}), ...(params ?? {}) } as P;
    withScope(inner, () => build({ input, output, params: merged }));
    return node;
  }) as CompoundConstructor<P>;
  Object.defineProperty(ctor, 'definition', { value: definition });
  return ctor;
}

// ---- graphs ----

export type ParamValue = string | number | boolean;

export interface GraphOptions<P extends Record<string, ParamValue>> {
  name: string;
  /** Graph parameters with their defaults; `pktgraph run FILE -p key=value` overrides them. */
  params?: P;
  doc?: string;
}

export interface GraphDefinition<P extends Record<string, ParamValue> = Record<string, ParamValue>> {
  readonly kind: 'pktgraph-graph';
  readonly name: string;
  readonly params: P;
  readonly doc?: string;
  /** Build the graph with the defaults overridden by `overrides`. */
  build(overrides?: Partial<Record<string, ParamValue>>): GraphBuilder;
}

/** Define a graph. `build` runs at compile time with the (possibly overridden) parameters. */
export function graph<P extends Record<string, ParamValue>>(
  options: string | GraphOptions<P>,
  build: (params: P) => void,
): GraphDefinition<P> {
  const opts: GraphOptions<P> = typeof options === 'string' ? { name: options } : options;
  if (!/^[A-Za-z_][A-Za-z0-9_.-]*$/.test(opts.name))
    throw new GraphError([`graph name '${opts.name}' is not valid: use letters, digits, '_', '-' and '.'`]);
  const defaults = (opts.params ?? {}) as P;
  return {
    kind: 'pktgraph-graph',
    name: opts.name,
    params: defaults,
    doc: opts.doc,
    build(overrides = {}) {
      const params = { ...defaults } as Record<string, ParamValue>;
      const problems: string[] = [];
      for (const [k, v] of Object.entries(overrides)) {
        if (v === undefined) continue;
        if (!(k in defaults)) {
          problems.push(`graph '${opts.name}' has no parameter '${k}'; its parameters are: ${Object.keys(defaults).join(', ') || '(none)'}`);
          continue;
        }
        params[k] = coerceParam(opts.name, k, defaults[k], v, problems);
      }
      if (problems.length) throw new GraphError(problems);
      const builder = new GraphBuilder();
      withScope(new Scope(builder, ''), () => build(params as P));
      return builder;
    },
  };
}

function coerceParam(graphName: string, key: string, def: ParamValue, v: ParamValue, problems: string[]): ParamValue {
  if (typeof def === 'number') {
    const n = typeof v === 'number' ? v : Number(v);
    if (typeof v === 'string' && v.trim() === '') problems.push(`parameter '${key}' of graph '${graphName}' must be a number, got ''`);
    else if (!Number.isFinite(n)) problems.push(`parameter '${key}' of graph '${graphName}' must be a number, got '${v}'`);
    return n;
  }
  if (typeof def === 'boolean') {
    if (typeof v === 'boolean') return v;
    if (v === 'true' || v === '1') return true;
    if (v === 'false' || v === '0') return false;
    problems.push(`parameter '${key}' of graph '${graphName}' must be true or false, got '${v}'`);
    return def;
  }
  return String(v);
}

export function isGraphDefinition(v: unknown): v is GraphDefinition {
  return typeof v === 'object' && v !== null && (v as { kind?: unknown }).kind === 'pktgraph-graph';
}
