/**
 * What three implementation choices in src cost, each measured against a bench-only variant that
 * differs in that one choice (bench/lib/variants.ts). Daemon and client pinned to CPU 0, 3 interleaved
 * runs, median shown.
 *
 *   node --import tsx bench/experiments.ts [--runs 3]
 *
 *  1. Timeouts from `-o attr_timeout=0,entry_timeout=0` (src/ops/fs-options.ts wraps lookup/getattr in
 *     async functions) vs the same timeouts returned by the handlers themselves (no wrapper).
 *  2. 'epoll' copies every frame into a fresh Buffer (src/session/transport.ts) vs a view of the read
 *     buffer ('epoll-nocopy').
 *  3. 'worker' allocates a new max-size buffer (~1 MiB) per request vs one reused read buffer and a
 *     right-sized transferred copy ('worker-rightsized').
 */
import { mkdtempSync, mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildLoadGen, pinSelf, waitForQuiet, type LoadGen } from './lib/loadgen.ts';
import { serve, forceUnmount, isMounted, type Served } from './lib/serve.ts';
import { mountVariant } from './lib/variants.ts';
import { statTree, workloadFs, resetCounts, totalCount } from './lib/filesystems.ts';
import { median, si, fixed, table, log } from './lib/report.ts';

type Config = { name: string; transport: 'epoll' | 'worker' | 'epoll-nocopy' | 'worker-rightsized'; options?: string };
const CONFIGS: Config[] = [
  { name: 'epoll (src: small frames copied, large frames lent), timeouts returned by the handlers', transport: 'epoll' },
  { name: 'epoll, timeouts from -o attr_timeout=0,entry_timeout=0 (src wrapper)', transport: 'epoll', options: 'attr_timeout=0,entry_timeout=0' },
  { name: 'epoll-nocopy (frame = view of the read buffer)', transport: 'epoll-nocopy' },
  { name: 'worker (src: one reused read buffer, right-sized copy per frame)', transport: 'worker' },
  { name: 'worker-rightsized (reused read buffer, right-sized copy)', transport: 'worker-rightsized' },
];

interface Row { stat: number[]; statCpu: number[]; write: number[]; writeCpu: number[] }

function mountAny(c: Config, mp: string, ops: Parameters<typeof serve>[2], options?: string): Promise<Served> {
  return c.transport === 'epoll' || c.transport === 'worker' ? serve(c.transport, mp, ops, options) : mountVariant(c.transport, mp, ops, options);
}

async function trial(lg: LoadGen, c: Config, mp: string, row: Row): Promise<void> {
  await waitForQuiet(0.2, 2000);
  const st = statTree();
  let s: Served | undefined = await mountAny(c, mp, st.ops, c.options);
  try {
    resetCounts(st.counts);
    const r = await lg.run(['stat', join(mp, 'file'), 1, 0.2], 60_000, 0);
    row.stat.push(r.values[0]! / (r.values[1]! / 1e9));
    row.statCpu.push(r.daemonCpuUs / totalCount(st.counts));
  } finally {
    await s.unmount();
  }
  if (c.options) return; // the write path does not go through the wrapper
  const w = workloadFs();
  s = await mountAny(c, mp, w.ops);
  try {
    resetCounts(w.counts);
    const r = await lg.run(['exec', 'dd', 'if=/dev/zero', `of=${join(mp, 'sink')}`, 'bs=1M', 'count=1024'], 120_000, 0);
    const m = /(\d+) bytes.*copied, ([\d.]+) s/.exec(r.stderr);
    row.write.push(Number(m![1]) / (1 << 20) / Number(m![2]));
    row.writeCpu.push(r.daemonCpuUs / (w.counts['write'] ?? NaN));
  } finally {
    await s.unmount();
  }
}

async function main(): Promise<void> {
  const i = process.argv.indexOf('--runs');
  const runs = i >= 0 ? Number(process.argv[i + 1]) : 3;
  const lg = buildLoadGen();
  const base = mkdtempSync(join(tmpdir(), 'tsfuse-bench-exp-'));
  const mp = join(base, 'mnt');
  mkdirSync(mp);
  const rows = new Map(CONFIGS.map((c) => [c.name, { stat: [], statCpu: [], write: [], writeCpu: [] } as Row]));
  pinSelf('0');
  try {
    for (let r = 0; r < runs; r++) {
      for (const c of CONFIGS) {
        await trial(lg, c, mp, rows.get(c.name)!);
        const row = rows.get(c.name)!;
        log(`  run ${r + 1} ${c.name}: ${si(row.stat.at(-1)!)} stat/s, ${fixed(row.statCpu.at(-1)!, 1)} µs CPU/request` + (c.options ? '' : `, write ${fixed(row.write.at(-1)!, 0)} MiB/s, ${fixed(row.writeCpu.at(-1)!, 0)} µs CPU per 1 MiB WRITE`));
      }
    }
  } finally {
    pinSelf(undefined);
    if (isMounted(mp)) await forceUnmount(mp);
    rmSync(base, { recursive: true, force: true });
    lg.dispose();
  }
  console.log(`## Allocation experiments (daemon and client pinned to CPU 0, ${runs} interleaved runs, median; per-run values after the median)\n`);
  const per = (xs: number[], d: number) => xs.map((x) => fixed(x, d)).join(' / ');
  console.log(table(
    ['variant', 'stat/s', 'daemon CPU µs/request', 'write 1 GiB (MiB/s)', 'daemon CPU µs per 1 MiB WRITE'],
    CONFIGS.map((c) => {
      const r = rows.get(c.name)!;
      return [
        c.name,
        `${si(median(r.stat))} (${r.stat.map(si).join(' / ')})`,
        `${fixed(median(r.statCpu), 1)} (${per(r.statCpu, 1)})`,
        r.write.length ? `${fixed(median(r.write), 0)} (${per(r.write, 0)})` : '–',
        r.writeCpu.length ? `${fixed(median(r.writeCpu), 0)} (${per(r.writeCpu, 0)})` : '–',
      ];
    }),
  ));
}

await main();
