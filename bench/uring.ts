// FUSE over io_uring (src/session/uring-transport.ts) against the epoll transport, in ONE interleaved run:
// each round mounts an epoll daemon and a uring daemon (order rotated every round), each serving
//   - the do-nothing stat tree (bench/lib/filesystems.ts statTree): stat(2) in a tight loop, one client;
//   - the workload filesystem's /big with direct_io: sequential 1 MiB reads (dd), and 4 KiB random preads
//     from 2 processes (so both CPUs' ring queues are used);
// and reports stat/s, read MB/s, 4 KiB reads/s, and the daemon's CPU per operation (user+sys of the daemon
// process, from its own process.cpuUsage(), divided by the requests it answered), with per-round ratios
// and /proc/loadavg. The daemons run under Node >= 26 (node:ffi), both transports under the same Node.
//
//   node --import tsx bench/uring.ts [--rounds 5] [--seconds 2] [--node26 PATH]   (root; $TSFUSE_NODE26)
//
// /sys/module/fuse/parameters/enable_uring is set to Y only while the uring daemon mounts, and put back
// (finally, SIGINT/SIGTERM/SIGHUP, exit).
import { fork, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const ENABLE = '/sys/module/fuse/parameters/enable_uring';
type Kind = 'epoll' | 'uring';
type Command = { cmd: 'cpu' } | { cmd: 'counts' } | { cmd: 'unmount' };

// ---- the daemon (runs under Node 26 with type stripping) --------------------------------------------

async function daemon(arg: string): Promise<void> {
  const { mount } = await import('../src/index.ts');
  const { statTree, workloadFs, totalCount } = await import('./lib/filesystems.ts');
  const { transport, statDir, readDir } = JSON.parse(arg) as { transport: Kind; statDir: string; readDir: string };
  const send = (m: unknown): void => { if (process.connected) process.send?.(m); };
  const stat = statTree();
  const work = workloadFs();
  let mounts: Awaited<ReturnType<typeof mount>>[];
  try {
    mounts = [
      await mount(statDir, stat.ops, { method: 'mount', watchdog: false, transport }),
      await mount(readDir, work.ops, { method: 'mount', watchdog: false, transport, options: 'direct_io,attr_timeout=1,entry_timeout=1' }),
    ];
  } catch (e) {
    send({ error: `${(e as { code?: string }).code ?? ''} ${(e as Error).message}` });
    process.exit(1);
  }
  send({ ready: true, transports: mounts.map((m) => m.transport), node: process.version });
  process.on('message', (raw) => {
    const c = raw as Command;
    if (c.cmd === 'cpu') { const u = process.cpuUsage(); send({ cpuUs: u.user + u.system }); }
    else if (c.cmd === 'counts') send({ stat: totalCount(stat.counts), read: work.counts['read'] ?? 0, bytes: work.bytes.read });
    else if (c.cmd === 'unmount') void Promise.all(mounts.map((m) => m.close())).then(() => { send({ unmounted: true }); process.exit(0); });
  });
}

// ---- the driver ---------------------------------------------------------------------------------------

interface Daemon { child: ChildProcess; ask(c: Command): Promise<Record<string, number>> }

function startDaemon(node26: string, kind: Kind, statDir: string, readDir: string): Promise<Daemon> {
  const child = fork(fileURLToPath(import.meta.url), ['--daemon', JSON.stringify({ transport: kind, statDir, readDir })], {
    execPath: node26, execArgv: ['--no-warnings'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const waiting: ((m: Record<string, number>) => void)[] = [];
  child.on('message', (m) => waiting.shift()?.(m as Record<string, number>));
  const next = (): Promise<Record<string, number | boolean | string>> => new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the ${kind} daemon did not answer`)), 30_000);
    waiting.push((m) => { clearTimeout(timer); resolve(m); });
  });
  return next().then((ready) => {
    if (ready['ready'] !== true) throw new Error(`the ${kind} daemon failed: ${String(ready['error'])}`);
    return { child, ask: (c) => { const r = next() as Promise<Record<string, number>>; child.send(c); return r; } };
  });
}

/** Sets enable_uring to Y until the returned function runs; signals and exit put it back too. */
function enableUring(): () => void {
  const old = readFileSync(ENABLE, 'latin1').trim() === 'Y' ? 'Y' : 'N';
  writeFileSync(ENABLE, 'Y');
  let done = false;
  const signals = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
  const restore = (): void => {
    if (done) return;
    done = true;
    try { writeFileSync(ENABLE, old); } catch { /* best effort */ }
    process.off('exit', restore);
    for (const s of signals) process.off(s, onSignal);
  };
  function onSignal(signal: NodeJS.Signals): void { restore(); process.kill(process.pid, signal); }
  process.once('exit', restore);
  for (const s of signals) process.once(s, onSignal);
  return restore;
}

interface RoundResult { statPerS: number; statCpuUs: number; readMBs: number; readCpuUsPerMiB: number; randPerS: number; randCpuUs: number }

async function measure(d: Daemon, statDir: string, readDir: string, seconds: number, run: (argv: readonly (string | number)[], cpu?: number) => Promise<{ values: number[]; wallNs: number }>): Promise<RoundResult> {
  const cpu = async (): Promise<number> => (await d.ask({ cmd: 'cpu' }))['cpuUs']!;
  const counts = (): Promise<Record<string, number>> => d.ask({ cmd: 'counts' });
  // stat: the C loadgen's tight stat(2) loop (warm-up excluded from its count; the daemon's CPU covers both).
  let c0 = await counts();
  let t0 = await cpu();
  const s = await run(['stat', join(statDir, 'file'), seconds, 0.3]);
  let t1 = await cpu();
  let c1 = await counts();
  const [statN = 0, statNs = 1] = s.values;
  const statPerS = statN / (statNs / 1e9);
  const statCpuUs = (t1 - t0) / Math.max(1, c1['stat']! - c0['stat']!);
  // Sequential 1 MiB reads through direct_io: one READ of 1 MiB each.
  c0 = await counts();
  t0 = await cpu();
  const dd = await run(['exec', 'dd', `if=${join(readDir, 'big')}`, 'of=/dev/null', 'bs=1M', 'count=512']);
  t1 = await cpu();
  c1 = await counts();
  const mib = (c1['bytes']! - c0['bytes']!) / (1 << 20);
  const readMBs = (mib * 1.048576) / (dd.values[1]! / 1e9);
  const readCpuUsPerMiB = (t1 - t0) / Math.max(1, mib);
  // 4 KiB random preads from 2 processes.
  c0 = await counts();
  t0 = await cpu();
  const r = await run(['randread', join(readDir, 'big'), seconds, 2, 1 << 30]);
  t1 = await cpu();
  c1 = await counts();
  const [randN = 0, randNs = 1] = r.values;
  const randPerS = randN / (randNs / 1e9);
  const randCpuUs = (t1 - t0) / Math.max(1, c1['read']! - c0['read']!);
  return { statPerS, statCpuUs, readMBs, readCpuUsPerMiB, randPerS, randCpuUs };
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: {
    rounds: { type: 'string', default: '5' },
    seconds: { type: 'string', default: '2' },
    node26: { type: 'string', default: process.env['TSFUSE_NODE26'] ?? (Number(process.versions.node.split('.')[0]) >= 26 ? process.execPath : '') },
  } });
  const rounds = Number(values.rounds);
  const seconds = Number(values.seconds);
  const node26 = values.node26;
  if (node26 === '') throw new Error('needs a Node >= 26 binary: --node26 PATH or $TSFUSE_NODE26');
  if (!existsSync(ENABLE)) throw new Error(`${ENABLE} is missing: the kernel has no FUSE over io_uring (Linux >= 6.14, CONFIG_FUSE_IO_URING)`);
  const { buildLoadGen } = await import('./lib/loadgen.ts');
  const { median } = await import('./lib/analysis.ts');
  const gen = buildLoadGen();
  const run = async (argv: readonly (string | number)[], cpu?: number) => gen.run(argv, 120_000, cpu);
  const loadBefore = readFileSync('/proc/loadavg', 'utf8').trim();
  const results: Record<Kind, RoundResult[]> = { epoll: [], uring: [] };
  const dirs: string[] = [];
  try {
    for (let round = 0; round < rounds; round++) {
      const order: Kind[] = round % 2 === 0 ? ['epoll', 'uring'] : ['uring', 'epoll'];
      for (const kind of order) {
        const statDir = mkdtempSync(join(tmpdir(), 'tsfuse-bench-uring-stat-'));
        const readDir = mkdtempSync(join(tmpdir(), 'tsfuse-bench-uring-read-'));
        dirs.push(statDir, readDir);
        const restore = kind === 'uring' ? enableUring() : () => {};
        let d: Daemon | undefined;
        try {
          d = await startDaemon(node26, kind, statDir, readDir);
          restore();
          const r = await measure(d, statDir, readDir, seconds, run);
          results[kind].push(r);
          process.stderr.write(`round ${round + 1} ${kind}: ${r.statPerS.toFixed(0)} stat/s ${r.statCpuUs.toFixed(1)} µs/stat, ` +
            `${r.readMBs.toFixed(0)} MB/s ${r.readCpuUsPerMiB.toFixed(0)} µs/MiB, ${r.randPerS.toFixed(0)} 4k-reads/s ${r.randCpuUs.toFixed(1)} µs/read\n`);
          await d.ask({ cmd: 'unmount' });
        } finally {
          restore();
          if (d !== undefined && d.child.exitCode === null) d.child.kill('SIGKILL');
        }
      }
    }
  } finally {
    gen.dispose();
    for (const dir of dirs) { try { rmdirSync(dir); } catch { /* still mounted: left for the operator */ } }
  }
  const loadAfter = readFileSync('/proc/loadavg', 'utf8').trim();
  const rows: [string, keyof RoundResult, number][] = [
    ['stat/s (do-nothing fs, 1 client)', 'statPerS', 0], ['daemon CPU µs per stat', 'statCpuUs', 1],
    ['seq read MB/s (1 MiB direct_io)', 'readMBs', 0], ['daemon CPU µs per MiB read', 'readCpuUsPerMiB', 0],
    ['4 KiB random reads/s (2 procs, direct_io)', 'randPerS', 0], ['daemon CPU µs per 4 KiB read', 'randCpuUs', 1],
  ];
  const lines = [
    `node ${node26} · ${rounds} rounds, ${seconds} s per timed workload · loadavg before ${loadBefore} · after ${loadAfter}`,
    '',
    '| metric | epoll (median) | uring (median) | uring ÷ epoll per round | median ratio |',
    '|---|---|---|---|---|',
  ];
  for (const [label, key, digits] of rows) {
    const e = results.epoll.map((r) => r[key]);
    const u = results.uring.map((r) => r[key]);
    const ratios = u.map((x, i) => x / e[i]!);
    lines.push(`| ${label} | ${median(e).toFixed(digits)} | ${median(u).toFixed(digits)} | ${ratios.map((x) => x.toFixed(2)).join(' ')} | ${median(ratios).toFixed(2)} |`);
  }
  process.stdout.write(`${lines.join('\n')}\n`);
}

if (process.argv[2] === '--daemon') await daemon(process.argv[3] ?? '{}');
else await main();
