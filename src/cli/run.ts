// `pktgraph run`: compile a graph file, run it on the engine with a control socket,
// show live rates each second and a summary at the end.
import { availableParallelism, constants as osConstants } from 'node:os';
import { basename } from 'node:path';
import { runPlan, type RunSummary, type TickInfo } from '../runtime/run.js';
import type { Runtime, RunningGraph } from '../runtime/runtime.js';
import { ENGINE_LIMITS, loadNative } from '../runtime/native.js';
import type { Plan } from '../compiler/plan.js';
import { checkSocketDir, controlPath, ensureControlDir, freeDefaultControlPath } from '../control/path.js';
import { probeSocket } from '../control/client.js';
import { startControlServer, type ControlServer } from '../control/server.js';
import { loadAndCompile } from './load.js';
import { CliError } from './errors.js';
import { fit, si, table } from './format.js';
import { cpuPerPacketJson, drops, shortfalls, summaryLines } from './summary.js';
import { profileLines } from './profile.js';

export interface RunCommandOptions {
  threads?: number;
  duration?: number;
  json?: boolean;
  param?: string[];
  pool?: number;
  bufferSize?: number;
  /** undefined: the default socket; a NAME or PATH; false: none (--no-control). */
  control?: string | boolean;
  keepRunning?: boolean;
  /** Profile every element (--profile) and print the table at the end. */
  profile?: boolean;
}

const sourcesOf = (plan: Plan) => plan.elements.filter((e) => e.inputs.length === 0).map((e) => e.name);

export async function runCommand(file: string, opts: RunCommandOptions): Promise<void> {
  let plan = await loadAndCompile(file, opts.param);
  const threads = opts.threads ?? Math.min(availableParallelism(), ENGINE_LIMITS.threads.max);

  const given = typeof opts.control === 'string' ? opts.control : undefined;
  let socketPath = opts.control === false ? undefined : await chooseControlPath(given);

  // Ctrl-C and SIGTERM end the run cleanly within a poll (5 ms): the summary is still
  // printed, then the exit status is 128 + the signal's number (130, 143), as a shell's. A
  // second one leaves at once, still removing the socket. The handlers go in once the
  // engine runs: before that (compiling, loading a large table) a signal's default action
  // ends the process at once, where a handler would wait for the load to finish. While the
  // run is on, the native exit watchdog stands behind them: the JavaScript thread cannot run
  // them while it is inside a long native call (a read handler formatting a whole routing
  // table), so the watchdog ends the process itself if it is still there a second after a
  // signal or after --duration (native/exit_watchdog.h).
  const abort = new AbortController();
  let server: ControlServer | undefined;
  let signalled: NodeJS.Signals | undefined;
  let signalledAt = 0;
  const onSignal = (sig: NodeJS.Signals) => {
    if (!signalled) {
      signalled = sig;
      signalledAt = performance.now();
      return abort.abort();
    }
    server?.close();
    process.exit(signalStatus(sig));
  };
  const onExit = () => server?.close();
  process.on('exit', onExit);

  const meter = new Meter();
  const live = !opts.json && process.stdout.isTTY ? new LiveDisplay(plan, socketPath) : undefined;
  let summary: RunSummary;
  let running: RunningGraph | undefined;
  try {
    summary = await runPlan(plan, {
      threads,
      duration: opts.duration,
      poolBuffers: opts.pool,
      bufferSize: opts.bufferSize,
      stopWhenDrained: !opts.keepRunning,
      profile: opts.profile,
      signal: abort.signal,
      onStart: async (runtime, graph) => {
        running = graph;
        process.on('SIGINT', onSignal);
        process.on('SIGTERM', onSignal);
        if (socketPath) ({ server, path: socketPath } = await serveControl(runtime, socketPath, given === undefined));
        loadNative().armExitWatchdog({ graceMs: GRACE_MS, durationMs: opts.duration === undefined ? -1 : opts.duration * 1000, socketPath });
        live?.setControl(socketPath);
      },
      onTick: (tick) => {
        if (opts.json) return;
        const m = meter.measure(tick);
        // On a terminal the display is redrawn in place; into a pipe or file, one line per second.
        if (live) live.draw(m);
        else console.log(headline(m));
      },
    });
  } catch (err) {
    // The engine's and the control socket's errors are already sentences naming what is wrong;
    // one about the pool's buffer size gets the option that changes it.
    const message = err instanceof Error ? err.message : String(err);
    const hint = /pool'?s? buffer/.test(message) ? ' (raise the buffer size with --buffer-size BYTES)' : '';
    throw new CliError(message + hint, err);
  } finally {
    server?.close();
    loadNative().disarmExitWatchdog();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    process.off('exit', onExit);
  }
  const endedAt = performance.now();
  live?.clear();
  // The graph as it ended: a `pktgraph reconfigure` may have replaced it while it ran.
  const last = running?.latest();
  if (last) plan = last.plan;
  const bytes = sourceBytes(plan, summary);
  // Rates as configured when the run ended (a write to a rate handler shows in config).
  const configOf = (name: string) => last?.config(name);
  if (opts.json) {
    const gbps = bytes !== undefined && summary.seconds > 0 ? (bytes * 8) / summary.seconds / 1e9 : undefined;
    console.log(JSON.stringify({ ...summary, ...cpuPerPacketJson(summary), bytes, gbps, drops: drops(plan, summary), shortfalls: shortfalls(plan, summary, configOf) }));
  } else {
    for (const line of summaryLines(plan, summary, bytes, configOf)) console.log(line);
    for (const line of profileLines(summary)) console.log(line);
  }
  const status = signalled ? signalStatus(signalled) : 0;
  if (signalled || summary.stoppedBy === 'duration') await exitBy((signalled ? signalledAt : endedAt) + FLUSH_MS, status);
  else process.exitCode = status;
}

/** How long after a signal or --duration the native watchdog waits for the process to end. */
const GRACE_MS = 1000;
/** How long after them the output may take to be written (less than GRACE_MS). */
const FLUSH_MS = 800;

/**
 * Set the exit status once stdout and stderr have taken everything, or leave at `deadline`
 * without the rest. Output into a pipe is written asynchronously, and Node waits for it
 * before exiting: a reader that has stopped reading (`pktgraph run g.ts | (sleep 30)`)
 * would keep a run that a signal or --duration ended alive for as long as it sleeps.
 */
async function exitBy(deadline: number, status: number): Promise<void> {
  const pending = () => process.stdout.writableLength + process.stderr.writableLength;
  while (pending() > 0 && performance.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  if (pending() === 0) {
    process.exitCode = status;
    return;
  }
  // A run that ended by itself but could not deliver its summary has failed.
  if (process.stderr.writableLength === 0) console.error('pktgraph: stdout did not take the summary in time (its reader is not reading); ended without it');
  process.exit(status || 1);
}

/**
 * The control socket for `--control` (a NAME, a PATH, or undefined for the default). A
 * taken explicit socket is an error before the engine starts; without --control the run
 * takes the first free default name (default-2, ...).
 */
export async function chooseControlPath(given: string | undefined): Promise<string> {
  if (!given?.includes('/')) ensureControlDir();
  if (given === undefined) return freeDefaultControlPath();
  const path = controlPath(given);
  if (given.includes('/')) checkSocketDir(path);
  if ((await probeSocket(path)) === 'live')
    throw new CliError(`another pktgraph engine is already serving the control socket ${path}; stop it or give this one another with --control NAME`);
  return path;
}

/**
 * Serve the control socket. A default name taken meanwhile (another run starting at the same
 * moment) moves on to the next free one. A name other than the default is announced on stderr.
 */
async function serveControl(runtime: Runtime, path: string, isDefault: boolean): Promise<{ server: ControlServer; path: string }> {
  for (let attempt = 1; ; attempt++) {
    try {
      const server = await startControlServer(runtime, path);
      if (isDefault && path !== controlPath(undefined)) {
        const name = basename(path, '.sock');
        const note = `the default control socket is in use by another run; this one serves '${name}' (pktgraph read --control ${name} ELEMENT.HANDLER)`;
        console.error(`pktgraph: ${note}`); // stderr: with --json, stdout is only the summary
      }
      return { server, path };
    } catch (err) {
      if (!isDefault || attempt >= 5 || (await probeSocket(path)) !== 'live') throw err;
      path = await freeDefaultControlPath();
    }
  }
}

/** The exit status of a run ended by a signal: 128 + its number, as a shell reports it. */
const signalStatus = (sig: NodeJS.Signals) => 128 + (osConstants.signals[sig] ?? 0);

/** Bytes emitted by the sources, if they count bytes. */
function sourceBytes(plan: Plan, s: RunSummary): number | undefined {
  let total: number | undefined;
  for (const name of sourcesOf(plan)) {
    const b = s.elements[name]?.bytes;
    if (b !== undefined) total = (total ?? 0) + b;
  }
  return total;
}

// Counters and their per-second rates since the previous tick (from zero at the start,
// so the first tick already shows rates).
interface Measurement {
  elapsed: number;
  threads: number;
  packets: bigint;
  mpps: number;
  gbps: number | undefined;
  elements: { name: string; class: string; counters: { name: string; value: bigint; rate: number }[] }[];
}

class Meter {
  private prev = new Map<string, Record<string, bigint>>();
  private prevElapsed = 0;
  measure(tick: TickInfo): Measurement {
    const dt = Math.max(tick.elapsed - this.prevElapsed, 1e-3);
    this.prevElapsed = tick.elapsed;
    let pps = 0;
    let bps: number | undefined;
    // The tick's graph's plan: a reconfiguration may have replaced the graph since the start.
    const plan = tick.graph.plan;
    const sources = new Set(sourcesOf(plan));
    const elements = plan.elements.map((e) => {
      const now = tick.graph.counters(e.name);
      const before = this.prev.get(e.name) ?? {};
      this.prev.set(e.name, now);
      const counters = Object.entries(now).map(([name, value]) => ({ name, value, rate: Number(value - (before[name] ?? 0n)) / dt }));
      if (sources.has(e.name)) {
        for (const c of counters) {
          if (c.name === 'packets') pps += c.rate;
          if (c.name === 'bytes') bps = (bps ?? 0) + c.rate;
        }
      }
      return { name: e.name, class: e.class, counters };
    });
    return { elapsed: tick.elapsed, threads: tick.runtime.threads, packets: tick.packets, mpps: pps / 1e6, gbps: bps === undefined ? undefined : (bps * 8) / 1e9, elements };
  }
}

function headline(m: Measurement): string {
  const parts = [`${m.elapsed.toFixed(1)} s`, `${m.mpps.toFixed(2)} Mpps`];
  if (m.gbps !== undefined) parts.push(`${m.gbps.toFixed(2)} Gbit/s`);
  parts.push(`${si(Number(m.packets))} packets`);
  return parts.join('   ');
}

// On a terminal: a headline and a counter table, redrawn in place every second.
class LiveDisplay {
  private lines = 0;
  constructor(
    private readonly plan: Plan,
    private socketPath: string | undefined,
  ) {}

  setControl(path: string | undefined) {
    this.socketPath = path;
  }

  draw(m: Measurement) {
    const { columns, rows: height } = process.stdout;
    const rows = m.elements.map((e) => [
      e.name,
      e.class,
      e.counters.map((c) => `${c.name} ${si(Number(c.value))}${c.rate ? ` (${si(c.rate)}/s)` : ''}`).join('   '),
    ]);
    const out = [`pktgraph: ${this.plan.name} on ${m.threads} thread${m.threads === 1 ? '' : 's'}   ${headline(m)}`];
    out.push(this.socketPath ? `control: ${this.socketPath}   (Ctrl-C stops)` : '(Ctrl-C stops)');
    const body = table(rows, '  ');
    // Keep the whole display on screen, or redrawing in place would scroll.
    const room = Math.max(2, (height || 40) - out.length - 2);
    if (body.length > room) out.push(...body.slice(0, room - 1), `  … ${body.length - room + 1} more elements`);
    else out.push(...body);
    let text = this.lines ? `\x1b[${this.lines}F\x1b[J` : '';
    text += out.map((l) => fit(l, columns)).join('\n') + '\n';
    process.stdout.write(text);
    this.lines = out.length;
  }

  /** Remove the live display so the summary replaces it. */
  clear() {
    if (this.lines) process.stdout.write(`\x1b[${this.lines}F\x1b[J`);
    this.lines = 0;
  }
}
