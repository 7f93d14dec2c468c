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
import { buildLoadGen, runProcess, waitForQuiet, type LoadGen } from './lib/loadgen.ts';
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
export interface TransportResult {
  readonly name: 'native' | BenchTransport;
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
}

/** The stat comparison; every mount is unmounted before this returns. */
export async function transportBench(o: TransportBenchOptions): Promise<TransportResult[]> {
  const base = mkdtempSync(join(tmpdir(), 'tsfuse-bench-transport-'));
  const native = join(base, 'native');
  const mp = join(base, 'mnt');
  mkdirSync(native);
  mkdirSync(mp);
  writeFileSync(join(native, 'file'), Buffer.alloc(4096));
  const names: ('native' | BenchTransport)[] = ['native', ...ALL_TRANSPORTS];
  const results = new Map(names.map((n) => [n, { name: n, label: n === 'native' ? 'native directory (ext4 or tmpfs under /tmp)' : TRANSPORT_LABEL[n], runs: [] as StatRun[] }]));
  const timeoutMs = (o.seconds + o.warmup) * 1000 + 20_000;
  try {
    for (let r = 0; r < o.runs; r++) {
      const order = names.map((_, i) => names[(i + r) % names.length]!);
      for (const name of order) {
        await waitForQuiet();
        if (name === 'native') {
          const res = await o.loadgen.run(['stat', join(native, 'file'), o.seconds, o.warmup], timeoutMs);
          const [n, ns] = res.values;
          const opsPerSec = n! / (ns! / 1e9);
          results.get(name)!.runs.push({ opsPerSec, requestsPerOp: 0, usPerRequest: NaN, cpuUsPerRequest: NaN, backgroundCores: res.backgroundCores });
          log(`  run ${r + 1} native: ${si(opsPerSec)} stat/s (background ${fixed(res.backgroundCores, 2)} cores)`);
          continue;
        }
        const { ops, counts } = statTree();
        let served: Served | undefined;
        try {
          served = await serve(name, mp, ops);
          resetCounts(counts);
          const res = await o.loadgen.run(['stat', join(mp, 'file'), o.seconds, o.warmup], timeoutMs);
          const [n, ns, warm] = res.values;
          const requests = totalCount(counts);
          const requestsPerOp = requests / (n! + warm!);
          const opsPerSec = n! / (ns! / 1e9);
          const usPerRequest = ns! / 1e3 / (n! * requestsPerOp);
          const cpuUsPerRequest = res.daemonCpuUs / requests;
          results.get(name)!.runs.push({ opsPerSec, requestsPerOp, usPerRequest, cpuUsPerRequest, backgroundCores: res.backgroundCores });
          log(`  run ${r + 1} ${name}: ${si(opsPerSec)} stat/s, ${fixed(requestsPerOp, 2)} requests/stat, ${fixed(usPerRequest, 2)} µs/request, daemon CPU ${fixed(cpuUsPerRequest, 2)} µs/request (background ${fixed(res.backgroundCores, 2)} cores)`);
        } finally {
          if (served) await served.unmount().catch((e: unknown) => log(`  unmount failed: ${(e as Error).message}`));
          if (isMounted(mp)) await forceUnmount(mp);
        }
      }
    }
  } finally {
    if (isMounted(mp)) await forceUnmount(mp);
    rmSync(base, { recursive: true, force: true });
  }
  return [...results.values()];
}

export const DEFAULT_SELF_ACCESS: readonly SelfAccessCase[] = [
  { transport: 'epoll', concurrency: 4 },
  { transport: 'epoll', concurrency: 16 },
  { transport: 'worker', concurrency: 16 },
  { transport: 'pool1', concurrency: 3 },
  { transport: 'pool1', concurrency: 4 },
  { transport: 'pool1', concurrency: 16 },
  { transport: 'pool4', concurrency: 1 },
  { transport: 'pool4', concurrency: 4 },
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
      const { stdout } = await runProcess(process.execPath, ['--import', 'tsx', CHILD, arg], timeoutMs + 20_000);
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

export function transportTable(results: readonly TransportResult[]): string {
  const nativeOps = median(results.find((r) => r.name === 'native')!.runs.map((x) => x.opsPerSec));
  const rows = results.map((r) => {
    const ops = r.runs.map((x) => x.opsPerSec);
    const us = r.runs.map((x) => x.usPerRequest);
    const isNative = r.name === 'native';
    return [
      r.label,
      si(median(ops)),
      ops.map(si).join(' / '),
      isNative ? '–' : fixed(median(r.runs.map((x) => x.requestsPerOp)), 2),
      isNative ? `${fixed(1e6 / median(ops), 2)} per stat` : fixed(median(us), 1),
      isNative ? '–' : us.map((u) => fixed(u, 1)).join(' / '),
      isNative ? '–' : fixed(median(r.runs.map((x) => x.cpuUsPerRequest)), 1),
      isNative ? '1×' : `${(nativeOps / median(ops)).toFixed(0)}× slower`,
      fixed(Math.max(...r.runs.map((x) => x.backgroundCores)), 2),
    ];
  });
  return table(['design', 'stat/s (median)', 'stat/s per run', 'requests/stat', 'µs/round trip (median)', 'µs/round trip per run', 'daemon CPU µs/request', 'vs native', 'max background load (cores)'], rows);
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
  try {
    const seconds = argValue('--seconds', 2);
    const runs = argValue('--runs', 3);
    log(`transport comparison: stat(2) loop from a ${loadgen.kind} client, ${runs} interleaved runs × ${seconds} s`);
    const results = await transportBench({ seconds, warmup: 0.3, runs, loadgen });
    log('self-access probe (the daemon stats its own mount):');
    const self = await selfAccessProbe(DEFAULT_SELF_ACCESS);
    console.log(`## Reading /dev/fuse: stat(2) round trips (${loadgen.kind} client, ${runs} interleaved runs × ${seconds} s, Node ${process.version})\n`);
    console.log(transportTable(results));
    console.log('\n## Self-access: the daemon process stats its own mount (timeout 2 s per case)\n');
    console.log(selfAccessTable(self));
  } finally {
    loadgen.dispose();
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  await main();
}
