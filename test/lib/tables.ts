// A large routing table for tests that need a big handler answer (rt.table): a route file of `n`
// /24 routes over two outputs, and a graph file whose IPLookup `rt` loads it. Returns the graph file.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

export function writeRouteTableGraph(dir: string, n: number): string {
  const file = join(dir, 'routes.txt');
  const lines: string[] = [];
  for (let i = 0; i < n; i++) lines.push(`${16 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}.0/24 ${i % 2}`);
  writeFileSync(file, lines.join('\n') + '\n');
  const graphFile = join(dir, 'table.ts');
  writeFileSync(
    graphFile,
    `import { graph, InfiniteSource, IPLookup, Discard } from 'pktgraph';
export default graph('table', () => {
  const rt = IPLookup({ file: ${JSON.stringify(file)} }, 'rt');
  InfiniteSource({ limit: 1 }, 'src').to(rt);
  rt.out(0).to(Discard({}, 'd0'));
  rt.out(1).to(Discard({}, 'd1'));
});
`,
  );
  return graphFile;
}
