// Errors the command line reports as one clear sentence (no stack trace unless --debug).
import { GraphError } from '../graph/graph.js';

export class CliError extends Error {
  override name = 'CliError';
  constructor(message: string, readonly detail?: unknown) {
    super(message);
  }
}

/** GraphError by class or by shape (a graph file may have loaded its own copy of pktgraph). */
export function isGraphError(err: unknown): err is GraphError {
  return err instanceof GraphError || (err instanceof Error && err.name === 'GraphError' && Array.isArray((err as GraphError).problems));
}

/** The text to print for an error: problems one per line, otherwise the message. */
export function describeError(err: unknown): string {
  if (isGraphError(err)) {
    const p = err.problems;
    return p.length === 1 ? p[0] : `${p.length} problems in the graph:\n${p.map((x) => `  - ${x}`).join('\n')}`;
  }
  if (err instanceof Error) return err.message;
  return String(err);
}

/** Suggest the closest of `choices` to a mistyped `word`, if any is close enough. */
export function closest(word: string, choices: string[]): string | undefined {
  let best: string | undefined;
  let bestD = Infinity;
  for (const c of choices) {
    const d = editDistance(word.toLowerCase(), c.toLowerCase());
    if (d < bestD) [best, bestD] = [c, d];
  }
  return bestD <= Math.max(2, Math.floor(word.length / 3)) ? best : undefined;
}

function editDistance(a: string, b: string): number {
  const dp = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = dp[0];
    dp[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = dp[j];
      dp[j] = Math.min(dp[j] + 1, dp[j - 1] + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = tmp;
    }
  }
  return dp[b.length];
}
