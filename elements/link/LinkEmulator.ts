import { Type } from 'typebox';
import { defineElement } from '../../src/graph/descriptor.js';
import { bitRateFields } from '../lib/rateFields.js';

const percent = (description: string, dflt = 0) => Type.Optional(Type.Number({ minimum: 0, maximum: 100, default: dflt, description }));
const seconds = (description: string) => Type.Optional(Type.Number({ minimum: 0, maximum: 3600, default: 0, description }));

export const LinkEmulator = defineElement({
  name: 'LinkEmulator',
  group: 'link',
  summary: 'One direction of an emulated link: bandwidth with serialisation delay, delay, jitter, loss, duplication and reordering (netem in the engine).',
  doc: `Emulates one direction of a link, as Linux's netem qdisc does, on the engine clock: put one
instance in each direction (\`a.to(LinkEmulator({...}, 'ab'))\`, \`b.to(LinkEmulator({...}, 'ba'))\`).
One element rather than a chain of small ones because the parameters interact in one schedule (the
serialisation of one packet delays the next, a packet's delay may not let it overtake the one before),
and one element is one thing to configure, read and hold to a capacity per direction.

For each packet pushed in, in this order:
- **loss**: with \`lossModel: 'random'\` it is dropped with probability \`loss\` percent
  (\`drops_loss\`). With \`'gilbert-elliott'\` (netem's gemodel, for bursty loss) a two-state chain moves,
  per packet, from good to bad with probability \`geP\` and from bad to good with \`geR\`, then the packet
  is lost with \`geLossBad\` (netem's 1-h) in the bad state and \`geLossGood\` (1-k) in the good one: the
  mean loss is geP / (geP + geR) x geLossBad + geR / (geP + geR) x geLossGood, and a bad spell lasts 100 / geR packets on average.
- **duplication**: with probability \`duplicate\` percent a copy is made (\`duplicated\`; a copy the
  pool cannot give is counted in \`drops_pool_empty\`), and the copy goes through the rest like a
  packet of its own, right behind the original (it takes its own time on the wire too).
- **capacity**: a packet that would make more than \`capacity\` packets held (waiting for the wire or
  in flight) is dropped (\`drops_overflow\`): the link's buffer, netem's \`limit\`.
- **bandwidth**: with \`rate\` bits per second (0: no limit), the packet leaves when the wire has sent
  the packets before it and its own length plus \`overhead\` bytes (24 counts an Ethernet frame's
  preamble, FCS and gap): the serialisation delay of a real link, and a queue in front of it. The
  \`backlog\` handler says how many seconds of it are booked ahead.
- **reordering**: with probability \`reorder\` percent the packet skips the delay and jitter (but not
  the wire), so it overtakes packets still in their delay (\`reordered\`, counted when picked): netem's
  \`reorder\`, which also needs a delay to show.
- **delay and jitter**: otherwise it arrives \`delay\` seconds after it left the wire, plus a random
  jitter: \`distribution: 'uniform'\` draws from delay ± jitter, \`'normal'\` a normal distribution of
  mean delay and standard deviation jitter (both cut at 0). Jitter never reorders unless
  \`jitterReorders\` is set: a packet that would arrive before the one sent ahead of it arrives with it
  instead (the distribution is kept, shifted where it would overtake, as netem does with a rate).

The packet is then held (a heap on arrival time, with equal times in arrival order) until the
engine clock reaches its arrival, and pushed out on output 0 (\`sent\`, duplicates included), from
the element's timer (or at once, in the same round, when it is due already). Nothing sleeps and
nothing is allocated per packet (copies come from the pool). On an engine with a virtual clock
every time is exact, and the random numbers come from \`seed\` (splitmix64), so a test repeats to
the packet; seed 0 takes a random one.

**Live changes**: every parameter has a write handler of its own name that sets that parameter
and nothing else (unlike containerlab's impairment command, which resets every one not named):
the packets held keep the times they were given, and the next packet sees the new value. A new
\`rate\` applies from the next packet booked (those booked before leave on their times); a
shorter \`delay\` keeps the packets in order (a new packet arrives no earlier than the last one, unless
\`jitterReorders\`). \`capacity\` may shrink below the packets held: they stay, new ones are dropped until
there is room. Hot reconfiguration keeps the packets held with their times, the wire's booked time
and the loss model's state; the new config applies from then on.`,
  inputs: '1',
  outputs: '1',
  processing: 'h/h',
  config: Type.Object(
    {
      rate: Type.Optional(
        Type.Number({ minimum: 0, maximum: 1e12, default: 0, unit: 'bit/s', description: 'Bits per second of the wire (serialisation delay and a queue in front of it); 0: no limit.' }),
      ),
      overhead: bitRateFields.overhead,
      delay: seconds('Seconds each packet takes after leaving the wire (propagation delay, the mean with jitter).'),
      jitter: seconds("Seconds of random variation of the delay: the half-width of 'uniform', the standard deviation of 'normal'."),
      distribution: Type.Optional(
        Type.Union([Type.Literal('uniform'), Type.Literal('normal')], { default: 'uniform', description: 'How jitter is drawn: uniform in delay ± jitter, or normal (mean delay, deviation jitter); both cut at 0.' }),
      ),
      jitterReorders: Type.Optional(Type.Boolean({ default: false, description: 'Let jitter reorder packets (a packet may arrive before one sent ahead of it); off, arrivals keep the sending order.' })),
      lossModel: Type.Optional(
        Type.Union([Type.Literal('random'), Type.Literal('gilbert-elliott')], {
          default: 'random',
          description: "'random': each packet lost with probability loss; 'gilbert-elliott': bursty loss from a good/bad two-state chain (geP, geR, geLossBad, geLossGood).",
        }),
      ),
      loss: percent("Percent of packets lost at random (lossModel 'random')."),
      geP: percent('Gilbert-Elliott: percent chance per packet of moving from the good state to the bad one.'),
      geR: percent('Gilbert-Elliott: percent chance per packet of moving from the bad state back to the good one (mean burst: 100 / geR packets).'),
      geLossBad: percent("Gilbert-Elliott: percent of packets lost in the bad state (netem's 1-h).", 100),
      geLossGood: percent("Gilbert-Elliott: percent of packets lost in the good state (netem's 1-k)."),
      duplicate: percent('Percent of packets sent twice (the copy right behind the original).'),
      reorder: percent('Percent of packets that skip the delay and jitter and so overtake those in flight (needs a delay to show).'),
      capacity: Type.Optional(Type.Integer({ minimum: 1, maximum: 16777216, default: 1000, description: "Most packets held, waiting for the wire or in flight (netem's limit); more are dropped (drops_overflow)." })),
      seed: Type.Optional(Type.Integer({ minimum: 0, maximum: 9007199254740991, default: 0, description: 'Seed of the random numbers (loss, duplication, reordering, jitter): a run repeats exactly; 0 takes a random seed.' })),
    },
    { additionalProperties: false },
  ),
  quotas: { buffers: 'capacity' },
  counters: {
    packets: 'packets received',
    sent: 'packets sent on after their delay (duplicates included)',
    drops_loss: 'packets dropped by the loss model (random or Gilbert-Elliott)',
    drops_overflow: 'packets dropped because capacity packets were held already',
    drops_pool_empty: 'duplicates dropped (not made) because the packet pool was empty',
    duplicated: 'copies made (duplication)',
    reordered: 'packets picked to skip the delay (reordering)',
  },
  handlers: {
    rate: { doc: 'read or set the wire rate, bits per second (0: no limit); applies from the next packet', read: true, write: true },
    overhead: { doc: 'read or set the bytes added to each packet on the wire', read: true, write: true },
    delay: { doc: 'read or set the delay, seconds', read: true, write: true },
    jitter: { doc: 'read or set the jitter, seconds', read: true, write: true },
    distribution: { doc: "read or set the jitter distribution ('uniform' or 'normal')", read: true, write: true },
    jitterReorders: { doc: 'read or set whether jitter may reorder packets (true or false)', read: true, write: true },
    lossModel: { doc: "read or set the loss model ('random' or 'gilbert-elliott')", read: true, write: true },
    loss: { doc: 'read or set the random loss, percent', read: true, write: true },
    geP: { doc: 'read or set the Gilbert-Elliott good-to-bad chance, percent', read: true, write: true },
    geR: { doc: 'read or set the Gilbert-Elliott bad-to-good chance, percent', read: true, write: true },
    geLossBad: { doc: 'read or set the loss in the bad state, percent', read: true, write: true },
    geLossGood: { doc: 'read or set the loss in the good state, percent', read: true, write: true },
    duplicate: { doc: 'read or set the duplication, percent', read: true, write: true },
    reorder: { doc: 'read or set the reordering, percent', read: true, write: true },
    capacity: { doc: 'read or set the most packets held (a smaller one keeps those held)', read: true, write: true },
    seed: { doc: 'read or set the seed (restarts the random numbers; 0: a random seed)', read: true, write: true },
    held: { doc: 'packets held now (waiting for the wire or in flight)', read: true },
    backlog: { doc: 'seconds of wire time booked ahead, as of the last packet in or out (the queue in front of the wire)', read: true },
  },
  examples: [
    "FromDevice({ device: 'veth0' }).to(LinkEmulator({ rate: 10e6, delay: 0.02, jitter: 0.002, loss: 0.5 }, 'a_to_b')).to(ToDevice({ device: 'veth1' }))",
    "LinkEmulator({ lossModel: 'gilbert-elliott', geP: 1, geR: 25, delay: 0.05, distribution: 'normal', jitter: 0.005 })",
  ],
});
