/**
 * Before/after for a change to the session core: stat(2) in a loop against the do-nothing daemon
 * (bench/daemons/tsfuse.ts null: bench/lib/filesystems.ts statTree) served by this tree and, optionally,
 * another checkout (e.g. a copy taken before the change), plus libfuse's do-nothing null_ll
 * (bench/c/null_ll.c) as the yardstick; all interleaved round by round in one run, the order rotated,
 * so machine noise hits them alike. Reports stats per second and the daemon's CPU per stat (utime +
 * stime from /proc, less sensitive to other load than throughput), with per-round ratios and loadavg.
 *
 *   node --import tsx bench/core-ab.ts [--before TREE] [--libfuse] [--node PATH] [--rounds 5] [--seconds 5]
 *
 * `--node` runs the tsfuse daemons under another node binary (e.g. Node 26). Timeouts are 0, so every
 * stat is a LOOKUP + GETATTR round trip through the kernel. `--cpu N` pins each daemon and the client to
 * CPU N (taskset): on a small VM whose other CPU idles, every reply otherwise wakes the client across
 * CPUs through the hypervisor, and that wake-up, not the daemon, sets the pace (this machine: libfuse's
 * null_ll at 11 k stat/s and 33 µs of CPU a stat across idle CPUs, 68 k/s and 7 µs sharing one).
 */
import { spawn, spawnSync, execFileSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { median } from './lib/analysis.ts';

const { values } = parseArgs({
  options: {
    before: { type: 'string' },
    libfuse: { type: 'boolean', default: false },
    node: { type: 'string', default: process.execPath },
    rounds: { type: 'string', default: '5' },
    seconds: { type: 'string', default: '5' },
    cpu: { type: 'string' },
  },
});
if (values.before !== undefined && !existsSync(join(values.before, 'bench/daemons/tsfuse.ts'))) {
  console.error('usage: node --import tsx bench/core-ab.ts [--before TREE] [--libfuse] [--node PATH] [--rounds N] [--seconds S]');
  process.exit(2);
}
const rounds = Number(values.rounds);
const seconds = Number(values.seconds);
const here = fileURLToPath(new URL('..', import.meta.url));
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

/** Each subject: how to start its daemon on a mountpoint (it prints "ready" once mounted). */
const subjects = new Map<string, { argv: string[]; cwd: string }>();
const pin = values.cpu !== undefined ? ['taskset', '-c', values.cpu] : [];
const tsfuse = (tree: string): { argv: string[]; cwd: string } => ({ argv: [...pin, values.node, '--import', 'tsx', join(tree, 'bench/daemons/tsfuse.ts'), 'null'], cwd: tree });
if (values.before !== undefined) subjects.set('before', tsfuse(resolve(values.before)));
subjects.set('after', tsfuse(here));
if (values.libfuse) {
  const flags = spawnSync('pkg-config', ['fuse3', '--cflags', '--libs'], { encoding: 'utf8' });
  if (flags.status !== 0) { console.error('--libfuse: pkg-config fuse3 failed (apt-get install -y libfuse3-dev)'); process.exit(2); }
  execFileSync('cc', ['-O2', '-o', join(work, 'null_ll'), join(here, 'bench/c/null_ll.c'), ...flags.stdout.trim().split(/\s+/)]);
  subjects.set('libfuse', { argv: [...pin, join(work, 'null_ll'), '-f', '-s'], cwd: work });
}
const names = [...subjects.keys()];

function cpuUs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1e6) / 100; // utime + stime, in clock ticks of 10 ms
}

interface Sample { rate: number; cpuPerStat: number }

async function measure(name: string): Promise<Sample> {
  const { argv, cwd } = subjects.get(name)!;
  const mnt = mkdtempSync(join(work, 'mnt-'));
  const child: ChildProcess = spawn(argv[0]!, [...argv.slice(1), mnt], { cwd, stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    await new Promise<void>((ok, fail) => {
      child.stdout!.on('data', (d: Buffer) => { if (d.toString().includes('ready')) ok(); });
      child.on('exit', () => fail(new Error(`daemon ${name} exited`)));
    });
    const stat = (s: string): string => execFileSync(pin[0] ?? client, [...pin.slice(1), ...(pin.length > 0 ? [client] : []), join(mnt, 'file'), s]).toString();
    stat('0.5'); // warm up (and let V8 optimize)
    const cpu0 = cpuUs(child.pid!);
    const n = Number(stat(String(seconds)));
    const cpu = cpuUs(child.pid!) - cpu0;
    return { rate: n / seconds, cpuPerStat: cpu / n };
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => { if (child.exitCode !== null || child.signalCode !== null) r(undefined); else child.once('exit', r); });
    spawnSync('umount', ['-l', mnt]);
    rmSync(mnt, { recursive: true, force: true });
  }
}

const results = new Map<string, Sample[]>(names.map((n) => [n, []]));
const load = [readFileSync('/proc/loadavg', 'utf8').trim()];
for (let r = 0; r < rounds; r++) {
  const order = [...names.slice(r % names.length), ...names.slice(0, r % names.length)];
  for (const name of order) results.get(name)!.push(await measure(name));
}
load.push(readFileSync('/proc/loadavg', 'utf8').trim());
const nodeVersion = spawnSync(values.node, ['--version'], { encoding: 'utf8' }).stdout.trim();
console.log(`tsfuse daemons on Node ${nodeVersion}${values.cpu !== undefined ? `, daemon and client on CPU ${values.cpu}` : ''}; ${values.before !== undefined ? `before = ${resolve(values.before)}, ` : ''}after = ${here}; ${rounds} rounds × ${seconds} s; loadavg ${load.join(' → ')}`);
for (const name of names) {
  const xs = results.get(name)!;
  const rates = xs.map((x) => x.rate);
  const cpus = xs.map((x) => x.cpuPerStat);
  console.log(`${name.padEnd(8)} stat/s median ${median(rates).toFixed(0)} (${Math.min(...rates).toFixed(0)}–${Math.max(...rates).toFixed(0)}), daemon CPU µs/stat median ${median(cpus).toFixed(2)} (${Math.min(...cpus).toFixed(2)}–${Math.max(...cpus).toFixed(2)})`);
}
for (let i = 0; i < names.length; i++) {
  for (let j = i + 1; j < names.length; j++) {
    const [a, b] = [names[j]!, names[i]!].sort((x, y) => (x === 'libfuse' ? 1 : y === 'libfuse' ? -1 : x === 'after' ? -1 : 1)) as [string, string];
    const ra = results.get(a)!, rb = results.get(b)!;
    const ratios = ra.map((x, k) => x.rate / rb[k]!.rate);
    const cpuRatios = ra.map((x, k) => x.cpuPerStat / rb[k]!.cpuPerStat);
    console.log(`${a} ÷ ${b} stat/s per round: ${ratios.map((x) => x.toFixed(2)).join(' ')}; median ${median(ratios).toFixed(2)}; CPU/stat ratio median ${median(cpuRatios).toFixed(2)}`);
  }
}
rmSync(work, { recursive: true, force: true });
