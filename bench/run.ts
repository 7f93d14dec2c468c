/**
 * `npm run bench`: the transport comparison (bench/transport.ts) and the workloads of
 * /work/shared/PROTOCOL.md ("the speeds to beat") that an in-memory filesystem can serve, next to a
 * native-directory baseline measured in the same run and the C / bindfs / go-fuse / fuse-native figures
 * from PROTOCOL.md.
 *
 *   npm run bench                                   # everything, under 3 minutes
 *   npm run bench -- --seconds 2                    # longer timed runs (default 1 s, 3 runs)
 *   npm run bench -- --only workloads               # or: --only transport
 *   npm run bench -- --workload-placements cpu0     # workloads pinned only (saves ~1 minute)
 *
 * Method: every client is a separate process (a C program compiled at bench time, see
 * bench/lib/loadgen.ts; dd for sequential I/O). The workload filesystem (bench/lib/filesystems.ts) is
 * mounted once over the default transport with `attr_timeout=0,entry_timeout=0,negative_timeout=0`, so
 * every stat reaches the daemon. Runs are interleaved: round r runs native then tsfuse (order swapped
 * each round) for every workload; the table shows the median of the rounds. The transport comparison
 * and the workloads run in two placements: daemon and client pinned to CPU 0, and unpinned. On these
 * virtual machines a wake-up across vCPUs can cost tens of µs when the machine is otherwise idle
 * (see RESULTS.md); one shared CPU is stable and reproduces PROTOCOL.md's trivial-C round trip with a
 * raw C daemon measured in the same run, but it serialises bulk I/O that unpinned runs overlap. Every mount is unmounted in `finally`, every client is killed at a timeout.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir, cpus, availableParallelism, release, totalmem } from 'node:os';
import { join } from 'node:path';
import { buildLoadGen, waitForQuiet, pinSelf, nativeBase, type LoadGen, type LoadResult } from './lib/loadgen.ts';
import { buildCDaemon } from './lib/cdaemon.ts';
import { serve, forceUnmount, isMounted, type Served } from './lib/serve.ts';
import { workloadFs, resetCounts, BIG_SIZE, DIR_ENTRIES, type Counts } from './lib/filesystems.ts';
import { median, si, fixed, ratio, table, log } from './lib/report.ts';
import {
  transportBench, transportTable, selfAccessProbe, selfAccessTable, PLACEMENT_LABEL,
  type Placement, type SelfAccessCase,
} from './transport.ts';

/** PROTOCOL.md, "The speeds to beat" (this machine kind, one interleaved run). */
const PROTOCOL = {
  stat: { native: 460e3, trivialC: 47.4e3, bindfs: 13.3e3, goFuse: 10.5e3, fuseNative: 3.7e3 },
  readdir: { native: 1.93e6, bindfs: 1.13e6, goFuse: 134e3, fuseNative: 964e3 },
  create: { bindfs: 1089, goFuse: 899, fuseNative: 580 },
  unlink: { native: 84e3, bindfs: 3.6e3, goFuse: 5.1e3, fuseNative: 2.1e3 },
  seqRead: { native: 9775, bindfs: 2172, goFuse: 1021, fuseNative: 1275 },
  seqWrite: { native: 2991, bindfs: 224, goFuse: 311, fuseNative: 26 },
  randRead: { native: 940e3, bindfs: 40.0e3, goFuse: 16.8e3, fuseNative: 11.2e3 },
} as const;
type WorkloadKey = keyof typeof PROTOCOL;

interface Sample { value: number; background: number; note?: string }
interface WorkloadResult {
  key: WorkloadKey;
  label: string;
  unit: string;
  native: Sample[];
  tsfuse: Sample[];
}

const MOUNT_OPTIONS = 'attr_timeout=0,entry_timeout=0,negative_timeout=0';
const MIB = 1 << 20;

function argValue(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

/** One round of every workload against `dir` (the mount or the native directory). */
async function round(
  lg: LoadGen, dir: string, seconds: number, cpu: number | undefined, counts: Counts | undefined,
  bytes: { read: number; written: number } | undefined, out: Map<WorkloadKey, Sample[]>,
): Promise<void> {
  const timeoutMs = seconds * 1000 + 60_000;
  const push = (k: WorkloadKey, s: Sample) => { if (!out.has(k)) out.set(k, []); out.get(k)!.push(s); };
  const reqs = (names: string[]) => (counts ? names.reduce((n, k) => n + (counts[k] ?? 0), 0) : 0);
  const run = async (args: (string | number)[]): Promise<LoadResult> => {
    await waitForQuiet(0.2, 1500, 150);
    if (counts) resetCounts(counts);
    if (bytes) { bytes.read = 0; bytes.written = 0; }
    return lg.run(args, timeoutMs, cpu);
  };

  // stat: one path, two requests each with timeouts 0.
  let r = await run(['stat', join(dir, 'file'), seconds, 0.2]);
  let [n, ns, warm] = r.values;
  push('stat', { value: n! / (ns! / 1e9), background: r.backgroundCores, note: counts ? `${fixed(reqs(['lookup', 'getattr']) / (n! + warm!), 2)} req/stat` : undefined });

  // readdir of 10 000 entries.
  r = await run(['readdir', join(dir, 'dir10k'), seconds, 0.2]);
  const [entries, rns, passes, wpasses] = r.values;
  push('readdir', { value: entries! / (rns! / 1e9), background: r.backgroundCores, note: counts ? `${fixed(reqs(['readdir']) / (passes! + wpasses!), 0)} READDIR/pass` : undefined });

  // create + 4 KiB write + close, then unlink them all.
  r = await run(['create', join(dir, 'scratch'), seconds, 200_000]);
  const [files, cns] = r.values;
  push('create', { value: files! / (cns! / 1e9), background: r.backgroundCores, note: counts ? `${fixed(reqs(Object.keys(counts)) / files!, 1)} req/file` : undefined });
  r = await run(['unlink', join(dir, 'scratch'), files!]);
  const [unlinked, uns] = r.values;
  push('unlink', { value: unlinked! / (uns! / 1e9), background: r.backgroundCores, note: counts ? `${fixed(reqs(Object.keys(counts)) / unlinked!, 1)} req/file` : undefined });

  // sequential read and write of 1 GiB with dd, 1 MiB blocks.
  r = await run(['exec', 'dd', `if=${join(dir, 'big')}`, 'of=/dev/null', 'bs=1M', `count=${BIG_SIZE / MIB}`]);
  push('seqRead', { value: ddMiBps(r), background: r.backgroundCores, note: counts && counts['read'] ? `READ ${fixed(bytes!.read / counts['read'] / 1024, 0)} KiB avg` : undefined });
  r = await run(['exec', 'dd', 'if=/dev/zero', `of=${join(dir, 'sink')}`, 'bs=1M', `count=${BIG_SIZE / MIB}`]);
  push('seqWrite', { value: ddMiBps(r), background: r.backgroundCores, note: counts && counts['write'] ? `WRITE ${fixed(bytes!.written / counts['write'] / 1024, 0)} KiB avg` : undefined });

  // 4 KiB random reads, 2 processes.
  r = await run(['randread', join(dir, 'big'), seconds, 2, BIG_SIZE]);
  [n, ns] = r.values;
  push('randRead', { value: n! / (ns! / 1e9), background: r.backgroundCores, note: counts && counts['read'] ? `${fixed((counts['read'] / n!) * 100, 0)}% of reads reach the daemon` : undefined });
}

function ddMiBps(r: LoadResult): number {
  const m = /(\d+) bytes.*copied, ([\d.]+) s/.exec(r.stderr);
  if (!m) throw new Error(`cannot parse dd output: ${r.stderr.trim()}`);
  return Number(m[1]) / MIB / Number(m[2]);
}

async function workloads(lg: LoadGen, seconds: number, runs: number, placement: Placement): Promise<WorkloadResult[]> {
  const cpu = placement === 'cpu0' ? 0 : undefined;
  const base = mkdtempSync(join(tmpdir(), 'tsfuse-bench-run-'));
  const nat = nativeBase('tsfuse-bench-native-');
  const mp = join(base, 'mnt');
  mkdirSync(mp);
  // The native twin of the workload filesystem.
  mkdirSync(join(nat.dir, 'dir10k'));
  mkdirSync(join(nat.dir, 'scratch'));
  writeFileSync(join(nat.dir, 'file'), Buffer.alloc(4096));
  for (let i = 0; i < DIR_ENTRIES; i++) writeFileSync(join(nat.dir, 'dir10k', `e${String(i).padStart(5, '0')}`), '');
  const nativeSamples = new Map<WorkloadKey, Sample[]>();
  const tsfuseSamples = new Map<WorkloadKey, Sample[]>();
  const { ops, counts, bytes } = workloadFs();
  let served: Served | undefined;
  try {
    await lg.run(['exec', 'dd', 'if=/dev/zero', `of=${join(nat.dir, 'big')}`, 'bs=1M', `count=${BIG_SIZE / MIB}`], 120_000);
    pinSelf(cpu === undefined ? undefined : String(cpu));
    served = await serve('epoll', mp, ops, MOUNT_OPTIONS);
    for (let r = 0; r < runs; r++) {
      const order = r % 2 === 0 ? ['native', 'tsfuse'] : ['tsfuse', 'native'];
      for (const which of order) {
        if (which === 'native') await round(lg, nat.dir, seconds, cpu, undefined, undefined, nativeSamples);
        else await round(lg, mp, seconds, cpu, counts, bytes, tsfuseSamples);
        rmSync(join(nat.dir, 'sink'), { force: true });
      }
      log(`  ${placement} round ${r + 1}: ` + [...tsfuseSamples.entries()].map(([k, v]) => `${k} ${si(v.at(-1)!.value)}`).join(', '));
    }
  } finally {
    if (served) await served.unmount().catch((e: unknown) => log(`  unmount failed: ${(e as Error).message}`));
    if (isMounted(mp)) await forceUnmount(mp);
    pinSelf(undefined);
    rmSync(base, { recursive: true, force: true });
    rmSync(nat.dir, { recursive: true, force: true });
  }
  const LABELS: Record<WorkloadKey, [string, string]> = {
    stat: ['stat', 'ops/s'],
    readdir: [`readdir of ${DIR_ENTRIES / 1000}k entries`, 'entries/s'],
    create: ['create + 4 KiB write + close', 'files/s'],
    unlink: ['unlink', 'files/s'],
    seqRead: ['sequential read 1 GiB (dd bs=1M)', 'MiB/s'],
    seqWrite: ['sequential write 1 GiB (dd bs=1M)', 'MiB/s'],
    randRead: ['4 KiB random read, 2 processes', 'IOPS'],
  };
  return (Object.keys(LABELS) as WorkloadKey[]).map((key) => ({
    key, label: LABELS[key][0], unit: LABELS[key][1],
    native: nativeSamples.get(key) ?? [], tsfuse: tsfuseSamples.get(key) ?? [],
  }));
}

function med(s: Sample[]): number { return median(s.map((x) => x.value)); }
function fmt(x: number, unit: string): string { return unit === 'MiB/s' ? x.toFixed(0) : si(x); }

function workloadTable(results: WorkloadResult[], nativeFs: string): string {
  const rows = results.map((w) => {
    const p = PROTOCOL[w.key] as Partial<Record<'native' | 'trivialC' | 'bindfs' | 'goFuse' | 'fuseNative', number>>;
    const ours = med(w.tsfuse);
    const show = (x: number | undefined) => (x === undefined ? '–' : fmt(x, w.unit));
    return [
      `${w.label} (${w.unit})`,
      `**${fmt(ours, w.unit)}**`,
      w.tsfuse.map((s) => fmt(s.value, w.unit)).join(' / '),
      `${fmt(med(w.native), w.unit)} (${ratio(ours, med(w.native))})`,
      `${show(p.trivialC)} (${ratio(ours, p.trivialC)})`,
      `${show(p.bindfs)} (${ratio(ours, p.bindfs)})`,
      `${show(p.goFuse)} (${ratio(ours, p.goFuse)})`,
      `${show(p.fuseNative)} (${ratio(ours, p.fuseNative)})`,
      w.tsfuse.map((s) => s.note).filter(Boolean)[0] ?? '',
      fixed(Math.max(...w.tsfuse.map((s) => s.background), ...w.native.map((s) => s.background)), 2),
    ];
  });
  return table([
    'workload', 'tsfuse (median)', 'tsfuse per run', `native ${nativeFs}, this run (tsfuse ×)`, 'trivial C¹ (tsfuse ×)', 'bindfs¹ (×)', 'go-fuse¹ (×)', 'fuse-native¹ (×)', 'measured detail', 'max background (cores)',
  ], rows);
}

async function main(): Promise<void> {
  const started = Date.now();
  const seconds = Number(argValue('--seconds') ?? 1);
  const runs = Number(argValue('--runs') ?? 3);
  const only = argValue('--only');
  const placements: Placement[] = ['cpu0', 'free'];
  const workloadPlacements = (argValue('--workload-placements') ?? 'cpu0,free').split(',') as Placement[];
  const lg = buildLoadGen();
  const cdaemon = buildCDaemon();
  const out: string[] = [];
  const print = (s: string) => { out.push(s); console.log(s); };
  const cpu = cpus()[0]?.model ?? 'unknown CPU';
  print(`tsfuse bench, ${new Date().toISOString()}: Node ${process.version}, Linux ${release()}, ${availableParallelism()} CPUs (${cpu}), ${Math.round(totalmem() / 2 ** 30)} GiB RAM, ${lg.kind} load generator, ${runs} interleaved runs × ${seconds} s${cdaemon ? ', raw C reference daemon' : ''}`);
  try {
    if (only === undefined || only === 'transport') {
      log('transport comparison (stat(2) loop):');
      const results = await transportBench({ seconds, warmup: 0.2, runs, loadgen: lg, cdaemon, placements, quietBudgetMs: 20_000 });
      log('self-access probe:');
      const cases: SelfAccessCase[] = [
        { transport: 'epoll', concurrency: 16 }, { transport: 'worker', concurrency: 16 },
        { transport: 'pool1', concurrency: 3 }, { transport: 'pool1', concurrency: 4 }, { transport: 'pool4', concurrency: 1 },
      ];
      const self = await selfAccessProbe(cases);
      for (const p of placements) {
        print(`\n### Reading /dev/fuse — ${PLACEMENT_LABEL[p]} (stat(2) loop, timeouts 0, ${runs} interleaved runs × ${seconds} s)\n`);
        print(transportTable(results, p));
      }
      print('\n### Self-access: the daemon process stats its own mount (default UV_THREADPOOL_SIZE=4, 2 s timeout)\n');
      print(selfAccessTable(self));
    }
    if (only === undefined || only === 'workloads') {
      const nat = nativeBase('tsfuse-bench-probe-');
      rmSync(nat.dir, { recursive: true, force: true });
      for (const p of workloadPlacements) {
        log(`workloads, ${PLACEMENT_LABEL[p]}:`);
        const w = await workloads(lg, seconds, runs, p);
        print(`\n### Workloads — ${PLACEMENT_LABEL[p]} (epoll transport, -o ${MOUNT_OPTIONS}, ${runs} interleaved runs)\n`);
        print(workloadTable(w, nat.fs));
      }
      print('\n¹ From /work/shared/PROTOCOL.md ("the speeds to beat", same machine kind, not measured in this run); × is tsfuse ÷ that figure.');
    }
  } finally {
    lg.dispose();
    cdaemon?.dispose();
  }
  log(`done in ${((Date.now() - started) / 1000).toFixed(0)} s`);
}

await main();
