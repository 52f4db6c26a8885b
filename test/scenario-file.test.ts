// Scenario files (src/lab/scenario-schema.ts) and importers (src/lab/import.ts), no root needed:
// every example parses; malformed files get one error naming the file, the line and the field;
// configs/scenarios/scenario.schema.json is the schema's own output; the VNX and containerlab
// samples translate into valid scenarios with warnings for what they leave behind.
import t from 'tap';
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadScenario, scenarioJsonSchema, ScenarioLab } from '../src/lab/index.js';
import { importScenario } from '../src/lab/import.js';

const dir = join(dirname(fileURLToPath(import.meta.url)), '..', 'configs', 'scenarios');
const tutorial = readFileSync(join(dir, 'tutorial.yaml'), 'utf8');

t.test('every example scenario parses', async (t) => {
  for (const f of readdirSync(dir).filter((f) => f.endsWith('.yaml'))) {
    const s = loadScenario(readFileSync(join(dir, f), 'utf8'), f);
    t.ok(s.nodes.length > 0, `${f}: ${s.nodes.length} nodes, ${s.nets.length} nets`);
  }
  const s = loadScenario(tutorial, 'tutorial.yaml');
  t.same(s.nodes.map((n) => n.type), ['host', 'host', 'pktgraph-router', 'pktgraph-router', 'host', 'host']);
});

t.test('the JSON Schema file is the schema as declared', async (t) => {
  t.same(JSON.parse(readFileSync(join(dir, 'scenario.schema.json'), 'utf8')), JSON.parse(JSON.stringify(scenarioJsonSchema())), 'regenerate it with: pktgraph lab schema > configs/scenarios/scenario.schema.json');
});

t.test('malformed scenario files: the line and the field', async (t) => {
  const bad = (edit: (s: string) => string, re: RegExp, what: string) => t.throws(() => loadScenario(edit(tutorial), 'x.yaml'), re, what);
  bad((s) => s.replace('type: host\n    interfaces:\n      - { net: net0, addresses: [198.18.0.2/24', 'type: hots\n    interfaces:\n      - { net: net0, addresses: [198.18.0.2/24'), /^x\.yaml:\d+: nodes\.0\.type: /, 'an unknown node type');
  bad((s) => s.replace('{ net: net0, addresses: [198.18.0.3/24', '{ net: nett, addresses: [198.18.0.3/24'), /^x\.yaml:31: nodes\.1\.interfaces\.0\.net: no net 'nett' \(nets: net0, net1, net2\)/, 'a net nobody defined, on its line');
  bad((s) => s.replace('198.18.2.2/24', '10.0.2.2/24'), /^x\.yaml:\d+: nodes\.4\.interfaces\.0\.addresses\.0: '10\.0\.2\.2\/24' is outside 198\.18\.0\.0\/15/, 'an address outside the lab ranges');
  bad((s) => s.replace('198.18.2.2/24', '198.18.2.2'), /needs a prefix length/, 'an address without a prefix length');
  bad((s) => s.replace('description:', 'descripton:'), /^x\.yaml:12: descripton: unknown field 'descripton'/, 'an unknown field');
  bad((s) => s.replace('name: tutr', 'name: Tutorial!'), /^x\.yaml:11: name: must match/, 'a bad lab id, on its line');
  bad((s) => s.replace('  - name: h2\n', '  - name: h1\n'), /node 'h1' is defined twice/, 'a node twice');
  bad((s) => s.replace('    type: p2p\n', '    type: p2p\n    impair: { ab: { delay: -1 } }\n'), /^x\.yaml:17: nets\.1\.impair\.ab\.delay: /, 'a negative delay');
  bad((s) => s.replace('  - name: net0\n', '  - name: net0\n    impair: { ab: { delay: 1 } }\n'), /impairments need a point-to-point net/, 'impairments on a LAN');
  bad((s) => s.replace('  - name: net2\n', '  - name: net2\n    type: p2p\n'), /p2p net 'net2' joins 3 interfaces; it needs exactly 2/, 'a p2p net with three ends');
  bad((s) => s.replace('nodes:\n  - name: h1', 'nodes:\n  - name: h1\n    name: h9'), /^x\.yaml:\d+: Map keys must be unique/, 'a YAML error, on its line');
  bad(() => 'name: abcd\nnets: []\n', /'nodes' is required/, 'a missing field');
});

t.test('malformed switch nets: the line and the field, checked by the elements\' own checks', async (t) => {
  const tenant = readFileSync(join(dir, 'tenant-nat.yaml'), 'utf8');
  const bad = (edit: (s: string) => string, re: RegExp, what: string) => t.throws(() => loadScenario(edit(tenant), 'x.yaml'), re, what);
  const lineOf = (text: string) => tenant.split('\n').findIndex((l) => l.includes(text)) + 1;
  bad((s) => s.replace('aclIn: [deny tcp dst port 23, allow all]', 'aclIn: [deny tcp dts port 23, allow all]'), new RegExp(`^x\\.yaml:${lineOf('aclIn:')}: nodes\\.2\\.interfaces\\.0\\.port: aclIn: `), "a bad ACL (VLANSwitch's check), on the interface's port");
  bad((s) => s.replace('poolEnd: 198.18.40.199', 'poolEnd: 198.18.50.199'), new RegExp(`^x\\.yaml:${lineOf('address: 198.18.40.2/24')}: nets\\.1\\.dhcp: the pool 198\\.18\\.40\\.100-198\\.18\\.50\\.199 is not inside the subnet`), "a pool outside the subnet (DHCPServer's check)");
  bad((s) => s.replace('leaseTime: 600', 'leaseTime: 5'), /^x\.yaml:\d+: nets\.1\.dhcp\.leaseTime: /, "a lease time out of DHCPServer's range");
  bad((s) => s.replace('    type: switch\n    mode: nat\n', '    mode: nat\n'), /^x\.yaml:\d+: nets\.1\.mode: 'mode' is for switch nets: add type: switch to net 'tenant'/, 'switch fields on a lan');
  bad((s) => s.replace('    uplink: { net: wan, address: 198.18.41.254/24 }\n', ''), /nets\.1: mode nat needs 'uplink'/, 'NAT without an uplink');
  bad((s) => s.replace('uplink: { net: wan,', 'uplink: { net: tenant,'), /nets\.1\.uplink\.net: the uplink net 'tenant' is a switch; make it a lan/, 'an uplink that is not a lan');
  bad((s) => s.replace('mirror: { to: mon, from: [h1] }', 'mirror: { to: mon, from: [server] }'), /nets\.1\.mirror\.from\.0: node 'server' has 0 interfaces on net 'tenant'/, 'a mirror of a node not on the net');
  bad((s) => s.replace('{ net: wan, addresses: [198.18.41.1/24] }', '{ net: wan, dhcp: true }'), /nodes\.0\.interfaces\.0\.dhcp: net 'wan' has no DHCP server/, 'dhcp on a net without a server');
  bad((s) => s.replace('{ net: wan, addresses: [198.18.41.1/24] }', '{ net: wan, addresses: [198.18.41.1/24], port: { vlan: 3 } }'), /nodes\.0\.interfaces\.0\.port: a switch port needs a switch net/, 'a port on a lan');
  bad((s) => s.replace('port: { mode: trunk, allowed: [10, 20] }', 'port: { mode: trunk, allowed: [10, 5000] }'), /nodes\.4\.interfaces\.0\.port\.allowed\.1: /, 'a VLAN id out of range (the port schema is VLANSwitch\'s)');
  const s = loadScenario(tenant, 'tenant-nat.yaml');
  const dot = new ScenarioLab(s, dir).dot();
  t.match(dot, /"net:tenant" -- "net:wan" \[label="NAT 198\.18\.40\.1\/24 -> 198\.18\.41\.254\/24"/, 'DOT draws the NAT to the uplink');
});

t.test('the topology as DOT names every node, net and address', async (t) => {
  const dot = new ScenarioLab(loadScenario(tutorial), dir).dot();
  for (const n of ['n:h1', 'n:r2', 'net:net1', '198.18.1.2/24']) t.match(dot, n);
  t.match(dot, /"n:r1" -- "net:net0"/);
});

t.test('VNX import', async (t) => {
  const r = importScenario(readFileSync(join(dir, 'vnx-simple.xml'), 'utf8'), 'vnx-simple.xml');
  t.equal(r.scenario.name, 'vnxsim');
  t.same(r.scenario.nets, [{ name: 'net0' }, { name: 'net1' }]);
  t.same(r.scenario.nodes.map((n) => [n.name, n.type]), [['h1', 'host'], ['r1', 'linux-router'], ['h2', 'host']], '<forwarding> makes a linux-router');
  const h1 = r.scenario.nodes[0];
  t.same(h1.interfaces, [{ net: 'net0', name: 'eth1', addresses: ['198.18.0.2/24', 'fd00:db8:0::2/64'] }], 'addresses renumbered into the lab ranges');
  t.same(h1.routes, [{ to: 'default', via: '198.18.0.1' }, { to: 'default6', via: 'fd00:db8:0::1' }]);
  t.same(h1.exec, { hello: ['echo hello from h1'] });
  t.same(r.scenario.nodes[2].exec, { ping: ['ping -c 2 -W 2 198.18.0.2', 'ping -c 2 -W 2 fd00:db8:0::2'] }, 'exec split into commands');
  t.ok(r.warnings.some((w) => /vm h1: type lxc, filesystem, mem ignored/.test(w)), 'UML/KVM/LXC details ignored with a warning');
  t.ok(r.warnings.some((w) => /10\.0\.0\.2\/24 -> 198\.18\.0\.2\/24/.test(w)), 'renumbering is said');
  t.throws(() => importScenario('<nothing/>', 'n.xml'), /lab import n\.xml: not a VNX\/VNUML scenario/);
});

t.test('containerlab import', async (t) => {
  const r = importScenario(readFileSync(join(dir, 'clab-linux.yml'), 'utf8'), 'clab-linux.yml');
  t.equal(r.scenario.name, 'clab1');
  t.same(r.scenario.nets, [{ name: 'l0', type: 'p2p' }]);
  t.same(r.scenario.nodes.map((n) => [n.name, n.interfaces]), [['c1', [{ net: 'l0', name: 'eth1' }]], ['c2', [{ net: 'l0', name: 'eth1' }]]]);
  t.same(r.scenario.nodes[1].exec, { start: ['ip addr add 198.18.30.2/30 dev eth1', 'ping -c 2 -W 2 198.18.30.1'] });
  t.ok(r.warnings.some((w) => /image alpine:latest ignored/.test(w)));
  const other = importScenario('name: x\ntopology:\n  nodes:\n    a: { kind: srl }\n    b: {}\n  links:\n    - endpoints: ["a:e1-1", "b:eth1"]\n', 'o.yml', 'abcd');
  t.ok(other.warnings.some((w) => /node a: kind srl imported as a host namespace/.test(w)));
  t.equal(other.scenario.nodes[0].interfaces[0].name, 'e11', 'interface names made valid');
  t.throws(() => importScenario('name: x\ntopology:\n  nodes: { a: {} }\n  links:\n    - endpoints: ["a:eth1", "zz:eth1"]\n', 'z.yml'), /a link names node 'zz', which is not in topology.nodes/);
});
