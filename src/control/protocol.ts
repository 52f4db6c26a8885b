// The control protocol: newline-delimited JSON over a Unix socket. Each request line
// gets exactly one response line, in order.
export type ControlOp = 'read' | 'write' | 'handlers' | 'list' | 'counters' | 'profile';

export interface ControlRequest {
  op: ControlOp;
  /** Graph name; may be left out while a single graph runs. */
  graph?: string;
  element?: string;
  handler?: string;
  /** For write: the value given to the handler. For profile: 'on', 'off', 'reset' or '' (just read). */
  value?: string;
}

export type ControlResponse = { ok: true; value: unknown } | { ok: false; error: string };
