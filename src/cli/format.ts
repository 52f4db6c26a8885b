// Number and table formatting for the command line.

/** 1234567 -> "1.23M": about three significant digits with an SI suffix. */
export function si(n: number): string {
  // Drop trailing zeros after the decimal point only ("34.0" -> "34", but "170" stays).
  const short = (x: number) => x.toFixed(Math.abs(x) >= 100 ? 0 : Math.abs(x) >= 10 ? 1 : 2).replace(/(\.\d*?)0+$/, '$1').replace(/\.$/, '');
  const a = Math.abs(n);
  for (const [f, s] of [[1e12, 'T'], [1e9, 'G'], [1e6, 'M'], [1e3, 'k']] as const) if (a >= f) return short(n / f) + s;
  return Number.isInteger(n) ? String(n) : short(n);
}

/** Columns padded to their widest cell (the last column is not padded). */
export function table(rows: string[][], indent = ''): string[] {
  const widths: number[] = [];
  for (const r of rows) r.forEach((c, i) => (widths[i] = Math.max(widths[i] ?? 0, c.length)));
  return rows.map((r) => indent + r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]))).join('  ').trimEnd());
}

/** Cut a line to the terminal width so redrawing in place never wraps. */
export function fit(line: string, columns: number | undefined): string {
  if (!columns || line.length < columns) return line;
  return line.slice(0, Math.max(0, columns - 2)) + '…';
}
