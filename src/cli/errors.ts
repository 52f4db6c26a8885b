// Errors the command line reports as one clear sentence (no stack trace unless --debug).
import { GraphError } from '../graph/graph.js';
export { closest } from '../util/suggest.js';

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
