/**
 * A {@link StatsSnapshot} as a terminal table: what `tsfuse stats` redraws and what `s` prints in `-f`
 * mode. Pure: a snapshot (and the one before it, for rates) in, text out.
 */
import type { LatencySummary, StatsSnapshot } from './stats.ts';

/** A latency in ns as µs, ms or s with three significant digits. */
export function formatLatency(ns: number): string {
  const us = ns / 1000;
  if (us < 1000) return `${us < 10 ? us.toFixed(2) : us < 100 ? us.toFixed(1) : us.toFixed(0)} µs`;
  const ms = us / 1000;
  if (ms < 1000) return `${ms < 10 ? ms.toFixed(2) : ms < 100 ? ms.toFixed(1) : ms.toFixed(0)} ms`;
  return `${(ms / 1000).toFixed(2)} s`;
}

function formatDuration(ms: number): string {
  const s = Math.floor(ms / 1000);
  if (s < 60) return `${(ms / 1000).toFixed(1)} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
}

function errnoList(errnos: Readonly<Record<string, number>>): string {
  return Object.entries(errnos).map(([name, n]) => `${name} ${n}`).join(', ');
}

const COLUMNS = ['opcode', 'count', 'rate/s', 'errors', 'in flight', 'p50', 'p90', 'p99', 'max'] as const;

function latencyCells(l: LatencySummary): string[] {
  return l.count === 0 ? ['-', '-', '-', '-'] : [formatLatency(l.p50), formatLatency(l.p90), formatLatency(l.p99), formatLatency(l.max)];
}

/**
 * The snapshot as a table: one row per opcode, most frequent first, then the total and the errors by
 * errno. With `previous` (the snapshot before, from the same daemon) the rate column shows requests per
 * second between the two; otherwise the average since collecting began.
 */
export function formatStats(s: StatsSnapshot, previous?: StatsSnapshot): string {
  const sameRun = previous !== undefined && previous.pid === s.pid && previous.since === s.since && s.uptimeMs > previous.uptimeMs;
  const seconds = sameRun ? (s.uptimeMs - previous.uptimeMs) / 1000 : s.uptimeMs / 1000;
  const before = new Map(sameRun ? previous.opcodes.map((o) => [o.name, o.count]) : []);
  const rate = (name: string | undefined, count: number): string => {
    if (seconds <= 0) return '-';
    const base = name === undefined ? (sameRun ? previous.count : 0) : (before.get(name) ?? 0);
    const r = (count - base) / seconds;
    return r < 10 ? r.toFixed(1) : r.toFixed(0);
  };
  const rows: string[][] = s.opcodes.map((o) => [
    o.name, String(o.count), rate(o.name, o.count), String(o.errors), String(o.inFlight), ...latencyCells(o.latencyNs),
  ]);
  rows.push(['total', String(s.count), rate(undefined, s.count), String(s.errors), String(s.inFlight), ...latencyCells(s.latencyNs)]);
  const table = [[...COLUMNS], ...rows];
  const widths = COLUMNS.map((_, i) => Math.max(...table.map((r) => (r[i] ?? '').length)));
  const line = (r: readonly string[]) => r.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join('  ').trimEnd();
  const out = [
    `${s.mountpoint ?? 'tsfuse'}: daemon pid ${s.pid}, collecting for ${formatDuration(s.uptimeMs)}, ${s.count} requests, ${s.inFlight} in flight`,
    '',
    line(table[0]!),
    ...rows.slice(0, -1).map(line),
    line(widths.map((w) => '-'.repeat(w))),
    line(rows.at(-1)!),
  ];
  if (s.errors > 0) {
    out.push('', `errors: ${errnoList(s.errnos)}`);
    for (const o of s.opcodes) if (o.errors > 0) out.push(`  ${o.name}: ${errnoList(o.errnos)}`);
  }
  out.push('', 'Latency: from the request\'s arrival in the daemon to its reply (rounded down to 1/16); rate: ' +
    (sameRun ? 'since the previous refresh' : 'average since collecting began'));
  return `${out.join('\n')}\n`;
}
