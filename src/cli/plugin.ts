// `pktgraph plugin-config` and `pktgraph plugin-build`: what an out-of-tree C++ element package
// needs from the installed pktgraph (docs/writing-elements.md, "Out-of-tree elements"): the
// element API headers, the flags the engine is built with, the API version, and a build.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { packageRoot } from '../runtime/native.js';
import { CliError } from './errors.js';

/** The element API version the installed headers declare (native/element.h, its one declaration). */
export function elementApiVersion(root = packageRoot()): number {
  const m = /^#define PG_ELEMENT_API_VERSION (\d+)$/m.exec(readFileSync(join(root, 'native', 'element.h'), 'utf8'));
  if (!m) throw new CliError(`${join(root, 'native', 'element.h')} declares no PG_ELEMENT_API_VERSION; reinstall pktgraph`);
  return Number(m[1]);
}

export function pluginConfig(opts: { include?: boolean; cflags?: boolean; gypi?: boolean; apiVersion?: boolean }): string {
  const root = packageRoot();
  const include = [join(root, 'native'), join(root, 'elements', 'lib')];
  // The flags of native/plugin.gypi, for builds that do not use node-gyp (make, CMake).
  const cflags = [...include.map((d) => `-I${d}`), '-DPG_PLUGIN', '-std=c++20', '-O3', '-march=x86-64-v3', '-fPIC', '-fexceptions', '-frtti', '-pthread'];
  if (opts.include) return include.join(' ');
  if (opts.cflags) return cflags.join(' ');
  if (opts.gypi) return join(root, 'native', 'plugin.gypi');
  if (opts.apiVersion) return String(elementApiVersion(root));
  return [
    `element API version ${elementApiVersion(root)}`,
    `include: ${include.join(' ')}`,
    `cflags:  ${cflags.join(' ')} (link with -shared)`,
    `gypi:    ${join(root, 'native', 'plugin.gypi')} (\`pktgraph plugin-build\` passes it to node-gyp)`,
  ].join('\n');
}

/** Build the plugin package in `dir` (node-gyp with native/plugin.gypi; scripts/build.mjs). */
export function pluginBuild(dir = '.'): void {
  const r = spawnSync(process.execPath, [join(packageRoot(), 'scripts', 'build.mjs'), 'plugin', resolve(dir)], { stdio: 'inherit' });
  if (r.status !== 0) throw new CliError(`building the plugin in ${resolve(dir)} failed (node-gyp's output above says why)`);
}
