// `pktgraph recipes [NAME]`: the recipes (graphs built from a short description), documented
// from their RecipeDoc declarations. Loads no elements.
import { recipes, type RecipeDoc } from '../recipes/index.js';
import { CliError, closest } from './errors.js';
import { fit, table } from './format.js';

export function recipesList(): string[] {
  const columns = process.stdout.isTTY ? process.stdout.columns : undefined;
  const rows = table([['RECIPE', 'SUMMARY'], ...recipes.map((r) => [r.name, r.summary])]);
  return [...rows.map((l) => fit(l, columns)), '', '`pktgraph recipes NAME` documents one; graph files import it from \'pktgraph\'.'];
}

export function recipeDoc(name: string): string[] {
  const r = recipes.find((x) => x.name === name) ?? recipes.find((x) => x.name.toLowerCase() === name.toLowerCase());
  if (!r) {
    const near = closest(name, recipes.map((x) => x.name));
    throw new CliError(`there is no recipe named '${name}'${near ? `; did you mean '${near}'?` : ''} (\`pktgraph recipes\` lists them all)`);
  }
  return describeRecipe(r);
}

const indent = (text: string, by = '  ') => text.split('\n').map((l) => (l ? by + l : ''));

export function describeRecipe(r: RecipeDoc): string[] {
  const out = [`${r.name}: ${r.summary}`, '', ...indent(r.doc.trim()), '', 'Description fields:'];
  out.push(...table(Object.entries(r.fields), '  '));
  if (r.examples.length) {
    out.push('', 'Examples:');
    for (const ex of r.examples) out.push(...indent(ex));
  }
  return out;
}

/** docs/recipes.md, written from the declarations (`pktgraph recipes --markdown > docs/recipes.md`). */
export function recipesMarkdown(): string[] {
  const out = [
    '# Recipes',
    '',
    '<!-- Written by `pktgraph recipes --markdown > docs/recipes.md` from each recipe\'s RecipeDoc',
    '     (src/recipes/*.doc.ts); test/recipes.test.ts checks it is current. -->',
    '',
    'A recipe builds a whole graph from a short description. Graph files import it from',
    "`'pktgraph'` and export what it returns; `pktgraph recipes` lists the recipes and",
    '`pktgraph recipes NAME` prints the documentation below.',
  ];
  for (const r of recipes) out.push('', `## ${r.name}`, '', '```text', ...describeRecipe(r), '```');
  return out;
}
