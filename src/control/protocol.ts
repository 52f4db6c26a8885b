// The control protocol: newline-delimited JSON over a Unix socket. Each request line
// gets exactly one response line, in order. `pktgraph serve` also takes the service's
// operations (src/service/api.ts: vr.create, vr.list, ..., engine.stop) with their `args`.
import type { OperationName } from '../service/api.js';
import type { Plan } from '../compiler/plan.js';
import type { ReplaceInfo } from '../runtime/native.js';

export type ControlOp = 'read' | 'write' | 'handlers' | 'list' | 'counters' | 'profile' | 'replace';

export interface ControlRequest {
  op: ControlOp | OperationName;
  /** Graph name; may be left out while a single graph runs. */
  graph?: string;
  element?: string;
  handler?: string;
  /** For write: the value given to the handler. For profile: 'on', 'off', 'reset' or '' (just read). */
  value?: string;
  /** A service operation's arguments, as its schema in src/service/api.ts declares them. */
  args?: unknown;
  /** For replace: the compiled plan that replaces the graph (hot reconfiguration). */
  plan?: Plan;
}

/** What a replace request answers: the new graph's name and what the swap did (ReplaceInfo:
 *  swapNs, taken, dropped). */
export interface ReplaceResult extends ReplaceInfo {
  graph: string;
}

export type ControlResponse = { ok: true; value: unknown } | { ok: false; error: string };
