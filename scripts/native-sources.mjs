// Prints the C++ sources of the addon, one per line, relative to the repository root
// (binding.gyp runs this from there): the engine core and every element's implementation.
import { readdirSync } from 'node:fs';
import { join, relative, dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const out = [];
function walk(dir) {
  for (const entry of readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
    const p = join(dir, entry.name);
    if (entry.isDirectory()) walk(p);
    else if (entry.name.endsWith('.cc')) out.push(relative(root, p));
  }
}
walk(join(root, 'native'));
walk(join(root, 'elements'));
console.log(out.join('\n'));
