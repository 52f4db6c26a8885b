import { Type } from 'typebox';
import { defineElement } from '../../src/graph/descriptor.js';
import { filterRules, programFor, DROP_RULE_OUTPUT } from '../../src/filter/index.js';
import { FILTER_LANGUAGE_DOC } from './IPClassifier.js';

export const IPFilter = defineElement({
  name: 'IPFilter',
  group: 'ip',
  summary: 'Lets IP packets through, drops them or sends them to an output by rules over tcpdump expressions.',
  doc: `Click's IPFilter with tcpdump's expression language. \`rules\` are tried in order and the first whose
expression the packet matches decides:

- \`allow EXPR\`: output 0;
- \`deny EXPR\` or \`drop EXPR\`: dropped, counted in \`drops_denied\`;
- \`N EXPR\`: output N (a decimal number below the number of outputs).

A packet no rule matches is dropped and counted in \`drops_no_match\`. EXPR \`all\` (or \`-\`, \`any\`, \`true\`)
matches every packet, and so does an action alone, as in Click (\`drop\`, \`allow\`): end with
\`allow all\` for a default-allow filter. No rules at all (and then no outputs are needed) drops
every packet, as Click's \`IPFilter()\`. \`packets\` counts every packet
filtered. Each batch is filtered whole, then each output receives one sub-batch in arrival order.

${FILTER_LANGUAGE_DOC}`,
  inputs: '1',
  outputs: '0-',
  processing: 'h/h',
  config: Type.Object(
    {
      rules: Type.Array(Type.String(), {
        maxItems: 4096,
        description: "Rules tried in order: 'allow EXPR', 'deny EXPR', 'drop EXPR' or 'N EXPR' (an action alone: every packet).",
      }),
      program: Type.Optional(
        Type.String({ default: '', description: 'Filled in by the compiler from the rules (the decision DAG); leave it empty.' }),
      ),
    },
    { additionalProperties: false },
  ),
  counters: {
    packets: 'packets filtered (including those dropped)',
    drops_no_match: 'packets dropped because no rule matched them',
    drops_denied: 'packets dropped by a deny or drop rule',
  },
  handlers: { program: { doc: 'the compiled decision DAG, one node per line', read: true } },
  check: (config, ports) => {
    if (config.program) return "config field 'program' is filled in by the compiler from 'rules': leave it out";
    let rules;
    try {
      rules = filterRules(config.rules);
    } catch (e) {
      return (e as Error).message;
    }
    for (let i = 0; i < rules.length; i++) {
      const o = rules[i].output;
      if (o !== DROP_RULE_OUTPUT && o >= ports.outputs)
        return `rule ${i} ('${config.rules[i]}') sends to output ${o} but the element has ${ports.outputs} output(s): connect output ${o} or change the rule`;
    }
    const r = programFor(() => rules);
    if (r.error) return r.error;
    return undefined;
  },
  plan: (config) => ({ program: programFor(() => filterRules(config.rules)).program }),
  examples: [
    "IPFilter({ rules: ['deny src net 198.18.0.0/24', 'allow tcp dst port 22 or 80', '1 icmp', 'deny all'] })",
  ],
});
