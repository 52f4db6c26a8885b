// The drop-counter naming convention (docs/writing-elements.md): a counter that counts
// packets an element dropped is named `drops`, `drops_<reason>` or `<source>_drops`, so
// `pktgraph run`'s summary can name every element that dropped packets. Walks every
// element descriptor and checks the convention against each counter's documentation,
// both ways, then checks the summary finds such counters in a real run.
import t from 'tap';
import '../elements/index.js';
import { allDescriptors } from '../src/graph/descriptor.js';
import { isDropCounter } from '../src/cli/summary.js';
import { compile } from '../src/compiler/compile.js';
import { graph, InfiniteSource, Classifier, Discard, Queue, Unqueue, CheckLength, Tee } from '../src/index.js';
import { runPlan } from '../src/runtime/run.js';
import { dropLines } from '../src/cli/summary.js';

// "dropped", but not "(including those dropped)" as in Classifier's `packets`.
const saysDropped = (doc: string) => /\bdropped\b/.test(doc.replace(/\(including those dropped\)/, ''));

t.test('every counter documented as counting dropped packets is named drops, drops_<reason> or <x>_drops', async (t) => {
  const all = allDescriptors();
  t.ok(all.length > 60, `${all.length} descriptors walked`);
  let drops = 0;
  for (const d of all)
    for (const [name, doc] of Object.entries(d.counters)) {
      const id = `${d.name}.${name}`;
      if (isDropCounter(name)) {
        drops++;
        t.ok(saysDropped(doc), `${id} is named as a drop counter, so its documentation says what was dropped: "${doc}"`);
      } else if (saysDropped(doc)) {
        t.fail(`${id} counts dropped packets ("${doc}") but is not named drops, drops_<reason> or <x>_drops`);
      }
    }
  t.ok(drops > 100, `${drops} drop counters`);
});

t.test('the convention itself', async (t) => {
  for (const n of ['drops', 'drops_short', 'drops_no_route', 'kernel_drops']) t.ok(isDropCounter(n), n);
  for (const n of ['packets', 'no_match', 'dropsy', 'drops_', 'expired', 'pool_empty', 'drop']) t.notOk(isDropCounter(n), n);
});

t.test("a run's drop counters are found and named by the summary", async (t) => {
  // 3000 packets: 1000 IPv4 pass, 1000 ARP match no pattern (Classifier), 1000 IPv6 are too long
  // (CheckLength with one output); the queue behind it drops nothing and is not named.
  const plan = compile(
    graph('drops', () => {
      const short = '0800' + '00'.repeat(58);
      const cl = Classifier({ patterns: ['12/0800', '12/86dd'] }, 'cl');
      InfiniteSource({ data: '02'.repeat(12) + short, limit: 1000, length: 64 }, 'a').to(cl);
      InfiniteSource({ data: '02'.repeat(12) + '0806' + '00'.repeat(50), limit: 1000, length: 64 }, 'b').to(cl);
      InfiniteSource({ data: '02'.repeat(12) + '86dd' + '00'.repeat(200), limit: 1000, length: 214 }, 'c').to(cl);
      cl.out(0).to(Discard({}, 'v4'));
      cl.out(1).to(CheckLength({ length: 100 }, 'len')).to(Queue({ capacity: 2000 }, 'q')).to(Unqueue({}, 'pump')).to(Discard({}, 'v6'));
    }),
  );
  const s = await runPlan(plan, { threads: 1 });
  t.equal(s.packets, 3000);
  t.same([s.elements.cl.drops_no_match, s.elements.len.drops_too_long, s.elements.q.drops], [1000, 1000, 0]);
  const lines = dropLines(plan, s);
  t.match(lines[0], /^ {2}dropped 2,000 packets \(66\.7% of the 3,000 the sources sent\):$/);
  t.equal(lines.length, 3, lines.join('\n'));
  t.match(lines.join('\n'), /cl +Classifier +drops_no_match +1,000 +packets dropped because they matched no pattern/);
  t.match(lines.join('\n'), /len +CheckLength +drops_too_long +1,000 +packets longer than length, dropped because output 1 does not exist/);
  t.notMatch(lines.join('\n'), /\bq\b/, 'a queue that dropped nothing is not named');
});

t.test('copies the pool could not give are drops the summary names (Tee, PaintTee, EtherSwitch, IPFragmenter: drops_pool_empty)', async (t) => {
  // 64 buffers in all; the source takes 48 per batch, leaving at most 16 for the Tee's copies.
  const plan = compile(
    graph('copies', () => {
      const tee = InfiniteSource({ length: 60, limit: 4800, burst: 48 }, 'src').to(Tee({}, 'tee'));
      tee.out(0).to(Discard({}, 'a'));
      tee.out(1).to(Discard({}, 'b'));
    }),
  );
  const s = await runPlan(plan, { threads: 1, poolBuffers: 64 });
  const missed = s.elements.tee.drops_pool_empty;
  t.ok(missed > 0, `${missed} copies missed`);
  const lines = dropLines(plan, s).join('\n');
  t.match(lines, new RegExp(`tee +Tee +drops_pool_empty +${missed.toLocaleString('en-US')} +copies dropped \\(not made\\) because the packet pool was empty`));
  for (const [cls, counter] of [['Tee', 'drops_pool_empty'], ['PaintTee', 'drops_pool_empty'], ['EtherSwitch', 'drops_pool_empty'], ['IPFragmenter', 'drops_pool_empty'], ['FromDevice', 'drops_ring_error']]) {
    const d = allDescriptors().find((x) => x.name === cls)!;
    const old = counter === 'drops_ring_error' ? 'ring_errors' : 'pool_empty';
    t.ok(counter in d.counters && !(old in d.counters), `${cls} names its lost packets ${counter}, not ${old}`);
  }
});
