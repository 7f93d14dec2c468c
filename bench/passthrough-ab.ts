/**
 * A/B harness for the passthrough's metadata operations (issue #8): daemon CPU per operation of
 * src/passthrough variants next to libfuse's passthrough_ll, bindfs and go-fuse, in one run, interleaved
 * round by round with the order rotated (the machine is shared: the daemon's own CPU per operation is
 * what survives the noise; throughput only compares within a round).
 *
 *   node --import tsx bench/passthrough-ab.ts [--variant NAME=PASSTHROUGH_DIR|CHECKOUT]… [--anchors passthrough_ll,bindfs,go-fuse]
 *        [--rounds N] [--seconds S] [--workloads stat,readdir,create,unlink] [--node BIN] [--cpu-prof DIR]
 *        [--daemon-args NAME=ARGS]…
 *
 * Each variant is this tree with src/passthrough replaced by PASSTHROUGH_DIR (a copy of the directory
 * taken before a change, say), built in a temp dir; the rest of src/ is this tree's, so only the
 * passthrough differs. A PASSTHROUGH_DIR that holds src/passthrough is a whole checkout instead (`git
 * archive REV src | tar -x -C DIR`): its src/ replaces this tree's, for a change to the session core.
 * Default: `new=src/passthrough`. tsfuse daemons run bench/daemons/tsfuse.ts under
 * `--node` (default: this Node), timeouts 0. Workloads: stat of one file (LOOKUP + GETATTR each, timeouts
 * 0), a 10,000-entry readdir (per entry), create + 4 KiB write + close (per file), unlink of those files
 * (every round's, after every round's creates and a sync). `--daemon-args NAME=ARGS` appends ARGS
 * (space-separated) to variant NAME's daemon command line: two variants of one tree that differ in a
 * daemon option (`--variant a=src/passthrough --variant b=src/passthrough --daemon-args
 * b=--growing-young-generation`).
 */
import { cpSync, existsSync, mkdirSync, mkdtempSync, openSync, closeSync, rmSync, symlinkSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { buildLoadGen, runProcess, type LoadGen } from './lib/loadgen.ts';
import { buildTools, filesPerCreateRun, launchFor, openFileLimit, startDaemon, type Running, type SubjectId } from './lib/subjects.ts';
import { median } from './lib/analysis.ts';

const { values: args } = parseArgs({
  options: {
    variant: { type: 'string', multiple: true },
    anchors: { type: 'string', default: 'passthrough_ll,bindfs' },
    rounds: { type: 'string', default: '3' },
    seconds: { type: 'string', default: '1' },
    workloads: { type: 'string', default: 'stat,readdir,create,unlink' },
    node: { type: 'string' },
    'cpu-prof': { type: 'string' },
    'daemon-args': { type: 'string', multiple: true },
  },
});

type WorkloadId = 'stat' | 'readdir' | 'create' | 'unlink';
const UNITS: Record<WorkloadId, string> = { stat: 'stat', readdir: 'entry', create: 'file', unlink: 'file' };
const workloads = args.workloads.split(',') as WorkloadId[];
const rounds = Number(args.rounds);
const seconds = Number(args.seconds);
const nodeBin = args.node ?? process.execPath;
const DIR_ENTRIES = 10_000;
const REPO = resolve(import.meta.dirname, '..');
const log = (s: string): void => { process.stderr.write(`${s}\n`); };

interface Subject { readonly name: string; readonly argv: (source: string, mp: string) => string[] }

/** `--daemon-args NAME=ARGS`: more arguments for a variant's daemon, by variant name. */
const daemonArgs = new Map<string, string[]>();
for (const spec of args['daemon-args'] ?? []) {
  const eq = spec.indexOf('=');
  if (eq <= 0) throw new Error(`--daemon-args takes NAME=ARGS, not ${JSON.stringify(spec)}`);
  daemonArgs.set(spec.slice(0, eq), spec.slice(eq + 1).split(' ').filter((a) => a !== ''));
}

const base = mkdtempSync(join(tmpdir(), 'tsfuse-pt-ab-'));
const subjects: Subject[] = [];
for (const spec of args.variant ?? ['new=src/passthrough']) {
  const [name, dir] = spec.split('=') as [string, string | undefined];
  // This tree, with the variant's src/passthrough.
  const tree = join(base, `tree-${name}`);
  mkdirSync(tree);
  for (const p of ['src', 'bench/daemons', 'bench/lib', 'package.json', 'tsconfig.json']) cpSync(join(REPO, p), join(tree, p), { recursive: true });
  // A directory holding src/passthrough is a whole tree (a checkout): its src/ replaces this one's.
  const whole = dir !== undefined && existsSync(join(resolve(dir), 'src/passthrough'));
  const replaced = whole ? 'src' : 'src/passthrough';
  rmSync(join(tree, replaced), { recursive: true });
  cpSync(whole ? join(resolve(dir), 'src') : resolve(dir ?? 'src/passthrough'), join(tree, replaced), { recursive: true });
  symlinkSync(join(REPO, 'node_modules'), join(tree, 'node_modules'));
  const prof = (kind: string): string[] => args['cpu-prof'] === undefined ? []
    : ['--cpu-prof', '--cpu-prof-interval=50', `--cpu-prof-dir=${resolve(args['cpu-prof'])}`, `--cpu-prof-name=${name}-${kind}-${Date.now()}.cpuprofile`];
  subjects.push({ name, argv: (source, mp) => [nodeBin, ...prof('passthrough'), '--import', 'tsx', join(tree, 'bench/daemons/tsfuse.ts'), 'passthrough', source, mp, '0', '0', ...(daemonArgs.get(name) ?? [])] });
}
for (const name of daemonArgs.keys()) if (!subjects.some((s) => s.name === name)) throw new Error(`--daemon-args names no variant: ${name}`);
const anchors = args.anchors === '' ? [] : args.anchors.split(',') as SubjectId[];

const lg: LoadGen = buildLoadGen();
const running: Running[] = [];
try {
  const source = join(base, 'source');
  mkdirSync(source);
  writeFileSync(join(source, 'file'), Buffer.alloc(4096, 0x61));
  mkdirSync(join(source, 'dir'));
  for (let i = 0; i < DIR_ENTRIES; i++) closeSync(openSync(join(source, 'dir', `e${String(i).padStart(6, '0')}`), 'w'));
  const tools = buildTools(base, new Set(anchors), log, nodeBin);
  for (const a of anchors) {
    const launch = launchFor(a, tools, '', '', { entry: 0, attr: 0 });
    if (typeof launch === 'string') { log(`${a}: not available (${launch})`); continue; }
    subjects.push({ name: a, argv: (src, mp) => [...(launchFor(a, tools, src, mp, { entry: 0, attr: 0 }) as unknown as { argv: string[] }).argv] });
  }
  const mounts = new Map<string, { dir: string; d: Running }>();
  for (const s of subjects) {
    const mp = join(base, `mnt-${s.name}`);
    mkdirSync(mp);
    const d = await startDaemon(s.argv(source, mp), mp);
    running.push(d);
    mounts.set(s.name, { dir: mp, d });
  }
  const load = readFileSync('/proc/loadavg', 'utf8').trim();
  const cpu = new Map<string, number[]>();
  const rate = new Map<string, number[]>();
  const push = (m: Map<string, number[]>, k: string, v: number): void => { (m.get(k) ?? m.set(k, []).get(k)!).push(v); };
  // Every round's unlinks after every round's creates: a create soon after unlinks pays ext4's scan past
  // the inodes they freed (bench/run.ts says more).
  const schedule = [
    ...Array.from({ length: rounds }, (_, r) => ({ r, ws: workloads.filter((w) => w !== 'unlink') })),
    ...(workloads.includes('unlink') ? Array.from({ length: rounds }, (_, r) => ({ r, ws: ['unlink' as const] })) : []),
  ];
  // Every file a round creates stays cached, and with it a descriptor in passthrough_ll and tsfuse, until
  // the unlinks: all rounds' files must fit under the daemons' open-file limit (which this machine may not
  // let us raise: bench/lib/subjects.ts FD_LIMIT). Past it, creates fail with EMFILE.
  const createCap = Math.min(100_000, filesPerCreateRun(rounds));
  if (workloads.includes('create') && createCap < 100_000) log(`create: at most ${createCap} files per round (${rounds} rounds under an open-file limit of ${openFileLimit()})`);
  let synced = false;
  for (const { r, ws } of schedule) {
    // The files are written back before they are unlinked, as in bench/run.ts (whose other workloads run
    // in between): removing a file whose blocks are allocated costs more than one still in delalloc.
    if (ws[0] === 'unlink' && !synced) { await runProcess('sync', [], 120_000); synced = true; }
    const order = subjects.map((_, i) => subjects[(i + r) % subjects.length]!);
    for (const w of ws) {
      for (const s of order) {
        const m = mounts.get(s.name)!;
        const scratch = `scratch-${s.name}-${r}`;
        if (w === 'create') mkdirSync(join(source, scratch));
        const c0 = m.d.cpuUs();
        const t0 = process.hrtime.bigint();
        const t = seconds * 1000 + 120_000;
        let units: number;
        if (w === 'stat') units = (await lg.run(['stat', join(m.dir, 'file'), seconds, 0.1], t)).values[0]!;
        else if (w === 'readdir') units = (await lg.run(['readdir', join(m.dir, 'dir'), seconds, 0.1], t)).values[0]!;
        else if (w === 'create') units = (await lg.run(['create', join(m.dir, scratch), seconds, createCap], t)).values[0]!;
        else {
          const made = readFileSync(join(base, `made-${s.name}-${r}`), 'utf8');
          units = (await lg.run(['unlink', join(m.dir, scratch), Number(made)], t)).values[0]!;
        }
        const wallS = Number(process.hrtime.bigint() - t0) / 1e9;
        if (w === 'create') writeFileSync(join(base, `made-${s.name}-${r}`), String(units));
        const us = (m.d.cpuUs() - c0) / units;
        push(cpu, `${w}/${s.name}`, us);
        push(rate, `${w}/${s.name}`, units / wallS);
        log(`round ${r} ${w} ${s.name}: ${us.toFixed(2)} µs/${UNITS[w]}, ${Math.round(units / wallS)}/s`);
      }
    }
  }
  const first = subjects[0]!.name;
  const names = subjects.map((s) => s.name);
  const lines = [`loadavg at start: ${load}; end: ${readFileSync('/proc/loadavg', 'utf8').trim()}; daemon node: ${nodeBin}`, '',
    'Daemon CPU µs per unit, median (min–max) of the rounds; ratio = median of per-round ratios to the first subject.', '',
    `| workload | ${names.map((n) => `${n}`).join(' | ')} | ${names.slice(1).map((n) => `${n} ÷ ${first}`).join(' | ')} |`,
    `|---|${names.map(() => '---:').join('|')}|${names.slice(1).map(() => '---:').join('|')}|`];
  for (const w of workloads) {
    const cells = names.map((n) => { const xs = cpu.get(`${w}/${n}`); return xs ? `${median(xs).toFixed(2)} (${Math.min(...xs).toFixed(1)}–${Math.max(...xs).toFixed(1)})` : '–'; });
    const ratios = names.slice(1).map((n) => {
      const a = cpu.get(`${w}/${first}`); const b = cpu.get(`${w}/${n}`);
      return a && b ? `${median(b.map((x, i) => x / a[i]!)).toFixed(2)}×` : '–';
    });
    lines.push(`| ${w} (per ${UNITS[w]}) | ${cells.join(' | ')} | ${ratios.join(' | ')} |`);
  }
  lines.push('', 'Throughput, units/s, median; ratio = median of per-round ratios to the first subject.', '',
    `| workload | ${names.join(' | ')} | ${names.slice(1).map((n) => `${n} ÷ ${first}`).join(' | ')} |`,
    `|---|${names.map(() => '---:').join('|')}|${names.slice(1).map(() => '---:').join('|')}|`);
  for (const w of workloads) {
    const cells = names.map((n) => { const xs = rate.get(`${w}/${n}`); return xs ? Math.round(median(xs)).toString() : '–'; });
    const ratios = names.slice(1).map((n) => {
      const a = rate.get(`${w}/${first}`); const b = rate.get(`${w}/${n}`);
      return a && b ? `${median(b.map((x, i) => x / a[i]!)).toFixed(2)}×` : '–';
    });
    lines.push(`| ${w} | ${cells.join(' | ')} | ${ratios.join(' | ')} |`);
  }
  process.stdout.write(`${lines.join('\n')}\n`);
} finally {
  await Promise.all(running.map((d) => d.stop().catch(() => {})));
  lg.dispose();
  await runProcess('rm', ['-rf', base], 60_000).catch(() => rmSync(base, { recursive: true, force: true }));
}
