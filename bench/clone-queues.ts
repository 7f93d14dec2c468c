/**
 * One queue against clone queues (`-o clone_fd`, src/session/clone-queues.ts) on the shipped passthrough,
 * with 4 parallel clients. Needs Node >= 26 (node:ffi) and root.
 *
 *   node26 --import tsx bench/clone-queues.ts [--workers N] [--seconds 2] [--rounds 5] [--busy-poll µs] [--before DIR]
 *
 * Serves the passthrough (kernel passthrough off, so READs reach the daemon) from this process twice,
 * through mount(): A with no options (one queue, the epoll transport), B with `clone_fd` (and
 * `max_threads=N` when --workers is given; else one worker per CPU). Workloads, 4 clients each: stat
 * loops, sequential 128 KiB reads (fio, 4 jobs), random 4 KiB reads (fio, 4 jobs, page cache bypassed by
 * direct_io on both mounts so that every read reaches the daemon). Rounds interleave A and B with the
 * order rotated; prints medians of throughput and of this process's CPU per unit (user+sys, all threads),
 * the per-round B/A ratios, and /proc/loadavg before and after. `--before DIR` adds C: B's options
 * served by the passthrough of another checkout (DIR/src), to measure a change of the clone queues
 * themselves in the same run.
 */
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { servePassthrough } from '../src/passthrough/index.ts';
import type { FuseMount } from '../src/index.ts';
import { buildLoadGen, runProcess } from './lib/loadgen.ts';
import { FOUR_CLIENT_UNITS, FOUR_CLIENT_WORKLOADS, fourClients } from './lib/four-clients.ts';
import { median } from './lib/analysis.ts';

const { values: args } = parseArgs({
  options: {
    workers: { type: 'string' },
    seconds: { type: 'string', default: '2' },
    rounds: { type: 'string', default: '5' },
    'busy-poll': { type: 'string' },
    before: { type: 'string' },
  },
});
const SECONDS = Number(args.seconds);
const ROUNDS = Number(args.rounds);
const loadavg = (): string => readFileSync('/proc/loadavg', 'utf8').trim();

const base = mkdtempSync(join(tmpdir(), 'tsfuse-clone-'));
const source = join(base, 'source');
mkdirSync(source);
writeFileSync(join(source, 'file'), Buffer.alloc(4096, 1));
const lg = buildLoadGen();
await lg.run(['exec', 'dd', 'if=/dev/urandom', `of=${join(source, 'big')}`, 'bs=1M', 'count=256', 'status=none'], 120_000);
mkdirSync(join(base, 'a'));
mkdirSync(join(base, 'b'));
const passthrough = { entryTimeout: 0, attrTimeout: 0, kernelPassthrough: false } as const;
/** --busy-poll µs: the main thread's busy polling on both mounts (default: the library's). */
const busyPoll = args['busy-poll'] === undefined ? {} : { busyPoll: Number(args['busy-poll']) };
const cloneOptions = args.workers === undefined ? 'clone_fd' : `clone_fd,max_threads=${args.workers}`;
const mounts: FuseMount[] = [
  await servePassthrough(source, join(base, 'a'), { passthrough, mount: { method: 'mount', watchdog: false, options: 'direct_io', ...busyPoll } }),
  await servePassthrough(source, join(base, 'b'), { passthrough, mount: { method: 'mount', watchdog: false, options: `direct_io,${cloneOptions}`, ...busyPoll } }),
];
const names = [`1 queue`, `${mounts[1]!.queues} queues (${cloneOptions})`];
if (args.before !== undefined) {
  mkdirSync(join(base, 'c'));
  const before = (await import(join(args.before, 'src/passthrough/index.ts'))) as { servePassthrough: typeof servePassthrough };
  mounts.push(await before.servePassthrough(source, join(base, 'c'), { passthrough, mount: { method: 'mount', watchdog: false, options: `direct_io,${cloneOptions}`, ...busyPoll } }));
  names.push(`${args.before}: ${mounts[2]!.queues} queues`);
}
if (mounts[1]!.queues === 1) process.stderr.write('mount B has one queue: clone queues need Node >= 26 (node:ffi)\n');
const results = new Map<string, { rate: number[]; cpu: number[] }>();

const loadBefore = loadavg();
try {
  for (let round = 0; round < ROUNDS; round++) {
    for (const w of FOUR_CLIENT_WORKLOADS) {
      for (let i = 0; i < mounts.length; i++) {
        const k = (i + round) % mounts.length;
        const c0 = process.cpuUsage();
        const t0 = process.hrtime.bigint();
        const units = await fourClients(lg, w, mounts[k]!.mountpoint, SECONDS);
        const wall = Number(process.hrtime.bigint() - t0) / 1e9;
        const c = process.cpuUsage(c0);
        const e = results.get(`${w}/${k}`) ?? { rate: [], cpu: [] };
        e.rate.push(units / wall);
        e.cpu.push((c.user + c.system) / units);
        results.set(`${w}/${k}`, e);
      }
    }
  }
  // Each mount after A: its rate and CPU, and its per-round ratios to A (B/A, then C/A).
  const others = names.slice(1);
  const lines = [
    `| 4 clients | ${names[0]}: rate, µs CPU/unit | ${others.map((n, i) => `${n}: rate, µs CPU/unit | ratio ${'BC'[i]}/A (median of per-round) | per-round ratios | CPU/unit ${'BC'[i]}/A`).join(' | ')} |`,
    `| --- | ---: | ${others.map(() => '---: | ---: | --- | ---:').join(' | ')} |`,
  ];
  for (const w of FOUR_CLIENT_WORKLOADS) {
    const a = results.get(`${w}/0`)!;
    const cells = others.map((_, i) => {
      const b = results.get(`${w}/${i + 1}`)!;
      const ratios = b.rate.map((x, r) => x / a.rate[r]!);
      return `${Math.round(median(b.rate))}, ${median(b.cpu).toFixed(1)} | ${median(ratios).toFixed(2)}× | ${ratios.map((r) => r.toFixed(2)).join(' ')} | ${(median(b.cpu) / median(a.cpu)).toFixed(2)}`;
    });
    lines.push(`| ${w} (${FOUR_CLIENT_UNITS[w]}) | ${Math.round(median(a.rate))}, ${median(a.cpu).toFixed(1)} | ${cells.join(' | ')} |`);
  }
  process.stdout.write(`${process.version}, ${ROUNDS} rounds of ${SECONDS} s; loadavg before ${loadBefore}, after ${loadavg()}\n${lines.join('\n')}\n`);
} finally {
  for (const m of mounts) await m.close().catch(() => {});
  lg.dispose();
  await runProcess('rm', ['-rf', base], 60_000).catch(() => {});
  process.exit(0);
}
