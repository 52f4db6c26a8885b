// Recipes: functions that build a whole graph from a short description (ipRouter). Each one's
// documentation is declared once, beside its code, as a RecipeDoc in `<name>.doc.ts`, a file
// that loads no elements, so `pktgraph recipes` prints it without loading the engine's
// element set; `docs/recipes.md` points here.

export interface RecipeDoc {
  /** The function graph files call, imported from 'pktgraph'. */
  name: string;
  /** One line: what it builds. */
  summary: string;
  /** What the graph does, how its elements are named, what it drops and where it counts it. */
  doc: string;
  /** The description's fields, by path ('interfaces[].device'), with their meaning and default. */
  fields: Record<string, string>;
  /** Graph files using it, each with how to try it. */
  examples: string[];
}
