// Graphviz DOT for a compiled plan: one node per element (name and class), one edge per
// connection labelled with its ports; pull connections are dashed; elements of a compound
// instance (names with '/') are drawn inside a cluster per instance.
import type { Plan } from './plan.js';

function q(s: string): string {
  return '"' + s.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n') + '"';
}

export function toDot(plan: Plan): string {
  const lines: string[] = [`digraph ${q(plan.name)} {`, '  rankdir=LR;', '  node [shape=box, fontname="Helvetica", fontsize=10];', '  edge [fontname="Helvetica", fontsize=9];'];
  // Group by compound path.
  interface Cluster { children: Map<string, Cluster>; elements: string[] }
  const root: Cluster = { children: new Map(), elements: [] };
  for (const e of plan.elements) {
    const parts = e.name.split('/');
    let c = root;
    for (const p of parts.slice(0, -1)) {
      if (!c.children.has(p)) c.children.set(p, { children: new Map(), elements: [] });
      c = c.children.get(p)!;
    }
    c.elements.push(`${q(e.name)} [label=${q(`${parts[parts.length - 1]}\n:: ${e.class}`)}];`);
  }
  let clusterId = 0;
  const emit = (c: Cluster, indent: string, path: string) => {
    for (const el of c.elements) lines.push(indent + el);
    for (const [name, child] of c.children) {
      const full = path ? `${path}/${name}` : name;
      lines.push(`${indent}subgraph cluster_${clusterId++} {`, `${indent}  label=${q(full)};`, `${indent}  style=rounded;`);
      emit(child, indent + '  ', full);
      lines.push(`${indent}}`);
    }
  };
  emit(root, '  ', '');
  const byName = new Map(plan.elements.map((e) => [e.name, e]));
  for (const c of plan.connections) {
    const from = byName.get(c.from)!;
    const pull = from.outputs[c.fromPort] === 'pull';
    const attrs = [`taillabel=${q(String(c.fromPort))}`, `headlabel=${q(String(c.toPort))}`];
    if (pull) attrs.push('style=dashed');
    lines.push(`  ${q(c.from)} -> ${q(c.to)} [${attrs.join(', ')}];`);
  }
  lines.push('}');
  return lines.join('\n') + '\n';
}
