import { mkdtempSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { buildLoadGen, pinSelf } from '../lib/loadgen.ts';
import { serve, type BenchTransport } from '../lib/serve.ts';
import { statTree, totalCount, resetCounts } from '../lib/filesystems.ts';
const kind = (process.argv[2] ?? 'epoll') as BenchTransport;
const pin = process.argv[3];
const lg = buildLoadGen();
const base = mkdtempSync('/tmp/tsfuse-bench-perf-'); const mp = join(base, 'mnt'); mkdirSync(mp);
if (pin) pinSelf(pin);
const { ops, counts } = statTree();
const s = await serve(kind, mp, ops);
try {
  resetCounts(counts);
  const perf = spawn('perf', ['stat', '-e', 'context-switches,cpu-migrations,task-clock', '-p', String(process.pid), '--', 'sleep', '1'], { stdio: ['ignore', 'inherit', 'inherit'] });
  const res = await lg.run(['stat', join(mp, 'file'), 1.2, 0.1], 60000, pin ? Number(pin) : undefined);
  await new Promise((r) => perf.on('close', r));
  const [n, ns] = res.values;
  console.log(kind, pin ?? 'free', 'stat/s', (n! / (ns! / 1e9)).toFixed(0), 'requests', totalCount(counts), 'cpu µs/req', (res.daemonCpuUs / totalCount(counts)).toFixed(1), 'bg', res.backgroundCores.toFixed(2));
} finally { await s.unmount(); lg.dispose(); }
