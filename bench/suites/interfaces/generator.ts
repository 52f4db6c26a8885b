// The interfaces suite's traffic generator: netsniff-ng's trafgen on one CPU (installed with
// apt-get when missing), else the engine's FlowSource -> ToDevice in a separate node process in
// the gen namespace (bench/suites/interfaces-gen.ts), or (--generator xdp) the kernel's XDP
// live-frames sender (xdp-gen.c beside this file); the engine's generator also stamps frames
// for the latency measurement.
import { spawnSync, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { existsSync, writeFileSync } from 'node:fs';
import { join, dirname } from 'node:path';
import type { Lab } from 'pktgraph';
import type { Progress } from '../../progress.js';
import { benchRoot, DST_IP, SRC_IP } from './settings.js';

export type GeneratorKind = 'trafgen' | 'engine' | 'xdp';
export interface GeneratorChoice {
  kind: GeneratorKind;
  note: string;
  /** The engine's generator sends with AF_XDP (--generator engine-xdp). */
  xdp?: boolean;
  /** The XDP live-frames sender's binary, compiled by chooseGenerator (--generator xdp). */
  binary?: string;
}

export interface Generator {
  kind: GeneratorKind;
  note: string;
  /**
   * Send frames of `size` bytes to `dstMac` at `pps` (0: as fast as possible) for `seconds`.
   * Resolves to the seconds the generator itself measured sending, when it reports them (the
   * engine's generator does; its process start-up must not count as sending time).
   */
  send(size: number, dstMac: string, pps: number, seconds: number): Promise<number | undefined>;
  /** The engine's generator with a TimestampStamp (latency trials), whatever `kind` is. */
  sendStamped(size: number, dstMac: string, pps: number, seconds: number): Promise<number | undefined>;
}

function hasTrafgen(): boolean {
  // `trafgen -v` prints its version and exits 1.
  const r = spawnSync('trafgen', ['-v'], { encoding: 'utf8', timeout: 5000 });
  return !r.error && /trafgen \d/.test(r.stdout ?? '');
}

/** trafgen if present (installing netsniff-ng with apt-get if not), else the engine's FlowSource. */
export function chooseGenerator(progress: Progress, forceEngineGen: boolean, xdp = false, kernelXdp?: { tmp: string }): GeneratorChoice {
  if (kernelXdp) return compileXdpGen(kernelXdp.tmp);
  if (forceEngineGen && xdp) return { kind: 'engine', xdp, note: "the engine's FlowSource -> ToDevice (method 'xdp': an AF_XDP socket's TX ring, copy mode) in a separate node process in gen (--generator engine-xdp given); the latency trials' stamped frames too" };
  if (forceEngineGen) return { kind: 'engine', note: 'the engine\'s FlowSource -> ToDevice in a separate node process in gen (--generator engine given)' };
  if (hasTrafgen()) return { kind: 'trafgen', note: 'netsniff-ng trafgen, one CPU (-P 1), qdisc bypass' };
  progress.note('trafgen is missing: installing netsniff-ng with apt-get');
  console.error('interfaces bench: trafgen is missing: installing the Debian package netsniff-ng with apt-get');
  const r = spawnSync('apt-get', ['install', '-y', '--no-install-recommends', 'netsniff-ng'], {
    stdio: ['ignore', 'ignore', 'pipe'],
    encoding: 'utf8',
    timeout: 300_000,
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
  });
  if (hasTrafgen()) return { kind: 'trafgen', note: 'netsniff-ng trafgen (installed by this run with apt-get), one CPU (-P 1), qdisc bypass' };
  const why = (r.stderr || r.error?.message || `exit ${r.status}`).trim().split('\n').pop();
  console.error(`interfaces bench: could not install netsniff-ng (${why}); falling back to the engine's own FlowSource -> ToDevice in a separate node process in the gen namespace`);
  return { kind: 'engine', note: `the engine's FlowSource -> ToDevice in a separate node process in gen (trafgen could not be installed: ${why})` };
}

/** xdp-gen.c (the XDP generator, and the sink's XDP drop) compiled into `tmp` once; its path. */
export function xdpTool(tmp: string): string {
  const binary = join(tmp, 'xdp-gen');
  if (existsSync(binary)) return binary;
  const src = join(dirname(fileURLToPath(import.meta.url)), 'xdp-gen.c');
  const r = spawnSync('cc', ['-O2', '-o', binary, src], { encoding: 'utf8', timeout: 60_000 });
  if (r.error || r.status !== 0) throw new Error(`bench interfaces: cannot compile ${src} (cc): ${(r.stderr || r.error?.message || '').trim()}`);
  return binary;
}

/**
 * --sink-drop xdp: an XDP program on the sink's veth drops every frame (counted in its
 * rx_packets first), attached while the returned function has not been called.
 */
export async function sinkXdpDrop(lab: Lab, sinkIf: string, tmp: string): Promise<() => void> {
  const child = lab.spawn('sink', [xdpTool(tmp), '--drop', sinkIf], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout?.on('data', (d) => (out += d));
  child.stderr?.on('data', (d) => (err += d));
  const t0 = Date.now();
  while (!out.includes('ready')) {
    if (child.exitCode !== null || Date.now() - t0 > 10_000) {
      child.kill('SIGKILL');
      throw new Error(`bench interfaces: the sink's XDP drop program did not attach: ${err.trim()}`);
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  return () => {
    child.kill('SIGKILL'); // the kernel detaches the program with the link's last fd
  };
}

/**
 * --generator xdp: xdp-gen.c compiled with the system's C compiler into `tmp`. The kernel sends
 * (BPF_PROG_RUN, live frames), so no user-space copy, socket buffer or system call per frame.
 */
function compileXdpGen(tmp: string): GeneratorChoice {
  return {
    kind: 'xdp',
    binary: xdpTool(tmp),
    note: "the kernel's XDP live-frames sender (bench/suites/interfaces/xdp-gen.c: BPF_PROG_RUN with BPF_F_TEST_XDP_LIVE_FRAMES redirecting to the gen veth; one flow, no socket buffer or system call per frame; GRO on the ingress veth so it has the NAPI such frames need); the latency trials' stamped frames from the engine's FlowSource -> ToDevice (AF_XDP)",
  };
}

/** A trafgen packet description: Ethernet, IPv4 (checksum computed here), UDP with source ports 1024-1279. */
function trafgenConfig(size: number, dstMac: string): string {
  const l2 = size - 4; // FCS not sent on a veth
  const ipLen = l2 - 14;
  const ip = [0x45, 0, ipLen >> 8, ipLen & 255, 0, 0, 0, 0, 64, 17, 0, 0, ...SRC_IP, ...DST_IP];
  let sum = 0;
  for (let i = 0; i < 20; i += 2) sum += (ip[i] << 8) | ip[i + 1];
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  const csum = ~sum & 0xffff;
  ip[10] = csum >> 8;
  ip[11] = csum & 255;
  const hex = (b: number) => `0x${b.toString(16).padStart(2, '0')}`;
  const mac = dstMac.split(':').map((h) => `0x${h}`);
  const udpLen = ipLen - 20;
  const bytes = [
    ...mac,
    ...[2, 0, 0, 0, 0, 1].map(hex),
    '0x08', '0x00',
    ...ip.map(hex),
    '0x04', 'dinc(0, 255)', '0x00', '0x09', hex(udpLen >> 8), hex(udpLen & 255), '0x00', '0x00',
    `fill(0x00, ${udpLen - 8})`,
  ];
  return `{ ${bytes.join(', ')} }\n`;
}

export function makeGenerator(lab: Lab, genIf: string, choice: GeneratorChoice, tmp: string): Generator {
  const waitExit = (child: ChildProcess, limitMs: number) =>
    new Promise<void>((resolve) => {
      let stderr = '';
      child.stderr?.on('data', (d) => (stderr += d));
      // trafgen forks its sending processes: signal the whole process group (spawned detached).
      const kill = (sig: NodeJS.Signals) => {
        try {
          if (child.pid) process.kill(-child.pid, sig);
        } catch {}
      };
      const timer = setTimeout(() => kill('SIGINT'), limitMs);
      const hard = setTimeout(() => kill('SIGKILL'), limitMs + 3000);
      child.on('exit', (code, signal) => {
        clearTimeout(timer);
        clearTimeout(hard);
        kill('SIGKILL'); // anything of the group still running (never expected)
        if (code && code !== 0 && signal === null && !/socket memory/.test(stderr)) console.error(`interfaces bench: generator exited ${code}: ${stderr.trim().slice(0, 400)}`);
        resolve();
      });
    });
  const trafgen = {
      ...choice,
      async send(size: number, dstMac: string, pps: number, seconds: number) {
        const cfg = join(tmp, `tg-${size}-${dstMac.replace(/:/g, '')}.cfg`);
        writeFileSync(cfg, trafgenConfig(size, dstMac));
        const args = ['trafgen', '-o', genIf, '-i', cfg, '-P', '1', '--no-sock-mem', '-q', '-C'];
        if (pps > 0) args.push('-b', `${Math.max(1, Math.round(pps))}pps`, '-n', String(Math.max(1, Math.round(pps * seconds))));
        const child = lab.spawn('gen', args, { stdio: ['ignore', 'ignore', 'pipe'], detached: true });
        // At full load trafgen runs until interrupted; at a set rate it stops after its count, or
        // is cut off when it cannot keep the rate (the offered rate is measured, not assumed).
        await waitExit(child, pps > 0 ? seconds * 1000 * 1.25 + 200 : seconds * 1000);
        return undefined;
      },
    };
  // A generator process that prints {"seconds": S} (its own sending time) last.
  const reported = async (args: string[], limitMs: number, cwd?: string) => {
    const child = lab.spawn('gen', args, { stdio: ['ignore', 'pipe', 'pipe'], detached: true, ...(cwd ? { cwd } : {}) });
    let out = '';
    child.stdout?.on('data', (d) => (out += d));
    await waitExit(child, limitMs);
    try {
      const r = JSON.parse(out.trim().split('\n').pop() ?? '') as { seconds?: number };
      return typeof r.seconds === 'number' && r.seconds > 0 ? r.seconds : undefined;
    } catch {
      return undefined;
    }
  };
  const engineGen = (stamp: boolean) => async (size: number, dstMac: string, pps: number, seconds: number) => {
    const script = join(benchRoot, 'suites', 'interfaces-gen.ts');
    // Start-up (node, tsx, compiling the graph) can take seconds on a busy machine: allow for it.
    return reported(
      [process.execPath, '--import', 'tsx', script, genIf, dstMac, String(size), String(Math.round(pps)), String(seconds), ...(stamp ? ['198.19.0.3', '--stamp'] : []), ...(choice.xdp ? ['--xdp'] : [])],
      seconds * 1000 * 1.25 + 15000,
      dirname(benchRoot),
    );
  };
  if (choice.kind === 'trafgen') return { ...trafgen, sendStamped: engineGen(true) };
  if (choice.kind === 'xdp') {
    const binary = choice.binary!;
    const send = (size: number, dstMac: string, pps: number, seconds: number) => reported([binary, genIf, dstMac, String(size), String(Math.round(pps)), String(seconds)], seconds * 1000 * 1.25 + 3000);
    // The stamped frames: the engine's generator over AF_XDP (its frames reach the same NAPI path).
    return { ...choice, send, sendStamped: makeGenerator(lab, genIf, { kind: 'engine', note: '', xdp: true }, tmp).sendStamped };
  }
  return { ...choice, send: engineGen(false), sendStamped: engineGen(true) };
}
