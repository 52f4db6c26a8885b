// The VRRP lab (test/vrrp-lab.test.ts, and the scripts bench suite's failover case): one link,
// a bridge in the host namespace pgv-h (198.18.0.10) whose ports are the root-namespace veths
// pgvA and pgvB (pktgraph routers) and pgv-k's pgvK (keepalived, 198.18.0.4); the virtual
// address 198.18.0.1, VRID 7. Everything is named pgv* (teardownLab removes it).
import { spawn, spawnSync } from 'node:child_process';
import { compile, graph, Runtime, FromDevice, ToDevice, Classifier, Switch, ARPResponder, Strip, CheckIPHeader, IPClassifier, ICMPPingResponder, Unstrip, EtherMirror, Discard, VRRP, type RunningGraph } from 'pktgraph';

export const VIP = '198.18.0.1';
export const VMAC = '00:00:5e:00:01:07';
export const HOST = 'pgv-h';
export const KA = 'pgv-k';

export function sh(args: string[], ok = true): { code: number; out: string } {
  const r = spawnSync(args[0], args.slice(1), { encoding: 'utf8', timeout: 20_000 });
  const out = (r.stdout ?? '') + (r.stderr ?? '');
  if (ok && r.status !== 0) throw new Error(`${args.join(' ')}: ${out}`);
  return { code: r.status ?? -1, out };
}
export const inHost = (ns: string, args: string[], ok = true) => sh(['ip', 'netns', 'exec', ns, ...args], ok);

export function teardownLab(): void {
  for (const ns of [HOST, KA]) sh(['ip', 'netns', 'del', ns], false);
  for (const d of ['pgvA', 'pgvB']) sh(['ip', 'link', 'del', d], false);
}

export function buildLab(): void {
  teardownLab();
  sh(['ip', 'netns', 'add', HOST]);
  sh(['ip', 'netns', 'add', KA]);
  inHost(HOST, ['ip', 'link', 'add', 'pgvbr', 'type', 'bridge', 'mcast_snooping', '0']);
  inHost(HOST, ['ip', 'addr', 'add', '198.18.0.10/24', 'dev', 'pgvbr']);
  inHost(HOST, ['ip', 'link', 'set', 'pgvbr', 'up']);
  inHost(HOST, ['ip', 'link', 'set', 'lo', 'up']);
  for (const d of ['pgvA', 'pgvB']) {
    sh(['ip', 'link', 'add', d, 'type', 'veth', 'peer', 'name', `${d}p`]);
    sh(['ip', 'link', 'set', `${d}p`, 'netns', HOST]);
    inHost(HOST, ['ip', 'link', 'set', `${d}p`, 'master', 'pgvbr', 'up']);
    sh(['ip', 'link', 'set', d, 'up']);
  }
  sh(['ip', 'link', 'add', 'pgvK', 'netns', KA, 'type', 'veth', 'peer', 'name', 'pgvKp', 'netns', HOST]);
  inHost(HOST, ['ip', 'link', 'set', 'pgvKp', 'master', 'pgvbr', 'up']);
  inHost(KA, ['ip', 'addr', 'add', '198.18.0.4/24', 'dev', 'pgvK']);
  inHost(KA, ['ip', 'link', 'set', 'pgvK', 'up']);
  inHost(KA, ['ip', 'link', 'set', 'lo', 'up']);
}

export function labReason(): string | undefined {
  if (process.platform !== 'linux') return 'needs Linux network namespaces';
  if (process.getuid?.() !== 0) return 'needs root (network namespaces, veth, a bridge)';
  const r = sh(['ip', 'netns', 'add', 'pgv-probe'], false);
  if (r.code !== 0) return `cannot make a network namespace here: ${r.out.trim()}`;
  const b = sh(['ip', 'netns', 'exec', 'pgv-probe', 'ip', 'link', 'add', 'pgvprobe', 'type', 'bridge'], false);
  sh(['ip', 'netns', 'del', 'pgv-probe'], false);
  if (b.code !== 0) return `this kernel has no bridge devices: ${b.out.trim()}`;
  if (spawnSync('ping', ['-V'], { stdio: 'ignore' }).status !== 0) return 'ping (iputils-ping) is missing; scripts/ensure-test-tools.sh installs it';
  return undefined;
}

// A router on `dev`: VRRP opens the gates in front of the ARP responder (the virtual MAC) and
// the ping responder for the virtual address only while it is master.
export function router(name: string, dev: string, address: string, priority: number, interval: number) {
  return compile(
    graph(name, () => {
      const tx = ToDevice({ device: dev }, 'tx');
      const c = FromDevice({ device: dev, promisc: true }, 'rx').to(Classifier({ patterns: ['12/0806 20/0001', '12/0800 23/70', '12/0800', '-'] }, 'c'));
      c.out(0).to(Switch({ output: -1 }, 'arp_gate')).to(ARPResponder({ entries: [`${VIP} ${VMAC}`] }, 'arp')).to(tx);
      c.out(1).to(VRRP({ vrid: 7, priority, address, addresses: [VIP], interval, gates: ['arp_gate', 'ip_gate'] }, 'vrrp')).to(tx);
      c.out(2)
        .to(Switch({ output: -1 }, 'ip_gate'))
        .to(Strip({ length: 14 }))
        .to(CheckIPHeader({}, 'check'))
        .to(IPClassifier({ patterns: [`dst host ${VIP} and icmp`] }, 'to_vip'))
        .to(ICMPPingResponder({}, 'ping'))
        .to(Unstrip({ length: 14 }))
        .to(EtherMirror({}, 'mirror'))
        .to(tx);
      c.out(3).to(Discard({}, 'other'));
    }),
  );
}

export function start(name: string, dev: string, address: string, priority: number, interval: number): { rt: Runtime; g: RunningGraph } {
  const rt = new Runtime({ threads: 1 });
  const g = rt.load(router(name, dev, address, priority, interval));
  rt.start();
  return { rt, g };
}


// Asynchronous: the routers' VRRP scripts run on this thread, so a blocking wait here (spawnSync)
// would hold their advertisements back.
export function ping(count: number, intervalS: number): Promise<{ code: number; out: string }> {
  const p = spawn('ip', ['netns', 'exec', HOST, 'ping', '-c', String(count), '-i', String(intervalS), '-W', '1', VIP]);
  let out = '';
  p.stdout.on('data', (d) => (out += d));
  p.stderr.on('data', (d) => (out += d));
  return new Promise((resolve) => p.on('close', (code) => resolve({ code: code ?? -1, out })));
}
export const received = (out: string) => Number(/(\d+) received/.exec(out)?.[1] ?? -1);
export const neighbourMac = () => /lladdr ([0-9a-f:]{17})/.exec(inHost(HOST, ['ip', 'neigh', 'show', VIP], false).out)?.[1];

