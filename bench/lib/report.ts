/** Small helpers: statistics, number formatting and markdown tables. */

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** 1234567 → "1.23M", 45678 → "45.7k". */
export function si(x: number): string {
  if (!Number.isFinite(x)) return '–';
  const a = Math.abs(x);
  if (a >= 1e6) return `${(x / 1e6).toFixed(a >= 1e7 ? 1 : 2)}M`;
  if (a >= 1e3) return `${(x / 1e3).toFixed(a >= 1e5 ? 0 : 1)}k`;
  return a >= 100 ? x.toFixed(0) : x.toFixed(1);
}

export function fixed(x: number, digits = 1): string {
  return Number.isFinite(x) ? x.toFixed(digits) : '–';
}

export function ratio(ours: number, theirs: number | undefined): string {
  if (theirs === undefined || !Number.isFinite(ours)) return '–';
  const r = ours / theirs;
  return `${r >= 10 ? r.toFixed(0) : r >= 1 ? r.toFixed(1) : r.toFixed(2)}×`;
}

export function table(head: readonly string[], rows: readonly (readonly string[])[]): string {
  const lines = [`| ${head.join(' | ')} |`, `|${head.map((_, i) => (i === 0 ? '---' : '---:')).join('|')}|`];
  for (const r of rows) lines.push(`| ${r.join(' | ')} |`);
  return lines.join('\n');
}

export function log(msg: string): void {
  process.stderr.write(`${msg}\n`);
}
