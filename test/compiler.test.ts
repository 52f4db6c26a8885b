// The compiler's rules, each with the error a user would see.
import t from 'tap';
import { graph, compound, compile, toDot, InfiniteSource, Counter, Discard, Queue, Unqueue, IPRewriter, GraphError, PLAN_VERSION, Tee, Null, RoundRobinSched, ICMPError, CheckIPHeader, DecIPTTL, PaintTee } from 'pktgraph';

function problems(build: () => void, params?: Record<string, string>): string {
  try {
    compile(graph('g', build), { params });
  } catch (e) {
    if (e instanceof GraphError) return e.problems.join('\n');
    throw e;
  }
  throw new Error('compile succeeded but a problem was expected');
}

t.test('a good graph compiles to a versioned plan with defaults filled in', async (t) => {
  const plan = compile(graph('ok', () => InfiniteSource({ limit: 5 }, 'src').to(Counter({}, 'c')).to(Discard({}, 'd'))));
  t.equal(plan.format, 'pktgraph-plan');
  t.equal(plan.version, PLAN_VERSION);
  t.equal(plan.name, 'ok');
  t.same(plan.elements.map((e) => e.name), ['src', 'c', 'd']);
  t.same(plan.elements[0].config, { limit: 5, data: '00'.repeat(64), length: -1, burst: 32, rate: 0, active: true });
  t.same(plan.elements[1].inputs, ['push']);
  t.same(plan.connections, [
    { from: 'src', fromPort: 0, to: 'c', toPort: 0 },
    { from: 'c', fromPort: 0, to: 'd', toPort: 0 },
  ]);
  t.match(plan.elements[0].site, /compiler\.test\.ts:\d+/, 'the plan records where each element was defined');
});

t.test('config fields are checked against the schema', async (t) => {
  t.match(problems(() => InfiniteSource({ burts: 4 } as never, 'src').to(Discard())), /element 'src' \(InfiniteSource\).*unknown config field 'burts' \(did you mean 'burst'\?\)/);
  t.match(problems(() => InfiniteSource({ burst: 1000 }, 'src').to(Discard())), /config field 'burst' must be <= 256 \(expected a whole number from 1 to 256\), got 1000/);
  t.match(problems(() => InfiniteSource({ burst: 'many' } as never, 'src').to(Discard())), /config field 'burst'.*got "many"/);
  t.match(problems(() => InfiniteSource({ data: 'xyz' }, 'src').to(Discard())), /config field 'data'/);
});

t.test('fields inside arrays and tagged unions are named, with suggestions', async (t) => {
  const nat = (spec: object) => problems(() => {
    const r = IPRewriter({ inputs: [spec as never] }, 'nat');
    InfiniteSource({}, 'src').to(r);
    r.to(Discard());
    r.out(1).to(Discard());
  });
  // The spec's tag selects the variant, so the misspelt field is named, not "expected object or object".
  t.match(nat({ kind: 'snat', adress: '198.18.2.1', forward: 0, reply: 1 }), /element 'nat' \(IPRewriter\).*unknown config field 'inputs\.0\.adress' \(did you mean 'address'\?\)/);
  t.match(nat({ kind: 'snat', adress: '198.18.2.1', forward: 0, reply: 1 }), /config field 'inputs\.0\.address' must be given/);
  t.match(nat({ kind: 'snot', forward: 0 }), /config field 'inputs\.0\.kind' must be one of .*"snat".*got "snot"/);
  t.match(nat({ kind: 'snat', address: '198.18.2.1', forward: 'zero', reply: 1 }), /config field 'inputs\.0\.forward' .*got "zero"/);
  t.notMatch(nat({ kind: 'snat', adress: '198.18.2.1', forward: 0, reply: 1 }), /object or object/);
});

t.test('ports: every port connected, counts within the class limits', async (t) => {
  t.match(problems(() => { InfiniteSource({}, 'src'); }), /element 'src' \(InfiniteSource\).*: output 0 is not connected/);
  t.match(problems(() => { Counter({}, 'c'); InfiniteSource({}, 's').to(Discard()); }), /element 'c' \(Counter\).*: input 0 is not connected/);
  t.match(problems(() => { InfiniteSource({}, 's').to(Discard({}, 'd')); Discard({}, 'd2'); InfiniteSource({}, 's2').to(Counter({}, 'c')).to(Discard()); (Counter as any); }), /element 'd2' \(Discard\).*input 0 is not connected/);
  t.match(problems(() => { const c = Counter({}, 'c'); InfiniteSource({}, 's').to(c.in(1)); c.to(Discard()); }), /element 'c' \(Counter\).* takes 1 input\(s\), but input 1 is connected/);
  t.match(problems(() => { const d = Discard({}, 'd'); InfiniteSource({}, 's').to(d); d.to(Discard()); }), /element 'd' \(Discard\).* has no outputs, but its output 0 is connected/);
});

t.test("push and pull follow Click's rules", async (t) => {
  t.match(problems(() => InfiniteSource({}, 'src').to(Unqueue({}, 'u')).to(Discard())), /output 0 of 'src' \(InfiniteSource\) is push but input 0 of 'u' \(Unqueue\) is pull: put a Queue between them/);
  t.match(problems(() => InfiniteSource({}, 'src').to(Queue({}, 'q1')).to(Queue({}, 'q2')).to(Unqueue()).to(Discard())), /output 0 of 'q1' \(Queue\) is pull but input 0 of 'q2' \(Queue\) is push: put an Unqueue between them/);
  t.match(
    problems(() => {
      const s = InfiniteSource({}, 'src');
      s.to(Discard({}, 'a'));
      s.to(Discard({}, 'b'));
    }),
    /element 'src' \(InfiniteSource\).*push output 0 is connected to 2 inputs \(a, b\).*use a Tee/,
  );
  t.match(
    problems(() => {
      const u = Unqueue({}, 'u');
      InfiniteSource({}, 's1').to(Queue({}, 'q1')).to(u);
      InfiniteSource({}, 's2').to(Queue({}, 'q2')).to(u);
      u.to(Discard());
    }),
    /element 'u' \(Unqueue\).*pull input 0 has 2 connections \(q1, q2\).*RoundRobinSched or PrioSched/,
  );
  // Agnostic elements take the processing of their neighbours.
  const plan = compile(graph('mixed', () => {
    InfiniteSource({}, 'src').to(Counter({}, 'before')).to(Queue({}, 'q')).to(Counter({}, 'after')).to(Unqueue({}, 'u')).to(Discard({}, 'd'));
    InfiniteSource({}, 's2').to(Queue({}, 'q2')).to(Discard({}, 'puller'));
  }));
  const byName = Object.fromEntries(plan.elements.map((e) => [e.name, e]));
  t.same([byName.before.inputs, byName.before.outputs], [['push'], ['push']]);
  t.same([byName.after.inputs, byName.after.outputs], [['pull'], ['pull']]);
  t.same(byName.puller.inputs, ['pull'], 'a Discard after a Queue pulls');
  t.same(byName.d.inputs, ['push']);
});

t.test('element names: unique, valid, anonymous ones numbered per class', async (t) => {
  t.match(problems(() => { InfiniteSource({}, 'x').to(Discard()); InfiniteSource({}, 'x').to(Discard()); }), /two elements are named 'x'/);
  t.match(problems(() => InfiniteSource({}, 'bad name').to(Discard())), /element name 'bad name'.* is not valid/);
  const plan = compile(graph('anon', () => { InfiniteSource().to(Discard()); InfiniteSource().to(Discard()); }));
  t.same(plan.elements.map((e) => e.name), ['InfiniteSource@1', 'Discard@1', 'InfiniteSource@2', 'Discard@2']);
});

t.test('compound elements: instantiated twice, names prefixed, boundaries spliced out', async (t) => {
  const CountThenQueue = compound({ name: 'CountThenQueue', inputs: 1, outputs: 1 }, ({ input, output }) => {
    input.to(Counter({}, 'count')).to(Queue({ capacity: 10 }, 'queue')).to(Unqueue({}, 'pump')).to(output);
  });
  const Nested = compound({ name: 'Nested', inputs: 1, outputs: 2, defaults: { capacity: 5 } }, ({ input, output, params }) => {
    const t1 = CountThenQueue({}, 'inner');
    input.to(t1).to(Queue({ capacity: params.capacity }, 'q')).to(Unqueue({}, 'u')).to(output.in(1));
    InfiniteSource({ limit: 1 }, 'extra').to(output);
  });
  const plan = compile(graph('c', () => {
    InfiniteSource({}, 'src').to(CountThenQueue({}, 'a')).to(CountThenQueue({}, 'b')).to(Discard({}, 'sink'));
    const n = InfiniteSource({}, 'src2').to(Nested({ capacity: 7 }, 'n'));
    n.out(0).to(Discard({}, 'd0'));
    n.out(1).to(Discard({}, 'd1'));
  }));
  const names = plan.elements.map((e) => e.name);
  t.ok(names.includes('a/count') && names.includes('b/pump') && names.includes('n/inner/queue'), names.join(' '));
  const conn = (from: string, to: string) => plan.connections.some((c) => c.from === from && c.to === to);
  t.ok(conn('src', 'a/count'));
  t.ok(conn('a/pump', 'b/count'));
  t.ok(conn('b/pump', 'sink'));
  t.ok(conn('src2', 'n/inner/count'));
  t.ok(conn('n/inner/pump', 'n/q'));
  t.ok(conn('n/u', 'd1'));
  t.ok(conn('n/extra', 'd0'));
  t.equal(plan.elements.find((e) => e.name === 'n/q')!.config.capacity, 7, 'instance params override defaults');
  t.match(
    problems(() => {
      const C = compound({ name: 'Empty', inputs: 1, outputs: 1 }, ({ output }) => InfiniteSource({}, 's').to(output));
      InfiniteSource({}, 'x').to(C({}, 'e')).to(Discard());
    }),
    /compound 'e' \(Empty\): input 0 is not connected to anything inside/,
  );
  t.match(
    problems(() => {
      const C = compound({ name: 'One', inputs: 1, outputs: 1 }, ({ input, output }) => input.to(output));
      InfiniteSource({}, 'x').to(C({}, 'e').in(2));
    }),
    /compound 'e' \(One\) has 1 inputs; input 2 does not exist/,
  );
});

t.test('graph parameters: defaults, overrides from strings, unknown or mistyped ones refused', async (t) => {
  const def = graph({ name: 'p', params: { length: 64, fast: true, label: 'x' } }, (p) => {
    InfiniteSource({ length: p.length, active: p.fast }, 'src').to(Discard());
  });
  t.equal(compile(def).elements[0].config.length, 64);
  const plan = compile(def, { params: { length: '128', fast: 'false' } });
  t.equal(plan.elements[0].config.length, 128);
  t.equal(plan.elements[0].config.active, false);
  t.same(plan.params, { length: '128', fast: 'false', label: 'x' });
  t.throws(() => compile(def, { params: { lenght: '1' } }), /graph 'p' has no parameter 'lenght'; its parameters are: length, fast, label/);
  t.throws(() => compile(def, { params: { length: 'big' } }), /parameter 'length' of graph 'p' must be a number, got 'big'/);
});

t.test('misuse of the language gives clear errors', async (t) => {
  t.throws(() => Counter(), /an element constructor \(Counter\) was called outside a graph/);
  t.match(problems(() => InfiniteSource({}, { name: 's', thread: -1 }).to(Discard())), /element 's' \(InfiniteSource\).*thread must be a worker number/);
  t.throws(() => compile(graph('empty', () => {})), /graph 'empty' has no elements/);
  t.throws(() => graph('bad name', () => {}), /graph name 'bad name' is not valid/);
});

t.test('several problems are reported together', async (t) => {
  const msg = problems(() => {
    InfiniteSource({ burst: 0 }, 'a');
    Counter({}, 'c');
  });
  t.match(msg, /'burst'/);
  t.match(msg, /element 'a'.*output 0 is not connected/);
  t.match(msg, /element 'c'.*input 0 is not connected/);
});

t.test('Graphviz output draws elements, ports, pull edges and compounds', async (t) => {
  const Box = compound({ name: 'Box', inputs: 1, outputs: 1 }, ({ input, output }) => input.to(Counter({}, 'inside')).to(output));
  const dot = toDot(compile(graph('dot', () => InfiniteSource({}, 'src').to(Box({}, 'box')).to(Queue({}, 'q')).to(Discard({}, 'd')))));
  t.match(dot, /^digraph "dot" \{/);
  t.match(dot, /"src" \[label="src\\n:: InfiniteSource"\]/);
  t.match(dot, /subgraph cluster_0 \{\s+label="box";/);
  t.match(dot, /"q" -> "d" \[taillabel="0", headlabel="0", style=dashed\]/);
  t.match(dot, /"src" -> "box\/inside"/);
});

t.test('push and pull cycles are refused, naming the elements in order and the fix', async (t) => {
  // Counter -> Tee -> Null -> back to Counter: without the check, a segfault or a worker that never returns.
  const push = problems(() => {
    const c = Counter({}, 'c');
    const tee = Tee({}, 't');
    InfiniteSource({ limit: 1 }, 'src').to(c).to(tee);
    tee.out(0).to(Null({}, 'n')).to(c);
    tee.out(1).to(Discard({}, 'd'));
  });
  t.match(push, /^push cycle: 'c' \(Counter\) -> 't' \(Tee\) -> 'n' \(Null\) -> back to 'c' \(defined at .*compiler\.test\.ts:\d+.*\): a packet pushed into it would go round for ever; put a Queue in the cycle/);
  t.equal(push.split('\n').length, 1, 'one problem for one cycle');

  // A cycle of one element, reported with the other problems of the graph.
  const self = problems(() => {
    const n = Null({}, 'loop');
    n.to(n);
    Counter({}, 'lonely').to(Discard());
  });
  t.match(self, /push cycle: 'loop' \(Null\) -> back to 'loop'/);
  t.match(self, /element 'lonely' \(Counter\).*input 0 is not connected/);

  // Two separate cycles are two problems.
  const two = problems(() => {
    for (const k of ['a', 'b']) {
      const c = Counter({}, `${k}1`);
      InfiniteSource({ limit: 1 }, `${k}src`).to(c).to(Null({}, `${k}2`)).to(c);
    }
  });
  t.equal(two.split('\n').filter((l) => l.startsWith('push cycle')).length, 2, two);

  // A pull cycle: the scheduler pulls from Null, which pulls from the scheduler.
  const pull = problems(() => {
    const rr = RoundRobinSched({}, 'rr');
    rr.to(Null({}, 'n')).to(rr);
  });
  t.match(pull, /^pull cycle: 'rr' \(RoundRobinSched\) pulls from 'n' \(Null\), which pulls from 'rr' again.*put an Unqueue and a Queue after it in the cycle/);

  // The fix: a Queue (and an Unqueue) in the cycle.
  const fixed = compile(graph('fixed', () => {
    const c = Counter({}, 'c');
    const tee = Tee({}, 't');
    InfiniteSource({ limit: 1 }, 'src').to(c).to(tee);
    tee.out(0).to(Queue({}, 'q')).to(Unqueue({}, 'u')).to(c);
    tee.out(1).to(Discard({}, 'd'));
  }));
  t.equal(fixed.elements.length, 6, 'with a Queue in it the cycle compiles');

  // ICMPError never answers an ICMP error, so its errors may go back to the lookup (Click's router).
  const router = compile(graph('r', () => {
    const check = CheckIPHeader({}, 'check');
    InfiniteSource({ limit: 1 }, 'src').to(check);
    check.to(Counter({}, 'lookup')).to(ICMPError({ src: '198.18.0.1', type: 'unreachable', code: 'net' }, 'err')).to(check);
  }));
  t.equal(router.elements.length, 4, 'a cycle through ICMPError compiles');
});

t.test('a push cycle through an element that copies packets is refused when only a hop count ends it', async (t) => {
  // Tee -> DecIPTTL -> back to the Tee: each pass doubles the packets, 2^255 before the TTL runs out.
  const tee = problems(() => {
    const check = CheckIPHeader({}, 'check');
    const copy = Tee({}, 'tee');
    InfiniteSource({ limit: 1 }, 'src').to(check).to(copy);
    const ttl = copy.out(0).to(DecIPTTL({}, 'ttl'));
    ttl.to(check);
    ttl.out(1).to(Discard({}, 'expired'));
    copy.out(1).to(Discard({}, 'd'));
  });
  t.match(tee, /^push cycle through a packet-copying element: 'tee' \(Tee\) -> 'ttl' \(DecIPTTL\) -> 'check' \(CheckIPHeader\) -> back to 'tee' \(defined at .*compiler\.test\.ts:\d+.*\): 'tee' \(Tee\) copies packets, so each pass round the cycle multiplies them, and 'ttl' \(DecIPTTL\) ends the cycle only at the hop limit \(up to 255 passes: 2\^255 packets\); put a Queue in the cycle \(and an Unqueue after it to push its packets on\), or take 'tee' out of it$/);
  t.equal(tee.split('\n').length, 1, 'one problem');

  // Click's router: PaintTee's copies go to ICMPError (redirects), whose errors go back to the
  // lookup; an error is never answered, so the copies stop there.
  const router = compile(graph('r', () => {
    const check = CheckIPHeader({}, 'check');
    InfiniteSource({ limit: 1 }, 'src').to(check);
    const pt = check.to(PaintTee({ color: 1 }, 'pt'));
    pt.out(1).to(ICMPError({ src: '198.18.0.1', type: 'redirect', code: 'host' }, 'redirect')).to(check);
    const ttl = pt.out(0).to(DecIPTTL({}, 'ttl'));
    ttl.out(1).to(ICMPError({ src: '198.18.0.1', type: 'timeexceeded', code: 0 }, 'expired')).to(check);
    ttl.to(Discard({}, 'out'));
  }));
  t.equal(router.elements.length, 7, 'a copier whose copies pass ICMPError compiles');
  t.equal(router.classes.PaintTee.copiesPackets, true);
  t.equal(router.classes.DecIPTTL.hopLimited, true);
});
