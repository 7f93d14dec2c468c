/**
 * The workloads of `npm run bench` and how each is run against one directory (a mount or the backing
 * directory). Clients are separate processes: the C load generator (bench/lib/loadgen.ts) for metadata,
 * fio for data. Each returns the figure (higher is better), the work done (for CPU per operation) and the
 * client's CPU time (so the run's own CPU is kept out of the background-load figure).
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { LoadGen } from './loadgen.ts';

export const MIB = 1 << 20;

/** The file every subject's sequential write overwrites, as big as /big (made by bench/run.ts populate). */
export const SINK = 'sink';

export interface Sizes {
  /** Timed runs (stat, readdir, create, random reads), seconds. */
  readonly seconds: number;
  /** The sequential file, MiB. */
  readonly bigMiB: number;
  readonly dirEntries: number;
  /** Files looked up per pass of the memory workload, and passes (each followed by forgets). */
  readonly lookupFiles: number;
  readonly lookupPasses: number;
  /** Lookups of other files before the memory workload's first pass, kept cached through it (bench/run.ts memoryWorkload). */
  readonly warmFiles: number;
  /** The most files one create run makes (default {@link CREATE_FILES}). */
  readonly createFiles?: number;
}

/**
 * The lookup workload's files, fitted under the daemons' open-file limit (passthrough_ll and tsfuse's
 * passthrough hold a descriptor per cached inode, the warm-up's included: past the limit every lookup
 * fails with EMFILE) with a tenth to spare, keeping the number of lookups: fewer files, more passes.
 * None (0 files, 0 passes) where not even 100 fit.
 */
export function fitLookups<S extends Sizes>(s: S, openFileLimit: number): S {
  const room = Math.floor(openFileLimit * 0.9) - s.warmFiles;
  const fit = room >= 10_000 ? Math.floor(room / 1000) * 1000 : Math.floor(room / 100) * 100;
  if (s.lookupFiles <= fit) return s;
  if (fit <= 0) return { ...s, lookupFiles: 0, lookupPasses: 0 };
  const lookups = s.lookupFiles * s.lookupPasses;
  return { ...s, lookupFiles: fit, lookupPasses: Math.ceil(lookups / fit) };
}

/** The most files a create run makes unless {@link Sizes.createFiles} says fewer. */
export const CREATE_FILES = 200_000;

export type WorkloadId = 'stat' | 'readdir' | 'create' | 'unlink' | 'seqReadCold' | 'seqReadCached' | 'seqWrite' | 'randRead' | 'randReadAttr1' | 'nullStat';

export interface WorkloadInfo { readonly label: string; readonly unit: string; readonly perWork: string }

export function workloadInfo(s: Sizes): Record<WorkloadId, WorkloadInfo> {
  const big = s.bigMiB >= 1024 ? `${s.bigMiB / 1024} GiB` : `${s.bigMiB} MiB`;
  return {
    stat: { label: 'stat, timeouts 0', unit: 'stats/s', perWork: 'stat' },
    readdir: { label: `readdir of ${s.dirEntries.toLocaleString('en')} entries`, unit: 'entries/s', perWork: 'entry' },
    create: { label: 'create + 4 KiB write + close', unit: 'files/s', perWork: 'file' },
    unlink: { label: 'unlink', unit: 'files/s', perWork: 'file' },
    seqReadCold: { label: `sequential read ${big}, backing cold (fio, bs=1M)`, unit: 'MiB/s', perWork: 'MiB' },
    seqReadCached: { label: `sequential read ${big}, backing cached (fio, bs=1M)`, unit: 'MiB/s', perWork: 'MiB' },
    seqWrite: { label: `sequential write ${big} over a cached file (fio, bs=1M, no fsync)`, unit: 'MiB/s', perWork: 'MiB' },
    randRead: { label: '4 KiB random read, 2 jobs (fio)', unit: 'IOPS', perWork: 'read' },
    randReadAttr1: { label: '4 KiB random read, 2 jobs, attr_timeout=1', unit: 'IOPS', perWork: 'read' },
    nullStat: { label: 'stat on a do-nothing daemon, timeouts 0', unit: 'stats/s', perWork: 'stat' },
  };
}

export interface Outcome { readonly value: number; readonly work: number; readonly clientCpuUs: number }

/**
 * Where a subject's files are: `dir` is the mount (or the backing directory for native). `round` names
 * the create and unlink workloads' directory (`scratch/ID/rN`; the warm-up's is `scratch/ID/warm`): the
 * unlink of round N removes the files the create of round N made.
 */
export interface Target { readonly id: string; readonly dir: string; readonly native: boolean; readonly round?: number }

/** The directory of a create and the unlink after it (see Target). */
function scratchDir(t: Target): string {
  return join(t.dir, 'scratch', t.id, t.round === undefined ? 'warm' : `r${t.round}`);
}

/** fio's JSON report from the load generator's `exec` output (fio's stdout goes to its stderr). */
export function parseFio(text: string): { bwBytes: number; iops: number; ioBytes: number; totalIos: number; rw: 'read' | 'write' } {
  const start = text.indexOf('{');
  const end = text.lastIndexOf('}');
  if (start < 0 || end < start) throw new Error(`no fio JSON in: ${text.slice(0, 300)}`);
  const j = JSON.parse(text.slice(start, end + 1)) as { jobs?: { read: FioSide; write: FioSide }[] };
  const job = j.jobs?.[0];
  if (!job) throw new Error('fio JSON without jobs');
  const rw = job.write.io_bytes > 0 ? 'write' : 'read';
  const side = job[rw];
  return { bwBytes: side.bw_bytes, iops: side.iops, ioBytes: side.io_bytes, totalIos: side.total_ios, rw };
}
interface FioSide { bw_bytes: number; iops: number; io_bytes: number; total_ios: number }

/**
 * The fio command line for a workload. For reads, `invalidate=1` drops the file's pages in the mount
 * before the job; the native directory keeps its cache (invalidate=0), or "cached" would read the disk.
 * A write keeps every cache (invalidate=0): it overwrites a file whose pages the bench has just read in
 * (bench/run.ts), so that it measures the write path and not the allocation of fresh pages, which on a
 * VM that returns freed memory to its host costs a host page fault per page (bench/RESULTS.md, "A VM
 * that returns freed memory to its host").
 */
export function fioArgs(kind: 'read' | 'write' | 'randread', file: string, s: Sizes, native: boolean): string[] {
  const common = [`--filename=${file}`, '--ioengine=psync', '--fallocate=none', '--output-format=json', `--invalidate=${native || kind === 'write' ? 0 : 1}`];
  if (kind === 'randread') {
    return ['fio', '--name=randread', '--rw=randread', '--bs=4k', `--size=${s.bigMiB}m`, '--numjobs=2', '--group_reporting',
      '--time_based', `--runtime=${Math.round(s.seconds * 1000)}ms`, '--norandommap', ...common];
  }
  return ['fio', `--name=${kind}`, `--rw=${kind}`, '--bs=1m', `--size=${s.bigMiB}m`, ...common];
}

/** Commands (argv) run untimed around one workload on one subject: {@link cacheSteps}. */
export interface CacheSteps { readonly before: readonly (readonly string[])[]; readonly after: readonly (readonly string[])[] }

/**
 * What the bench runs around a workload on one subject, untimed, so that the data workloads measure the
 * daemon's path and not the allocation of fresh pages. This VM hands freed memory back to its host
 * (virtio-balloon free page reporting), after which the guest's next use of each page is a host page
 * fault: 0.35–0.7 GiB/s, billed to whichever task first writes the page (bench/RESULTS.md, "A VM that
 * returns freed memory to its host").
 *
 * - Writes overwrite {@link SINK}, read in through the subject first, then synced so that no dirty
 *   pages of the subject before are written back during this one.
 * - Reads through a daemon that serves READ fill that mount's own page cache, copied in by the daemon's
 *   reply (fs/fuse/dev.c fuse_copy_page): read in first, the pages that fio's invalidate=1 frees just
 *   before the job are the ones the read takes back; with the mount's cache dropped long before, a cached
 *   1 GiB read through passthrough_hp ran at 0.6 GiB/s with 2.1 ms of daemon CPU per MiB, against 2.0 GiB/s
 *   and 0.26 ms (one probe, 2026-11-30). The native directory reads the backing cache, which bench/run.ts
 *   warms before the round.
 * - After each of these on a daemon, the mount's own cache of the file is dropped (posix_fadvise
 *   DONTNEED through dd iflag=nocache): kept, 1 GiB per daemon, they left later reads at a third of
 *   their speed.
 */
export function cacheSteps(id: WorkloadId, dir: string, daemon: boolean): CacheSteps {
  const readIn = (name: string) => ['dd', `if=${join(dir, name)}`, 'of=/dev/null', 'bs=1M', 'status=none'];
  const dropMountCache = (name: string) => ['dd', `if=${join(dir, name)}`, 'iflag=nocache', 'count=0', 'status=none'];
  switch (id) {
    case 'seqWrite':
      return { before: [readIn(SINK), ['sync']], after: daemon ? [dropMountCache(SINK)] : [] };
    case 'seqReadCached':
    case 'randRead':
    case 'randReadAttr1':
      return daemon ? { before: [readIn('big')], after: [dropMountCache('big')] } : { before: [], after: [] };
    default:
      return { before: [], after: [] };
  }
}

export async function runWorkload(id: WorkloadId, t: Target, lg: LoadGen, s: Sizes, state: Map<string, number>): Promise<Outcome> {
  const timeout = s.seconds * 1000 + 300_000;
  const warm = Math.min(0.2, s.seconds / 3);
  switch (id) {
    case 'stat':
    case 'nullStat': {
      const r = await lg.run(['stat', join(t.dir, 'file'), s.seconds, warm], timeout);
      const [n, ns] = r.values as [number, number];
      return { value: n / (ns / 1e9), work: n, clientCpuUs: r.clientCpuUs };
    }
    case 'readdir': {
      const r = await lg.run(['readdir', join(t.dir, 'dir'), s.seconds, warm], timeout);
      const [entries, ns] = r.values as [number, number];
      return { value: entries / (ns / 1e9), work: entries, clientCpuUs: r.clientCpuUs };
    }
    case 'create': {
      const dir = scratchDir(t);
      mkdirSync(dir, { recursive: true });
      const r = await lg.run(['create', dir, s.seconds, s.createFiles ?? CREATE_FILES], timeout);
      const [n, ns] = r.values as [number, number];
      state.set(`created:${dir}`, n);
      return { value: n / (ns / 1e9), work: n, clientCpuUs: r.clientCpuUs };
    }
    case 'unlink': {
      const dir = scratchDir(t);
      const count = state.get(`created:${dir}`) ?? 0;
      const r = await lg.run(['unlink', dir, count], timeout);
      const [n, ns] = r.values as [number, number];
      return { value: n / (ns / 1e9), work: n, clientCpuUs: r.clientCpuUs };
    }
    case 'seqReadCold':
    case 'seqReadCached':
    case 'seqWrite':
    case 'randRead':
    case 'randReadAttr1': {
      const kind = id === 'seqWrite' ? 'write' : id.startsWith('rand') ? 'randread' : 'read';
      const file = join(t.dir, kind === 'write' ? SINK : 'big');
      const r = await lg.run(['exec', ...fioArgs(kind, file, s, t.native)], timeout);
      const f = parseFio(r.stderr);
      return kind === 'randread'
        ? { value: f.iops, work: f.totalIos, clientCpuUs: r.clientCpuUs }
        : { value: f.bwBytes / MIB, work: f.ioBytes / MIB, clientCpuUs: r.clientCpuUs };
    }
  }
}
