// A lock file for builds that share outputs in one checkout (scripts/build.mjs, scripts/native-tests.mjs):
// it holds the builder's pid; a lock whose process is gone is stale.
import { readFileSync, statSync, unlinkSync, writeFileSync } from 'node:fs';

/** Runs fn holding `lock`; `fail(message)` when another builder has held it 15 minutes. */
export async function withLock(lock, fn, fail) {
  const deadline = Date.now() + 15 * 60_000;
  for (;;) {
    try {
      writeFileSync(lock, String(process.pid), { flag: 'wx' });
      break;
    } catch {
      let holder = 0;
      try { holder = Number(readFileSync(lock, 'utf8')); } catch {}
      let alive = false;
      try { if (holder > 0) { process.kill(holder, 0); alive = true; } } catch {}
      // An empty lock is one being written this instant, unless it is old.
      try { if (!(holder > 0) && Date.now() - statSync(lock).mtimeMs < 10_000) alive = true; } catch {}
      if (!alive) { try { unlinkSync(lock); } catch {} continue; }
      if (Date.now() > deadline) fail(`another build (pid ${holder}) has held ${lock} for 15 minutes`);
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 200);
    }
  }
  try { return await fn(); } finally { try { unlinkSync(lock); } catch {} }
}
