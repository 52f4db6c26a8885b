// SetTableID: the table_id annotation, seen through an HTBSched keyed by it (a class per table):
// a fixed table, a table plus a 16-bit field of the packet, a packet too short for the field
// (the fixed table alone, counted), and the table handler.
import t from 'tap';
import { compile, graph, Runtime, InfiniteSource, SetTableID, HTBSched, Unqueue, Discard } from 'pktgraph';

t.test('SetTableID sets table_id: fixed, plus a packet field, short packets counted', async (t) => {
  const rt = new Runtime({ threads: 1, poolBuffers: 4096 });
  t.teardown(() => rt.close());
  const leaf = (name: string, match: number) => ({ name, parent: 'link', rate: 1e6, match });
  // Bytes 20-21 of the data: 0x0102 = 258.
  const data = '00'.repeat(20) + '0102' + '00'.repeat(42);
  const g = rt.load(
    compile(
      graph('tid', () => {
        const h = HTBSched({ key: 'table_id', classes: [{ name: 'link', parent: 'root', rate: 1e12 }, leaf('fixed', 7), leaf('field', 1000 + 258), leaf('short', 1000)] }, 'htb');
        InfiniteSource({ data, limit: 10 }, 'a').to(SetTableID({ table: 7 }, 'fixed')).to(h);
        InfiniteSource({ data, limit: 20 }, 'b').to(SetTableID({ table: 1000, offset: 20 }, 'field')).to(h);
        InfiniteSource({ data: '00'.repeat(21), limit: 30 }, 'c').to(SetTableID({ table: 1000, offset: 20 }, 'short')).to(h);
        h.to(Unqueue({}, 'pump')).to(Discard({}, 'sink'));
      }),
    ),
  );
  rt.start();
  for (let i = 0; i < 100 && g.counter('sink', 'packets') < 60n; i++) await new Promise((r) => setTimeout(r, 20));
  g.write('fixed', 'table', '9');
  t.equal(g.read('fixed', 'table'), '9', 'the table handler reads back');
  t.throws(() => g.write('fixed', 'table', '-1'), /table/, 'a table out of range is refused');
  rt.stop();
  const sent = Object.fromEntries(g.read('htb', 'classes').trim().split('\n').map((l) => [l.split(' ')[0], Number(/ packets=(\d+)/.exec(l)![1])]));
  t.same({ fixed: sent.fixed, field: sent.field, short: sent.short }, { fixed: 10, field: 20, short: 30 }, 'each packet in the class of its table id');
  t.equal(g.counter('short', 'short'), 30n, 'packets too short for the field counted in short');
  t.equal(g.counter('field', 'short'), 0n, 'none short where the field is there');
  t.equal(g.counter('htb', 'drops_unclassified'), 0n, 'none unclassified');
});
