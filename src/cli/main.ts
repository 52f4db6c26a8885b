// The `pktgraph` command line (bin/pktgraph.js runs main()).
import { Command, InvalidArgumentError, Option } from 'commander';
import { ENGINE_LIMITS, packageVersion } from '../runtime/native.js';
import { describeError } from './errors.js';
import { QUOTA_NAMES } from '../service/quotas.js';

// Each command loads its modules when it runs, so `pktgraph read` and friends start
// without loading the compiler and every element.
const load = () => import('./load.js');
const control = () => import('./control.js');

function integer({ min, max }: { min: number; max: number }) {
  return (v: string) => {
    const n = Number(v);
    if (!/^\d+$/.test(v.trim()) || n < min || n > max) throw new InvalidArgumentError(`expected a whole number from ${min} to ${max}.`);
    return n;
  };
}

const range = ({ min, max }: { min: number; max: number }) => `${min} to ${max}`;

function seconds(v: string) {
  const n = Number(v);
  if (v.trim() === '' || !Number.isFinite(n) || n <= 0) throw new InvalidArgumentError('expected a number of seconds greater than 0.');
  return n;
}

const collect = (v: string, list: string[] | undefined) => [...(list ?? []), v];
const quotaNames = QUOTA_NAMES.join(', ');

function program(): Command {
  const p = new Command('pktgraph')
    .description('Run, inspect and control pktgraph packet-processing graphs.')
    .version(packageVersion())
    .option('--debug', 'show stack traces on errors')
    .showHelpAfterError('(run with --help for usage)');

  const paramOption = ['-p, --param <key=value>', 'set a graph parameter (repeatable)', collect] as const;
  const controlHelp = 'control socket: a NAME (in the per-user socket directory) or a PATH containing /';

  p.command('run')
    .description('compile a graph file and run it, showing live rates and a summary at the end')
    .argument('<file>', 'graph file (.ts or .js) whose default export is a graph')
    .option('-t, --threads <n>', `worker threads, ${range(ENGINE_LIMITS.threads)} (default: every CPU)`, integer(ENGINE_LIMITS.threads))
    .option('-d, --duration <seconds>', 'stop after this many seconds', seconds)
    .option('--json', 'print only a JSON summary at the end')
    .option(...paramOption)
    .option('--pool <n>', `packet buffers in the pool, ${range(ENGINE_LIMITS.poolBuffers)}`, integer(ENGINE_LIMITS.poolBuffers))
    .option('--buffer-size <bytes>', `bytes per packet buffer, headroom included, ${range(ENGINE_LIMITS.bufferSize)} (default 2048; raise for jumbo frames)`, integer(ENGINE_LIMITS.bufferSize))
    .option('--control <name|path>', `${controlHelp} (default: default)`)
    .option('--no-control', 'do not open a control socket')
    .option('--keep-running', 'keep running after the sources finish (until --duration or Ctrl-C)')
    .option('--profile', 'time every element and print where the time went (ns per packet, per element)')
    .action(async (file: string, opts) => (await import('./run.js')).runCommand(file, opts));

  p.command('compile')
    .description('print the compiled plan (JSON)')
    .argument('<file>', 'graph file')
    .option(...paramOption)
    .action(async (file: string, opts: { param?: string[] }) => {
      console.log(JSON.stringify(await (await load()).loadAndCompile(file, opts.param), null, 2));
    });

  p.command('graph')
    .description('print the compiled graph as Graphviz DOT (pipe into `dot -Tsvg`)')
    .argument('<file>', 'graph file')
    .option(...paramOption)
    .action(async (file: string, opts: { param?: string[] }) => {
      const { toDot } = await import('../compiler/dot.js');
      process.stdout.write(toDot(await (await load()).loadAndCompile(file, opts.param)));
    });

  p.command('elements')
    .description('list the elements, or document one')
    .argument('[name]', 'element class to document')
    .option('--plugin <module>', "also an element package's elements: its folder, module file or package name (repeatable)", collect)
    .action(async (name: string | undefined, opts: { plugin?: string[] }) => {
      const { elementDoc, elementsList, importPlugins } = await import('./elements.js');
      await importPlugins(opts.plugin ?? []);
      for (const line of name === undefined ? elementsList() : elementDoc(name)) console.log(line);
    });

  const news = p.command('new').description('create a new package from a template');
  news.command('element')
    .description('create an element package (descriptor, implementation, test, README) that builds with `npm install` and passes `npm test`')
    .argument('<name>', 'element class name, like MyTagger')
    .argument('[dir]', 'folder to create (default: the name in kebab-case)')
    .option('--cpp', 'a C++ plugin element (the data path)')
    .option('--ts', 'a TypeScript element (control-plane logic)')
    .option('--pktgraph <spec>', "the package's pktgraph dependency (default: this pktgraph: its folder when a checkout, else its version)")
    .action(async (name: string, dir: string | undefined, opts) => {
      for (const line of (await import('./new.js')).newElement(name, dir, opts)) console.log(line);
    });

  p.command('plugin-config')
    .description('what a C++ element plugin builds against: the element API headers, flags and version')
    .option('--include', 'the include directories')
    .option('--cflags', 'the compiler flags (headers, PG_PLUGIN, the engine\'s C++ options)')
    .option('--gypi', 'the node-gyp include file (native/plugin.gypi)')
    .option('--api-version', 'the element API version plugins must be built against')
    .action(async (opts) => console.log((await import('./plugin.js')).pluginConfig(opts)));

  p.command('plugin-build')
    .description("build a C++ element plugin package (its binding.gyp names the target and sources) against this pktgraph's element API")
    .argument('[dir]', 'the package folder (default: the current folder)')
    .action(async (dir: string | undefined) => (await import('./plugin.js')).pluginBuild(dir));

  p.command('recipes')
    .description('list the recipes (graphs built from a short description, like ipRouter), or document one')
    .argument('[name]', 'recipe to document')
    .option('--markdown', 'print docs/recipes.md (every recipe, as Markdown)')
    .action(async (name: string | undefined, opts: { markdown?: boolean }) => {
      const { recipeDoc, recipesList, recipesMarkdown } = await import('./recipes.js');
      for (const line of opts.markdown ? recipesMarkdown() : name === undefined ? recipesList() : recipeDoc(name)) console.log(line);
    });

  p.command('read')
    .description("read a handler of a running graph's element")
    .argument('<target>', '[GRAPH:]ELEMENT.HANDLER')
    .option('--control <name|path>', controlHelp)
    .action(async (target: string, opts) => (await control()).readCommand(target, opts));

  p.command('write')
    .description("write a handler of a running graph's element")
    .argument('<target>', '[GRAPH:]ELEMENT.HANDLER')
    .argument('[value]', 'the value to write (default: empty)')
    .option('--control <name|path>', controlHelp)
    .action(async (target: string, value: string | undefined, opts) => (await control()).writeCommand(target, value, opts));

  p.command('handlers')
    .description("list the handlers of a running graph's element")
    .argument('<target>', '[GRAPH:]ELEMENT')
    .option('--control <name|path>', controlHelp)
    .action(async (target: string, opts) => (await control()).handlersCommand(target, opts));

  p.command('list')
    .description('list the running graphs and their elements')
    .argument('[graph]', 'only this graph')
    .option('--control <name|path>', controlHelp)
    .action(async (graph: string | undefined, opts) => (await control()).listCommand(graph, opts));

  p.command('reconfigure')
    .description("replace a running graph by FILE's graph without losing packets: elements with the same name and class keep their state (queues, tables, counters)")
    .argument('<file>', 'graph file')
    .option(...paramOption)
    .option('--graph <name>', 'the graph to replace (default: the only one running)')
    .option('--json', 'print the result as JSON')
    .option('--control <name|path>', controlHelp)
    .action(async (file: string, opts) => (await control()).reconfigureCommand(file, opts));

  p.command('profile')
    .description("a running graph's cost per element (ns per packet); --on switches profiling on, --off off, --reset zeroes it")
    .argument('[graph]', 'the graph (default: the only one)')
    .option('--on', 'switch profiling on (nothing is timed while it is off)')
    .option('--off', 'switch profiling off')
    .option('--reset', 'zero the figures, keeping profiling on')
    .option('--json', 'print JSON')
    .option('--control <name|path>', controlHelp)
    .action(async (graph: string | undefined, opts) => (await control()).profileCommand(graph, opts));

  const vr = () => import('./vr.js');
  p.command('serve')
    .description('run an engine that hosts virtual routers until Ctrl-C, SIGTERM or `pktgraph vr shutdown`; manage them with `pktgraph vr` (docs/management.md: the HTTP API)')
    .option('-t, --threads <n>', `worker threads, ${range(ENGINE_LIMITS.threads)} (default: every CPU)`, integer(ENGINE_LIMITS.threads))
    .option('--pool <n>', `packet buffers in the pool, ${range(ENGINE_LIMITS.poolBuffers)}`, integer(ENGINE_LIMITS.poolBuffers))
    .option('--buffer-size <bytes>', `bytes per packet buffer, headroom included, ${range(ENGINE_LIMITS.bufferSize)} (default 2048)`, integer(ENGINE_LIMITS.bufferSize))
    .option('--control <name|path>', `${controlHelp} (default: default, else the first free default-N)`)
    .option('--quota <name=n,...>', `default quotas of every virtual router (${quotaNames}; N or none), repeatable`, collect, [])
    .option('--http <[addr:]port>', 'serve the HTTP API on this TCP address (127.0.0.1 unless an address is given; 0 picks a free port)')
    .option('--tls-cert <file>', 'serve the HTTP API over TLS with this certificate (PEM; with --tls-key)')
    .option('--tls-key <file>', "the certificate's private key (PEM)")
    .option('--state <dir>', 'state directory: the desired state (ports, virtual routers, routes: back after a restart or a crash), users and tokens, the audit log, the HTTP API\'s Unix socket (default with --http: $XDG_STATE_HOME/pktgraph)')
    .option('--init-admin <file>', "with no user yet, make the user 'admin' and write its token to FILE (mode 0600)")
    .option('--body-limit <bytes>', 'largest HTTP request body, bytes (default 64 MiB)', integer({ min: 1024, max: 2 ** 31 - 1 }))
    .action(async (opts) => (await vr()).serveCommand(opts));

  // Every command that talks to a serving engine: its control socket, or its HTTP API with a token.
  const connect = (c: Command) =>
    c
      .option('--control <name|path>', controlHelp)
      .option('--url <url>', "a remote engine's HTTP API: http(s)://HOST:PORT or unix:/STATE/http.sock (or PKTGRAPH_URL); the token from PKTGRAPH_TOKEN or --token-file")
      .option('--token-file <file>', 'read the bearer token from FILE')
      .option('--cacert <file>', 'trust this CA certificate (PEM) for an https --url (or PKTGRAPH_CACERT)');

  const vrs = p.command('vr').description('manage the virtual routers of an engine started with `pktgraph serve` (elements addressed as VR/ELEMENT.HANDLER by read and write)');
  connect(vrs.command('list').description('list the virtual routers and their states').option('--json', 'print JSON'))
    .action(async (opts) => (await vr()).vrListCommand(opts));
  connect(vrs.command('show').description('show a virtual router: state, graph, elements').argument('<name>', 'virtual router').option('--json', 'print JSON'))
    .action(async (name: string, opts) => (await vr()).vrShowCommand(name, opts));
  connect(vrs.command('create').description('define a virtual router from a graph file (compiled first: a graph that fails to compile changes nothing)')
    .argument('<name>', "its name: letters, digits, '_' and '-'").argument('<file>', 'graph file (.ts or .js) whose default export is a graph')
    .option(...paramOption).option('--start', 'start it too').option('--tenant <tenant>', 'give it to a tenant (its operators and viewers manage and see it)')
    .option('--quota <name=n,...>', `its quotas (${quotaNames}; N or none; default: the engine's), repeatable`, collect, []).option('--json', 'print JSON'))
    .action(async (name: string, file: string, opts) => (await vr()).vrCreateCommand(name, file, opts));
  connect(vrs.command('quota').description(`show or change a virtual router's quotas (${quotaNames}): use against limit`).argument('<name>', 'virtual router')
    .argument('[quotas...]', 'NAME=N or NAME=none, e.g. routes=100000 buffers=4096').option('--json', 'print JSON'))
    .action(async (name: string, quotas: string[], opts) => (await vr()).vrQuotaCommand(name, quotas, opts));
  connect(vrs.command('start').description('start a defined, failed or stopped virtual router').argument('<name>', 'virtual router').option('--json', 'print JSON'))
    .action(async (name: string, opts) => (await vr()).vrTransitionCommand('start', name, opts));
  connect(vrs.command('stop').description('stop a running virtual router (its sources stop; tables, counters and queued packets are kept)').argument('<name>', 'virtual router').option('--json', 'print JSON'))
    .action(async (name: string, opts) => (await vr()).vrTransitionCommand('stop', name, opts));
  connect(vrs.command('reconfigure').description("replace a virtual router's graph while it runs (compiled first: an error changes nothing; elements with the same name and class keep their state)")
    .argument('<name>', 'virtual router').argument('<file>', 'graph file (.ts or .js) whose default export is a graph')
    .option(...paramOption).option('--confirm <duration>', 'roll it back unless `vr confirm NAME` comes within this long (300ms, 60s, 5m, 1h)').option('--json', 'print JSON'))
    .action(async (name: string, file: string, opts) => (await vr()).vrReconfigureCommand(name, file, opts));
  for (const [op, doc] of [
    ['confirm', 'keep a reconfiguration made with --confirm (it waits for this, or is rolled back at its deadline)'],
    ['rollback', 'roll back a reconfiguration made with --confirm now: the previous graph swapped back in, state kept'],
  ] as const)
    connect(vrs.command(op).description(doc).argument('<name>', 'virtual router').option('--json', 'print JSON'))
      .action(async (name: string, opts) => (await vr()).vrConfirmCommand(op, name, opts));
  connect(vrs.command('save').description('save a virtual router (configuration, compiled plan, counters, route, ARP/ND and NAT tables) to a file; it goes on running')
    .argument('<name>', 'virtual router').argument('<file>', 'the file to write (docs/router-file.md)')
    .option('--json', 'print JSON'))
    .action(async (name: string, file: string, opts) => (await vr()).vrSaveCommand(name, file, opts));
  connect(vrs.command('restore').description('restore a virtual router from a file `vr save` wrote (here or on another engine), running, stopped or defined as saved')
    .argument('<file>', 'a router file').option('--name <name>', 'restore it under another name').option('--start', 'start it, whatever state it was saved in')
    .option('--json', 'print JSON'))
    .action(async (file: string, opts) => (await vr()).vrRestoreCommand(file, opts));
  connect(vrs.command('clone').description('copy a virtual router under a new name with its tables (counters start at zero); -p overrides graph parameters (new MACs, another VLAN)')
    .argument('<name>', 'virtual router').argument('<new>', "the copy's name")
    .option(...paramOption).option('--start', 'start the copy').option('--json', 'print JSON'))
    .action(async (name: string, newName: string, opts) => (await vr()).vrCloneCommand(name, newName, opts));
  connect(vrs.command('delete').description('delete a virtual router, releasing everything it held').argument('<name>', 'virtual router').option('--json', 'print JSON'))
    .action(async (name: string, opts) => (await vr()).vrDeleteCommand(name, opts));
  connect(vrs.command('share').description("set a virtual router's bandwidth share on a port while it runs (rates like 10Mbit, 1.5Gbit, 800kbit or bits/s, or packets/s like 5000pps, 20kpps)")
    .argument('<name>', 'virtual router').argument('<port>', 'port')
    .option('--guarantee <rate>', 'guaranteed rate, kept under contention (0: none)').option('--limit <rate>', "the most it may send (0: the port's rate)")
    .option('--weight <n>', "its share of the port's spare capacity").option('--json', 'print JSON'))
    .action(async (name: string, port: string, opts) => (await vr()).vrShareCommand(name, port, opts));
  const ports = p.command('port').description('manage the ports an engine started with `pktgraph serve` shares among its virtual routers (FromPort, ToPort)');
  connect(ports.command('list').description('list the ports: attachments (VLAN, MACs, ring, share) and counters (frames nobody claimed, by reason)').option('--json', 'print JSON'))
    .action(async (opts) => (await vr()).portListCommand(opts));
  connect(ports.command('add').description('open an interface (or, with --tap, a TAP device the engine creates) as a port routers share')
    .argument('<name>', 'port name (FromPort and ToPort name it)').argument('<device>', 'interface or TAP device name')
    .option('--tap', 'create (or attach to) a TAP device').option('--rate <rate>', "the port's rate, which the guarantees share (default 10Gbit)")
    .option('--json', 'print JSON'))
    .action(async (name: string, device: string, opts) => (await vr()).portAddCommand(name, device, opts));
  connect(ports.command('del').description('close a port (refused while routers are attached)').argument('<name>', 'port')
    .option('--force', 'close it even while routers are attached: they stay, detached, and count what they send in ToPort drops_port_closed').option('--json', 'print JSON'))
    .action(async (name: string, opts) => (await vr()).portDelCommand(name, opts));
  connect(vrs.command('assign').description('give a virtual router to a tenant (admins only)').argument('<name>', 'virtual router').argument('[tenant]', 'the tenant')
    .option('--none', 'give it to no tenant (admins only see it)').option('--json', 'print JSON'))
    .action(async (name: string, tenant: string | undefined, opts) => (await vr()).vrAssignCommand(name, tenant, opts));
  connect(vrs.command('shutdown').description('stop the engine: every virtual router deleted, then it exits'))
    .action(async (opts) => (await vr()).vrShutdownCommand(opts));

  const route = () => import('./route.js');
  const routes = p.command('route').description("change and show a virtual router's FIB tables (IPLookup, LookupIP6Route) in an engine started with `pktgraph serve`");
  const routeTarget = (c: Command) =>
    connect(c).requiredOption('--vr <name>', 'the virtual router').option('--table <element>', "its FIB element (default: its only one for the routes' family)")
      .addOption(new Option('--family <family>', 'the family whose table is meant, when the routes do not say').choices(['ipv4', 'ipv6'])).option('--json', 'print JSON');
  for (const [op, doc] of [
    ['add', 'add routes for new prefixes (a prefix already there is refused)'],
    ['replace', 'add routes, each replacing the route of its prefix if any'],
    ['del', 'remove the routes of prefixes (a prefix with no route is refused)'],
  ] as const)
    routeTarget(routes.command(op).description(`${doc}; all or nothing, visible to traffic at one instant`)
      .argument('[routes...]', op === 'del' ? "prefixes: 'ADDRESS/LEN', an address or 'default'" : "routes, each one argument: '10.0.0.0/8 1', '10.1.0.0/16 via 192.0.2.1 dev 0'")
      .option('--file <file>', "more, one per line ('#' comments), from a file, or '-' for stdin"))
      .action(async (args: string[], opts) => (await route()).routeChangeCommand(op, args, opts));
  routeTarget(routes.command('load').description('have the engine read a route file itself (plain, or gzip if it ends in .gz): the fast way to program many; all or nothing, visible at one instant')
    .argument('<file>', 'route file, one per line').addOption(new Option('--mode <mode>', 'add: new prefixes only; replace; set: the file becomes the whole table').choices(['add', 'replace', 'set']).default('add')))
    .action(async (file: string, opts) => (await route()).routeLoadCommand(file, opts));
  routeTarget(routes.command('show').description("print a table's routes, sorted by prefix, or the route one address takes").option('--lookup <address>', 'look this address up'))
    .action(async (opts) => (await route()).routeShowCommand(opts));

  const users = p.command('user').description("manage the HTTP API's users and their bearer tokens (admins; the first admin over the control socket or with `serve --init-admin`)");
  connect(users.command('list').description('list the users: role, tenant, tokens').option('--json', 'print JSON'))
    .action(async (opts) => (await vr()).userListCommand(opts));
  connect(users.command('create').description('make a user and print its first token (shown once; stored only hashed)').argument('<name>', 'user name')
    .requiredOption('--role <role>', 'admin, operator or viewer').option('--tenant <tenant>', 'the tenant of an operator or viewer').option('--json', 'print JSON'))
    .action(async (name: string, opts) => (await vr()).userCreateCommand(name, opts));
  connect(users.command('token').description("print a new token for a user (its other tokens stay valid)").argument('<name>', 'user name').option('--json', 'print JSON'))
    .action(async (name: string, opts) => (await vr()).userTokenCommand(name, opts));
  connect(users.command('delete').description('delete a user: its tokens stop working at once').argument('<name>', 'user name').option('--json', 'print JSON'))
    .action(async (name: string, opts) => (await vr()).userDeleteCommand(name, opts));
  connect(p.command('audit').description('print the audit log (JSON lines: every change and refusal), oldest first (admins)')
    .option('--limit <n>', 'the last N entries (default 1000)', integer({ min: 1, max: 100000 })).option('--since <time>', 'entries at or after this ISO 8601 time'))
    .action(async (opts) => (await vr()).auditCommand(opts));

  const lab = () => import('./lab.js');
  const labs = p.command('lab').description('build, enter and remove lab topologies: namespaces joined by veth pairs (needs root)');
  labs.command('up').description('build the topology in FILE and print its id, namespaces and interfaces').argument('<file>', 'topology (.json, or a .ts/.js module exporting one)')
    .option('--id <id>', 'lab id (4 to 6 characters [a-z0-9]; default: the file\'s "id", else random)').option('--json', 'print the lab as JSON').action(async (file: string, opts) => (await lab()).labUpCommand(file, opts));
  labs.command('down').description('remove a lab (every pg-ID-* namespace and interface), or with --all every pg-* object').argument('[id]', 'lab id (default: the only lab)')
    .option('--all', 'remove every pg-* namespace and interface').action(async (id: string | undefined, opts) => (await lab()).labDownCommand(id, opts));
  labs.command('exec').description("run a command in a lab host's namespace (exit code passed through); or with -f, a named command sequence of a scenario's nodes").argument('[host]', 'host name (without -f)').argument('[cmd...]', 'the command, after --')
    .option('--lab <id>', 'the lab (default: the only lab with that host)').option('-f, --file <file>', 'scenario file').option('-M, --nodes <nodes>', 'nodes, comma-separated (default: every node with the sequence)').option('-c, --command <name>', 'the command sequence (a key of the nodes\' exec:)')
    .action(async (host: string | undefined, cmd: string[], opts) => (await lab()).labOrScenarioExec(host, cmd, opts));
  const scenario = (name: string, desc: string) => labs.command(name).description(desc).requiredOption('-f, --file <file>', 'scenario file (YAML, docs/scenarios.md)').option('--json', 'print JSON');
  scenario('create', 'build a scenario (idempotent: builds what is missing) and report what it made').action(async (opts) => (await lab()).scenarioCreateCommand(opts));
  scenario('destroy', "remove a scenario's lab: virtual routers, engine, namespaces and interfaces, after any partial failure").action(async (opts) => (await lab()).scenarioDestroyCommand(opts));
  scenario('show', "print a scenario lab's nodes and nets and whether each stands").option('--dot', 'print the topology as Graphviz DOT').option('--svg <file>', 'draw the topology to an SVG file (Graphviz dot)').action(async (opts) => (await lab()).scenarioShowCommand(opts));
  scenario('reboot', 'rebuild some nodes from scratch; their neighbours and nets stay up').option('-M, --nodes <nodes>', 'nodes, comma-separated').action(async (opts) => (await lab()).scenarioRebootCommand(opts));
  scenario('modify', 'change a standing lab to the file (only what differs), or with --set one impairment of one direction, live')
    .option('--set <net.dir.field=value...>', "one impairment: NET.ab|ba.FIELD=VALUE (FIELD rate, delay, jitter, loss, duplicate, reorder)").action(async (opts) => (await lab()).scenarioModifyCommand(opts));
  scenario('save', 'write the lab as it stands (modifications included) as a scenario file').requiredOption('-o, --out <file>', 'the file to write').action(async (opts) => (await lab()).scenarioSaveCommand(opts));
  scenario('restore', 'destroy the lab if it stands, then build it from a (saved) scenario file').action(async (opts) => (await lab()).scenarioRestoreCommand(opts));
  labs.command('import').description('translate a VNX/VNUML scenario (XML) or a containerlab topology (YAML) into a pktgraph scenario').argument('<file>', 'the file to import')
    .option('-o, --out <file>', 'write the scenario here (default: standard output)').option('--name <id>', 'the lab id (4 to 6 characters [a-z0-9])').action(async (file: string, opts) => (await lab()).scenarioImportCommand(file, opts));
  labs.command('schema').description('print the JSON Schema of scenario files (for editors)').action(async () => (await lab()).scenarioSchemaCommand());
  labs.command('list').description('list the labs that are up').option('--json', 'print JSON').action(async (opts) => (await lab()).labListCommand(opts));

  p.command('bench')
    .description('run benchmark suites (engine, fib, router, interfaces); `pktgraph bench --help` lists the options')
    .argument('[suite-and-options...]', 'suite names and options, passed to the harness (bench/run.ts)')
    .helpOption(false)
    .allowUnknownOption()
    .allowExcessArguments()
    .action(async (_args: string[], _opts, cmd: Command) => (await import('../bench/launch.js')).benchCommand(cmd.args));

  return p;
}

/** Run the command line; sets process.exitCode (1 on error). */
export async function main(argv: string[] = process.argv): Promise<void> {
  try {
    await program().parseAsync(argv);
  } catch (err) {
    // --debug is read from argv directly: the error may come from parsing itself.
    if (argv.includes('--debug') && err instanceof Error) {
      console.error(err.stack);
      const cause = (err as { detail?: unknown }).detail;
      if (cause instanceof Error) console.error('caused by:', cause.stack);
    }
    console.error(`pktgraph: ${describeError(err)}`);
    process.exitCode = 1;
  }
}
