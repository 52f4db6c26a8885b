// Test helpers: build a graph inline, run it until it drains (with a time limit, so a
// test never hangs), and return its counters.
import { graph, compile, runPlan, type RunSummary, type Plan } from 'pktgraph';

export async function runGraph(
  build: () => void,
  options: { threads?: number; timeoutSeconds?: number; name?: string; poolBuffers?: number } = {},
): Promise<RunSummary> {
  const plan = compile(graph(options.name ?? 'test', build));
  return runCompiled(plan, options);
}

export async function runCompiled(plan: Plan, options: { threads?: number; timeoutSeconds?: number; poolBuffers?: number } = {}) {
  const summary = await runPlan(plan, {
    threads: options.threads ?? 1,
    duration: options.timeoutSeconds ?? 20,
    poolBuffers: options.poolBuffers ?? 8192,
  });
  if (summary.stoppedBy !== 'drained') throw new Error(`graph '${plan.name}' did not drain within ${options.timeoutSeconds ?? 20} s`);
  return summary;
}

export function tmpPath(name: string): string {
  return `${process.env.TMPDIR ?? '/tmp'}/pktgraph-test-${process.pid}-${name}`;
}
