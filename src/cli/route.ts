// `pktgraph route add|replace|del|load|show --vr NAME`: a virtual router's FIB tables, through
// the route operations of a serving engine (src/service/api.ts). Routes come as arguments, or
// from a file or stdin (--file, '-' for stdin) read here and sent in one all-or-nothing request;
// `route load` has the engine read a file itself, the fast way to program many.
import { readFileSync } from 'node:fs';
import { call, type ConnectOpts } from './vr.js';
import { CliError } from './errors.js';
import type { RouteTableOptions } from '../service/client.js';

export interface RouteCommandOptions extends ConnectOpts {
  vr: string;
  table?: string;
  family?: 'ipv4' | 'ipv6';
  file?: string;
  json?: boolean;
}

/** The routes of the arguments, then of --file (or stdin): one per line, blank lines and '#' comments left out. */
function routeLines(args: string[], file: string | undefined): string[] {
  let text = '';
  if (file !== undefined) {
    try {
      text = readFileSync(file === '-' ? 0 : file, 'utf8');
    } catch (err) {
      throw new CliError(`cannot read the routes ${file === '-' ? 'from stdin' : `file '${file}'`}: ${(err as Error).message}`);
    }
  }
  const lines = [...args, ...text.split('\n')].map((l) => l.replace(/#.*/, '').trim()).filter((l) => l !== '');
  if (!lines.length) throw new CliError('no routes given: put them after the options, or in a file (--file FILE, or --file - for stdin)');
  return lines;
}

const target = (o: RouteCommandOptions): RouteTableOptions => ({ ...(o.table ? { table: o.table } : {}), ...(o.family ? { family: o.family } : {}) });

export async function routeChangeCommand(op: 'add' | 'replace' | 'del', args: string[], opts: RouteCommandOptions) {
  const lines = routeLines(args, opts.file);
  // Sent as one text (route N: the request's Nth), far cheaper than a list of many strings.
  const text = lines.join('\n');
  const r = await call(opts, (e) =>
    op === 'add' ? e.addRoutes(opts.vr, text, target(opts)) : op === 'replace' ? e.replaceRoutes(opts.vr, text, target(opts)) : e.deleteRoutes(opts.vr, text, target(opts)),
  );
  if (opts.json) return console.log(JSON.stringify({ ...r, changed: lines.length }, null, 2));
  const what = op === 'del' ? 'removed' : op === 'add' ? 'added' : 'added or replaced';
  console.log(`${r.name}/${r.table}: ${lines.length} route${lines.length === 1 ? '' : 's'} ${what}; ${r.count} in the table`);
}

export async function routeLoadCommand(file: string, opts: RouteCommandOptions & { mode?: 'add' | 'replace' | 'set' }) {
  const r = await call(opts, (e) => e.loadRoutes(opts.vr, file, { ...target(opts), ...(opts.mode ? { mode: opts.mode } : {}) }));
  if (opts.json) return console.log(JSON.stringify(r, null, 2));
  console.log(`${r.name}/${r.table}: '${file}' loaded (${opts.mode ?? 'add'}) in ${(r.ns / 1e6).toFixed(1)} ms; ${r.count} routes in the table`);
}

export async function routeShowCommand(opts: RouteCommandOptions & { lookup?: string }) {
  const r = await call(opts, (e) => e.showRoutes(opts.vr, { ...target(opts), ...(opts.lookup ? { lookup: opts.lookup } : {}) }));
  if (opts.json) return console.log(JSON.stringify(r, null, 2));
  if (r.lookup !== undefined) return console.log(`${opts.lookup}: ${r.lookup}`);
  console.log(`# ${r.name}/${r.table} (${r.class}): ${r.count} route${r.count === 1 ? '' : 's'}`);
  for (const l of r.routes ?? []) console.log(l);
}
