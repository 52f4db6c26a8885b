// VRRP (elements/ip/VRRP.ts) on real interfaces. One link: a bridge in the host namespace
// pgv-h (address 198.18.0.10), with the root-namespace veths pgvA and pgvB (two pktgraph
// routers, each its own engine: 198.18.0.2 and .3) and pgv-k's pgvK (keepalived, 198.18.0.4)
// as its ports. The virtual address is 198.18.0.1 (VRID 7).
// 1. Two pktgraph routers: the higher priority becomes master; the host pings the virtual
//    address (answered from the virtual MAC); the master's engine is closed (a crash) while the
//    host pings every 20 ms; the backup takes over within the Master_Down_Interval, measured
//    on one clock, and the pings lost in between are counted; the first router comes back and
//    preempts.
// 2. pktgraph and keepalived (Debian's package, installed by scripts/ensure-test-tools.sh):
//    each side's priority is made the higher in turn, and each time the right one is master on
//    both sides (keepalived's log and the address on its interface; the element's state), and
//    the host's pings reach the virtual address.
// Needs root, network namespaces and a bridge; skips with the reason otherwise. Everything is
// named pgv* and removed even when the test fails.
import t from 'tap';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Runtime, RunningGraph } from 'pktgraph';
import { VIP, VMAC, HOST, KA, inHost, teardownLab, buildLab, labReason, start, ping, received, neighbourMac } from './lib/vrrp-lab.js';
import { sleep, until } from './lib/wait.js';

const reason = labReason();
if (reason) {
  t.skip(`VRRP lab: ${reason}`, () => {});
} else {
  t.before(() => buildLab());
  t.teardown(() => teardownLab());

  t.test('two pktgraph routers: master election, failover within the Master_Down_Interval with the lost pings counted, preemption', async (t) => {
    const interval = 20; // centiseconds: 200 ms advertisements
    let a: { rt: Runtime; g: RunningGraph } | undefined = start('vrrp-a', 'pgvA', '198.18.0.2', 200, interval);
    const b = start('vrrp-b', 'pgvB', '198.18.0.3', 100, interval);
    t.teardown(() => {
      a?.rt.close();
      b.rt.close();
    });
    t.ok(await until(() => a!.g.read('vrrp', 'state') === 'master', 5000), 'A (priority 200) becomes master');
    await sleep(500);
    t.equal(b.g.read('vrrp', 'state'), 'backup', 'B (priority 100) stays backup');
    t.equal(b.g.read('vrrp', 'master'), '198.18.0.2', 'B knows A is master');
    t.ok(Number(b.g.counter('vrrp', 'adverts_received')) >= 2, "B accepts A's advertisements");

    const p = await ping(3, 0.2);
    t.equal(received(p.out), 3, `the host pings the virtual address: ${p.out.split('\n').find((l) => l.includes('received'))}`);
    t.equal(neighbourMac(), VMAC, 'at the virtual MAC');
    t.equal(Number(b.g.counter('ping', 'replies')), 0, 'B (backup) answers none');

    // Crash A while the host pings every 20 ms.
    const mdi = Number(b.g.read('vrrp', 'master_down_interval'));
    t.equal(mdi, 3 * 200 + ((256 - 100) * 200) / 256, "B's Master_Down_Interval: 3 x 200 ms + Skew_Time (121.9 ms)");
    const pings = ping(150, 0.02);
    await sleep(800);
    const crashedAt = performance.now();
    a.rt.close();
    a = undefined;
    t.ok(await until(() => b.g.read('vrrp', 'state') === 'master', 5000), 'B takes over');
    const takeover = Number(b.g.read('vrrp', 'master_since')) - crashedAt;
    const sinceLast = Number(b.g.read('vrrp', 'master_since')) - Number(b.g.read('vrrp', 'last_advert'));
    t.ok(takeover > 0 && takeover <= mdi + 50, `within the Master_Down_Interval of the crash: ${takeover.toFixed(1)} ms (MDI ${mdi.toFixed(1)} ms; 50 ms allowed for timers)`);
    t.ok(sinceLast >= mdi - 1 && sinceLast <= mdi + 50, `the Master_Down_Interval after A's last advertisement: ${sinceLast.toFixed(1)} ms`);
    t.ok(Number(b.g.counter('vrrp', 'garps_sent')) >= 1, 'B sent a gratuitous ARP on takeover');
    const pingOut = (await pings).out;
    const sent = Number(/(\d+) packets transmitted/.exec(pingOut)?.[1] ?? 0);
    const got = received(pingOut);
    const lost = sent - got;
    t.comment(`failover: takeover ${takeover.toFixed(1)} ms after the crash; ${lost} of ${sent} pings (every 20 ms) lost`);
    t.ok(lost >= 1 && lost * 20 <= mdi + 300, `pings lost during the failover: ${lost} (${lost * 20} ms of pings; MDI ${mdi.toFixed(0)} ms)`);
    t.ok(Number(b.g.counter('ping', 'replies')) >= 1, 'B answers the pings now');
    t.equal(received((await ping(3, 0.2)).out), 3, 'the virtual address answers again');
    t.equal(neighbourMac(), VMAC, 'still at the virtual MAC');

    // A comes back (priority 200): it ignores B's lower priority and preempts it.
    a = start('vrrp-a', 'pgvA', '198.18.0.2', 200, interval);
    t.ok(await until(() => a!.g.read('vrrp', 'state') === 'master' && b.g.read('vrrp', 'state') === 'backup', 5000), 'A preempts B');
    t.equal(b.g.read('vrrp', 'master'), '198.18.0.2', 'B follows A again');
    // B may have advertised once between A's takeover and hearing A, teaching the bridge the
    // virtual MAC on its port; A's answer to it (at once) teaches it back.
    await sleep(2 * 200);
    t.equal(received((await ping(3, 0.2)).out), 3, 'the virtual address answers through A');
  });

  t.test('pktgraph and keepalived elect the right master both ways', async (t) => {
    if (spawnSync('keepalived', ['--version'], { stdio: 'ignore' }).status !== 0) {
      t.skip('keepalived is not installed (scripts/ensure-test-tools.sh installs it as root with apt-get)', () => {});
      return;
    }
    const dir = mkdtempSync(join(tmpdir(), 'pgv-keepalived-'));
    const conf = join(dir, 'keepalived.conf');
    writeFileSync(
      conf,
      `global_defs {
  router_id pgvk
  vrrp_version 3
  script_user root
  enable_script_security
}
vrrp_instance pgv {
  state BACKUP
  interface pgvK
  virtual_router_id 7
  priority 150
  advert_int 1
  virtual_ipaddress {
    ${VIP}/24
  }
}
`,
    );
    const a = start('vrrp-ka', 'pgvA', '198.18.0.2', 200, 100);
    let ka: ChildProcess | undefined;
    let log = '';
    t.teardown(() => {
      ka?.kill('SIGTERM');
      a.rt.close();
      rmSync(dir, { recursive: true, force: true });
    });
    t.ok(await until(() => a.g.read('vrrp', 'state') === 'master', 8000), 'pktgraph (priority 200) is master');
    ka = spawn('ip', ['netns', 'exec', KA, 'keepalived', '-n', '-l', '-D', '-G', '-P', '-f', conf, '-p', join(dir, 'k.pid'), '-r', join(dir, 'v.pid')]);
    ka.stdout!.on('data', (d) => (log += d));
    ka.stderr!.on('data', (d) => (log += d));
    const kaAddress = () => inHost(KA, ['ip', '-o', 'addr', 'show', 'dev', 'pgvK'], false).out.includes(`${VIP}/`);
    t.ok(await until(() => /Entering BACKUP STATE/.test(log), 10_000), 'keepalived (priority 150) enters BACKUP');
    // Its Master_Down_Interval is 3 x 1 s + skew: a keepalived that could not read our
    // advertisements would be master by then.
    await sleep(4500);
    t.notMatch(log, /Entering MASTER STATE/, `keepalived stays BACKUP for 4.5 s: it accepts pktgraph's advertisements`);
    t.notOk(kaAddress(), 'keepalived has not taken the virtual address');
    t.equal(a.g.read('vrrp', 'state'), 'master', 'pktgraph is still master');
    t.equal(received((await ping(3, 0.2)).out), 3, 'the host reaches the virtual address (pktgraph answers)');

    // pktgraph lowers its priority below keepalived's: keepalived preempts it.
    a.g.write('vrrp', 'priority', '50');
    t.ok(await until(() => /Entering MASTER STATE/.test(log), 10_000), 'keepalived (150 against 50) enters MASTER');
    t.ok(await until(() => a.g.read('vrrp', 'state') === 'backup', 5000), "pktgraph becomes backup on keepalived's advertisement");
    t.equal(a.g.read('vrrp', 'master'), '198.18.0.4', 'and names keepalived as master');
    t.ok(Number(a.g.counter('vrrp', 'adverts_received')) >= 1, "pktgraph accepted keepalived's advertisements (version, TTL, checksum)");
    t.ok(await until(kaAddress, 5000), 'keepalived holds the virtual address');
    t.equal(received((await ping(3, 0.2)).out), 3, 'the host reaches the virtual address (keepalived answers)');
    await sleep(1500);
    t.equal(a.g.read('vrrp', 'state'), 'backup', 'pktgraph stays backup');

    // And back: pktgraph raises its priority above keepalived's and preempts it.
    const backups = (log.match(/Entering BACKUP STATE/g) ?? []).length;
    a.g.write('vrrp', 'priority', '200');
    t.ok(await until(() => a.g.read('vrrp', 'state') === 'master', 10_000), 'pktgraph (200 against 150) becomes master again');
    t.ok(await until(() => (log.match(/Entering BACKUP STATE/g) ?? []).length > backups, 10_000), "keepalived enters BACKUP on pktgraph's advertisement");
    t.ok(await until(() => !kaAddress(), 5000), 'keepalived gives up the virtual address');
    await sleep(500);
    t.equal(received((await ping(3, 0.2)).out), 3, 'the host reaches the virtual address (pktgraph answers)');
    t.equal(neighbourMac(), VMAC, "at pktgraph's virtual MAC (its gratuitous ARP updated the host)");
  });
}
