// The interfaces suite's Linux cases: a bridge device, and IPv4 forwarding between the two
// root-side veth ends, on the same topology as the engine.
import { spawnSync } from 'node:child_process';
import { DST_IP, SINK_DISCARD_MAC } from './settings.js';
import { sh } from './topology.js';
import type { CaseSpec } from './cases.js';

export const kernelBridge: CaseSpec['setUp'] = (env, a, b) => {
  const br = `${env.lab.prefix}br`;
  const teardown = () => {
    spawnSync('ip', ['link', 'set', a, 'nomaster'], { stdio: 'ignore' });
    spawnSync('ip', ['link', 'set', b, 'nomaster'], { stdio: 'ignore' });
    spawnSync('ip', ['link', 'del', br], { stdio: 'ignore' });
  };
  try {
    sh('ip', ['link', 'add', br, 'type', 'bridge', 'stp_state', '0', 'forward_delay', '0'], 'kernel bridge');
    spawnSync('sysctl', ['-qw', `net.ipv6.conf.${br}.disable_ipv6=1`], { stdio: 'ignore' });
    sh('ip', ['link', 'set', a, 'master', br], 'kernel bridge');
    sh('ip', ['link', 'set', b, 'master', br], 'kernel bridge');
    sh('ip', ['link', 'set', br, 'up'], 'kernel bridge');
  } catch (e) {
    teardown();
    throw e;
  }
  return { dut: { name: 'Linux bridge' }, teardown };
};

export const kernelForwarding: CaseSpec['setUp'] = (env, a, b) => {
  const dst = DST_IP.join('.');
  const sinkMac = SINK_DISCARD_MAC;
  const teardown = () => {
    for (const d of [a, b]) {
      spawnSync('sysctl', ['-qw', `net.ipv4.conf.${d}.forwarding=0`], { stdio: 'ignore' });
      spawnSync('ip', ['addr', 'flush', 'dev', d], { stdio: 'ignore' });
    }
    spawnSync('ip', ['neigh', 'del', dst, 'dev', b], { stdio: 'ignore' });
  };
  try {
    // Forwarding is switched on for the lab's two interfaces only (the kernel checks the
    // ingress interface's flag), not for the whole root namespace.
    sh('ip', ['addr', 'add', '198.18.0.254/24', 'dev', a], 'kernel forwarding');
    sh('ip', ['addr', 'add', '198.19.0.254/24', 'dev', b], 'kernel forwarding');
    sh('sysctl', ['-qw', `net.ipv4.conf.${a}.forwarding=1`], 'kernel forwarding');
    sh('sysctl', ['-qw', `net.ipv4.conf.${b}.forwarding=1`], 'kernel forwarding');
    // The destination is a neighbour on the sink's link (a permanent entry with SINK_DISCARD_MAC):
    // the sink counts the frames and drops them as not-for-this-host, so no replies.
    sh('ip', ['neigh', 'replace', dst, 'lladdr', sinkMac, 'dev', b, 'nud', 'permanent'], 'kernel forwarding');
  } catch (e) {
    teardown();
    throw e;
  }
  return { dut: { name: 'Linux IP forwarding' }, teardown };
};
