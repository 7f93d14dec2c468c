/**
 * Where the daemon runs relative to its client decides a stat loop's speed on a small VM: tsfuse's
 * passthrough and libfuse's passthrough_ll, one client stat(2)-ing one file in a loop (timeouts 0: a
 * LOOKUP and a GETATTR per stat), with each daemon
 *   - free (the scheduler places it and its threads),
 *   - pinned to the client's CPU (taskset, every thread),
 *   - pinned to the other CPU,
 * the client always on CPU 0. All six in one run, interleaved round by round with the order rotated.
 * Needs root, 2+ CPUs, cc and libfuse3-dev (passthrough_ll.c).
 *
 *   node --import tsx bench/placement.ts [--rounds 5] [--seconds 1] [--tsfuse-node PATH]
 *
 * Why: passthrough_ll is multi-threaded, and when one of its threads runs on the client's CPU, the reply
 * wakes the client without an inter-processor interrupt, which on a VM whose idle CPUs halt
 * (guest_halt_poll_ns 0) is the dearest part of a round trip. tsfuse answers from one thread (busy
 * polling keeps it on its CPU).
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { median } from './lib/analysis.ts';
import { buildLoadGen } from './lib/loadgen.ts';
import { buildTools, startDaemon, type Running } from './lib/subjects.ts';

const { values: args } = parseArgs({
  options: {
    rounds: { type: 'string', default: '5' },
    seconds: { type: 'string', default: '1' },
    'tsfuse-node': { type: 'string', default: process.execPath },
  },
});
const ROUNDS = Number(args.rounds);
const SECONDS = Number(args.seconds);
if (availableParallelism() < 2) throw new Error('needs at least 2 CPUs');
const OTHER = String(availableParallelism() - 1);
const loadavg = (): string => readFileSync('/proc/loadavg', 'utf8').trim();

const base = mkdtempSync(join(tmpdir(), 'tsfuse-placement-'));
const source = join(base, 'src');
mkdirSync(source);
writeFileSync(join(source, 'file'), 'x');
const tools = buildTools(join(base, 'tools'), new Set(['passthrough_ll']), (s) => process.stderr.write(`${s}\n`), args['tsfuse-node']);
if (tools.passthroughLl === undefined) throw new Error(`passthrough_ll: ${tools.missing.get('passthrough_ll')}`);
const lg = buildLoadGen();

const DAEMONS = {
  tsfuse: (mnt: string) => [args['tsfuse-node'], '--import', 'tsx', 'bench/daemons/tsfuse.ts', 'passthrough', source, mnt, '0', '0'],
  passthrough_ll: (mnt: string) => [tools.passthroughLl!, '-f', '-o', `source=${source},timeout=0,cache=auto`, mnt],
} as const;
const PLACEMENTS = { free: undefined, 'client CPU': '0', 'other CPU': OTHER } as const;
type Subject = { name: string; placement: string; mnt: string; daemon: Running };

const subjects: Subject[] = [];
const rates = new Map<string, number[]>();
const loadBefore = loadavg();
try {
  for (const [name, argvOf] of Object.entries(DAEMONS)) {
    for (const [placement, cpu] of Object.entries(PLACEMENTS)) {
      const mnt = join(base, `${name}-${placement.replace(' ', '-')}`);
      mkdirSync(mnt);
      const argv = argvOf(mnt);
      const daemon = await startDaemon(cpu === undefined ? argv : ['taskset', '-a', '-c', cpu, ...argv], mnt);
      subjects.push({ name, placement, mnt, daemon });
    }
  }
  for (let r = 0; r < ROUNDS; r++) {
    for (let i = 0; i < subjects.length; i++) {
      const s = subjects[(i + r) % subjects.length]!;
      const out = await lg.run(['stat', join(s.mnt, 'file'), SECONDS, 0.2], SECONDS * 1000 + 60_000, 0);
      const [n, ns] = out.values as [number, number];
      const key = `${s.name} / ${s.placement}`;
      rates.set(key, [...(rates.get(key) ?? []), n / (ns / 1e9)]);
    }
  }
  const lines = [
    `${process.version} (tsfuse: ${args['tsfuse-node']}), ${ROUNDS} rounds of ${SECONDS} s, client on CPU 0; loadavg before ${loadBefore}, after ${loadavg()}`,
    '',
    '| daemon | placement | stats/s: median (min–max) |',
    '| --- | --- | ---: |',
  ];
  for (const [key, xs] of rates) {
    const [name, placement] = key.split(' / ');
    lines.push(`| ${name} | ${placement} | ${Math.round(median(xs))} (${Math.round(Math.min(...xs))}–${Math.round(Math.max(...xs))}) |`);
  }
  process.stdout.write(`${lines.join('\n')}\n`);
} finally {
  for (const s of subjects) await s.daemon.stop();
  lg.dispose();
  rmSync(base, { recursive: true, force: true });
}
