// The interfaces suite's Click cases: Click's userlevel driver on bench/click/*.click, when a
// `click` binary is found.
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { benchRoot, type Settings } from './settings.js';
import { sleep, type Env } from './topology.js';
import type { CaseSpec } from './cases.js';

/** Click's userlevel driver on bench/click/NAME.click with the given definitions, in the root namespace. */
export function clickDut(s: Settings, config: string, defs: (env: Env, a: string, b: string) => Record<string, string>): CaseSpec['setUp'] {
  return async (env, a, b) => {
    const file = join(benchRoot, 'click', config);
    const args = [...Object.entries(defs(env, a, b)).map(([k, v]) => `${k}=${v}`), file];
    const child: ChildProcess = spawn(s.click!, args, { stdio: ['ignore', 'ignore', 'pipe'], detached: true });
    let err = '';
    child.stderr!.on('data', (d) => (err += d));
    let spawnError: Error | undefined;
    child.on('error', (e) => (spawnError = e));
    await sleep(1500);
    if (spawnError) throw new Error(`could not run ${s.click}: ${spawnError.message}`);
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`${s.click} exited at start (${child.exitCode !== null ? `exit ${child.exitCode}` : child.signalCode})${err.trim() ? `: ${err.trim().slice(0, 300)}` : ''}`);
    return {
      dut: { name: `Click (${config})` },
      teardown: () => {
        try {
          if (child.pid) process.kill(-child.pid, 'SIGKILL');
        } catch {}
      },
    };
  };
}
