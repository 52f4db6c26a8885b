// `pktgraph elements [NAME]`: the element reference, straight from the descriptors.
import type { TObject } from 'typebox';
import '../index.js'; // registers every built-in element
import { allDescriptors, findDescriptor, type ElementDescriptor } from '../graph/descriptor.js';
import { describeSchema } from '../compiler/compile.js';
import { CliError, closest } from './errors.js';
import { fit, table } from './format.js';

// The handlers RunningGraph gives every element, besides its counters.
export const GENERIC_HANDLERS: [string, string][] = [
  ['class', 'the element class'],
  ['name', 'the element name'],
  ['config', 'the configuration, as JSON, with defaults filled in'],
  ['ports', 'input and output counts and their push/pull processing'],
  ['counters', 'every counter, as JSON'],
  ['handlers', 'the handlers of this element'],
];

/** Import element packages (a folder, module file or package name) so that their descriptors
 *  register beside the built-in ones: a folder or file from the current directory, else a
 *  package name resolved from it. */
export async function importPlugins(specs: string[]): Promise<void> {
  if (specs.length === 0) return;
  const { loadModule } = await import('./load.js');
  for (const spec of specs) await loadModule(spec);
}

export function elementsList(): string[] {
  const ds = allDescriptors().sort((a, b) => a.group.localeCompare(b.group) || a.name.localeCompare(b.name));
  const columns = process.stdout.isTTY ? process.stdout.columns : undefined;
  const rows = table([['ELEMENT', 'GROUP', 'SUMMARY'], ...ds.map((d) => [d.name, d.group, d.summary])]).map((l) => fit(l, columns));
  return [...rows, '', 'Whole graphs built from a short description (ipRouter, ...): `pktgraph recipes`.'];
}

export function elementDoc(name: string): string[] {
  const d = findDescriptor(name) ?? allDescriptors().find((x) => x.name.toLowerCase() === name.toLowerCase());
  if (!d) {
    const near = closest(name, allDescriptors().map((x) => x.name));
    throw new CliError(`there is no element named '${name}'${near ? `; did you mean '${near}'?` : ''} (\`pktgraph elements\` lists them all)`);
  }
  return describeElement(d);
}

function ports(spec: string, what: 'input' | 'output'): string {
  const plural = `${what}s`;
  if (spec === '-') return `any number of ${plural}`;
  if (spec === '0') return `no ${plural}`;
  if (spec === '1') return `1 ${what}`;
  const m = /^(\d+)-(\d*)$/.exec(spec);
  if (m) return m[2] === '' ? `${m[1]} or more ${plural}` : `${m[1]} to ${m[2]} ${plural}`;
  return `${spec} ${plural}`;
}

function processing(code: string): string {
  const word = { a: 'agnostic', h: 'push', l: 'pull' } as Record<string, string>;
  const side = (letters: string, what: string) => {
    if (letters === '') return undefined;
    const names = [...letters].map((c) => word[c] ?? c);
    return names.length === 1 ? `${what} ${names[0]}` : `${what} ${names.join(', ')} (further ports as the last)`;
  };
  const [ins = '', outs = ''] = code.split('/');
  return [side(ins, 'inputs'), side(outs, 'outputs')].filter(Boolean).join('; ');
}

function indent(text: string, by = '  '): string[] {
  return text.split('\n').map((l) => (l ? by + l : ''));
}

export function describeElement(d: ElementDescriptor): string[] {
  const out = [`${d.name} (${d.group}): ${d.summary}`, '', ...indent(d.doc.trim()), ''];
  out.push(`Ports: ${ports(d.inputs, 'input')}, ${ports(d.outputs, 'output')}; processing ${d.processing} (${processing(d.processing)})`);
  if (d.endsPushCycles) out.push(`Push cycles through it are allowed: ${d.endsPushCycles}.`);
  if (d.copiesPackets) out.push(`No push cycle may pass it, even one another element ends: ${d.copiesPackets}.`);

  const schema = d.config as TObject;
  const required = new Set<string>((schema.required as string[] | undefined) ?? []);
  const fields = Object.entries(schema.properties ?? {});
  out.push('', 'Config:');
  if (fields.length === 0) out.push('  (no fields)');
  else {
    const rows = fields.map(([name, s]) => {
      const f = s as { default?: unknown; description?: string };
      const def = required.has(name) ? 'required' : f.default !== undefined ? `default ${JSON.stringify(f.default)}` : 'optional';
      return [name, describeSchema(f), def, f.description ?? ''];
    });
    out.push(...table(rows, '  '));
  }

  out.push('', 'Counters (each also a read handler):');
  const counters = Object.entries(d.counters);
  out.push(...(counters.length ? table(counters.map(([n, doc]) => [n, doc]), '  ') : ['  (none)']));

  const mode = (h: { read?: boolean; write?: boolean }) => `${h.read ? 'r' : ''}${h.write ? 'w' : ''}` || '-';
  out.push('', 'Handlers:');
  const native = Object.entries(d.handlers ?? {});
  out.push(...table([...native.map(([n, h]) => [n, mode(h), h.doc]), ...GENERIC_HANDLERS.map(([n, doc]) => [n, 'r', `${doc} (every element)`])], '  '));

  const derived = Object.entries(d.derived ?? {});
  if (derived.length) {
    out.push('', 'Derived handlers (read; computed from the counters):');
    out.push(...table(derived.map(([n, h]) => [n, h.doc]), '  '));
  }
  if (d.examples?.length) {
    out.push('', 'Examples:');
    for (const ex of d.examples) out.push(...indent(ex));
  }
  return out;
}
