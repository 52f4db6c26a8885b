// tcpdump-expression filters: the rules of IPClassifier and IPFilter, parsed and compiled
// into the program their native halves run.
import { compileRules, serializeProgram, DROP_OUTPUT, DROP_RULE_OUTPUT, ProgramTooLarge, type FilterRule } from './compile.js';
import { parseFilter, FilterSyntaxError, type Cond } from './parse.js';

export { parseFilter, FilterSyntaxError, parseIPv4, parseIPv6, SERVICES_FILE } from './parse.js';
export type { Cond, Arith } from './parse.js';
export { compileRules, serializeProgram, DROP_OUTPUT, DROP_RULE_OUTPUT } from './compile.js';
export type { FilterProgram, FilterRule } from './compile.js';

// Click's spellings of "every packet" for a whole pattern.
const MATCH_ALL = new Set(['-', 'all', 'any', 'true']);

function parseExpr(expr: string, where: string): Cond | undefined {
  const trimmed = expr.trim();
  if (MATCH_ALL.has(trimmed)) return undefined;
  try {
    return parseFilter(trimmed);
  } catch (e) {
    if (e instanceof FilterSyntaxError) {
      // Positions count from the start of what the user wrote.
      const shift = expr.length - expr.trimStart().length;
      const err = new FilterSyntaxError(e.reason, e.token, e.position + shift);
      err.message = `${where}: ${err.message}`;
      throw err;
    }
    throw e;
  }
}

/** IPClassifier: one pattern per output; '-' (or 'all', 'any', 'true') matches every packet. */
export function classifierRules(patterns: string[]): FilterRule[] {
  return patterns.map((p, i) => ({ cond: parseExpr(p, `pattern ${i} ('${p}')`), output: i }));
}

/** IPFilter: `allow EXPR`, `deny EXPR` / `drop EXPR`, or `N EXPR` (to output N); an action alone matches every packet (Click). */
export function filterRules(rules: string[]): FilterRule[] {
  return rules.map((r, i) => {
    const m = r.match(/^\s*(allow|deny|drop|[0-9]+)(\s+|$)/);
    const where = `rule ${i} ('${r}')`;
    if (!m) throw new FilterSyntaxError(`${where}: a rule starts with allow, deny, drop or an output number`, r.trim().split(/\s+/)[0] ?? '', 0);
    const action = m[1];
    const rest = r.slice(m[0].length);
    const cond = rest.trim() === '' ? undefined : parseExpr(' '.repeat(m[0].length) + rest, where);
    const output = action === 'allow' ? 0 : action === 'deny' || action === 'drop' ? DROP_RULE_OUTPUT : Number(action);
    if (output !== DROP_RULE_OUTPUT && output > 65533) throw new FilterSyntaxError(`${where}: output ${output} is too large`, action, 0);
    return { cond, output };
  });
}

/** Compiles rules for a plan: the program text, or a problem sentence. */
export function programFor(rules: () => FilterRule[]): { program?: string; error?: string } {
  try {
    return { program: serializeProgram(compileRules(rules())) };
  } catch (e) {
    if (e instanceof FilterSyntaxError || e instanceof ProgramTooLarge) return { error: e.message };
    throw e;
  }
}

export { DROP_OUTPUT as FILTER_DROP_OUTPUT };
