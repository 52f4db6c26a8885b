// __NAME__: an element written in TypeScript. The engine hands it copies of its packets in
// batches through a shared-memory ring; what it sends goes back into the graph. For
// control-plane and slow-path work: a script that falls behind loses packets at the ring
// (counted in drops_ring), it never slows the data path.
import { defineScriptElement, Type } from 'pktgraph';

export const __NAME__ = defineScriptElement({
  name: '__NAME__',
  group: 'custom',
  summary: 'Passes packets of at least minLength bytes; drops and counts shorter ones.',
  doc: `Sends every packet of at least \`minLength\` bytes out of output 0 and drops the shorter ones
(counted in \`drops_short\`). The \`longest\` handler reads the longest packet seen; \`rate\` the
packets per second it handled over the last \`reportMs\`.`,
  inputs: '1',
  outputs: '1',
  config: Type.Object({
    minLength: Type.Optional(Type.Integer({ minimum: 0, maximum: 9216, default: 60, description: 'the shortest packet passed, in bytes' })),
    reportMs: Type.Optional(Type.Integer({ minimum: 10, maximum: 60000, default: 1000, description: 'how often the rate is measured, in milliseconds' })),
  }),
  counters: {
    passed: 'packets sent on to output 0',
    drops_short: 'packets dropped because they were shorter than minLength',
  },
  // The state: kept across batches, timers and handler calls.
  init(ctx) {
    ctx.schedule('report', ctx.config.reportMs);
    return { longest: 0, sinceReport: 0, rate: 0 };
  },
  process(batch, ctx) {
    for (const p of batch) {
      ctx.state.longest = Math.max(ctx.state.longest, p.data.length);
      // p.data is a view of the ring slot, valid during this call; send() copies it.
      if (p.data.length >= ctx.config.minLength && ctx.send(0, p.data)) ctx.count('passed');
      else if (p.data.length < ctx.config.minLength) ctx.count('drops_short');
    }
    ctx.state.sinceReport += batch.length;
  },
  timers: {
    report(ctx) {
      ctx.state.rate = (ctx.state.sinceReport * 1000) / ctx.config.reportMs;
      ctx.state.sinceReport = 0;
      ctx.schedule('report', ctx.config.reportMs);
    },
  },
  handlers: {
    longest: { doc: 'the longest packet seen, in bytes', read: (ctx) => String(ctx.state.longest) },
    rate: { doc: 'packets per second handled over the last reportMs', read: (ctx) => String(ctx.state.rate) },
  },
});
