// The soak run behind `npm run soak` (bench/soak.ts) and test/conformance/soak.test.ts: N client
// processes (fixtures/soak_client.py) work on one mounted target for a while, each verifying its own files
// against an exact model, while the daemon's resident set is sampled at the start, in the middle and at
// the end.
import { spawn } from 'node:child_process';
import { mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { daemonRssKiB, mountTarget, type TargetName } from './targets.ts';

const SOAK_CLIENT = fileURLToPath(new URL('./fixtures/soak_client.py', import.meta.url));

export interface SoakOptions {
  readonly target: TargetName;
  /** Client processes. */
  readonly clients: number;
  /** How long the clients work, in seconds. */
  readonly seconds: number;
  /** Seed of the clients' random mix. Defaults to 1. */
  readonly seed?: number;
  /** Progress lines. Absent: silent. */
  readonly log?: (line: string) => void;
}

export interface ClientReport {
  client: number;
  ops: number;
  counts: Record<string, number>;
  errors: string[];
  bad: unknown[];
  bad_count: number;
}

export interface SoakResult {
  readonly target: TargetName;
  readonly clients: number;
  readonly seconds: number;
  readonly ops: number;
  /** Errors (unexpected errnos) and verification failures, with the client that saw them. */
  readonly errors: string[];
  readonly verificationFailures: unknown[];
  /** Clients that exited without a report (crashed, killed). */
  readonly lostClients: string[];
  /** VmRSS of the daemon in KiB: mounted and idle, after 10 % of the run, at half time, at the end, and after cleanup. Absent for native. */
  readonly rssKiB: { start?: number; warm?: number; middle?: number; end?: number; idle?: number };
  /** Entries left in the soak directory after the clients cleaned up (should be only the shared directories). */
  readonly leftover: string[];
}

function runClient(dir: string, id: number, seconds: number, seed: number): Promise<ClientReport | string> {
  return new Promise((resolve) => {
    const child = spawn('python3', [SOAK_CLIENT, dir, String(id), String(seconds), String(seed)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    // a client that outlives its time by a lot is hung: kill it rather than hang the run
    const killer = setTimeout(() => child.kill('SIGKILL'), (seconds + 120) * 1000);
    child.stdout.on('data', (d: Buffer) => { out += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { err += d.toString(); });
    child.on('close', (code, signal) => {
      clearTimeout(killer);
      try {
        resolve(JSON.parse(out) as ClientReport);
      } catch {
        resolve(`client ${id} exited with ${String(code ?? signal)}: ${err.slice(-2000)}${out.slice(-500)}`);
      }
    });
  });
}

/** Mounts `options.target`, runs the clients, unmounts, and returns the figures. */
export async function runSoak(options: SoakOptions): Promise<SoakResult> {
  const log = options.log ?? (() => {});
  const seed = options.seed ?? 1;
  const t = await mountTarget(options.target);
  try {
    const root = join(t.dir, 'soak');
    mkdirSync(root);
    for (let k = 0; k < 4; k++) mkdirSync(join(root, `shared-${k}`));
    const rss: { -readonly [K in keyof SoakResult['rssKiB']]: number } = {};
    const sample = (key: keyof SoakResult['rssKiB']): void => {
      const v = daemonRssKiB(t.daemonPid);
      if (v !== undefined) rss[key] = v;
    };
    sample('start');
    log(`soak ${options.target}: ${options.clients} clients for ${options.seconds} s at ${t.dir}`);
    const started = Date.now();
    const clients = Array.from({ length: options.clients }, (_, i) => runClient(t.dir, i, options.seconds, seed));
    const sampler = (async () => {
      const at = (fraction: number): number => started + fraction * options.seconds * 1000;
      for (const [fraction, key] of [[0.1, 'warm'], [0.5, 'middle'], [0.98, 'end']] as const) {
        const wait = at(fraction) - Date.now();
        if (wait > 0) await sleep(wait);
        sample(key);
        log(`soak ${options.target}: ${Math.round(fraction * 100)} %${rss[key] === undefined ? '' : `, daemon VmRSS ${rss[key]} KiB`}`);
      }
    })();
    const reports = await Promise.all(clients);
    await sampler;
    sample('idle');
    const errors: string[] = [];
    const verificationFailures: unknown[] = [];
    const lostClients: string[] = [];
    let ops = 0;
    for (const r of reports) {
      if (typeof r === 'string') {
        lostClients.push(r);
        continue;
      }
      ops += r.ops;
      for (const e of r.errors) errors.push(`client ${r.client}: ${e}`);
      for (const b of r.bad) verificationFailures.push({ client: r.client, ...(b as object) });
    }
    const leftover = readdirSync(root).filter((n) => !/^shared-\d$/.test(n))
      .concat(...[0, 1, 2, 3].map((k) => readdirSync(join(root, `shared-${k}`)).map((n) => `shared-${k}/${n}`)));
    return { target: options.target, clients: options.clients, seconds: options.seconds, ops, errors, verificationFailures, lostClients, rssKiB: rss, leftover };
  } finally {
    await t.close();
  }
}

/** One human-readable paragraph of a result. */
export function formatSoak(r: SoakResult): string {
  const mib = (k: number | undefined): string => (k === undefined ? '-' : `${(k / 1024).toFixed(1)} MiB`);
  return [
    `${r.target}: ${r.clients} clients × ${r.seconds} s: ${r.ops} operations (${Math.round(r.ops / r.seconds)}/s), ` +
    `${r.errors.length} errors, ${r.verificationFailures.length} verification failures, ${r.lostClients.length} lost clients, ` +
    `${r.leftover.length} entries left over`,
    `  daemon VmRSS: start ${mib(r.rssKiB.start)}, 10 % ${mib(r.rssKiB.warm)}, middle ${mib(r.rssKiB.middle)}, ` +
    `end ${mib(r.rssKiB.end)}, after cleanup ${mib(r.rssKiB.idle)}`,
    ...r.errors.slice(0, 10).map((e) => `  error: ${e}`),
    ...r.verificationFailures.slice(0, 10).map((e) => `  verification: ${JSON.stringify(e)}`),
    ...r.lostClients.slice(0, 5).map((e) => `  lost: ${e}`),
  ].join('\n');
}

/**
 * Whether the daemon's RSS stayed flat: the end of the run is within 25 % (plus 16 MiB of allocator and
 * GC slack) of the middle. Memory that grows with time under a steady load (a leak per request or per
 * node) shows up as end ≫ middle; a filesystem's steady working set does not.
 */
export function rssFlat(r: SoakResult): boolean {
  const { middle, end } = r.rssKiB;
  if (middle === undefined || end === undefined) return true;
  return end <= middle * 1.25 + 16 * 1024;
}
