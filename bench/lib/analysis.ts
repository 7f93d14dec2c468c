/**
 * The pure parts of `npm run bench` (bench/run.ts): statistics over interleaved rounds, per-round ratios,
 * the noisy-run verdict, and the recording of each daemon's mount options. No I/O here, so
 * test/bench/analysis.test.ts runs them on fixed inputs.
 */

/** One measurement of one workload on one subject in one round. */
export interface Sample {
  readonly round: number;
  /** The workload's figure (ops/s, entries/s, MiB/s, IOPS); higher is better. */
  readonly value: number;
  /** CPU used by everything else on the machine while it ran, in cores (see backgroundCores). */
  readonly backgroundCores: number;
  /** The daemon's CPU time during the measurement, µs (absent for the native directory). */
  readonly daemonCpuUs?: number;
  /** Operations (or MiB) the measurement did, to turn daemonCpuUs into a cost per operation. */
  readonly work?: number;
}

export interface Summary { readonly median: number; readonly min: number; readonly max: number; readonly n: number }

export function median(xs: readonly number[]): number {
  const s = xs.filter(Number.isFinite).sort((a, b) => a - b);
  if (s.length === 0) return Number.NaN;
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** Median, min and max of the finite values (NaN throughout when there are none). */
export function summarize(xs: readonly number[]): Summary {
  const s = xs.filter(Number.isFinite);
  if (s.length === 0) return { median: Number.NaN, min: Number.NaN, max: Number.NaN, n: 0 };
  return { median: median(s), min: Math.min(...s), max: Math.max(...s), n: s.length };
}

/**
 * ours ÷ theirs for every round both were measured in (rounds are paired by number, never across runs).
 * Rounds where either figure is missing, not finite or theirs is not positive are left out.
 */
export function roundRatios(ours: readonly Sample[], theirs: readonly Sample[]): number[] {
  const byRound = new Map<number, number>();
  for (const s of theirs) if (Number.isFinite(s.value) && s.value > 0) byRound.set(s.round, s.value);
  const out: number[] = [];
  for (const s of ours) {
    const t = byRound.get(s.round);
    if (t !== undefined && Number.isFinite(s.value)) out.push(s.value / t);
  }
  return out;
}

/** "0.85×", "1.2×", "12×". */
export function formatRatio(r: number): string {
  if (!Number.isFinite(r)) return '–';
  return `${r >= 10 ? r.toFixed(0) : r.toFixed(2)}×`;
}

/** "0.85× (0.80–0.90)": the median per-round ratio and its range; "–" without paired rounds. */
export function ratioCell(ratios: readonly number[]): string {
  const s = summarize(ratios);
  if (s.n === 0) return '–';
  return s.n === 1 ? formatRatio(s.median) : `${formatRatio(s.median)} (${formatRatio(s.min).slice(0, -1)}–${formatRatio(s.max)})`;
}

/** 1234567 → "1.23M", 45678 → "45.7k", 512 → "512". */
export function si(x: number): string {
  if (!Number.isFinite(x)) return '–';
  const a = Math.abs(x);
  if (a >= 1e6) return `${(x / 1e6).toFixed(a >= 1e7 ? 1 : 2)}M`;
  if (a >= 1e3) return `${(x / 1e3).toFixed(a >= 1e5 ? 0 : 1)}k`;
  return a >= 100 ? x.toFixed(0) : x.toFixed(1);
}

/** "45.7k (44.1k–46.0k)". */
export function valueCell(samples: readonly Sample[]): string {
  const s = summarize(samples.map((x) => x.value));
  if (s.n === 0) return '–';
  return s.n === 1 ? si(s.median) : `${si(s.median)} (${si(s.min)}–${si(s.max)})`;
}

export function table(head: readonly string[], rows: readonly (readonly string[])[]): string {
  const lines = [`| ${head.join(' | ')} |`, `|${head.map((_, i) => (i === 0 ? '---' : '---:')).join('|')}|`];
  for (const r of rows) lines.push(`| ${r.join(' | ')} |`);
  return lines.join('\n');
}

// ---- Background load ----

/** CPU counters of /proc/stat's first line, in clock ticks. */
export interface CpuTicks { readonly busy: number; readonly total: number }

/** Parses the aggregate `cpu` line of /proc/stat: busy = user+nice+system+irq+softirq+steal. */
export function parseProcStat(text: string): CpuTicks {
  const line = text.split('\n', 1)[0] ?? '';
  const f = line.trim().split(/\s+/);
  if (f[0] !== 'cpu' || f.length < 9) throw new Error(`not a /proc/stat cpu line: ${JSON.stringify(line)}`);
  const [user, nice, system, idle, iowait, irq, softirq, steal] = f.slice(1, 9).map(Number) as [number, number, number, number, number, number, number, number];
  const busy = user + nice + system + irq + softirq + steal;
  return { busy, total: busy + idle + iowait };
}

/** The 1-minute load average of /proc/loadavg. */
export function parseLoadavg(text: string): number {
  const x = Number(text.trim().split(/\s+/)[0]);
  if (!Number.isFinite(x)) throw new Error(`not /proc/loadavg: ${JSON.stringify(text)}`);
  return x;
}

/**
 * Other jobs' CPU during a measurement, in cores: the machine's busy time minus what the run itself used
 * (client, daemons, this process), over the wall time. Never negative.
 */
export function backgroundCores(machineBusyUs: number, ownUs: number, wallUs: number): number {
  if (!(wallUs > 0)) return Number.NaN;
  return Math.max(0, machineBusyUs - ownUs) / wallUs;
}

export interface NoiseLimits {
  /** Median background above this (cores) makes the run noisy. Defaults to 0.25. */
  readonly medianCores: number;
  /** A measurement whose background exceeds this (cores) is disturbed. Defaults to 0.5. */
  readonly disturbedCores: number;
  /** The run is noisy when more than this share of its measurements is disturbed. Defaults to 0.2. */
  readonly disturbedShare: number;
}
export const NOISE_LIMITS: NoiseLimits = Object.freeze({ medianCores: 0.25, disturbedCores: 0.5, disturbedShare: 0.2 });

export interface NoiseVerdict {
  readonly noisy: boolean;
  readonly reasons: readonly string[];
  readonly medianCores: number;
  readonly maxCores: number;
  /** Share of measurements above limits.disturbedCores. */
  readonly disturbedShare: number;
  readonly measurements: number;
}

/** Whether the background load during a run spoils its figures. */
export function judgeNoise(background: readonly number[], limits: NoiseLimits = NOISE_LIMITS): NoiseVerdict {
  const xs = background.filter(Number.isFinite);
  const med = median(xs);
  const max = xs.length ? Math.max(...xs) : Number.NaN;
  const disturbed = xs.filter((x) => x > limits.disturbedCores).length;
  const share = xs.length ? disturbed / xs.length : 0;
  const reasons: string[] = [];
  if (xs.length === 0) reasons.push('no load was measured');
  if (med > limits.medianCores) reasons.push(`median background load ${med.toFixed(2)} cores > ${limits.medianCores}`);
  if (share > limits.disturbedShare) {
    reasons.push(`${disturbed} of ${xs.length} measurements (${(share * 100).toFixed(0)}%) ran with > ${limits.disturbedCores} cores of background load`);
  }
  return { noisy: reasons.length > 0, reasons, medianCores: med, maxCores: max, disturbedShare: share, measurements: xs.length };
}

// ---- Mount options ----

export interface MountRecord {
  readonly mountpoint: string;
  readonly fstype: string;
  readonly source: string;
  /** Per-mount options (rw, nosuid, …). */
  readonly mountOptions: string;
  /** The superblock's options: for FUSE, what the daemon asked mount(2) for (user_id, default_permissions, …). */
  readonly superOptions: string;
}

const unescapeMountinfo = (s: string): string => s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(Number.parseInt(o, 8)));

/** The /proc/self/mountinfo line for `mountpoint`, parsed; undefined when it is not a mountpoint. */
export function findMount(mountinfo: string, mountpoint: string): MountRecord | undefined {
  let found: MountRecord | undefined;
  for (const line of mountinfo.split('\n')) {
    const f = line.split(' ');
    const sep = f.indexOf('-', 6);
    if (sep < 0 || unescapeMountinfo(f[4] ?? '') !== mountpoint) continue;
    // The last match wins: a mount stacked on the same path hides the earlier ones.
    found = {
      mountpoint, fstype: f[sep + 1] ?? '', source: unescapeMountinfo(f[sep + 2] ?? ''),
      mountOptions: f[5] ?? '', superOptions: f[sep + 3] ?? '',
    };
  }
  return found;
}

/** What the report says about one daemon's mount: the exact command and what the kernel shows. */
export interface OptionsRecord {
  readonly subject: string;
  /** The daemon's command line (paths replaced by SOURCE / MOUNTPOINT), or a description for native. */
  readonly command: string;
  /** Cache settings as the daemon was given them, e.g. "entry 0 s, attr 0 s, negative 0 s". */
  readonly timeouts: string;
  readonly mount: MountRecord | undefined;
}

/** The command line with the run's temporary paths named, so the record reads the same in every run. */
export function redactCommand(argv: readonly string[], names: ReadonlyMap<string, string>): string {
  const longestFirst = [...names.entries()].sort((a, b) => b[0].length - a[0].length);
  return argv.map((a) => {
    let s = a;
    for (const [path, name] of longestFirst) s = s.split(path).join(name);
    return /[\s'"$]/.test(s) ? `'${s.replace(/'/g, "'\\''")}'` : s;
  }).join(' ');
}

/** The markdown table of every subject's options. */
export function optionsTable(records: readonly OptionsRecord[]): string {
  return table(['subject', 'command', 'cache timeouts', 'kernel: fstype, mount options; super options'], records.map((r) => [
    r.subject, `\`${r.command}\``, r.timeouts,
    r.mount ? `${r.mount.fstype}, ${r.mount.mountOptions}; ${r.mount.superOptions}` : 'not a mount',
  ]));
}
