// An engine in the test's process as `pktgraph serve --http` runs it: a runtime, its virtual
// routers, users and an audit log in a temporary state directory, and the HTTP API on a free
// port of 127.0.0.1 with the monitoring plugin (observe.ts). For the metrics, events and
// dashboard tests; `close()` removes it all.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Runtime, VirtualRouters, Management, UserStore, AuditLog, LOCAL_OWNER, startHttpApi, observe, type MonitorOptions } from 'pktgraph';

export async function monitoredEngine(prefix: string, options: MonitorOptions) {
  const work = mkdtempSync(join(tmpdir(), prefix));
  const runtime = new Runtime({ threads: 1, poolBuffers: 4096 });
  runtime.start();
  const routers = new VirtualRouters(runtime);
  const audit = new AuditLog(work);
  const management = new Management(routers, new UserStore(work), audit);
  const api = await startHttpApi(management, { socketPath: join(work, 'http.sock'), listen: { host: '127.0.0.1', port: 0 }, plugins: [await observe(options)] });
  /** An operation as the control socket's owner (an admin) runs it. */
  const local = (op: string, args: object) => management.perform(LOCAL_OWNER, op, args, { via: 'control' });
  return {
    work,
    management,
    url: api.url!,
    local,
    /** A new user's token. */
    token: async (name: string, role: string, tenant?: string) => ((await local('user.create', { name, role, ...(tenant ? { tenant } : {}) })) as { token: string }).token,
    async close() {
      await api.close();
      routers.deleteAll();
      runtime.close();
      audit.close();
      rmSync(work, { recursive: true, force: true });
    },
  };
}
