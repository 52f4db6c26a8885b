// Waiting in tests that run a graph: a sleep that keeps the process alive, polling a condition
// until a deadline, and one counter of a running graph as a number.
import type { RunningGraph } from 'pktgraph';

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Poll `what` every `stepMs` until it holds or `ms` have passed; its last value. */
export async function until(what: () => boolean, ms: number, stepMs = 5): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (what()) return true;
    await sleep(stepMs);
  }
  return what();
}

export const counterOf = (g: RunningGraph, element: string, counter: string) => Number(g.counter(element, counter));
