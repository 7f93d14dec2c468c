/** Small helpers: statistics, number formatting and markdown tables. */
export { median, si } from './analysis.ts';

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
