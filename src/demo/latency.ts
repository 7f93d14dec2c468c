/**
 * `tsfuse demo latency`: what a system call costs when a FUSE daemon answers it, and how that cost grows
 * with the work the daemon's handler does.
 *
 * One call through FUSE crosses the user/kernel boundary four times: the application enters the kernel
 * (1), the kernel hands the request to the daemon, whose read() of /dev/fuse returns (2), the daemon
 * writes its reply back into the kernel (3), and the kernel wakes the application, whose call returns
 * (4). The same call on a native filesystem crosses twice and never leaves the kernel in between. This
 * demo mounts {@link spinFilesystem} (handlers that busy-wait 0, 1, 10, 100 and 1000 µs) in this process,
 * and a separate client process times fstat(2) (one GETATTR each) and 4 KiB pread(2) (one READ each, with
 * direct I/O) on it and on a native directory. At 0 µs of work the difference to native is the fixed
 * cost of the crossings; as the work grows it swamps that cost.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { release, tmpdir } from 'node:os';
import { join } from 'node:path';
import { mountsAt, readMountinfo } from '../mount/mountinfo.ts';
import { mount, type FuseMount } from '../session/fuse-mount.ts';
import { spinFileName, spinFilesystem } from './spin-fs.ts';
import { renderLogLogChart, type ChartSeries } from './svg-chart.ts';

/** The amounts of handler work measured, in µs. */
export const SPIN_MICROSECONDS: readonly number[] = Object.freeze([0, 1, 10, 100, 1000]);
/** Bytes per measured read. */
export const READ_SIZE = 4096;

/** How long to measure: per series of calls (one operation on one file). */
export interface LatencyBudget {
  /** Minimum time spent on a series, in ms (more calls if they are fast, up to {@link maxCalls}). */
  readonly seriesMs: number;
  readonly minCalls: number;
  readonly maxCalls: number;
  /** Calls made and thrown away before timing (JIT, first GETATTR/STATX negotiation, caches). */
  readonly warmup: number;
}

/** About 30 s in all: 12 series of 2.5 s (the native ones end sooner, at {@link LatencyBudget.maxCalls}). */
export const DEFAULT_BUDGET: LatencyBudget = Object.freeze({ seriesMs: 2500, minCalls: 200, maxCalls: 200_000, warmup: 200 });
/** A few seconds in all; p99 then rests on a few hundred calls. */
export const QUICK_BUDGET: LatencyBudget = Object.freeze({ seriesMs: 200, minCalls: 30, maxCalls: 20_000, warmup: 20 });

export type LatencyOp = 'stat' | 'read';

/** The timings of one series: one operation, repeated, on one file. */
export interface SeriesResult {
  /** `'native'`, or the handler's work in µs. */
  readonly target: 'native' | number;
  readonly op: LatencyOp;
  readonly calls: number;
  /** Nanoseconds. */
  readonly medianNs: number;
  readonly p99Ns: number;
  readonly minNs: number;
  readonly meanNs: number;
}

/** Everything measured, JSON-ready (what `--json` prints). */
export interface LatencyResults {
  readonly series: readonly SeriesResult[];
  readonly spins: readonly number[];
  readonly budget: LatencyBudget;
  /** Where the native calls went. */
  readonly nativeDir: string;
  /** The session's transport (`epoll` or `worker`). */
  readonly transport: string;
  readonly kernel: string;
  readonly node: string;
}

/** The nearest-rank percentile `p` (0–100) of ascending `sorted` values; NaN when empty. */
export function percentileOfSorted(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length)));
  return sorted[rank - 1]!;
}

/** Median, p99, min and mean of raw samples (ns). */
export function summarize(target: SeriesResult['target'], op: LatencyOp, samples: Float64Array): SeriesResult {
  const sorted = Float64Array.from(samples).sort();
  let sum = 0;
  for (const v of sorted) sum += v;
  return {
    target, op, calls: sorted.length,
    medianNs: percentileOfSorted(sorted, 50),
    p99Ns: percentileOfSorted(sorted, 99),
    minNs: sorted.length > 0 ? sorted[0]! : Number.NaN,
    meanNs: sorted.length > 0 ? sum / sorted.length : Number.NaN,
  };
}

/**
 * The client, run as `node -e CLIENT PLAN`: a separate process, so that its calls cross into the kernel
 * and wait there while this process's daemon answers. Plain JavaScript (no TypeScript loader needed).
 * For each series it writes a u32 count and that many f64 nanosecond timings to stdout, as soon as the
 * series is done.
 */
const CLIENT = String.raw`
const fs = require('node:fs');
const plan = JSON.parse(process.argv[1]);
const buf = Buffer.alloc(plan.readSize);
for (const s of plan.series) {
  const fd = fs.openSync(s.path, 'r');
  const call = s.op === 'stat' ? () => fs.fstatSync(fd) : () => fs.readSync(fd, buf, 0, plan.readSize, 0);
  for (let i = 0; i < plan.warmup; i++) call();
  const samples = new Float64Array(plan.maxCalls);
  let n = 0;
  const deadline = performance.now() + plan.seriesMs;
  while (n < plan.maxCalls && (n < plan.minCalls || performance.now() < deadline)) {
    const t0 = process.hrtime.bigint();
    call();
    samples[n++] = Number(process.hrtime.bigint() - t0);
  }
  fs.closeSync(fd);
  const head = Buffer.alloc(4);
  head.writeUInt32LE(n);
  fs.writeSync(1, head);
  fs.writeSync(1, Buffer.from(samples.buffer, 0, n * 8));
}
`;

interface PlannedSeries {
  readonly target: SeriesResult['target'];
  readonly op: LatencyOp;
  readonly path: string;
}

/** Runs the client over `series`; resolves each series' samples in order. */
function runClient(series: readonly PlannedSeries[], budget: LatencyBudget, onSeries: (i: number, samples: Float64Array) => void, signal?: AbortSignal): Promise<void> {
  const plan = { series: series.map((s) => ({ path: s.path, op: s.op })), readSize: READ_SIZE, ...budget };
  // Generous: the slowest series take seriesMs or minCalls × ~1 ms each, plus start-up.
  const timeoutMs = series.length * (budget.seriesMs + budget.warmup + budget.minCalls) * 3 + 30_000;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['-e', CLIENT, JSON.stringify(plan)], { stdio: ['ignore', 'pipe', 'pipe'], signal });
    let pending: Buffer = Buffer.alloc(0);
    let done = 0;
    let stderr = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.stdout.on('data', (chunk: Buffer) => {
      pending = pending.byteLength === 0 ? chunk : Buffer.concat([pending, chunk]);
      while (pending.byteLength >= 4) {
        const n = pending.readUInt32LE(0);
        if (pending.byteLength < 4 + n * 8) break;
        // Copy: the chunk's offset need not be 8-aligned.
        const samples = new Float64Array(n);
        Buffer.from(samples.buffer).set(pending.subarray(4, 4 + n * 8));
        pending = pending.subarray(4 + n * 8);
        onSeries(done++, samples);
      }
    });
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    child.on('error', (e) => { clearTimeout(timer); reject(e); });
    child.on('close', (code, sig) => {
      clearTimeout(timer);
      if (code === 0 && done === series.length) resolve();
      else reject(new Error(`the client process ${sig !== null ? `was killed (${sig}${sig === 'SIGKILL' ? `, after ${timeoutMs} ms` : ''})` : `exited with ${code}`} after ${done} of ${series.length} series${stderr !== '' ? `: ${stderr.trim().split('\n').slice(-3).join(' / ')}` : ''}`));
    });
  });
}

export interface MeasureOptions {
  readonly budget?: LatencyBudget;
  readonly spins?: readonly number[];
  /** Progress lines ("measuring fstat at 10 µs …"). Absent: silent. */
  readonly onProgress?: (line: string) => void;
  /** Aborting stops the client and unmounts. */
  readonly signal?: AbortSignal;
}

function describeTarget(t: SeriesResult['target']): string {
  return t === 'native' ? 'native' : `${t} µs`;
}

/**
 * Mounts the spin filesystem on a fresh temporary directory, measures, unmounts, and removes the
 * directories. Needs what any mount needs (root, or fusermount3 with Node ≥ 26).
 */
export async function measureLatency(options: MeasureOptions = {}): Promise<LatencyResults> {
  const budget = options.budget ?? DEFAULT_BUDGET;
  const spins = options.spins ?? SPIN_MICROSECONDS;
  const progress = options.onProgress ?? (() => {});
  const nativeDir = mkdtempSync(join(tmpdir(), 'tsfuse-latency-native-'));
  const mountpoint = mkdtempSync(join(tmpdir(), 'tsfuse-latency-mnt-'));
  let m: FuseMount | undefined;
  try {
    const nativeFile = join(nativeDir, 'file');
    writeFileSync(nativeFile, Buffer.alloc(64 * 1024, 'native\n'));
    // No mount options: the filesystem's answers carry the zero timeouts and direct I/O themselves, so
    // nothing wraps the handlers being timed.
    m = await mount(mountpoint, spinFilesystem(spins), { options: 'fsname=tsfuse-latency,subtype=latency', stats: false });
    progress(`mounted the spin filesystem at ${m.mountpoint} (${m.transport} transport); native calls go to ${nativeDir}`);
    const planned: PlannedSeries[] = [
      { target: 'native', op: 'stat', path: nativeFile },
      { target: 'native', op: 'read', path: nativeFile },
      ...spins.flatMap((us) => (['stat', 'read'] as const).map((op) => ({ target: us, op, path: join(m!.mountpoint, spinFileName(us)) }))),
    ];
    const results: SeriesResult[] = [];
    progress(`measuring ${planned.length} series of at least ${budget.seriesMs} ms or ${budget.minCalls} calls each …`);
    await runClient(planned, budget, (i, samples) => {
      const s = planned[i]!;
      const r = summarize(s.target, s.op, samples);
      results.push(r);
      progress(`  ${s.op === 'stat' ? 'fstat' : 'pread'} ${describeTarget(s.target).padEnd(8)} median ${(r.medianNs / 1000).toFixed(2)} µs over ${r.calls} calls`);
    }, options.signal);
    return { series: results, spins, budget, nativeDir, transport: m.transport, kernel: release(), node: process.version };
  } finally {
    await m?.close().catch(() => m?.unmount({ lazy: true }));
    rmSync(nativeDir, { recursive: true, force: true });
    // Only once unmounted: never descend into a mount.
    const entries = await readMountinfo().catch(() => undefined);
    if (entries !== undefined && mountsAt(entries, m?.mountpoint ?? mountpoint).length === 0) rmSync(mountpoint, { recursive: true, force: true });
  }
}

function find(r: LatencyResults, target: SeriesResult['target'], op: LatencyOp): SeriesResult | undefined {
  return r.series.find((s) => s.target === target && s.op === op);
}

const us = (ns: number | undefined): string => (ns === undefined || !Number.isFinite(ns) ? '-' : (ns / 1000).toFixed(ns < 10_000 ? 2 : ns < 100_000 ? 1 : 0));

/** The fixed cost of the crossings: the 0 µs median through FUSE minus the native median. */
export function fixedCostNs(r: LatencyResults, op: LatencyOp): number | undefined {
  const zero = find(r, 0, op);
  const native = find(r, 'native', op);
  return zero === undefined || native === undefined ? undefined : zero.medianNs - native.medianNs;
}

/** The table, and what to read in it. */
export function latencyTable(r: LatencyResults): string {
  const header = ['handler work', 'fstat median', 'p99', 'calls', 'pread 4 KiB median', 'p99', 'calls'];
  const targets: SeriesResult['target'][] = ['native', ...r.spins];
  const rows = targets.map((t) => {
    const stat = find(r, t, 'stat');
    const read = find(r, t, 'read');
    return [t === 'native' ? 'native dir' : `${t} µs`, us(stat?.medianNs), us(stat?.p99Ns), String(stat?.calls ?? '-'), us(read?.medianNs), us(read?.p99Ns), String(read?.calls ?? '-')];
  });
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: readonly string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  const out = [
    'Latency of one system call, in µs (median and p99), through FUSE by the handler\'s work, and on a native directory',
    '',
    line(header),
    line(widths.map((w) => '-'.repeat(w))),
    ...rows.map(line),
    '',
  ];
  const statCost = fixedCostNs(r, 'stat');
  const readCost = fixedCostNs(r, 'read');
  if (statCost !== undefined && readCost !== undefined) {
    out.push(
      `Fixed cost of the four crossings (app → kernel → daemon → kernel → app), at 0 µs of work: about ` +
      `${us(statCost)} µs per fstat and ${us(readCost)} µs per 4 KiB read more than native.`,
    );
    const zero = find(r, 0, 'stat')!.medianNs;
    const shares = r.spins.filter((t) => t > 0).flatMap((t) => {
      const s = find(r, t, 'stat');
      return s === undefined ? [] : [`${Math.round((t * 1000 * 100) / s.medianNs)} % at ${t} µs`];
    });
    out.push(
      `The handler's work outweighs the boundary once it passes ≈ ${us(zero)} µs (an fstat with no work); ` +
      `its share of an fstat: ${shares.join(', ')}.`,
    );
  }
  out.push(
    `fstat = one GETATTR (attribute timeout 0); pread = one READ (direct I/O). Transport ${r.transport}, ` +
    `Linux ${r.kernel}, Node ${r.node}; at least ${r.budget.seriesMs} ms or ${r.budget.minCalls} calls per cell.`,
  );
  return `${out.join('\n')}\n`;
}

/** Where 0 µs of work is drawn on the log-scale x axis (labelled "0"). */
const ZERO_AT = 0.1;

/** The chart: latency against handler work, both log scale, with the native medians as reference lines. */
export function latencyChart(r: LatencyResults): string {
  const x = (t: number) => (t === 0 ? ZERO_AT : t);
  const spinsOf = (op: LatencyOp, pick: (s: SeriesResult) => number) => r.spins
    .map((t) => find(r, t, op))
    .filter((s): s is SeriesResult => s !== undefined)
    .map((s) => [x(s.target as number), pick(s) / 1000] as const);
  const xEnds = [x(Math.min(...r.spins)), x(Math.max(...r.spins))];
  const flat = (op: LatencyOp) => {
    const n = find(r, 'native', op);
    return n === undefined ? [] : xEnds.map((v) => [v, n.medianNs / 1000] as const);
  };
  const STAT = '#1f6feb';
  const READ = '#d9480f';
  const series: ChartSeries[] = [
    { id: 'fuse-stat-median', label: 'fstat via FUSE, median', points: spinsOf('stat', (s) => s.medianNs), color: STAT },
    { id: 'fuse-stat-p99', label: 'fstat via FUSE, p99', points: spinsOf('stat', (s) => s.p99Ns), color: STAT, dash: '6 4', width: 1.5 },
    { id: 'fuse-read-median', label: 'pread via FUSE, median', points: spinsOf('read', (s) => s.medianNs), color: READ },
    { id: 'fuse-read-p99', label: 'pread via FUSE, p99', points: spinsOf('read', (s) => s.p99Ns), color: READ, dash: '6 4', width: 1.5 },
    { id: 'native-stat-median', label: 'fstat, native, median', points: flat('stat'), color: STAT, dash: '2 3', markers: false, width: 1.5 },
    { id: 'native-read-median', label: 'pread, native, median', points: flat('read'), color: READ, dash: '2 3', markers: false, width: 1.5 },
    { id: 'handler-work', label: 'handler work alone', points: r.spins.filter((t) => t > 0).map((t) => [t, t] as const), color: '#888888', width: 1, markers: false },
  ];
  const cost = fixedCostNs(r, 'stat');
  return renderLogLogChart({
    title: 'The cost of the FUSE boundary: latency vs. handler work',
    subtitle: `Calls from a separate process. With no work, a call through FUSE costs ≈ ${cost === undefined ? '?' : us(cost)} µs more than native.`,
    xLabel: 'work the handler does per request (µs, busy-wait)',
    yLabel: 'latency of the system call (µs)',
    xTicks: r.spins.map((t) => ({ value: x(t), label: t === 0 ? '0' : String(t) })),
    series,
    notes: [
      'fstat(2) = one GETATTR (attribute timeout 0); pread(2) = one 4 KiB READ (FOPEN_DIRECT_IO); solid: median, dashed: p99.',
      `At least ${r.budget.seriesMs} ms or ${r.budget.minCalls} calls per point; ${r.transport} transport; Linux ${r.kernel}, Node ${r.node}. Made by \`tsfuse demo latency\`.`,
    ],
  });
}
