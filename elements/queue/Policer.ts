import { Type } from 'typebox';
import { defineElement } from '../../src/graph/descriptor.js';

const action = (colour: string, dflt: string) =>
  Type.Optional(
    Type.Union([Type.Literal('pass'), Type.Literal('drop'), Type.Literal('paint'), Type.Literal('dscp')], {
      default: dflt,
      description: `What happens to a ${colour} packet: 'pass' (unchanged), 'drop', 'paint' (its colour into the paint annotation) or 'dscp' (its DSCP set to ${colour}Dscp).`,
    }),
  );
const dscp = (colour: string, dflt: number, name: string) =>
  Type.Optional(Type.Integer({ minimum: 0, maximum: 63, default: dflt, description: `The DSCP a ${colour} packet gets with ${colour}Action 'dscp' (default ${name}).` }));

// Rates are whole bits per second; bursts whole bytes (the bucket arithmetic is exact).
const MAX_RATE = 1e12; // 1 Tbit/s
const MAX_BURST = 1e9; // 1 GB: a bucket of burst x 8e9 credit units fits 64 bits

export const Policer = defineElement({
  name: 'Policer',
  group: 'queue',
  summary: 'Meters packets with RFC 2697 (srTCM) or RFC 2698 (trTCM) and passes, drops, paints, remarks or splits them by colour.',
  doc: `A three-colour marker: each packet is metered green, yellow or red against two token buckets,
then handled by its colour's action, and leaves on the output of its colour.

\`mode: 'srtcm'\` is RFC 2697's single-rate three-colour marker: the committed bucket C (depth
\`cbs\` bytes) fills at \`cir\`; credit that overflows a full C fills the excess bucket E (depth
\`ebs\` bytes). A packet of B bytes is green if C holds B (C -= B), else yellow if E holds B
(E -= B), else red. \`mode: 'trtcm'\` is RFC 2698's two-rate three-colour marker: C fills at
\`cir\` to \`cbs\` and the peak bucket P at \`pir\` to \`pbs\`, independently; a packet is red if
P holds less than B, else yellow if C holds less than B (P -= B), else green (P -= B and C -= B).
Both buckets start full, as the RFCs say. With \`colorAware\`, a packet's colour on arrival is its
paint annotation (0 green, 1 yellow, 2 or more red) and the RFCs' colour-aware rules apply: a
packet never leaves in a better colour than it came with (a yellow packet is never green, a red one
always red), and a pre-coloured packet takes tokens only from the buckets its result draws on
(srTCM: a yellow packet only from E; trTCM: a yellow packet only from P). The paint annotation
is the input because any classifier can set it (an IPClassifier on \`ip[1] & 0xfc == 48\`, DSCP
12, then Paint, to read RFC 2597's AF drop precedence; or a previous Policer's \`paint\` action); without
\`colorAware\` the paint is not read.

Units: \`cir\` and \`pir\` are bits per second (as routers and tc configure them; the RFCs' bytes
per second times 8), \`cbs\`, \`ebs\` and \`pbs\` bytes (as the RFCs count them). B is the length of
the IP packet, as the RFCs count: from the network-header annotation to the end of the packet when
that annotation is set (after CheckIPHeader or MarkIPHeader), else the whole packet. The buckets
count exact integer credit (no rounding), so a packet that just empties a bucket conforms.

Time is the engine clock, read once per batch: packets of one batch arrive together. Credit
accrues by elapsed time since the previous batch, so late or irregular batches lose nothing up
to the bucket depths. The buckets are one shared state for every worker that pushes into the
element, taken under a spin lock once per batch: a policer fed by several workers holds its rate
(engines that keep a bucket per core let through the rate times the number of cores).

Actions (\`greenAction\`, \`yellowAction\`, \`redAction\`): \`'pass'\` leaves the packet unchanged,
\`'drop'\` drops it (counted in \`drops_green\`, \`drops_yellow\` or \`drops_red\`), \`'paint'\` sets
its paint annotation to its colour (0, 1, 2: a PaintSwitch downstream, or a colour-aware Policer),
\`'dscp'\` sets the DSCP of its IPv4 header (checksum updated incrementally, RFC 1624) or IPv6
traffic class to \`greenDscp\`, \`yellowDscp\` or \`redDscp\` (by default RFC 2597's AF11, AF12 and
AF13), keeping the ECN bits; a packet to remark whose network-header annotation is unset, or
whose IPv4 (20 bytes) or IPv6 (40 bytes) header is not inside the packet, is dropped and counted in
\`drops_no_header\`. The defaults police: green and yellow pass, red is dropped.

Outputs: with one, every packet that is not dropped leaves on it; with three, green leaves on 0,
yellow on 1 and red on 2; with two, green on 0 and yellow and red on 1 (in profile and out of
profile). Actions apply first, so a colour with action 'drop' reaches no output.

Every field can be written while running through the handler of its name, checked as the
config is. A new rate applies to the credit gathered since the previous batch; a smaller burst
cuts the bucket to it; a new \`mode\` starts both buckets full again. The \`tokens\` handler reads
the bucket levels in bytes.

Click's Meter (an averaged-rate classifier) is another element; this one follows the RFCs.`,
  inputs: '1',
  outputs: '1-3',
  processing: 'h/h',
  config: Type.Object(
    {
      mode: Type.Optional(Type.Union([Type.Literal('srtcm'), Type.Literal('trtcm')], { default: 'srtcm', description: "'srtcm' (RFC 2697: cir, cbs, ebs) or 'trtcm' (RFC 2698: cir, cbs, pir, pbs)." })),
      cir: Type.Integer({ minimum: 1, maximum: MAX_RATE, description: 'Committed information rate, bits per second.' }),
      cbs: Type.Integer({ minimum: 0, maximum: MAX_BURST, description: 'Committed burst size, bytes (at least the largest packet, the RFCs advise).' }),
      ebs: Type.Optional(Type.Integer({ minimum: 0, maximum: MAX_BURST, default: 0, description: "Excess burst size, bytes (mode 'srtcm'; 0: nothing is yellow)." })),
      pir: Type.Optional(Type.Integer({ minimum: 0, maximum: MAX_RATE, default: 0, description: "Peak information rate, bits per second, at least cir (mode 'trtcm')." })),
      pbs: Type.Optional(Type.Integer({ minimum: 0, maximum: MAX_BURST, default: 0, description: "Peak burst size, bytes (mode 'trtcm')." })),
      colorAware: Type.Optional(Type.Boolean({ default: false, description: 'Read the colour a packet arrives with from its paint annotation (0 green, 1 yellow, 2 or more red); false: colour-blind.' })),
      greenAction: action('green', 'pass'),
      yellowAction: action('yellow', 'pass'),
      redAction: action('red', 'drop'),
      greenDscp: dscp('green', 10, 'AF11'),
      yellowDscp: dscp('yellow', 12, 'AF12'),
      redDscp: dscp('red', 14, 'AF13'),
    },
    { additionalProperties: false },
  ),
  counters: {
    green_packets: 'packets metered green',
    green_bytes: 'bytes (as metered) of the packets metered green',
    yellow_packets: 'packets metered yellow',
    yellow_bytes: 'bytes (as metered) of the packets metered yellow',
    red_packets: 'packets metered red',
    red_bytes: 'bytes (as metered) of the packets metered red',
    drops_green: "green packets dropped (greenAction 'drop')",
    drops_yellow: "yellow packets dropped (yellowAction 'drop')",
    drops_red: "red packets dropped (redAction 'drop')",
    drops_no_header: "packets dropped because their action was 'dscp' and the network-header annotation is unset or no whole IPv4 or IPv6 header is there",
  },
  handlers: {
    mode: { doc: "read or set the mode ('srtcm' or 'trtcm'); a new mode starts both buckets full", read: true, write: true },
    cir: { doc: 'read or set the committed information rate, bits per second', read: true, write: true },
    cbs: { doc: 'read or set the committed burst size, bytes', read: true, write: true },
    ebs: { doc: 'read or set the excess burst size, bytes (srTCM)', read: true, write: true },
    pir: { doc: 'read or set the peak information rate, bits per second (trTCM)', read: true, write: true },
    pbs: { doc: 'read or set the peak burst size, bytes (trTCM)', read: true, write: true },
    colorAware: { doc: 'read or set whether the paint annotation gives the colour a packet arrives with', read: true, write: true },
    greenAction: { doc: "read or set the green packets' action", read: true, write: true },
    yellowAction: { doc: "read or set the yellow packets' action", read: true, write: true },
    redAction: { doc: "read or set the red packets' action", read: true, write: true },
    greenDscp: { doc: "read or set the green packets' DSCP (action 'dscp')", read: true, write: true },
    yellowDscp: { doc: "read or set the yellow packets' DSCP (action 'dscp')", read: true, write: true },
    redDscp: { doc: "read or set the red packets' DSCP (action 'dscp')", read: true, write: true },
    tokens: { doc: "read the bucket levels in bytes: 'C E' (srTCM) or 'C P' (trTCM), as of the last batch", read: true },
  },
  derived: {
    green_rate: { doc: 'green bits per second over the last sampling interval', read: (c) => String(8 * (c.rate('green_bytes') ?? 0)) },
    yellow_rate: { doc: 'yellow bits per second over the last sampling interval', read: (c) => String(8 * (c.rate('yellow_bytes') ?? 0)) },
    red_rate: { doc: 'red bits per second over the last sampling interval', read: (c) => String(8 * (c.rate('red_bytes') ?? 0)) },
  },
  // The same rules as the native side's check (Policer.cc), worded for the graph's author.
  check: (c) => {
    const { cir, cbs } = c;
    const ebs = c.ebs ?? 0;
    const pir = c.pir ?? 0;
    const pbs = c.pbs ?? 0;
    if ((c.mode ?? 'srtcm') === 'srtcm') {
      if (cbs === 0 && ebs === 0) return "config fields 'cbs' and 'ebs' are both 0: RFC 2697 needs at least one above 0 (set cbs to at least the largest packet, in bytes)";
      return undefined;
    }
    if (pir < cir) return `config field 'pir' (${pir} bit/s) is below 'cir' (${cir} bit/s): mode 'trtcm' needs a peak rate at least the committed rate (RFC 2698)`;
    if (cbs === 0) return "config field 'cbs' is 0: mode 'trtcm' needs a committed burst above 0 (RFC 2698; at least the largest packet, in bytes)";
    if (pbs === 0) return "config field 'pbs' is 0: mode 'trtcm' needs a peak burst above 0 (RFC 2698; at least the largest packet, in bytes)";
    return undefined;
  },
  examples: [
    "CheckIPHeader().to(Policer({ cir: 10_000_000, cbs: 15000, ebs: 30000 })).to(Queue())",
    "const p = Policer({ mode: 'trtcm', cir: 1e6, cbs: 3000, pir: 2e6, pbs: 6000, greenAction: 'dscp', yellowAction: 'dscp', redAction: 'dscp' })",
    "const p = Policer({ cir: 1e6, cbs: 3000, ebs: 3000, redAction: 'pass' }); p.out(0).to(Queue()); p.out(1).to(Queue()); p.out(2).to(Discard())",
  ],
});
