// `pktgraph new element NAME --cpp|--ts [DIR]`: a new element package from a template folder
// (templates/element-cpp, templates/element-ts), ready for `npm install && npm test`.
// Template files may use __NAME__ (the class), __PACKAGE__ (the npm name), __LIB__ (the plugin
// library's target name) and __PKTGRAPH__ (the pktgraph dependency), in text and file names.
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { basename, join, relative, resolve, sep } from 'node:path';
import '../index.js'; // the built-in elements, so a name clash is caught here
import { findDescriptor } from '../graph/descriptor.js';
import { packageRoot } from '../runtime/native.js';
import { CliError } from './errors.js';

export type ElementKind = 'cpp' | 'ts';

export interface NewElementOptions {
  cpp?: boolean;
  ts?: boolean;
  /** The pktgraph dependency to write (default: this checkout by path, or this version when installed). */
  pktgraph?: string;
}

/** The package's dependency on pktgraph: an installed pktgraph (under node_modules) by its
 *  version, a checkout by path, so a package made from a checkout installs with no registry. */
export function pktgraphDependency(root = packageRoot()): string {
  if (root.split(sep).includes('node_modules')) return '^' + JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).version;
  return 'file:' + root;
}

export function newElement(name: string, dir: string | undefined, opts: NewElementOptions): string[] {
  if (opts.cpp === opts.ts) throw new CliError('say which kind of element: --cpp (a C++ plugin, for the data path) or --ts (TypeScript, for control-plane logic)');
  const kind: ElementKind = opts.cpp ? 'cpp' : 'ts';
  if (!/^[A-Z][A-Za-z0-9]{0,63}$/.test(name))
    throw new CliError(`'${name}' is not an element class name: start with a capital letter, then letters and digits (like MyTagger)`);
  if (findDescriptor(name)) throw new CliError(`'${name}' is a built-in element class (\`pktgraph elements ${name}\`); choose another name`);
  const template = join(packageRoot(), 'templates', `element-${kind}`);
  if (!existsSync(template)) throw new CliError(`this pktgraph has no --${kind} template (${template} is missing); reinstall pktgraph`);
  const pkg = name.replace(/([a-z0-9])([A-Z])/g, '$1-$2').replace(/([A-Z])([A-Z][a-z])/g, '$1-$2').toLowerCase();
  const target = resolve(dir ?? pkg);
  if (existsSync(target) && (!statSync(target).isDirectory() || readdirSync(target).length > 0))
    throw new CliError(`${target} exists and is not an empty folder; give another DIR`);
  const words: Record<string, string> = {
    __NAME__: name,
    __PACKAGE__: pkg,
    __LIB__: pkg.replace(/-/g, '_'),
    __PKTGRAPH__: opts.pktgraph ?? pktgraphDependency(),
  };
  const fill = (text: string) => text.replace(/__(NAME|PACKAGE|LIB|PKTGRAPH)__/g, (w) => words[w]!);
  const made: string[] = [];
  const copy = (from: string, to: string) => {
    mkdirSync(to, { recursive: true });
    for (const entry of readdirSync(from, { withFileTypes: true })) {
      const src = join(from, entry.name);
      // npm drops files named .gitignore from packages, so the template keeps it as gitignore.
      const dst = join(to, fill(entry.name === 'gitignore' ? '.gitignore' : entry.name));
      if (entry.isDirectory()) copy(src, dst);
      else {
        writeFileSync(dst, fill(readFileSync(src, 'utf8')));
        made.push(relative(process.cwd(), dst) || basename(dst));
      }
    }
  };
  copy(template, target);
  const where = relative(process.cwd(), target) || '.';
  return [
    `created ${kind === 'cpp' ? 'a C++ plugin' : 'a TypeScript'} element package for ${name} in ${where}:`,
    ...made.sort().map((f) => `  ${f}`),
    '',
    `next: cd ${where} && npm install && npm test`,
  ];
}
