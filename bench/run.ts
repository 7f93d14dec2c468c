/**
 * `npm run bench`: tsfuse's passthrough against the backing directory itself, bindfs, a go-fuse loopback,
 * libfuse's passthrough_ll and fuse-native's passthrough, plus a do-nothing tsfuse daemon against a
 * do-nothing libfuse 3 one, all in one run (bench/lib/subjects.ts says how each is built and mounted).
 *
 *   npm run bench                      # full: 1 GiB files, 5 rounds, 10^6 lookups (about 20 minutes)
 *   npm run bench -- --quick           # 128 MiB, 2 rounds, 3·10^4 lookups (under 3 minutes)
 *   npm run bench -- --tiny            # smoke test: native and tsfuse only, seconds (test/bench)
 *   options: --rounds N --seconds S --subjects a,b,… --allow-noisy --no-drop-caches --no-memory --out FILE
 *            --tsfuse-node PATH (the node binary for tsfuse's daemons, e.g. Node 26 for node:ffi's fast
 *            paths: kernel passthrough, getdents; default: the node running this script)
 *            --passthrough-hp DIR (libfuse's example/ directory, to build and run passthrough_hp too)
 *
 * Method. Every daemon is a process of its own, every client too (the C load generator, fio). All
 * backing directories are one directory on one disk: each daemon mirrors it (scratch files are per
 * daemon). Rounds are interleaved: in round r every workload runs on every subject, in an order rotated
 * by r, so each subject meets the same machine conditions (the unlinks come after every round's creates:
 * see the note there); ratios are taken per round (ours ÷ theirs in
 * the same round) and the table shows their median and range. Phase 1 uses timeouts 0 (entry, attribute,
 * negative) everywhere; phase 2 remounts with attr_timeout=1 for the memory workload and the second
 * random-read workload; the do-nothing pair runs between them.
 *
 * Background load: each measurement records the machine's busy CPU minus the run's own (client, all
 * daemons, this process); /proc/loadavg and /proc/stat are sampled every second. A machine that is busy
 * at the start is refused (exit 3); a run that turned noisy is flagged in the report and exits 4. Pass
 * --allow-noisy to run and report anyway (still flagged). The cold-read workload drops the page cache of
 * the whole machine before each read, and the run drops it once before the warm-up (root only; skip both
 * with --no-drop-caches).
 */
import { mkdirSync, mkdtempSync, openSync, closeSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { buildLoadGen, runProcess, waitForQuiet, type LoadGen } from './lib/loadgen.ts';
import {
  backgroundCores, judgeNoise, optionsTable, ratioCell, redactCommand, roundRatios, si, summarize, table, valueCell,
  type OptionsRecord, type Sample,
} from './lib/analysis.ts';
import { describeMachine, dropCaches, dropDentries, LoadSampler, loadavg, machineBusyUs } from './lib/machine.ts';
import {
  ALL_SUBJECTS, ANCHORS, FD_LIMIT, NULL_SUBJECTS, STDERR_KEPT, buildTools, filesPerCreateRun, launchFor, openFileLimit, processMemory, startDaemon,
  type NullSubjectId, type Running, type SubjectId, type Timeouts, type Tools,
} from './lib/subjects.ts';
import { CREATE_FILES, SINK, cacheSteps, fitLookups, runWorkload, workloadInfo, type Sizes, type WorkloadId } from './lib/workloads.ts';
import { judged, NULL_TARGET, TARGET_HEAD, targetRows } from './lib/targets.ts';

const { values: args } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    tiny: { type: 'boolean', default: false },
    rounds: { type: 'string' },
    seconds: { type: 'string' },
    subjects: { type: 'string' },
    'allow-noisy': { type: 'boolean', default: false },
    'no-drop-caches': { type: 'boolean', default: false },
    'no-memory': { type: 'boolean', default: false },
    out: { type: 'string' },
    'tsfuse-node': { type: 'string' },
    'passthrough-hp': { type: 'string' },
  },
});

const MODE = args.tiny ? 'tiny' : args.quick ? 'quick' : 'full';
const PRESETS: Record<string, Sizes & { rounds: number; quietMs: number }> = {
  full: { seconds: 1, bigMiB: 1024, dirEntries: 10_000, lookupFiles: 100_000, lookupPasses: 10, warmFiles: 2_000, rounds: 5, quietMs: 60_000 },
  quick: { seconds: 0.3, bigMiB: 128, dirEntries: 10_000, lookupFiles: 10_000, lookupPasses: 3, warmFiles: 1_000, rounds: 2, quietMs: 15_000 },
  tiny: { seconds: 0.1, bigMiB: 8, dirEntries: 500, lookupFiles: 500, lookupPasses: 2, warmFiles: 100, rounds: 1, quietMs: 0 },
};
const preset = fitLookups(PRESETS[MODE]!, openFileLimit());
const rounds = args.rounds !== undefined ? Number(args.rounds) : preset.rounds;
const wantedList = (args.subjects ?? (MODE === 'tiny' ? 'native,tsfuse' : [...ALL_SUBJECTS, ...NULL_SUBJECTS].join(','))).split(',');
const wanted = new Set(wantedList);
const dropAllowed = !args['no-drop-caches'] && MODE !== 'tiny';
/**
 * Every create's files stay until the unlinks after the last round, each with a descriptor in
 * passthrough_ll and tsfuse while the kernel keeps its inode. The cold read's drop_caches between rounds
 * makes the kernel forget them; without it, all rounds' files and the warm-up's must fit under the
 * daemons' open-file limit, or the later creates fail with EMFILE.
 */
const createFiles = dropAllowed ? CREATE_FILES : Math.min(CREATE_FILES, filesPerCreateRun(rounds + 1));
const sizes: Sizes = { ...preset, createFiles, ...(args.seconds !== undefined && { seconds: Number(args.seconds) }) };
const memoryWanted = !args['no-memory'] && sizes.lookupFiles > 0;
/** Above this many cores of background CPU, a measurement waits (up to 2 s) before it starts. */
const QUIET_CORES = 0.25;

/** tsfuse with one setting changed, each shown against the default per round (not in the memory workload). */
const TSFUSE_VARIANTS: readonly (readonly [SubjectId, string])[] = [['tsfuse+auto_cache', 'auto_cache ÷ default'], ['tsfuse-noxattr', 'no xattrs ÷ default']];

const log = (s: string): void => { process.stderr.write(`${s}\n`); };

const PHASE1: Timeouts = { entry: 0, attr: 0 };
const PHASE2: Timeouts = { entry: 0, attr: 1 };
/** Judged against native in the targets table (kernel passthrough). */
const SEQUENTIAL_WORKLOADS: ReadonlySet<WorkloadId> = new Set(['seqReadCold', 'seqReadCached', 'seqWrite']);
const PHASE1_WORKLOADS: WorkloadId[] = ['stat', 'readdir', 'create', 'unlink', ...(dropAllowed ? ['seqReadCold' as const] : []), 'seqReadCached', 'seqWrite', 'randRead'];

interface Subject { readonly id: SubjectId | NullSubjectId; readonly dir: string; readonly daemon?: Running }

const samples = new Map<WorkloadId, Map<string, Sample[]>>();
const allBackground: number[] = [];
const optionRecords: OptionsRecord[] = [];
const skipped = new Map<string, string>();
if (!args['no-memory'] && !memoryWanted) skipped.set('memory', `the daemons' open-file limit of ${openFileLimit()} leaves no room for the lookups' files: raise the hard limit (prlimit --nofile) or pass --no-memory`);
/** RSS figures, and `private*`: the same of RssAnon (see bench/lib/subjects.ts processMemory). */
const memory = new Map<string, {
  idle: number; warmed: number; cached: number; perInode: number; after: number; peak: number; lookups: number; seconds: number;
  privateIdle: number; privatePerInode: number; privateAfter: number;
}>();
const peakAfterPhase1 = new Map<string, number>();
const running: Running[] = [];
let startedQuiet = false;

function record(w: WorkloadId, subject: string, s: Sample): void {
  const m = samples.get(w) ?? new Map<string, Sample[]>();
  samples.set(w, m);
  const list = m.get(subject) ?? [];
  list.push(s);
  m.set(subject, list);
}

/** {@link runWorkload}, its failure named: which workload, on which subject, in which round. */
async function runNamed(...a: Parameters<typeof runWorkload>): ReturnType<typeof runWorkload> {
  const [w, t] = a;
  try {
    return await runWorkload(...a);
  } catch (e) {
    throw new Error(`${w} on ${t.id} (${t.round === undefined ? 'warm-up' : `round ${t.round + 1}`}): ${(e as Error).message}`, { cause: e });
  }
}

/** Runs one workload on one subject and records the sample. */
async function measure(lg: LoadGen, w: WorkloadId, subj: Subject, round: number, state: Map<string, number>): Promise<void> {
  if (w === 'seqReadCold') await dropCaches();
  // On a machine that was quiet at the start, let a passing job finish first (at most 1 s); on one
  // that was busy (--allow-noisy) waiting would only stretch the run. After the drop, not before it:
  // the drop makes every daemon forget its inodes at once, and a cold read started at once ran at 0.43×
  // native through tsfuse (section "A VM that returns freed memory to its host" of bench/RESULTS.md).
  if (startedQuiet) await waitForQuiet(QUIET_CORES, 1000, 100);
  // Untimed: the write's file read in and synced, a daemon's read of the file read in first (cacheSteps).
  const steps = cacheSteps(w, subj.dir, subj.daemon !== undefined);
  for (const [cmd, ...args] of steps.before) await runProcess(cmd!, args, 300_000);
  const cpu0 = running.map((d) => d.cpuUs());
  const busy0 = machineBusyUs();
  const own0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  const out = await runNamed(w, { id: subj.id, dir: subj.dir, native: subj.daemon === undefined, round }, lg, sizes, state);
  const wallUs = Number(process.hrtime.bigint() - t0) / 1e3;
  const own = process.cpuUsage(own0);
  const daemonsUs = running.reduce((sum, d, i) => sum + d.cpuUs() - cpu0[i]!, 0);
  const bg = backgroundCores(machineBusyUs() - busy0, out.clientCpuUs + daemonsUs + own.user + own.system, wallUs);
  const daemonIdx = subj.daemon ? running.indexOf(subj.daemon) : -1;
  const daemonCpuUs = daemonIdx >= 0 ? subj.daemon!.cpuUs() - cpu0[daemonIdx]! : undefined;
  allBackground.push(bg);
  record(w, subj.id, { round, value: out.value, backgroundCores: bg, work: out.work, ...(daemonCpuUs !== undefined && { daemonCpuUs }) });
  for (const [cmd, ...args] of steps.after) await runProcess(cmd!, args, 60_000);
}

const rotate = <T>(xs: readonly T[], r: number): T[] => xs.map((_, i) => xs[(i + r) % xs.length]!);

/** Mounts every wanted subject of `ids` over `source`; the ones that cannot run are recorded as skipped. */
async function mountAll(ids: readonly (SubjectId | NullSubjectId)[], tools: Tools, source: string, base: string, t: Timeouts, phase: string, names: Map<string, string>): Promise<Subject[]> {
  const out: Subject[] = [];
  for (const id of ids) {
    if (!wanted.has(id)) continue;
    if (id === 'native') {
      out.push({ id, dir: source });
      if (phase === '1') optionRecords.push({ subject: 'native', command: 'the backing directory itself', timeouts: '–', mount: undefined });
      continue;
    }
    const mp = join(base, `mnt-${phase}-${id.replace(/[^a-z0-9_-]/gi, '_')}`);
    mkdirSync(mp);
    names.set(mp, 'MOUNTPOINT');
    const launch = launchFor(id, tools, source, mp, t);
    if (typeof launch === 'string') { skipped.set(id, launch); continue; }
    try {
      const d = await startDaemon(launch.argv, mp, { ...(launch.cwd && { cwd: launch.cwd }), ...(launch.env && { env: launch.env }) });
      running.push(d);
      out.push({ id, dir: mp, daemon: d });
      optionRecords.push({ subject: `${id} (phase ${phase})`, command: redactCommand(launch.argv, names), timeouts: launch.timeouts, mount: d.mount() });
    } catch (e) {
      skipped.set(id, (e as Error).message);
      log(`  ${id}: ${(e as Error).message}`);
    }
  }
  return out;
}

async function stopAll(): Promise<void> {
  await Promise.all(running.splice(0).map((d) => d.stop().catch((e: unknown) => log(`stop: ${(e as Error).message}`))));
}

/** Populates the backing directory: /file, /dir (N entries), /many (lookup targets), /big, /sink (overwritten by the writes), /scratch/<id>. */
async function populate(source: string, lg: LoadGen): Promise<void> {
  writeFileSync(join(source, 'file'), Buffer.alloc(4096, 0x61));
  const entry = (i: number): string => `e${String(i).padStart(6, '0')}`;
  const file = (i: number): string => `f${i}`;
  for (const [dir, n, name] of [['dir', sizes.dirEntries, entry], ['many', sizes.lookupFiles, file], ['warm', sizes.warmFiles, file]] as const) {
    mkdirSync(join(source, dir));
    for (let i = 0; i < n; i++) closeSync(openSync(join(source, dir, name(i)), 'w'));
  }
  mkdirSync(join(source, 'scratch'));
  for (const id of [...ALL_SUBJECTS]) mkdirSync(join(source, 'scratch', id));
  await lg.run(['exec', 'dd', 'if=/dev/urandom', `of=${join(source, 'big')}`, 'bs=1M', `count=${sizes.bigMiB}`, 'status=none'], 300_000);
  await lg.run(['exec', 'dd', 'if=/dev/zero', `of=${join(source, SINK)}`, 'bs=1M', `count=${sizes.bigMiB}`, 'status=none'], 300_000);
  await runProcess('sync', [], 120_000);
}

/**
 * RSS idle; after a warm-up of `warmFiles` lookups, kept cached; with N more inodes cached; then after
 * lookupPasses × N lookups, each pass followed by forgets.
 *
 * Why the warm-up, and "bytes per cached inode" counted from it: a daemon's first requests cost memory
 * once, whatever the number of inodes. tsfuse's daemon on Node 26 gained 12.5 MiB over its first 1,000
 * lookups, then 315 bytes per inode from 2,000 to 18,000: V8 compiled the hot handlers (the compiler's
 * zones in its threads' malloc arenas, and the node binary's compiler code paged in: /proc/PID/smaps).
 * Counted from idle, the same run gave 1,060 bytes per inode at 18,000 files.
 */
async function memoryWorkload(lg: LoadGen, subj: Subject): Promise<void> {
  const d = subj.daemon!;
  const many = join(subj.dir, 'many');
  dropDentries();
  await new Promise((r) => setTimeout(r, 300));
  const idle = d.memory();
  await lg.run(['lookups', join(subj.dir, 'warm'), sizes.warmFiles], 600_000);
  await new Promise((r) => setTimeout(r, 200));
  const warmed = d.memory();
  const t0 = Date.now();
  let cached = warmed;
  for (let p = 0; p < sizes.lookupPasses; p++) {
    await lg.run(['lookups', many, sizes.lookupFiles], 600_000);
    if (p === 0) { await new Promise((r) => setTimeout(r, 200)); cached = d.memory(); }
    dropDentries();
  }
  const seconds = (Date.now() - t0) / 1000;
  await new Promise((r) => setTimeout(r, 1000));
  const m = d.memory();
  memory.set(subj.id, {
    idle: idle.rss, warmed: warmed.rss, cached: cached.rss, perInode: (cached.rss - warmed.rss) / sizes.lookupFiles, after: m.rss, peak: m.peak,
    lookups: sizes.lookupPasses * sizes.lookupFiles, seconds,
    privateIdle: idle.private, privatePerInode: (cached.private - warmed.private) / sizes.lookupFiles, privateAfter: m.private,
  });
}

function report(machine: string, sampler: LoadSampler, started: number, loadBefore: { bg: number; loadavg: number }): { text: string; noisy: boolean } {
  const info = workloadInfo(sizes);
  const verdict = judgeNoise(allBackground);
  const la = summarize(sampler.loadavg);
  const busy = summarize(sampler.busyCores);
  const lines: string[] = [];
  const p = (s = ''): void => { lines.push(s); };
  p(`## Run of ${new Date(started).toISOString()} (${MODE} mode: ${rounds} rounds, timed runs ${sizes.seconds} s, ${sizes.bigMiB} MiB files, ${((Date.now() - started) / 60000).toFixed(1)} min)`);
  p();
  p(`- Machine: ${machine}.`);
  p(`- Load before the run: ${loadBefore.bg.toFixed(2)} cores of other jobs, loadavg ${loadBefore.loadavg.toFixed(2)}.`);
  p(`- Load during the run: loadavg (1 min) median ${la.median.toFixed(2)} (${la.min.toFixed(2)}–${la.max.toFixed(2)}); whole-machine busy CPU (this run included) median ${busy.median.toFixed(2)} cores (max ${busy.max.toFixed(2)}); other jobs' CPU per measurement median ${verdict.medianCores.toFixed(2)} cores, max ${verdict.maxCores.toFixed(2)}, ${(verdict.disturbedShare * 100).toFixed(0)}% of ${verdict.measurements} measurements above 0.5 cores.`);
  p(verdict.noisy ? `- **NOISY RUN**: ${verdict.reasons.join('; ')}. Ratios within a round still compare like with like, but absolute figures and ranges are disturbed.` : '- Quiet run by the bench\'s own criteria (median other-job CPU ≤ 0.25 cores, ≤ 20% of measurements above 0.5).');
  if (skipped.size > 0) p(`- Not measured: ${[...skipped].map(([id, why]) => `${id} (${why})`).join('; ')}.`);
  p();
  p('### Mount options (exact command lines; the kernel\'s view from /proc/self/mountinfo)');
  p();
  p(optionsTable(optionRecords));
  p();
  if (FD_LIMIT.length > 0) {
    p(`Every daemon runs under \`${FD_LIMIT.join(' ')}\` (an open file per cached inode for passthrough_ll and tsfuse).`);
    p();
  }
  if (createFiles < CREATE_FILES) {
    p(`Each create run made at most ${createFiles.toLocaleString('en')} files: without drop_caches between rounds, every round's files stay cached until the unlinks, and must fit under the daemons' open-file limit of ${openFileLimit().toLocaleString('en')}.`);
    p();
  }
  const subjectsOf = (w: WorkloadId): string[] => [...(samples.get(w)?.keys() ?? [])];
  const phaseWorkloads = [...PHASE1_WORKLOADS, 'randReadAttr1' as const].filter((w) => samples.has(w));
  const cols = [...ALL_SUBJECTS].filter((id) => phaseWorkloads.some((w) => subjectsOf(w).includes(id)));
  p(`### Results: median (min–max) over ${rounds} rounds`);
  p();
  p(table(['workload', ...cols], phaseWorkloads.map((w) => [
    `${info[w].label} (${info[w].unit})`, ...cols.map((c) => valueCell(samples.get(w)?.get(c) ?? [])),
  ])));
  p();
  const anchors = ANCHORS.filter((a) => cols.includes(a));
  const ours = (w: WorkloadId) => samples.get(w)?.get('tsfuse') ?? [];
  p('### tsfuse ÷ each anchor, per round: median (min–max); above 1 means tsfuse is faster');
  p();
  const variants = TSFUSE_VARIANTS.filter(([id]) => cols.includes(id));
  p(table(['workload', ...anchors.map((a) => `÷ ${a}`), ...variants.map(([, label]) => label)], phaseWorkloads.map((w) => [
    info[w].label,
    ...anchors.map((a) => ratioCell(roundRatios(ours(w), samples.get(w)?.get(a) ?? []))),
    ...variants.map(([id]) => ratioCell(roundRatios(samples.get(w)?.get(id) ?? [], ours(w)))),
  ])));
  p();
  p('### Issue #8\'s targets: tsfuse\'s per-round ratios, median (min–max); "no" where the median misses');
  p();
  p(table([...TARGET_HEAD], targetRows(phaseWorkloads.map((w) => ({
    label: info[w].label, samples: samples.get(w) ?? new Map(), sequential: SEQUENTIAL_WORKLOADS.has(w),
  })))));
  const nullPair = samples.get('nullStat');
  if (nullPair?.has('tsfuse-null') && nullPair.has('libfuse-null')) {
    p();
    p(`The do-nothing daemon ÷ libfuse's, target ≥ ${NULL_TARGET}×: ${judged(roundRatios(nullPair.get('tsfuse-null')!, nullPair.get('libfuse-null')!), NULL_TARGET)}.`);
  }
  p();
  if (cols.includes('tsfuse-noxattr')) {
    const noXattrs = (w: WorkloadId) => samples.get(w)?.get('tsfuse-noxattr') ?? [];
    p('### tsfuse without xattrs (`xattrs: false`, as passthrough_ll by default) ÷ each anchor, per round');
    p();
    p(table(['workload', ...anchors.map((a) => `÷ ${a}`)], phaseWorkloads.map((w) => [
      info[w].label, ...anchors.map((a) => ratioCell(roundRatios(noXattrs(w), samples.get(w)?.get(a) ?? []))),
    ])));
    p();
  }
  const daemonCols = cols.filter((c) => c !== 'native');
  p('### Daemon CPU per unit of work (µs; median over rounds): user + system time of the daemon process, all threads');
  p();
  p(table(['workload', ...daemonCols], phaseWorkloads.map((w) => [
    `${info[w].label} (µs/${info[w].perWork})`,
    ...daemonCols.map((c) => {
      const xs = (samples.get(w)?.get(c) ?? []).map((s) => (s.daemonCpuUs ?? Number.NaN) / (s.work ?? Number.NaN));
      const m = summarize(xs).median;
      return Number.isFinite(m) ? (m >= 100 ? m.toFixed(0) : m.toFixed(1)) : '–';
    }),
  ])));
  p();
  const nul = samples.get('nullStat');
  if (nul && nul.size > 0) {
    p(`### Do-nothing daemons: ${info.nullStat.label}, single-threaded, ${rounds} rounds`);
    p();
    const cpuPer = (id: string) => summarize((nul.get(id) ?? []).map((s) => (s.daemonCpuUs ?? Number.NaN) / (s.work ?? Number.NaN))).median;
    p(table(['daemon', 'stats/s: median (min–max)', 'daemon CPU µs per stat', 'tsfuse-null ÷ this, per round'], [...nul.keys()].map((id) => [
      id, valueCell(nul.get(id)!), cpuPer(id).toFixed(2), id === 'tsfuse-null' ? '–' : ratioCell(roundRatios(nul.get('tsfuse-null') ?? [], nul.get(id)!)),
    ])));
    p();
  }
  if (memory.size > 0) {
    const mib = (b: number) => (b / 2 ** 20).toFixed(1);
    const first = [...memory.values()][0]!;
    p(`### Memory (phase 2 mounts, attr_timeout=1): ${first.lookups.toLocaleString('en')} lookups = ${sizes.lookupPasses} passes over ${sizes.lookupFiles.toLocaleString('en')} files, each pass followed by \`echo 2 > drop_caches\` (FORGETs); each lookup an fstatat(2) relative to the directory, one LOOKUP per file for every daemon (lookups/s includes the drop_caches); before them, a warm-up of ${sizes.warmFiles.toLocaleString('en')} lookups of other files, kept cached through the first pass`);
    if (sizes.lookupFiles < PRESETS[MODE]!.lookupFiles) {
      p();
      p(`(${PRESETS[MODE]!.lookupFiles.toLocaleString('en')} files in ${PRESETS[MODE]!.lookupPasses} passes would not fit under the daemons' open-file limit of ${openFileLimit().toLocaleString('en')}, which this machine does not let us raise: the same lookups in more passes over fewer files.)`);
    }
    p();
    p(`"Bytes per cached inode" is (RSS with the ${sizes.lookupFiles.toLocaleString('en')} cached − RSS after the warm-up) ÷ ${sizes.lookupFiles.toLocaleString('en')}: what each more inode costs, without what a daemon's first requests cost once (JIT compilation, code paged in).`);
    p();
    p('"Private" counts only the daemon\'s anonymous pages (RssAnon: heap, stacks, malloc arenas), not those of its program files (the node binary, libc, libfuse), which are page cache shared by every process that maps them: of a bare Node process\'s ~40 MiB of RSS, 6–8 MiB are private.');
    p();
    p(table(['daemon', 'RSS idle (MiB)', `RSS after the warm-up (${sizes.warmFiles.toLocaleString('en')} inodes)`, `RSS with ${sizes.lookupFiles.toLocaleString('en')} more inodes cached`, 'bytes per cached inode', 'RSS after all lookups + forgets', 'peak RSS, phase 2', 'peak RSS, phase 1 (all workloads)', 'private idle (MiB)', 'private bytes per cached inode', 'private after all lookups + forgets', 'lookups/s'], [...memory].map(([id, m]) => [
      id, mib(m.idle), mib(m.warmed), mib(m.cached), m.perInode.toFixed(0), mib(m.after), mib(m.peak), peakAfterPhase1.has(id) ? mib(peakAfterPhase1.get(id)!) : '–',
      mib(m.privateIdle), m.privatePerInode.toFixed(0), mib(m.privateAfter), si(m.lookups / m.seconds),
    ])));
    p();
  }
  return { text: lines.join('\n'), noisy: verdict.noisy };
}

async function main(): Promise<number> {
  const started = Date.now();
  if (process.geteuid?.() !== 0) { log('bench: needs root (mount(2), drop_caches)'); return 2; }
  const base = mkdtempSync(join(tmpdir(), 'tsfuse-bench-'));
  const source = join(base, 'src');
  mkdirSync(source);
  const names = new Map([[source, 'SOURCE']]);
  const sampler = new LoadSampler();
  const lg = buildLoadGen();
  let onSignal: (() => void) | undefined;
  let machine = '';
  let before = { bg: Number.NaN, loadavg: Number.NaN };
  try {
    log(`bench (${MODE}): building the daemons…`);
    const tools = buildTools(join(base, 'tools'), wanted, log, args['tsfuse-node'], args['passthrough-hp']);
    for (const [k, v] of tools.missing) if (wanted.has(k)) log(`  ${k}: ${v}`);
    if (tools.fuseNativeModules) names.set(tools.fuseNativeModules, 'TMP/fuse-native');
    names.set(tools.tsfuseDaemon, 'TMP/tsfuse-daemon.mjs');
    for (const x of [tools.goLoopback, tools.passthroughLl, tools.passthroughHp, tools.nullLl]) if (x) names.set(x, x.slice(x.lastIndexOf('/') + 1));
    names.set(process.execPath, 'node');
    names.set(fileURLToPath(new URL('..', import.meta.url)), '');
    log(`bench: populating ${source} (${sizes.bigMiB} MiB file, ${sizes.dirEntries} + ${sizes.lookupFiles} + ${sizes.warmFiles} files)…`);
    await populate(source, lg);

    machine = describeMachine(source, args['tsfuse-node']);
    before = { bg: preset.quietMs > 0 ? await waitForQuiet(QUIET_CORES, preset.quietMs, 500) : 0, loadavg: loadavg() };
    if (before.bg > QUIET_CORES && !args['allow-noisy']) {
      log(`bench: refused: other jobs use ${before.bg.toFixed(2)} cores of CPU (loadavg ${before.loadavg.toFixed(2)}) after waiting ${preset.quietMs / 1000} s; figures would be disturbed. Run again on a quiet machine, or pass --allow-noisy to run and flag it.`);
      return 3;
    }
    startedQuiet = preset.quietMs > 0 && before.bg <= QUIET_CORES;
    onSignal = () => { void stopAll().finally(() => { rmSync(base, { recursive: true, force: true }); process.exit(130); }); };
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
    sampler.start();

    // Phase 1: timeouts 0.
    log('phase 1: timeouts 0');
    const phase1 = await mountAll(ALL_SUBJECTS, tools, source, base, PHASE1, '1', names);
    const state = new Map<string, number>();
    // Warm-up, not recorded: the JITs (V8, and Go's runtime) and every daemon's caches settle before round 1.
    // The warm-up's unlinks wait with the others (below).
    const warm: Sizes = { ...sizes, seconds: Math.min(0.3, sizes.seconds) };
    // An ext4 without a journal (this machine's root) does not reuse an inode freed in the last 60 s, or
    // 360 s while its inode table block is dirty (fs/ext4/ialloc.c recently_deleted, called for each
    // candidate by find_inode_bit): after an earlier run's unlinks, this run's first creates stepped over
    // those inodes one by one, at a third of the later rounds' rate for every subject. recently_deleted()
    // only looks at inode table blocks still in the buffer cache, so a sync and a drop of the caches
    // before the warm-up clear that state (a loop of 20,000 creates right after 20,000 unlinks made
    // 2.0k–2.3k files/s, after sync and the drop 30k–39k). The warm-up then fills the caches again.
    if (dropAllowed) await dropCaches();
    if (MODE !== 'tiny') {
      for (const s of phase1) {
        for (const w of ['stat', 'readdir', 'create', 'randRead'] as const) {
          await runNamed(w, { id: s.id, dir: s.dir, native: s.daemon === undefined }, lg, warm, state);
        }
      }
    }
    for (let r = 0; r < rounds; r++) {
      for (const w of PHASE1_WORKLOADS) {
        if (w === 'unlink') continue;
        // Warm the backing file once, so "cached" reads it from the page cache in every subject.
        // Read into /dev/null by dd: the full mode's 1 GiB file once came back through a pipe into a
        // string here, past V8's string limit, and killed the run 9 minutes in.
        if (w === 'seqReadCached') await runProcess('dd', [`if=${join(source, 'big')}`, 'of=/dev/null', 'bs=1M', 'status=none'], 300_000);
        for (const s of rotate(phase1, r)) await measure(lg, w, s, r, state);
      }
      log(`  round ${r + 1}/${rounds}: ${PHASE1_WORKLOADS.filter((w) => w !== 'unlink').map((w) => `${w} ${si(samples.get(w)?.get('tsfuse')?.at(-1)?.value ?? Number.NaN)}`).join(', ')} (tsfuse)`);
    }
    // Unlinks only once every create has run. On an ext4 without a journal (this machine's root), a new
    // inode is not taken from those freed in the last 60 s (360 s while their inode table block is
    // dirty): fs/ext4/ialloc.c find_inode_bit skips them one by one through recently_deleted(), so after
    // a round of unlinks the next creates paid for the scan. perf of create loops (3,000 files, 2026-11-30):
    // recently_deleted, find_get_block_common, ext4_get_group_desc and find_inode_bit took 79 % of the
    // machine's samples natively (638 µs a file; 31–52 µs to open the same names again once they existed)
    // and 34–39 % through passthrough_ll or tsfuse. Per-round create ratios had swung 0.2–3.6×.
    if (PHASE1_WORKLOADS.includes('unlink')) {
      if (MODE !== 'tiny') for (const s of phase1) await runNamed('unlink', { id: s.id, dir: s.dir, native: s.daemon === undefined }, lg, warm, state);
      for (let r = 0; r < rounds; r++) for (const s of rotate(phase1, r)) await measure(lg, 'unlink', s, r, state);
      log(`  unlinks: ${si(samples.get('unlink')?.get('tsfuse')?.at(-1)?.value ?? Number.NaN)} (tsfuse, last round)`);
    }
    for (const s of phase1) if (s.daemon) peakAfterPhase1.set(s.id, processMemory(s.daemon.pid).peak);
    await stopAll();

    // The do-nothing pair.
    const nulls = await mountAll(NULL_SUBJECTS, tools, source, base, PHASE1, 'null', names);
    if (nulls.length > 0) {
      log('do-nothing daemons');
      for (let r = 0; r < rounds; r++) for (const s of rotate(nulls, r)) await measure(lg, 'nullStat', s, r, state);
    }
    await stopAll();

    // Phase 2: attr_timeout=1.
    log('phase 2: attr_timeout=1');
    const phase2 = await mountAll(ALL_SUBJECTS, tools, source, base, PHASE2, '2', names);
    if (memoryWanted) {
      for (const s of phase2) {
        if (!s.daemon || TSFUSE_VARIANTS.some(([id]) => id === s.id)) continue;
        log(`  memory: ${s.id}`);
        await memoryWorkload(lg, s);
      }
    }
    for (let r = 0; r < rounds; r++) for (const s of rotate(phase2, r)) await measure(lg, 'randReadAttr1', s, r, state);
    await stopAll();
  } catch (e) {
    // A request that failed inside a daemon is often explained only there (a handler's exception, a warning).
    for (const d of running) {
      const said = d.stderr().trim();
      if (said !== '') log(`bench: ${redactCommand(d.argv, names)} wrote to stderr (last ${STDERR_KEPT} characters kept):\n${said}`);
    }
    throw e;
  } finally {
    sampler.stop();
    await stopAll();
    if (onSignal) { process.off('SIGINT', onSignal); process.off('SIGTERM', onSignal); }
    lg.dispose();
    rmSync(base, { recursive: true, force: true });
  }
  const { text, noisy } = report(machine, sampler, started, before);
  process.stdout.write(`${text}\n`);
  if (args.out) writeFileSync(args.out, `${text}\n`);
  if (noisy && !args['allow-noisy']) {
    log('bench: the run was noisy (see the report); exit 4. Pass --allow-noisy to accept it.');
    return 4;
  }
  return 0;
}

process.exitCode = await main();
