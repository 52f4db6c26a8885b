// Progress while a suite runs: a one-line bar on a terminal (case i/n, run j/m, elapsed and
// estimated time left), plain lines otherwise (logs, CI). Written to stderr so stdout keeps
// only the results.

export interface Progress {
  /** How many cases the suite will run (call once, before the first case). */
  plan(cases: number): void;
  /** Case `index` (0-based) starts. */
  startCase(index: number, name: string): void;
  /** Run `run` (1-based) of `runs` of the current case, with an optional detail (e.g. a search step). */
  step(run: number, runs: number, detail?: string): void;
  /** A free-form message (setting up, skipping). */
  note(msg: string): void;
  done(): void;
}

const clock = (s: number) => {
  if (!Number.isFinite(s) || s < 0) return '--:--';
  const m = Math.floor(s / 60);
  return `${String(m).padStart(2, '0')}:${String(Math.floor(s % 60)).padStart(2, '0')}`;
};

export function makeProgress(suite: string, out: { isTTY?: boolean; write(s: string): unknown; columns?: number } = process.stderr, quiet = false): Progress {
  const tty = !!out.isTTY;
  const t0 = Date.now();
  let cases = 1;
  let index = 0;
  let name = '';
  let run = 0;
  let runs = 1;
  let drawn = false;
  const elapsed = () => (Date.now() - t0) / 1000;
  const fraction = () => Math.min(1, (index + (runs > 0 ? Math.max(0, run - 1) / runs : 0)) / Math.max(1, cases));
  const line = (detail: string) => {
    const f = fraction();
    const e = elapsed();
    const eta = f > 0.02 ? (e / f) * (1 - f) : NaN;
    return `[${suite}] case ${index + 1}/${cases}, run ${run}/${runs}, ${clock(e)} elapsed, ETA ${clock(eta)}: ${name}${detail ? ` (${detail})` : ''}`;
  };
  const draw = (detail: string) => {
    if (quiet) return;
    if (!tty) {
      out.write(line(detail) + '\n');
      return;
    }
    const width = Math.max(40, (out.columns || 120) - 1);
    const barWidth = 20;
    const filled = Math.round(fraction() * barWidth);
    const text = `${'#'.repeat(filled)}${'.'.repeat(barWidth - filled)} ${line(detail)}`;
    out.write(`\r\x1b[K${text.slice(0, width)}`);
    drawn = true;
  };
  return {
    plan(n) {
      cases = Math.max(1, n);
    },
    startCase(i, n) {
      index = i;
      name = n;
      run = 0;
      runs = 1;
    },
    step(j, m, detail) {
      run = j;
      runs = m;
      draw(detail ?? '');
    },
    note(msg) {
      if (quiet) return;
      if (tty) {
        out.write(`\r\x1b[K[${suite}] ${msg}`);
        drawn = true;
      } else out.write(`[${suite}] ${msg}\n`);
    },
    done() {
      if (tty && drawn && !quiet) out.write('\r\x1b[K');
    },
  };
}
