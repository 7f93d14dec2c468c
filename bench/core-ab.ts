/**
 * Before/after for a change to the session core: the same stat(2) loop against the same tiny filesystem
 * served by two source trees (this one and another checkout, e.g. `git worktree add /tmp/old <rev>`),
 * interleaved round by round in one run, so machine noise hits both alike. Reports stats per second and
 * the daemon's CPU per stat (utime + stime from /proc, less sensitive to other load than throughput).
 *
 *   node --import tsx bench/core-ab.ts /tmp/old [--rounds 5] [--seconds 5]
 *
 * Timeouts are 0, so every stat is a LOOKUP + GETATTR round trip through the kernel.
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { median } from './lib/analysis.ts';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { rounds: { type: 'string', default: '5' }, seconds: { type: 'string', default: '5' } },
});
const other = positionals[0];
if (other === undefined || !existsSync(join(other, 'src/index.ts'))) {
  console.error('usage: node --import tsx bench/core-ab.ts OTHER_TREE [--rounds N] [--seconds S]');
  process.exit(2);
}
const rounds = Number(values.rounds);
const seconds = Number(values.seconds);
const trees = { before: resolve(other), after: fileURLToPath(new URL('..', import.meta.url)) };
const work = mkdtempSync(join(tmpdir(), 'tsfuse-core-ab-'));

// The client: stat(2) in a loop for `seconds`, printing the count.
const client = join(work, 'statloop');
writeFileSync(`${client}.c`, `#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + t.tv_nsec / 1e9; }
int main(int argc, char **argv) {
  struct stat st; double end = now() + atof(argv[2]); long n = 0;
  while (now() < end) { for (int i = 0; i < 64; i++) if (stat(argv[1], &st) != 0) { perror("stat"); return 1; } n += 64; }
  printf("%ld\\n", n); return 0;
}
`);
execFileSync('cc', ['-O2', '-o', client, `${client}.c`]);

// The daemon: the same two-node filesystem on either tree's public low-level API.
const daemon = join(work, 'daemon.mts');
writeFileSync(daemon, `const { mount } = await import(process.argv[2]);
const ops = {
  lookup: () => ({ ino: 2, entryTimeout: 0, attrTimeout: 0, attr: { mode: 0o100644, size: 5 } }),
  getattr: ({ ino }) => ({ attr: ino === 1 ? { mode: 0o040755, nlink: 2 } : { mode: 0o100644, size: 5 }, timeout: 0 }),
};
const m = await mount(process.argv[3], ops, { options: 'attr_timeout=0,entry_timeout=0' });
process.stdout.write('ready\\n');
process.on('SIGTERM', () => { m.unmount().catch(() => m.unmount({ lazy: true })); });
await m.closed;
`);

function cpuUs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1e6) / 100; // utime + stime, in clock ticks of 10 ms
}

async function measure(tree: string): Promise<{ rate: number; cpuPerStat: number }> {
  const mnt = mkdtempSync(join(work, 'mnt-'));
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', daemon, pathToFileURL(join(tree, 'src/index.ts')).href, mnt], {
    cwd: tree, stdio: ['ignore', 'pipe', 'inherit'],
  });
  try {
    await new Promise<void>((ok, fail) => {
      child.stdout!.on('data', (d: Buffer) => { if (d.toString().includes('ready')) ok(); });
      child.on('exit', () => fail(new Error(`daemon for ${tree} exited`)));
    });
    execFileSync(client, [join(mnt, 'f'), '0.5']); // warm up
    const cpu0 = cpuUs(child.pid!);
    const n = Number(execFileSync(client, [join(mnt, 'f'), String(seconds)]).toString());
    const cpu = cpuUs(child.pid!) - cpu0;
    return { rate: n / seconds, cpuPerStat: cpu / n };
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
    rmSync(mnt, { recursive: true, force: true });
  }
}

const results: Record<'before' | 'after', { rate: number; cpuPerStat: number }[]> = { before: [], after: [] };
const load = [readFileSync('/proc/loadavg', 'utf8').trim()];
for (let r = 0; r < rounds; r++) {
  const order = r % 2 === 0 ? (['before', 'after'] as const) : (['after', 'before'] as const);
  for (const which of order) results[which].push(await measure(trees[which]));
}
load.push(readFileSync('/proc/loadavg', 'utf8').trim());
console.log(`trees: before ${trees.before}, after ${trees.after}; ${rounds} rounds × ${seconds} s; loadavg ${load.join(' → ')}`);
for (const which of ['before', 'after'] as const) {
  const rates = results[which].map((x) => x.rate);
  console.log(`${which.padEnd(6)}  stat/s median ${median(rates).toFixed(0)} (${Math.min(...rates).toFixed(0)}–${Math.max(...rates).toFixed(0)}), daemon CPU µs/stat median ${median(results[which].map((x) => x.cpuPerStat)).toFixed(1)}`);
}
const ratios = results.after.map((a, i) => a.rate / results.before[i]!.rate);
console.log(`after ÷ before, per round: ${ratios.map((x) => x.toFixed(2)).join(' ')}; median ${median(ratios).toFixed(2)}`);
rmSync(work, { recursive: true, force: true });
