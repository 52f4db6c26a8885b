// Where control sockets live. `--control PATH` (anything with a '/') is used as given;
// a plain NAME becomes `${XDG_RUNTIME_DIR or the temp dir}/pktgraph-${uid}/${NAME}.sock`,
// in a directory only its owner can enter. Without --control a run takes the first free
// name of default, default-2, default-3, ... (freeDefaultControlPath).
import { lstatSync, mkdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { probeSocket } from './client.js';

export const DEFAULT_CONTROL_NAME = 'default';

/** Longest Unix socket path Linux takes: sun_path is 108 bytes with the terminating NUL.
 *  Longer, the kernel (through libuv) would bind a truncated name. */
export const MAX_SOCKET_PATH = 107;

function uid(): number | string {
  return typeof process.getuid === 'function' ? process.getuid() : 'user';
}

export function controlDir(): string {
  return join(process.env.XDG_RUNTIME_DIR || tmpdir(), `pktgraph-${uid()}`);
}

/** The socket path for a `--control` value (a NAME or a PATH); refuses one too long for a socket. */
export function controlPath(nameOrPath: string | undefined): string {
  const v = nameOrPath ?? DEFAULT_CONTROL_NAME;
  if (!v.includes('/') && (!/^[A-Za-z0-9_.@-]+$/.test(v) || v === '.' || v === '..'))
    throw new Error(`control name '${v}' is not valid: use letters, digits, '_', '-', '.' and '@', or give a path containing '/'`);
  const path = v.includes('/') ? v : join(controlDir(), `${v}.sock`);
  const bytes = Buffer.byteLength(path);
  if (bytes > MAX_SOCKET_PATH)
    throw new Error(
      `the control socket path ${path} is ${bytes} bytes long, more than the ${MAX_SOCKET_PATH} a Unix socket path may have; ${v.includes('/') ? 'give a shorter --control PATH' : 'give a --control PATH that is shorter, or set XDG_RUNTIME_DIR to a shorter directory'}`,
    );
  return path;
}

/** Refuse a socket path whose directory is missing or is not a directory (before serving it). */
export function checkSocketDir(path: string): void {
  const dir = dirname(path);
  let st;
  try {
    st = statSync(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT')
      throw new Error(`cannot open the control socket ${path}: the directory ${dir} does not exist; create it or give --control a path in an existing directory`);
    throw new Error(`cannot open the control socket ${path}: ${(err as Error).message}`);
  }
  if (!st.isDirectory()) throw new Error(`cannot open the control socket ${path}: ${dir} is not a directory; give --control a path in a directory`);
}

/** How many default names (default, default-2, ...) a run tries before giving up. */
const MAX_DEFAULT_NAMES = 64;

/**
 * The first default socket nobody serves: default.sock, else default-2.sock, default-3.sock,
 * ... A stale socket (its engine died) is free: the server replaces it.
 */
export async function freeDefaultControlPath(): Promise<string> {
  for (let i = 1; i <= MAX_DEFAULT_NAMES; i++) {
    const path = controlPath(defaultControlName(i));
    if ((await probeSocket(path)) !== 'live') return path;
  }
  throw new Error(`${MAX_DEFAULT_NAMES} pktgraph engines already serve default control sockets in ${controlDir()}; give this one a name with --control NAME`);
}

/** default, default-2, default-3, ... */
export function defaultControlName(i: number): string {
  return i <= 1 ? DEFAULT_CONTROL_NAME : `${DEFAULT_CONTROL_NAME}-${i}`;
}

/**
 * Create the per-user socket directory (mode 0700) if needed, refusing one that another
 * user owns or that others can enter: the socket inside gives full control of the engine.
 */
export function ensureControlDir(): string {
  const dir = controlDir();
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
  const st = lstatSync(dir);
  if (!st.isDirectory()) throw new Error(`${dir} exists but is not a directory; remove it or use --control PATH`);
  const me = typeof process.getuid === 'function' ? process.getuid() : st.uid;
  if (st.uid !== me) throw new Error(`${dir} belongs to another user; use --control PATH`);
  if ((st.mode & 0o077) !== 0) throw new Error(`${dir} can be entered by other users (mode ${(st.mode & 0o777).toString(8)}); run \`chmod 700 ${dir}\` or use --control PATH`);
  return dir;
}
