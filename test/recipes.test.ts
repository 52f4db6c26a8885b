// Recipes are documented from one declaration beside their code (src/recipes/*.doc.ts):
// `pktgraph recipes` prints it without loading the element set, docs/recipes.md is written
// from it, and each documented recipe is what 'pktgraph' exports under that name.
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { recipes } from '../src/recipes/index.js';
import { recipesMarkdown, recipeDoc, recipesList } from '../src/cli/recipes.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

t.test('docs/recipes.md is written from the declarations', async (t) => {
  const doc = readFileSync(join(root, 'docs', 'recipes.md'), 'utf8');
  t.equal(doc, recipesMarkdown().join('\n') + '\n', 'current: if not, run `pktgraph recipes --markdown > docs/recipes.md`');
});

t.test('every recipe is exported by pktgraph under its documented name, and documents every field', async (t) => {
  const api = (await import('../src/index.js')) as unknown as Record<string, unknown>;
  t.ok(recipes.length >= 1);
  for (const r of recipes) {
    t.type(api[r.name], 'function', `${r.name} is exported`);
    t.ok(r.summary && r.doc && Object.keys(r.fields).length > 0, `${r.name} has a summary, documentation and fields`);
    for (const [f, d] of Object.entries(r.fields)) t.ok(d.length > 5, `${r.name}: ${f} documented`);
  }
  // The ipRouter fields the doc names are the ones its description type has (checked by
  // tsc through router.doc.ts); here: they reach the printed page.
  const page = recipeDoc('ipRouter').join('\n');
  for (const f of ['interfaces[].device', 'interfaces[].mtu', 'routes', 'nat.outside', 'nat.forwards[].to', 'options.icmpRateLimit']) t.match(page, new RegExp(`^  ${f.replace(/[[\].]/g, '\\$&')} +\\S`, 'm'), f);
  t.match(recipesList()[1], /^ipRouter +An IPv4 or dual-stack router/);
  t.throws(() => recipeDoc('ipRoutr'), /no recipe named 'ipRoutr'; did you mean 'ipRouter'\?/);
});

t.test('printing recipes loads no element', async (t) => {
  const out = execFileSync(
    process.execPath,
    ['--import', 'tsx', '--input-type=module', '-e', `const r = await import('./src/cli/recipes.ts'); r.recipeDoc('ipRouter'); const d = await import('./src/graph/descriptor.ts'); console.log(d.allDescriptors().length);`],
    { cwd: root, encoding: 'utf8', env: { ...process.env, NODE_OPTIONS: '' } },
  );
  t.equal(out.trim(), '0', 'no element descriptor was registered');
});
