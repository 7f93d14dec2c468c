/**
 * Which way of reading /dev/fuse is fastest, and which is correct when the daemon uses its own mount.
 *
 *   node --import tsx bench/transport.ts [--seconds 2] [--runs 3]
 *
 * Candidates (bench/lib/serve.ts): (a) 'epoll', (b) 'worker', (c) libuv thread-pool `fs.read` with 1 or
 * 4 reads outstanding. Workload: the stat tree (bench/lib/filesystems.ts) with entry/attr timeouts 0 in
 * every reply, and a C client in another process doing stat(2) in a tight loop. Runs are interleaved
 * (run 1 of every candidate, then run 2, …, with the order rotated each round) next to a native-directory
 * baseline. Then the self-access probe: the daemon's own process issues concurrent async stats on its
 * mount (bench/lib/selfaccess-child.ts, one process per case, bounded by a timeout).
 */
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildLoadGen, runProcess, waitForQuiet, pinSelf, nativeBase, type LoadGen } from './lib/loadgen.ts';
import { buildCDaemon, type CDaemon } from './lib/cdaemon.ts';
import { serve, forceUnmount, isMounted, ALL_TRANSPORTS, TRANSPORT_LABEL, type BenchTransport, type Served } from './lib/serve.ts';
import { statTree, resetCounts, totalCount } from './lib/filesystems.ts';
import { median, si, fixed, table, log } from './lib/report.ts';

export interface StatRun {
  opsPerSec: number;
  requestsPerOp: number;
  usPerRequest: number;
  /** The daemon process's CPU per request (µs), over the whole client run including warm-up. */
  cpuUsPerRequest: number;
  /** Other jobs' CPU on the machine during the run, in cores. */
  backgroundCores: number;
}
export type DesignName = 'native' | 'rawc' | BenchTransport;
/** Where daemon and client run: anywhere (the scheduler decides), or both pinned to CPU 0. */
export type Placement = 'free' | 'cpu0';
export interface TransportResult {
  readonly name: DesignName;
  readonly placement: Placement;
  readonly label: string;
  readonly runs: StatRun[];
}
export interface SelfAccessCase { transport: BenchTransport; concurrency: number }
export interface SelfAccessResult extends SelfAccessCase { outcome: string; done?: number; expected?: number; ms?: number; error?: string }

export interface TransportBenchOptions {
  seconds: number;
  warmup: number;
  runs: number;
  loadgen: LoadGen;
  cdaemon: CDaemon | undefined;
  placements: readonly Placement[];
  /** Total time allowed for waiting for a quiet machine before trials, ms. */
  quietBudgetMs: number;
}

export const DESIGN_LABEL: Record<DesignName, string> = {
  native: 'native directory (no FUSE)',
  rawc: 'raw C daemon, 1 thread (reference, no libfuse)',
  ...TRANSPORT_LABEL,
};

/**
 * The stat comparison. Runs are interleaved: round r runs every design once (order rotated each round),
 * in each placement. Every mount is unmounted before this returns.
 */
export async function transportBench(o: TransportBenchOptions): Promise<TransportResult[]> {
  const base = mkdtempSync(join(tmpdir(), 'tsfuse-bench-transport-'));
  const nativeDir = nativeBase('tsfuse-bench-native-');
  const native = nativeDir.dir;
  const mp = join(base, 'mnt');
  mkdirSync(mp);
  writeFileSync(join(native, 'file'), Buffer.alloc(4096));
  const names: DesignName[] = ['native', ...(o.cdaemon ? ['rawc' as const] : []), ...ALL_TRANSPORTS];
  const results = new Map<string, TransportResult>();
  for (const placement of o.placements) {
    for (const n of names) results.set(`${placement}/${n}`, { name: n, placement, label: DESIGN_LABEL[n], runs: [] });
  }
  const timeoutMs = (o.seconds + o.warmup) * 1000 + 20_000;
  const quietUntil = Date.now() + o.quietBudgetMs;
  try {
    for (let r = 0; r < o.runs; r++) {
      for (const placement of o.placements) {
        const cpu = placement === 'cpu0' ? 0 : undefined;
        const order = names.map((_, i) => names[(i + r) % names.length]!);
        for (const name of order) {
          await waitForQuiet(0.2, Math.max(0, Math.min(3000, quietUntil - Date.now())), 150);
          const run = await statTrial(name, cpu, native, mp, o, timeoutMs);
          results.get(`${placement}/${name}`)!.runs.push(run);
          log(`  run ${r + 1} ${placement} ${name}: ${si(run.opsPerSec)} stat/s` + (name === 'native' ? '' : `, ${fixed(run.requestsPerOp, 2)} requests/stat, ${fixed(run.usPerRequest, 1)} µs/request`) +
            (Number.isFinite(run.cpuUsPerRequest) ? `, daemon CPU ${fixed(run.cpuUsPerRequest, 1)} µs/request` : '') + ` (background ${fixed(run.backgroundCores, 2)} cores)`);
        }
      }
    }
  } finally {
    pinSelf(undefined);
    if (isMounted(mp)) await forceUnmount(mp);
    rmSync(base, { recursive: true, force: true });
    rmSync(native, { recursive: true, force: true });
  }
  const out = [...results.values()];
  for (const r of out) if (r.name === 'native') (r as { label: string }).label = `native directory, ${nativeDir.fs}`;
  return out;
}

async function statTrial(name: DesignName, cpu: number | undefined, native: string, mp: string, o: TransportBenchOptions, timeoutMs: number): Promise<StatRun> {
  const args = (dir: string) => ['stat', join(dir, 'file'), o.seconds, o.warmup];
  if (name === 'native') {
    const res = await o.loadgen.run(args(native), timeoutMs, cpu);
    const [n, ns] = res.values;
    return { opsPerSec: n! / (ns! / 1e9), requestsPerOp: 0, usPerRequest: NaN, cpuUsPerRequest: NaN, backgroundCores: res.backgroundCores };
  }
  if (name === 'rawc') {
    const d = await o.cdaemon!.start(mp, cpu === undefined ? undefined : String(cpu));
    const res = await o.loadgen.run(args(mp), timeoutMs, cpu).catch(async (e: unknown) => { await d.stop().catch(() => {}); throw e; });
    const { served, cpuUs } = await d.stop();
    const [n, ns, warm] = res.values;
    // `served` includes INIT and the mount's first requests: a handful among ~10^5.
    const requestsPerOp = served / (n! + warm!);
    return {
      opsPerSec: n! / (ns! / 1e9), requestsPerOp, usPerRequest: ns! / 1e3 / (n! * requestsPerOp), cpuUsPerRequest: cpuUs / served,
      // The C daemon is another process: its CPU is not background load.
      backgroundCores: Math.max(0, res.backgroundCores - cpuUs / (res.wallNs / 1e3)),
    };
  }
  const { ops, counts } = statTree();
  let served: Served | undefined;
  pinSelf(cpu === undefined ? undefined : String(cpu));
  try {
    served = await serve(name, mp, ops);
    resetCounts(counts);
    const res = await o.loadgen.run(args(mp), timeoutMs, cpu);
    const [n, ns, warm] = res.values;
    const requests = totalCount(counts);
    const requestsPerOp = requests / (n! + warm!);
    return {
      opsPerSec: n! / (ns! / 1e9),
      requestsPerOp,
      usPerRequest: ns! / 1e3 / (n! * requestsPerOp),
      cpuUsPerRequest: res.daemonCpuUs / requests,
      backgroundCores: res.backgroundCores,
    };
  } finally {
    if (served) await served.unmount().catch((e: unknown) => log(`  unmount failed: ${(e as Error).message}`));
    if (isMounted(mp)) await forceUnmount(mp);
    pinSelf(undefined);
  }
}

export const DEFAULT_SELF_ACCESS: readonly SelfAccessCase[] = [
  { transport: 'epoll', concurrency: 4 },
  { transport: 'epoll', concurrency: 16 },
  { transport: 'worker', concurrency: 16 },
  { transport: 'pool1', concurrency: 3 },
  { transport: 'pool1', concurrency: 4 },
  { transport: 'pool4', concurrency: 1 },
];

const CHILD = fileURLToPath(new URL('./lib/selfaccess-child.ts', import.meta.url));

/** Runs each case in its own process; a case never takes more than timeoutMs + 20 s. */
export async function selfAccessProbe(cases: readonly SelfAccessCase[], timeoutMs = 2000): Promise<SelfAccessResult[]> {
  const out: SelfAccessResult[] = [];
  for (const c of cases) {
    const base = mkdtempSync(join(tmpdir(), 'tsfuse-bench-self-'));
    const mp = join(base, 'mnt');
    mkdirSync(mp);
    const env = { ...process.env };
    delete env['UV_THREADPOOL_SIZE']; // the default pool of 4 threads is what a daemon gets
    try {
      const arg = JSON.stringify({ mountpoint: mp, transport: c.transport, concurrency: c.concurrency, perCaller: 50, timeoutMs });
      const { stdout } = await runProcess(process.execPath, ['--import', 'tsx', CHILD, arg], timeoutMs + 20_000, env);
      const line = stdout.trim().split('\n').at(-1) ?? '{}';
      out.push({ ...c, ...(JSON.parse(line) as { outcome: string }) });
    } catch (e) {
      out.push({ ...c, outcome: 'error', error: (e as Error).message.split('\n')[0]! });
    } finally {
      if (isMounted(mp)) await forceUnmount(mp);
      rmSync(base, { recursive: true, force: true });
    }
    const last = out.at(-1)!;
    log(`  self-access ${c.transport} × ${c.concurrency}: ${last.outcome}${last.done !== undefined ? ` (${last.done}/${last.expected} stats, ${last.ms} ms)` : ''}${last.error ? `: ${last.error}` : ''}`);
  }
  return out;
}

export const PLACEMENT_LABEL: Record<Placement, string> = {
  free: 'unpinned (the scheduler places daemon and client)',
  cpu0: 'daemon and client pinned to CPU 0',
};

export function transportTable(results: readonly TransportResult[], placement: Placement): string {
  const mine = results.filter((r) => r.placement === placement);
  const med = (name: DesignName, f: (x: StatRun) => number) => {
    const r = mine.find((x) => x.name === name);
    return r ? median(r.runs.map(f)) : NaN;
  };
  const nativeOps = med('native', (x) => x.opsPerSec);
  const rawcUs = med('rawc', (x) => x.usPerRequest);
  const rows = mine.map((r) => {
    const ops = r.runs.map((x) => x.opsPerSec);
    const us = r.runs.map((x) => x.usPerRequest);
    const isNative = r.name === 'native';
    return [
      r.label,
      si(median(ops)),
      ops.map(si).join(' / '),
      isNative ? '–' : fixed(median(r.runs.map((x) => x.requestsPerOp)), 2),
      isNative ? `(${fixed(1e6 / median(ops), 2)} per stat)` : `**${fixed(median(us), 1)}**`,
      isNative ? '–' : us.map((u) => fixed(u, 1)).join(' / '),
      Number.isFinite(rawcUs) && !isNative ? `${(median(us) / rawcUs).toFixed(2)}×` : '–',
      isNative ? '–' : fixed(median(r.runs.map((x) => x.cpuUsPerRequest)), 1),
      isNative ? '–' : `${(nativeOps / median(ops)).toFixed(0)}×`,
      fixed(Math.max(...r.runs.map((x) => x.backgroundCores)), 2),
    ];
  });
  return table(['design', 'stat/s (median)', 'stat/s per run', 'requests/stat', 'µs/round trip (median)', 'µs/round trip per run', 'round trip vs raw C', 'daemon CPU µs/request', 'slower than native', 'max background load (cores)'], rows);
}

export function selfAccessTable(results: readonly SelfAccessResult[]): string {
  return table(
    ['design', 'concurrent fs.promises.stat in the daemon', 'outcome', 'stats done', 'time'],
    results.map((r) => [TRANSPORT_LABEL[r.transport], String(r.concurrency), r.outcome === 'stalled' ? '**stalled** (deadlock; aborted)' : r.outcome, r.done !== undefined ? `${r.done}/${r.expected}` : '–', r.outcome === 'stalled' ? `> ${r.ms} ms` : r.ms !== undefined ? `${r.ms} ms` : (r.error ?? '–')]),
  );
}

function argValue(name: string, fallback: number): number {
  const i = process.argv.indexOf(name);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
}

async function main(): Promise<void> {
  const loadgen = buildLoadGen();
  const cdaemon = buildCDaemon();
  try {
    const seconds = argValue('--seconds', 2);
    const runs = argValue('--runs', 3);
    const placements: Placement[] = ['free', 'cpu0'];
    log(`transport comparison: stat(2) loop from a ${loadgen.kind} client, ${runs} interleaved runs × ${seconds} s`);
    const results = await transportBench({ seconds, warmup: 0.3, runs, loadgen, cdaemon, placements, quietBudgetMs: 30_000 });
    log('self-access probe (the daemon stats its own mount):');
    const self = await selfAccessProbe(DEFAULT_SELF_ACCESS);
    for (const p of placements) {
      console.log(`## Reading /dev/fuse, ${PLACEMENT_LABEL[p]}: stat(2) round trips (${loadgen.kind} client, ${runs} interleaved runs × ${seconds} s, Node ${process.version})\n`);
      console.log(transportTable(results, p));
      console.log('');
    }
    console.log('## Self-access: the daemon process stats its own mount (timeout 2 s per case)\n');
    console.log(selfAccessTable(self));
  } finally {
    loadgen.dispose();
    cdaemon?.dispose();
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  await main();
}
