import { Type, type Static } from 'typebox';
import { defineElement } from '../../src/graph/descriptor.js';

// The deepest a class may sit below the link (a class directly under 'root' is at depth 1);
// the same limit as the C++ half's levels (HTBSched.cc, kLevels).
export const HTB_MAX_DEPTH = 8;

const ClassSpec = Type.Object(
  {
    name: Type.String({ pattern: '^[A-Za-z0-9_.:@-]{1,64}$', description: "The class's name (letters, digits, _ . : @ -; 'root' is the link)." }),
    parent: Type.String({ minLength: 1, description: "The parent class, or 'root' (the link) for a top-level class." }),
    unit: Type.Optional(
      Type.Union([Type.Literal('bits'), Type.Literal('packets')], {
        default: 'bits',
        description: "What the class's rates and bursts count: 'bits' (rates in bits per second, bursts in bytes) or 'packets' (packets per second, bursts in packets).",
      }),
    ),
    rate: Type.Number({ exclusiveMinimum: 0, maximum: 1e12, description: 'Guaranteed rate in bits (or packets) per second.' }),
    ceil: Type.Optional(Type.Number({ exclusiveMinimum: 0, maximum: 1e12, description: 'The most the class may send, borrowing, in bits (or packets) per second (default: its rate).' })),
    burst: Type.Optional(Type.Integer({ minimum: 0, maximum: 1073741824, description: 'Bytes (or packets) sent at once above the rate after an idle spell (default: 1 ms at the rate, at least 3028 bytes or 2 packets).' })),
    cburst: Type.Optional(Type.Integer({ minimum: 0, maximum: 1073741824, description: 'The same for the ceil (default: 1 ms at the ceil, at least 3028 bytes or 2 packets).' })),
    weight: Type.Optional(Type.Integer({ minimum: 1, maximum: 10000, default: 1, description: "The class's share of its parent's spare capacity, against its siblings' weights." })),
    capacity: Type.Optional(Type.Integer({ minimum: 1, maximum: 1048576, default: 1000, description: "Packets a leaf class's queue holds (used while the class has no children)." })),
    match: Type.Optional(Type.Integer({ minimum: 0, maximum: 4294967295, description: "The key (the annotation chosen by the element's 'key') that sends packets to this leaf." })),
    credit: Type.Optional(
      Type.Union([Type.Literal('full'), Type.Literal('none')], {
        default: 'full',
        description: "How the class starts: 'full' buckets (HTB's way: a burst may go at once) or 'none' (it earns its credit from then on, so a class added to a busy tree sends nothing above its share while the others' settle).",
      }),
    ),
  },
  { additionalProperties: false },
);
export type HTBClass = Static<typeof ClassSpec>;

/** The rules every class set obeys, in the configuration and after each live change: a sentence
 *  naming the class and field, or undefined. The C++ half checks the same rules again (HTBSched.cc,
 *  check_tree) for the handlers that add, remove and change classes. */
export function checkClasses(classes: HTBClass[], key: 'paint' | 'table_id', dflt: string, maxClasses: number): string | undefined {
  if (classes.length > maxClasses) return `classes: ${classes.length} classes but maxClasses is ${maxClasses}; raise maxClasses`;
  const byName = new Map<string, HTBClass>();
  for (const [i, c] of classes.entries()) {
    if (c.name === 'root') return `classes[${i}].name: 'root' is the link itself; give the class another name`;
    if (byName.has(c.name)) return `classes[${i}].name: class '${c.name}' is defined twice`;
    byName.set(c.name, c);
  }
  const children = new Map<string, HTBClass[]>();
  for (const c of classes) children.set(c.parent, [...(children.get(c.parent) ?? []), c]);
  const matched = new Map<number, string>();
  for (const [i, c] of classes.entries()) {
    const where = `classes[${i}] (class '${c.name}')`;
    if (c.parent !== 'root' && !byName.has(c.parent)) return `${where}.parent: no class '${c.parent}'; name a class defined here, or 'root' for the link`;
    const ceil = c.ceil ?? c.rate;
    const unit = c.unit === 'packets' ? 'packets/s' : 'bit/s';
    if (ceil < c.rate) return `${where}.ceil: ${ceil} ${unit} is below its rate ${c.rate} ${unit}; a ceil must be at least the rate`;
    if (c.parent === 'root' && ceil > c.rate)
      return `${where}.ceil: a class under the root has no parent to borrow from, so its ceil (${ceil} ${unit}) must equal its rate (${c.rate} ${unit}); put it under a class holding the link's rate`;
    let depth = 1;
    const seen = new Set([c.name]);
    for (let p = c.parent; p !== 'root'; p = byName.get(p)!.parent, depth++) {
      if (seen.has(p)) return `${where}.parent: the parents of '${c.name}' go round in a cycle (${[...seen, p].join(' -> ')})`;
      seen.add(p);
    }
    const kids = children.get(c.name) ?? [];
    if (depth > HTB_MAX_DEPTH) return `${where}.parent: the class is ${depth} levels below the link; at most ${HTB_MAX_DEPTH}`;
    // Children counted in the parent's unit (one in the other unit cannot be compared with it).
    const sum = kids.filter((k) => (k.unit ?? 'bits') === (c.unit ?? 'bits')).reduce((s, k) => s + k.rate, 0);
    // An error, not a warning: a guarantee the parent cannot cover would be kept by going over
    // the parent's (and in the end the link's) limit, as HTB does, or not kept at all.
    if (sum > c.rate * (1 + 1e-12))
      return `${where}.rate: its children's rates add up to ${sum} ${unit}, above its rate ${c.rate} ${unit}; lower theirs or raise this one (a guarantee must be covered by the parent's)`;
    if (c.match !== undefined) {
      if (kids.length) return `${where}.match: only a leaf class (one without children) has a queue to match packets to`;
      if (key === 'paint' && c.match > 255) return `${where}.match: ${c.match} is not a paint colour (0 to 255); the element's key is 'paint'`;
      const other = matched.get(c.match);
      if (other !== undefined) return `${where}.match: ${key} ${c.match} already selects class '${other}'`;
      matched.set(c.match, c.name);
    }
  }
  if (dflt !== '') {
    const d = byName.get(dflt);
    if (!d) return `default: no class '${dflt}'; name a leaf class, or '' to drop unclassified packets`;
    if (children.has(dflt)) return `default: class '${dflt}' has children; the default must be a leaf class (it holds the queue)`;
  }
  return undefined;
}

/**
 * The classes an HTBSched holds after a hot reconfiguration (the C++ half's `carried`, the same
 * rule): each class of the new configuration `next`, as it is now (`now`: changed at run time,
 * or gone if removed) where the configuration it replaces (`before`) had it the same, else as
 * configured; then the classes added at run time that neither configuration names.
 */
export function carriedClasses(before: HTBClass[], now: HTBClass[], next: HTBClass[]): HTBClass[] {
  const was = new Map(before.map((c) => [c.name, JSON.stringify(c)]));
  const is = new Map(now.map((c) => [c.name, c]));
  const mine = new Set(next.map((c) => c.name));
  const out: HTBClass[] = [];
  for (const c of next) {
    if (was.get(c.name) !== JSON.stringify(c)) out.push(c);
    else if (is.has(c.name)) out.push(is.get(c.name)!);
  }
  for (const c of now) if (!was.has(c.name) && !mine.has(c.name)) out.push(c);
  return out;
}

/** A class written to the add or change handler (a JSON object), or undefined when it is not one. */
function parseClass(value: string): Record<string, unknown> | undefined {
  try {
    const o: unknown = JSON.parse(value);
    return o && typeof o === 'object' && !Array.isArray(o) ? (o as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

export const HTBSched = defineElement({
  name: 'HTBSched',
  group: 'queue',
  summary: 'Hierarchical link-sharing scheduler (Linux HTB): a tree of classes with guaranteed rates and ceilings, leaf queues inside.',
  doc: `Shares a link among a tree of classes by Linux HTB's rules. Each class has a guaranteed \`rate\` and a
\`ceil\` (bits per second); packets pushed in are queued in a leaf class (one without children) and
pulled from the one output (by ToDevice, Unqueue, ...) in the order the tree allows:

- A class under its rate sends on its own tokens, before any class that borrows.
- A class over its rate but under its ceil borrows its parent's spare capacity; siblings that borrow
  share what the parent can lend in proportion to their \`weight\`, at every level of the tree. A
  parent over its own rate borrows in turn from its parent, and so on up to the class holding the
  link's rate; spare capacity nearer the leaf is used first.
- A class never sends above its ceil; a class's sending counts against the rate and ceil of all
  its ancestors, so a parent's ceil caps its whole subtree.

A class counts bits (the default: rates in bits per second, bursts in bytes, each packet charged
its length plus \`overhead\`) or, with \`unit: 'packets'\`, packets (rates in packets per second,
bursts in packets, each packet charged 1), and the two mix in one tree: a packet is charged to each
class on its way in that class's unit, so a leaf limited in packets/s sits under a link shaped in
bits/s. A parent's rate covers the guarantees of its children in its own unit (below); a child in
the other unit cannot be compared with it and is not counted there.

Classes directly under \`'root'\` (the link) have nothing to borrow from, so their ceil equals their
rate: a shaped uplink is one top-level class at the link's rate with the classes sharing it below.
The guaranteed rates of a class's children may not add up to more than its own rate (a compile
error, not a warning: HTB accepts such a tree and then keeps the children's guarantees by sending
above the parent's ceil, or cannot keep them at all). A child's ceil above its parent's is allowed
and simply never reached.

Tokens are bytes: each packet costs its length plus \`overhead\` (framing the link adds, like tc's
\`overhead\`: 24 on Ethernet, for the preamble and start delimiter, 8, the gap between frames, 12,
and the FCS, 4). A class may
send while its tokens are not negative, so a packet can take it below zero, and the debt is repaid
before it sends again (so rates hold to the byte over time). \`burst\` and \`cburst\` bound the
credit saved while idle. Token arithmetic runs on the engine's clock (cached per worker round;
virtual in tests), never by counting rounds, and an element that has packets it may not send yet
tells the worker when the next class becomes eligible, so an idle worker sleeps until then.

**Classification.** Each packet goes to the leaf whose \`match\` equals the packet's annotation
chosen by \`key\`: \`'paint'\` (the Paint colour) or \`'table_id'\` (the routing table or virtual
router the packet belongs to). A packet no leaf matches goes to the \`default\` class, or with no
default is dropped (\`drops_unclassified\`). A packet arriving at a full leaf queue (\`capacity\`
packets) is dropped and counted in \`drops_full\` and in its class's \`drops\`.

**While running.** Handlers change the tree (each runs with the graph paused, and is checked by the
same rules as the configuration, the error naming the class and field):
\`add\` takes a class as a JSON object with the fields of a \`classes\` entry (\`{"name": "t7",
"parent": "uplink", "rate": 1e6, "ceil": 5e6, "match": 7}\`); a leaf that gets its first child
becomes an inner class, its waiting packets freed (\`drops_class_removed\`); one that a \`match\` or
the default sends packets to cannot (the add is refused). A class starts with full buckets, as HTB's
do; one with \`credit: 'none'\` starts empty and earns its credit from then on, so a contender added
to a busy tree sends no burst above its share while the others' shares settle (ToPort's classes). In a virtual router, the leaves' queues count against its buffers quota, those
an \`add\` or a \`change\` of \`capacity\` would make too: a write that would take the router over its
quota is refused with nothing changed (docs/virtual-routers.md). \`remove\` takes a class name: a class with
children or the default class is refused; the removed leaf's waiting packets are freed and
counted in \`drops_class_removed\`. \`change\` takes a JSON object with \`name\` and any of \`rate\`,
\`ceil\`, \`burst\`, \`cburst\`, \`weight\`, \`capacity\`, \`unit\` (a change of unit gives the rate,
and any ceil and bursts the class set, in the new unit): new rates apply from then on, saved credit
kept up to the new bursts; a ceil or burst never given follows the new rate, as its default does. \`classes\` lists every class, parents before children, one per line:
\`NAME parent=P [unit=packets] rate=R ceil=C burst=B cburst=CB weight=W [match=M] leaf|inner mode=MODE
backlog=N packets=N bytes=N drops=N borrowed=N\`, where the mode is \`send\` (under its rate),
\`borrow\` (over its rate, under its ceil) or \`wait\` (at its ceil), \`packets\` and \`bytes\` count what
the class sent (its subtree's, for an inner class), and \`borrowed\` the packets it sent over its rate
with a parent's spare capacity. (The generic \`config\` handler shows the classes the graph was
loaded with; \`classes\` shows them as they are now.)

**Hot reconfiguration, save and restore.** A successor of the same name (a hot reconfiguration)
keeps what the handlers did: each class of its configuration that the old configuration had the
same stays as it was at run time (changed, or gone if removed), one the new configuration
changes takes the new configuration, and the classes added at run time that the new
configuration does not name stay; per class of the same name the queued packets (in order, all
of them even past a smaller capacity), counters and credit carry over. A result that breaks a
rule of the tree (a class added at run time whose match a new class takes, a parent gone) refuses
the reconfiguration, naming the classes. A saved router (vr.save, vr.clone, the engine's state
directory) keeps the classes the same way, with their counters (not their queued packets).

Cost does not grow with the number of classes: only classes that have packets and may send are on
the lists searched (one per level, and one per parent of its borrowing children), classes waiting
for tokens sit in a heap by the time they may send again, and a packet's work is a walk from its
leaf up to the root. Pushes and pulls from different workers share the tree under a spin lock
taken once per batch.

Differences from HTB: no priorities; siblings share by weight with start-time fair queueing
(each borrower's tag advances by the bytes it is sent over its weight, the smallest tag goes next,
a returning class starts no earlier than the others), where HTB rotates deficit round-robin
pointers by leaf quanta: classes near their rate leave and rejoin the lists at almost every
packet, which skews HTB's round-robin but not tags. As in HTB, a leaf under its own rate sends
whatever the state of its ancestors (its guarantee is covered by theirs, see above), so many
identical leaves whose tokens come due together send a burst of one packet each.`,
  inputs: '1',
  outputs: '1',
  processing: 'h/l',
  config: Type.Object(
    {
      classes: Type.Array(ClassSpec, {
        minItems: 1,
        description: "The classes: { name, parent ('root' or a class), rate, ceil?, burst?, cburst?, weight?, capacity?, match? }, rates in bits per second.",
      }),
      key: Type.Optional(
        Type.Union([Type.Literal('paint'), Type.Literal('table_id')], { default: 'paint', description: "The annotation a leaf's match is compared with: 'paint' or 'table_id'." }),
      ),
      default: Type.Optional(Type.String({ default: '', description: "The leaf class for packets no match selects; '' drops them (drops_unclassified)." })),
      overhead: Type.Optional(Type.Integer({ minimum: 0, maximum: 1024, default: 0, description: "Bytes added to each packet's length when charging it (link framing, as tc's overhead)." })),
      maxClasses: Type.Optional(Type.Integer({ minimum: 1, maximum: 65536, default: 4096, description: 'The most classes at once, the configured and the added ones.' })),
    },
    { additionalProperties: false },
  ),
  counters: {
    enqueued: 'packets queued in a leaf class',
    packets: 'packets sent (pulled)',
    bytes: 'bytes sent (pulled)',
    drops_unclassified: 'packets dropped because no leaf matched them and there is no default class',
    drops_full: "packets dropped because their leaf class's queue was full (per class in the classes handler)",
    drops_class_removed: 'packets dropped because their class was removed, or became an inner class, while they waited',
  },
  // Leaf classes hold packets; a class someone names as parent is inner.
  quotas: {
    buffers: (c) => {
      const parents = new Set(c.classes.map((x) => x.parent));
      return c.classes.reduce((n, x) => n + (parents.has(x.name) ? 0 : (x.capacity ?? 1000)), 0);
    },
  },
  // Classes added and changed at run time count too: the tree as it is now (the classes handler's
  // lines), and as an add or a capacity change would leave it.
  liveQuotas: {
    read: 'classes',
    live: (text, c) => ({
      ...c,
      classes: text
        .split('\n')
        .filter((l) => l.trim() !== '')
        .map((l) => {
          const [name, ...rest] = l.trim().split(/\s+/);
          const f = Object.fromEntries(rest.filter((w) => w.includes('=')).map((w) => w.split('=', 2)));
          return { name, parent: f.parent, rate: Number(f.rate), ...(f.capacity !== undefined ? { capacity: Number(f.capacity) } : {}) };
        }),
    }),
    carry: (before, now, next) => ({ ...next, classes: carriedClasses(before.classes, now.classes, next.classes) }),
    writes: {
      add: (c, value) => {
        const o = parseClass(value);
        if (!o || typeof o.name !== 'string' || typeof o.parent !== 'string' || (o.capacity !== undefined && typeof o.capacity !== 'number')) return undefined;
        return { ...c, classes: [...c.classes, { name: o.name, parent: o.parent, rate: Number(o.rate), ...(o.capacity !== undefined ? { capacity: o.capacity } : {}) }] };
      },
      change: (c, value) => {
        const o = parseClass(value);
        if (!o || typeof o.name !== 'string' || typeof o.capacity !== 'number') return o && o.capacity === undefined ? c : undefined;
        return { ...c, classes: c.classes.map((x) => (x.name === o.name ? { ...x, capacity: o.capacity as number } : x)) };
      },
    },
  },
  handlers: {
    classes: { doc: 'every class with its rates, mode, backlog and counters, one per line', read: true },
    add: { doc: 'add a class: a JSON object like a classes entry', write: true },
    remove: { doc: 'remove a class (by name) with its waiting packets', write: true },
    change: { doc: 'change a class: a JSON object with name and any of unit, rate, ceil, burst, cburst, weight, capacity', write: true },
  },
  check: (config) => checkClasses(config.classes, config.key ?? 'paint', config.default ?? '', config.maxClasses ?? 4096),
  examples: [
    `HTBSched({ key: 'paint', default: 'besteffort', classes: [
  { name: 'uplink', parent: 'root', rate: 100e6 },
  { name: 'gold', parent: 'uplink', rate: 60e6, ceil: 100e6, match: 1 },
  { name: 'besteffort', parent: 'uplink', rate: 10e6, ceil: 100e6 },
] }, 'shaper')`,
    `pktgraph write shaper.add '{"name":"silver","parent":"uplink","rate":20e6,"ceil":50e6,"match":2}'`,
    'pktgraph read shaper.classes',
  ],
});
