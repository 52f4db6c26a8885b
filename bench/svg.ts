// A small SVG line-chart writer for the benchmark plots: axes with "nice" ticks, axis labels,
// a title, one polyline with markers per series (dashed for reference lines such as a link's
// theoretical limit or ideal scaling) and a legend. No chart library: the output is plain SVG
// text, well-formed XML, readable by browsers and GitHub.

export interface Series {
  name: string;
  points: [number, number][];
  dashed?: boolean;
}

export interface Chart {
  title: string;
  xLabel: string;
  yLabel: string;
  series: Series[];
  /** Ticks on the x axis at exactly these values (e.g. frame sizes); default: nice ticks. */
  xTicks?: number[];
  /** Logarithmic x axis (base 2), e.g. for frame sizes. */
  xLog?: boolean;
  /** Logarithmic y axis (base 10, ticks at powers of ten), for values over several orders of
   *  magnitude such as latencies; points at or below 0 are left out. */
  yLog?: boolean;
  /** A line under the title (machine, date). */
  subtitle?: string;
  width?: number;
  height?: number;
}

const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f'];

export const escapeXml = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&apos;');

/** About `count` round tick values covering [lo, hi] (1, 2 or 5 times a power of ten apart). */
export function niceTicks(lo: number, hi: number, count = 5): number[] {
  if (!(hi > lo)) hi = lo + 1;
  const raw = (hi - lo) / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  const ticks: number[] = [];
  // From the tick at or below lo to the one at or above hi, so the range covers every value.
  const first = Math.floor(lo / step + 1e-9);
  const last = Math.ceil(hi / step - 1e-9);
  for (let k = first; k <= last; k++) ticks.push(Number((k * step).toPrecision(12)));
  return ticks;
}

const label = (v: number) => (Math.abs(v) >= 1000 || v === Math.round(v) ? String(Math.round(v)) : String(Number(v.toPrecision(3))));

export function lineChart(c: Chart): string {
  const W = c.width ?? 720;
  const H = c.height ?? 420;
  const m = { left: 70, right: 20, top: c.subtitle ? 58 : 40, bottom: 60 };
  const legendRows = c.series.length;
  const legendH = legendRows * 18 + 8;
  const plotH = H - m.top - m.bottom - legendH;
  const plotW = W - m.left - m.right;
  const shown = ([x, y]: [number, number]) => Number.isFinite(x) && Number.isFinite(y) && (!c.yLog || y > 0);
  const pts = c.series.flatMap((s) => s.points).filter(shown);
  if (pts.length === 0) throw new Error(`lineChart '${c.title}': no points`);
  const xs = [...pts.map((p) => p[0]), ...(c.xTicks ?? [])];
  let xMin = Math.min(...xs);
  let xMax = Math.max(...xs);
  if (xMin === xMax) {
    xMin -= 1;
    xMax += 1;
  }
  const yValues = pts.map((p) => p[1]);
  const yTicks = c.yLog
    ? Array.from({ length: Math.ceil(Math.log10(Math.max(...yValues))) - Math.floor(Math.log10(Math.min(...yValues))) + 1 }, (_, k) => 10 ** (Math.floor(Math.log10(Math.min(...yValues))) + k))
    : niceTicks(0, Math.max(...yValues) * 1.05 || 1);
  const yMax = yTicks[yTicks.length - 1];
  const yMin = c.yLog ? yTicks[0] : 0;
  const tx = c.xLog ? (v: number) => Math.log2(v) : (v: number) => v;
  const X = (v: number) => m.left + ((tx(v) - tx(xMin)) / (tx(xMax) - tx(xMin))) * plotW;
  const ty = c.yLog ? (v: number) => Math.log10(v) : (v: number) => v;
  const Y = (v: number) => m.top + plotH - ((ty(v) - ty(yMin)) / (ty(yMax) - ty(yMin) || 1)) * plotH;
  const f = (n: number) => n.toFixed(1);
  const xTicks = c.xTicks ?? niceTicks(xMin, xMax).filter((v) => v >= xMin && v <= xMax);
  const out: string[] = [];
  out.push(`<?xml version="1.0" encoding="UTF-8"?>`);
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`);
  out.push(`<title>${escapeXml(c.title)}</title>`);
  out.push(`<rect x="0" y="0" width="${W}" height="${H}" fill="white"/>`);
  out.push(`<text x="${W / 2}" y="20" text-anchor="middle" font-size="15" font-weight="bold">${escapeXml(c.title)}</text>`);
  if (c.subtitle) out.push(`<text x="${W / 2}" y="38" text-anchor="middle" font-size="11" fill="#555">${escapeXml(c.subtitle)}</text>`);
  // Grid and ticks.
  for (const v of yTicks) {
    out.push(`<line x1="${m.left}" y1="${f(Y(v))}" x2="${m.left + plotW}" y2="${f(Y(v))}" stroke="#e5e5e5"/>`);
    out.push(`<text x="${m.left - 6}" y="${f(Y(v) + 4)}" text-anchor="end">${escapeXml(label(v))}</text>`);
  }
  for (const v of xTicks) {
    out.push(`<line x1="${f(X(v))}" y1="${m.top + plotH}" x2="${f(X(v))}" y2="${m.top + plotH + 5}" stroke="black"/>`);
    out.push(`<text x="${f(X(v))}" y="${m.top + plotH + 18}" text-anchor="middle">${escapeXml(label(v))}</text>`);
  }
  // Axes.
  out.push(`<line x1="${m.left}" y1="${m.top}" x2="${m.left}" y2="${m.top + plotH}" stroke="black"/>`);
  out.push(`<line x1="${m.left}" y1="${m.top + plotH}" x2="${m.left + plotW}" y2="${m.top + plotH}" stroke="black"/>`);
  out.push(`<text x="${m.left + plotW / 2}" y="${m.top + plotH + 38}" text-anchor="middle">${escapeXml(c.xLabel)}</text>`);
  out.push(`<text x="16" y="${m.top + plotH / 2}" text-anchor="middle" transform="rotate(-90 16 ${m.top + plotH / 2})">${escapeXml(c.yLabel)}</text>`);
  // Series.
  c.series.forEach((s, i) => {
    const color = COLORS[i % COLORS.length];
    const p = s.points.filter(shown).sort((a, b) => a[0] - b[0]);
    const dash = s.dashed ? ' stroke-dasharray="6 4"' : '';
    out.push(`<g class="series" data-name="${escapeXml(s.name)}">`);
    if (p.length > 1) out.push(`<polyline fill="none" stroke="${color}" stroke-width="2"${dash} points="${p.map(([x, y]) => `${f(X(x))},${f(Y(y))}`).join(' ')}"/>`);
    for (const [x, y] of p) out.push(`<circle cx="${f(X(x))}" cy="${f(Y(y))}" r="3.5" fill="${color}"><title>${escapeXml(`${s.name}: ${label(x)}, ${label(y)}`)}</title></circle>`);
    out.push('</g>');
    const ly = H - legendH + 6 + i * 18;
    out.push(`<line x1="${m.left}" y1="${ly}" x2="${m.left + 24}" y2="${ly}" stroke="${color}" stroke-width="2"${dash}/>`);
    out.push(`<text x="${m.left + 30}" y="${ly + 4}">${escapeXml(s.name)}</text>`);
  });
  out.push('</svg>');
  return out.join('\n') + '\n';
}
