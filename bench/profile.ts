/**
 * A/B harness for the data path: daemon CPU time per operation of tsfuse variants, measured in one run,
 * interleaved round by round with the order rotated (the machines these run on are shared, so throughput
 * swings with other jobs; the daemon's own CPU per operation is what survives the noise).
 *
 *   node --import tsx bench/profile.ts [--variant NAME=TREE[,ENV=VALUE…]]… [--rounds N] [--seconds S]
 *        [--workloads nullStat,stat,readdir,seqRead,randRead,parallelRead] [--cpu-prof DIR] [--anchors]
 *
 * A variant is a tsfuse tree (this one by default: `new=.`; a baseline from `git archive HEAD | tar -x -C
 * /tmp/base` with node_modules linked in) plus environment variables for its daemons, so an experiment
 * behind an env switch and the committed code run side by side. `--anchors` adds libfuse's null_ll and
 * passthrough_ll. `--cpu-prof DIR` runs the tsfuse daemons under `node --cpu-prof` (profiles land in DIR
 * when they exit). Daemons are bench/daemons/tsfuse.ts of each tree, timeouts 0.
 *
 * randRead is buffered: as the job goes on, the mount's page cache holds more of the file and serves
 * repeated reads without a READ, and "per read" divides the daemon's CPU among reads it never saw. With
 * the defaults (64 MiB, 1 s) a fast daemon soon finds most of the file cached (3 s: 967k reads/s, the
 * daemon idle in 91 % of the profile's samples); give it `--big-mib 1024` and short runs for per-READ
 * figures. O_DIRECT would send every read to the daemon, but passthrough_ll then reads the disk (it
 * opens the backing file with the caller's flags) where tsfuse's passthrough does not (it strips
 * O_DIRECT), so the two would not do the same work.
 */
import { mkdirSync, mkdtempSync, openSync, closeSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { buildLoadGen, runProcess, type LoadGen } from './lib/loadgen.ts';
import { buildTools, startDaemon, type Running } from './lib/subjects.ts';
import { median } from './lib/analysis.ts';
import { parseFio } from './lib/workloads.ts';

const { values: args } = parseArgs({
  options: {
    variant: { type: 'string', multiple: true },
    rounds: { type: 'string', default: '3' },
    seconds: { type: 'string', default: '1' },
    workloads: { type: 'string', default: 'nullStat,stat,readdir,seqRead,randRead' },
    'cpu-prof': { type: 'string' },
    anchors: { type: 'boolean', default: false },
    'big-mib': { type: 'string', default: '64' },
    node: { type: 'string' },
  },
});

type WorkloadId = 'nullStat' | 'stat' | 'readdir' | 'seqRead' | 'randRead' | 'parallelRead';
const UNITS: Record<WorkloadId, string> = { nullStat: 'stat', stat: 'stat', readdir: 'entry', seqRead: 'MiB', randRead: 'read', parallelRead: 'MiB' };
const workloads = args.workloads.split(',') as WorkloadId[];
const rounds = Number(args.rounds);
const seconds = Number(args.seconds);
const bigMiB = Number(args['big-mib']);
const DIR_ENTRIES = 10_000;
const nodeBin = args.node ?? process.execPath;

interface Variant { readonly name: string; readonly tree: string; readonly env: Record<string, string>; readonly kind: 'tsfuse' | 'libfuse' }
const variants: Variant[] = (args.variant ?? ['new=.']).map((spec) => {
  const [head, ...envs] = spec.split(',');
  const [name, tree] = head!.split('=') as [string, string | undefined];
  return { name, tree: resolve(tree ?? '.'), env: Object.fromEntries(envs.map((e) => e.split('=') as [string, string])), kind: 'tsfuse' };
});
if (args.anchors) variants.push({ name: 'libfuse', tree: '', env: {}, kind: 'libfuse' });

const log = (s: string): void => { process.stderr.write(`${s}\n`); };

function daemonArgv(v: Variant, kind: 'null' | 'passthrough', source: string, mp: string, tools: { nullLl?: string; passthroughLl?: string }): string[] | undefined {
  if (v.kind === 'libfuse') {
    if (kind === 'null') return tools.nullLl ? [tools.nullLl, '-f', '-s', mp] : undefined;
    return tools.passthroughLl ? [tools.passthroughLl, '-f', '-o', `source=${source},timeout=0,cache=auto`, mp] : undefined;
  }
  const prof = args['cpu-prof'] !== undefined ? ['--cpu-prof', '--cpu-prof-interval=50', `--cpu-prof-dir=${resolve(args['cpu-prof'])}`, `--cpu-prof-name=${v.name}-${kind}-${Date.now()}.cpuprofile`] : [];
  const script = join(v.tree, 'bench/daemons/tsfuse.ts');
  return kind === 'null'
    ? [nodeBin, ...prof, '--import', 'tsx', script, 'null', mp]
    : [nodeBin, ...prof, '--import', 'tsx', script, 'passthrough', source, mp, '0', '0'];
}

async function runWork(lg: LoadGen, w: WorkloadId, dir: string): Promise<number> {
  const t = seconds * 1000 + 120_000;
  const common = ['--ioengine=psync', '--fallocate=none', '--output-format=json', '--invalidate=1'];
  switch (w) {
    case 'nullStat':
    case 'stat': return (await lg.run(['stat', join(dir, 'file'), seconds, 0.1], t)).values[0]!;
    case 'readdir': return (await lg.run(['readdir', join(dir, 'dir'), seconds, 0.1], t)).values[0]!;
    case 'seqRead': {
      const r = await lg.run(['exec', 'fio', '--name=read', '--rw=read', '--bs=1m', `--size=${bigMiB}m`, `--filename=${join(dir, 'big')}`, ...common], t);
      return parseFio(r.stderr).ioBytes / (1 << 20);
    }
    case 'randRead': {
      const r = await lg.run(['exec', 'fio', '--name=randread', '--rw=randread', '--bs=4k', `--size=${bigMiB}m`, '--numjobs=2', '--group_reporting',
        '--time_based', `--runtime=${Math.round(seconds * 1000)}ms`, '--norandommap', `--filename=${join(dir, 'big')}`, ...common], t);
      return parseFio(r.stderr).totalIos;
    }
    case 'parallelRead': {
      // 4 clients, each reading its own quarter sequentially in 128 KiB reads (aggregate MiB).
      const r = await lg.run(['exec', 'fio', '--name=par', '--rw=read', '--bs=128k', `--size=${bigMiB / 4}m`, '--numjobs=4', '--offset_increment=' + `${bigMiB / 4}m`,
        '--group_reporting', `--filename=${join(dir, 'big')}`, ...common], t);
      return parseFio(r.stderr).ioBytes / (1 << 20);
    }
  }
}

const base = mkdtempSync(join(tmpdir(), 'tsfuse-profile-'));
const source = join(base, 'source');
mkdirSync(source);
const lg = buildLoadGen();
const running: Running[] = [];
try {
  writeFileSync(join(source, 'file'), Buffer.alloc(4096, 0x61));
  mkdirSync(join(source, 'dir'));
  for (let i = 0; i < DIR_ENTRIES; i++) closeSync(openSync(join(source, 'dir', `e${String(i).padStart(6, '0')}`), 'w'));
  await lg.run(['exec', 'dd', 'if=/dev/urandom', `of=${join(source, 'big')}`, 'bs=1M', `count=${bigMiB}`, 'status=none'], 120_000);
  const tools = buildTools(base, new Set(args.anchors ? ['libfuse-null', 'passthrough_ll'] : []), log);

  // One daemon per (variant, kind), all mounted for the whole run.
  const mounts = new Map<string, { dir: string; d: Running }>();
  for (const v of variants) {
    for (const kind of ['null', 'passthrough'] as const) {
      if (kind === 'null' ? !workloads.includes('nullStat') : workloads.every((w) => w === 'nullStat')) continue;
      const mp = join(base, `mnt-${v.name}-${kind}`);
      mkdirSync(mp);
      const argv = daemonArgv(v, kind, source, mp, tools);
      if (argv === undefined) { log(`${v.name} ${kind}: not available`); continue; }
      const d = await startDaemon(argv, mp, { env: { ...process.env, ...v.env } });
      running.push(d);
      mounts.set(`${v.name}/${kind}`, { dir: mp, d });
    }
  }
  // µs of daemon CPU per unit, and units/s, per workload → variant → rounds.
  const cpu = new Map<string, number[]>();
  const rate = new Map<string, number[]>();
  for (let r = 0; r < rounds; r++) {
    for (const w of workloads) {
      const order = variants.map((_, i) => variants[(i + r) % variants.length]!);
      for (const v of order) {
        const m = mounts.get(`${v.name}/${w === 'nullStat' ? 'null' : 'passthrough'}`);
        if (m === undefined) continue;
        const c0 = m.d.cpuUs();
        const t0 = process.hrtime.bigint();
        const units = await runWork(lg, w, m.dir);
        const wallS = Number(process.hrtime.bigint() - t0) / 1e9;
        const us = (m.d.cpuUs() - c0) / units;
        const key = `${w}/${v.name}`;
        (cpu.get(key) ?? cpu.set(key, []).get(key)!).push(us);
        (rate.get(key) ?? rate.set(key, []).get(key)!).push(units / wallS);
        log(`round ${r} ${w} ${v.name}: ${us.toFixed(2)} µs/${UNITS[w]}`);
      }
    }
  }
  const first = variants[0]!.name;
  const lines = [`| workload | ${variants.map((v) => `${v.name} µs/unit`).join(' | ')} | ${variants.slice(1).map((v) => `${v.name} ÷ ${first} (CPU)`).join(' | ')} |`,
    `|---|${variants.map(() => '---:').join('|')}|${variants.slice(1).map(() => '---:').join('|')}|`];
  for (const w of workloads) {
    const cells = variants.map((v) => { const xs = cpu.get(`${w}/${v.name}`); return xs ? `${median(xs).toFixed(2)} (${Math.min(...xs).toFixed(1)}–${Math.max(...xs).toFixed(1)})` : '–'; });
    const ratios = variants.slice(1).map((v) => {
      const a = cpu.get(`${w}/${first}`); const b = cpu.get(`${w}/${v.name}`);
      return a && b ? `${median(b.map((x, i) => x / a[i]!)).toFixed(2)}×` : '–';
    });
    lines.push(`| ${w} (per ${UNITS[w]}) | ${cells.join(' | ')} | ${ratios.join(' | ')} |`);
  }
  lines.push('', `| workload | ${variants.map((v) => `${v.name} units/s`).join(' | ')} |`, `|---|${variants.map(() => '---:').join('|')}|`);
  for (const w of workloads) lines.push(`| ${w} | ${variants.map((v) => { const xs = rate.get(`${w}/${v.name}`); return xs ? Math.round(median(xs)).toString() : '–'; }).join(' | ')} |`);
  process.stdout.write(`${lines.join('\n')}\n`);
} finally {
  await Promise.all(running.map((d) => d.stop().catch(() => {})));
  lg.dispose();
  await runProcess('rm', ['-rf', base], 60_000).catch(() => rmSync(base, { recursive: true, force: true }));
}
