// The programs scripts/native-tests.mjs builds (the native unit tests, plainly and with
// AddressSanitizer and UndefinedBehaviorSanitizer; the sanitized plan runner and plugins):
// test/native-units.test.ts and test/plugins-sanitized.test.ts build them through this.
import type { Test } from 'tap';
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface NativeProgram {
  name: string;
  kind: 'unit' | 'driver' | 'plugin';
  sanitized: boolean;
  bin: string;
  /** The environment to run it with (the sanitizers' options). */
  env: Record<string, string>;
}

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Why the programs cannot be built here, or undefined. */
export const nativeBuildSkip = (): string | undefined => (spawnSync('g++', ['--version']).error ? 'g++ is not installed (the native build needs it too)' : undefined);

/** Build what is out of date; the programs, or undefined after failing `t` with the build's errors. */
export function buildNativePrograms(t: Test): NativeProgram[] | undefined {
  const built = spawnSync(process.execPath, [join(root, 'scripts', 'native-tests.mjs')], { cwd: root, encoding: 'utf8', timeout: 800_000 });
  if (built.status !== 0) {
    t.fail(`scripts/native-tests.mjs failed: ${built.stderr}`);
    return undefined;
  }
  return JSON.parse(built.stdout.trim().split('\n').pop()!) as NativeProgram[];
}
