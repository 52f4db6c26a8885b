// The engine the api and metrics suites measure: a runtime with virtual routers, the
// management layer (users, audit log in a temporary state directory) and the HTTP API on an
// ephemeral port, with one keep-alive connection; `close` takes it all down again.
import { mkdtempSync, rmSync } from 'node:fs';
import { Agent } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Runtime, VirtualRouters, Management, UserStore, AuditLog, startHttpApi } from 'pktgraph';

export async function startApiEngine(o: { name: string; threads: number; poolBuffers: number; plugins?: Parameters<typeof startHttpApi>[1]['plugins'] }) {
  const state = mkdtempSync(join(tmpdir(), `pktgraph-bench-${o.name}-`));
  const runtime = new Runtime({ threads: o.threads, poolBuffers: o.poolBuffers });
  runtime.start();
  const vr = new VirtualRouters(runtime);
  const audit = new AuditLog(state);
  const management = new Management(vr, new UserStore(state), audit);
  const api = await startHttpApi(management, { socketPath: join(state, 'http.sock'), listen: { host: '127.0.0.1', port: 0 }, ...(o.plugins ? { plugins: o.plugins } : {}) });
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  const close = async () => {
    agent.destroy();
    await api.close();
    vr.deleteAll();
    runtime.stop();
    runtime.close();
    audit.close();
    rmSync(state, { recursive: true, force: true });
  };
  return { runtime, vr, management, api, url: new URL(api.url!), agent, close };
}
