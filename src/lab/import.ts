// `pktgraph lab import FILE`: a VNX/VNUML scenario (XML) or a containerlab topology (YAML)
// translated into a pktgraph scenario (scenario-schema.ts), with a warning for each thing
// left behind. VNX: <net> (lan, or p2p for type="ppp"), <vm> with <if> (<ipv4>, <ipv6>),
// <route>, <forwarding> (the vm becomes a linux-router) and <exec seq=...> (named command
// sequences); virtual machine details (filesystem, mem, kernel, console, ...) are ignored.
// containerlab: linux nodes (other kinds become hosts, with a warning), links (each a p2p
// net), and a node's exec list (the sequence 'start'). Addresses outside the lab ranges are
// renumbered into 198.18.0.0/15 and fd00::/8, with a warning, as labs use only those.
import { XMLParser } from 'fast-xml-parser';
import { parse as parseYaml, stringify } from 'yaml';
import { loadScenario, ScenarioError, type ScenarioT, type NodeT } from './scenario-schema.js';
import { checkLabAddress } from './lab.js';

export interface Imported {
  scenario: ScenarioT;
  warnings: string[];
}

/** A name usable in a scenario: lower case letters and digits, starting with a letter, at most `max`. */
function cleanName(raw: string, max = 8): string {
  const s = String(raw).toLowerCase().replace(/[^a-z0-9]/g, '');
  return (/^[a-z]/.test(s) ? s : `n${s}`).slice(0, max);
}

function labId(raw: string | undefined): string {
  const s = cleanName(raw ?? 'imported', 6);
  return s.length >= 4 ? s : (s + 'lab0').slice(0, 4);
}

/** Keep an address in the lab ranges, or renumber it there (198.18.C.D from A.B.C.D; fd00 in front of IPv6), with a warning. */
function renumber(text: string, warnings: string[]): string {
  try {
    checkLabAddress(text, 'address');
    return text;
  } catch {}
  const [addr, len] = text.split('/');
  let out: string;
  if (addr.includes('.')) {
    const o = addr.split('.');
    out = `198.18.${o[2]}.${o[3]}${len !== undefined ? `/${Math.max(Number(len), 16)}` : ''}`;
  } else {
    const groups = addr.split(':');
    groups[0] = 'fd00';
    out = `${groups.join(':')}${len !== undefined ? `/${Math.max(Number(len), 16)}` : ''}`;
  }
  warnings.push(`renumbered ${text} to ${out}`);
  return out;
}

const arr = <T>(v: T | T[] | undefined): T[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);
const text = (v: unknown): string => (typeof v === 'object' && v !== null ? String((v as { '#text'?: unknown })['#text'] ?? '') : String(v ?? '')).trim();

export function importVnx(xml: string, name?: string): Imported {
  const warnings: string[] = [];
  const doc = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '', parseTagValue: false, isArray: (tag) => ['net', 'vm', 'if', 'ipv4', 'ipv6', 'route', 'exec'].includes(tag) }).parse(xml);
  const root = doc.vnx ?? doc.vnuml;
  if (!root) throw new ScenarioError('not a VNX/VNUML scenario: no <vnx> (or <vnuml>) element');
  const nets = arr(root.net).map((n: Record<string, string>) => ({ name: cleanName(n.name), ...(n.type === 'ppp' ? { type: 'p2p' as const } : {}) }));
  const nodes: NodeT[] = [];
  for (const vm of arr(root.vm) as Record<string, unknown>[]) {
    const vname = cleanName(String(vm.name));
    const ignored = Object.keys(vm).filter((k) => !['name', 'if', 'route', 'forwarding', 'exec', 'type', 'subtype', 'os', 'arch', 'vcpu', 'exec_mode'].includes(k));
    if (ignored.length || vm.type) warnings.push(`vm ${vm.name}: ${[vm.type ? `type ${vm.type}` : '', ...ignored].filter(Boolean).join(', ')} ignored (nodes are namespaces)`);
    const interfaces = (arr(vm.if) as Record<string, unknown>[]).map((x) => ({
      net: cleanName(String(x.net)),
      name: `eth${x.id ?? 0}`,
      addresses: [...arr(x.ipv4), ...arr(x.ipv6)].map((a) => renumber(text(a), warnings)).filter(Boolean),
    }));
    const routes = (arr(vm.route) as unknown[]).map((r) => {
      const gw = renumber(String((r as Record<string, string>).gw), warnings);
      const to = text(r);
      const v6 = (r as Record<string, string>).type === 'ipv6';
      return { to: to === 'default' ? (v6 ? 'default6' : 'default') : renumber(to, warnings), via: gw };
    });
    const exec: Record<string, string[]> = {};
    for (const e of arr(vm.exec) as unknown[]) {
      const seq = cleanName(String((e as Record<string, string>).seq ?? 'start'), 32);
      (exec[seq] ??= []).push(...text(e).split(/\n|;/).map((c) => c.trim()).filter(Boolean));
    }
    if (!interfaces.length) {
      warnings.push(`vm ${vm.name} has no interface; left out`);
      continue;
    }
    nodes.push({ name: vname, type: vm.forwarding !== undefined ? 'linux-router' : 'host', interfaces, ...(routes.length ? { routes } : {}), ...(Object.keys(exec).length ? { exec } : {}) });
  }
  if (root.host) warnings.push('<host> ignored (the lab does not configure the host itself)');
  const id = name ?? labId(text(root.global?.scenario_name));
  return finish({ name: id, description: `imported from VNX scenario ${text(root.global?.scenario_name)}`, nets, nodes }, warnings);
}

export function importContainerlab(yamlText: string, name?: string): Imported {
  const warnings: string[] = [];
  const doc = parseYaml(yamlText) as { name?: string; topology?: { nodes?: Record<string, Record<string, unknown>>; links?: { endpoints?: string[] }[] } };
  if (!doc?.topology?.nodes) throw new ScenarioError('not a containerlab topology: no topology.nodes');
  const nodes = new Map<string, NodeT>();
  const raw = doc.topology.nodes;
  const nets: ScenarioT['nets'] = [];
  const ifaces = new Map<string, { net: string; name: string }[]>();
  (doc.topology.links ?? []).forEach((l, i) => {
    const eps = l.endpoints ?? [];
    if (eps.length !== 2) return warnings.push(`link ${i}: ${eps.length} endpoints; left out`);
    const net = `l${i}`;
    nets.push({ name: net, type: 'p2p' });
    for (const ep of eps) {
      const [node, ifname] = ep.split(':');
      (ifaces.get(node) ?? ifaces.set(node, []).get(node)!).push({ net, name: cleanName(ifname ?? `eth${i}`) });
    }
  });
  for (const [n, cfg] of Object.entries(raw)) {
    const kind = String(cfg.kind ?? doc.topology.nodes[n]?.kind ?? 'linux');
    if (kind !== 'linux') warnings.push(`node ${n}: kind ${kind} imported as a host namespace`);
    if (cfg.image) warnings.push(`node ${n}: image ${cfg.image} ignored (nodes are namespaces of this host)`);
    const interfaces = ifaces.get(n) ?? [];
    if (!interfaces.length) {
      warnings.push(`node ${n} has no link; left out`);
      continue;
    }
    const exec = arr(cfg.exec as string[] | undefined).map(String);
    nodes.set(n, { name: cleanName(n), type: 'host', interfaces, ...(exec.length ? { exec: { start: exec } } : {}) });
  }
  for (const node of ifaces.keys()) if (!(node in raw)) throw new ScenarioError(`containerlab topology: a link names node '${node}', which is not in topology.nodes`);
  return finish({ name: name ?? labId(doc.name), description: `imported from containerlab topology ${doc.name ?? ''}`.trim(), nets, nodes: [...nodes.values()] }, warnings);
}

/** Check the result as any scenario file is checked. */
function finish(s: ScenarioT, all: string[]): Imported {
  // One line for every renumbering, each address once.
  const renumbered = [...new Set(all.filter((w) => w.startsWith('renumbered ')).map((w) => w.slice(11).replace(' to ', ' -> ')))];
  const warnings = all.filter((w) => !w.startsWith('renumbered '));
  if (renumbered.length) warnings.push(`addresses renumbered into 198.18.0.0/15 and fd00::/8 (labs use only those): ${renumbered.join(', ')}`);
  return { scenario: loadScenario(stringify(s), 'the imported scenario'), warnings };
}

/** VNX XML when the text starts with '<', else containerlab YAML. */
export function importScenario(content: string, file: string, name?: string): Imported {
  try {
    return content.trimStart().startsWith('<') ? importVnx(content, name) : importContainerlab(content, name);
  } catch (e) {
    throw new ScenarioError(`lab import ${file}: ${(e as Error).message}`);
  }
}
