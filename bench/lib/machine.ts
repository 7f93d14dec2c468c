/**
 * The machine a bench run ran on and its background load while it ran: the description printed at the top
 * of the report, /proc/stat and /proc/loadavg sampled through the run, and dropping the page cache for the
 * cold reads.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, release, totalmem } from 'node:os';
import { parseLoadavg, parseProcStat } from './analysis.ts';
import { runProcess } from './loadgen.ts';

const TICK_US = 1e6 / 100; // USER_HZ, the unit of /proc/stat

/** Busy CPU time of the whole machine so far, µs. */
export function machineBusyUs(): number {
  return parseProcStat(readFileSync('/proc/stat', 'utf8')).busy * TICK_US;
}

export function loadavg(): number {
  return parseLoadavg(readFileSync('/proc/loadavg', 'utf8'));
}

export function describeMachine(backingDir: string, tsfuseNode = process.execPath): string {
  const fsLine = readFileSync('/proc/self/mountinfo', 'utf8').split('\n')
    .map((l) => l.split(' '))
    .filter((f) => f[4] !== undefined && (backingDir === f[4] || backingDir.startsWith(f[4] === '/' ? '/' : `${f[4]}/`)))
    .sort((a, b) => b[4]!.length - a[4]!.length)[0];
  const sep = fsLine ? fsLine.indexOf('-', 6) : -1;
  const disk = fsLine && sep > 0 ? `${fsLine[sep + 1]} on ${fsLine[sep + 2]} (mounted at ${fsLine[4]})` : 'unknown';
  return [
    `${availableParallelism()} CPUs (${cpus()[0]?.model ?? 'unknown'}), ${(totalmem() / 2 ** 30).toFixed(0)} GiB RAM, Linux ${release()}`,
    `Node ${process.version}${tsfuseNode === process.execPath ? '' : ` (tsfuse's daemons: Node ${spawnSync(tsfuseNode, ['--version'], { encoding: 'utf8' }).stdout.trim().replace(/^v/, '') || `? (${tsfuseNode})`})`}; backing directory on ${disk}`,
    ...describeVmPolicies(readSysfs),
  ].join('; ');
}

function readSysfs(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch {
    return undefined;
  }
}

/** virtio device id of a memory balloon, and the feature bit of free page reporting (linux/virtio_balloon.h). */
const VIRTIO_ID_BALLOON = 5;
const VIRTIO_BALLOON_F_REPORTING = 5;

/**
 * Two settings of a VM guest that set the absolute figures of every daemon alike, so a reader of the
 * report must know them: whether freed memory goes back to the host (virtio-balloon free page
 * reporting: a page the guest takes again then costs a host page fault, which bounds a cold read or a
 * write into fresh page cache), and whether an idle vCPU polls before it halts (cpuidle haltpoll: with
 * guest_halt_poll_ns 0 each wake-up of a client goes through the hypervisor). Nothing when neither exists.
 * `read` gives a sysfs file's text, or undefined.
 */
export function describeVmPolicies(read: (path: string) => string | undefined): string[] {
  const out: string[] = [];
  // Every index up to 64: the numbers have gaps where a device was unplugged (drivers/virtio/virtio.c
  // hands them out from an IDA and takes them back on removal).
  for (let i = 0; i < 64; i++) {
    const dir = `/sys/bus/virtio/devices/virtio${i}`;
    const device = read(`${dir}/device`);
    if (device === undefined || Number(device) !== VIRTIO_ID_BALLOON) continue;
    if (read(`${dir}/features`)?.[VIRTIO_BALLOON_F_REPORTING] === '1') {
      const order = Number(read('/sys/module/page_reporting/parameters/page_reporting_order'));
      const block = Number.isInteger(order) ? `, in blocks of ${(4 << order) >= 1024 ? `${(4 << order) / 1024} MiB` : `${4 << order} KiB`}` : '';
      out.push(`freed memory returns to the host (virtio-balloon free page reporting${block})`);
    }
    break;
  }
  const pollNs = read('/sys/module/haltpoll/parameters/guest_halt_poll_ns');
  if (pollNs !== undefined && read('/sys/devices/system/cpu/cpuidle/current_driver') === 'haltpoll') {
    out.push(`idle vCPUs ${pollNs === '0' ? 'halt at once' : `poll up to ${Number(pollNs) / 1000} µs before they halt`} (cpuidle haltpoll, guest_halt_poll_ns=${pollNs})`);
  }
  return out;
}

/**
 * Samples the machine's CPU busy share and load average every `intervalMs` for the whole run, so the report
 * can say what else ran. (Per-measurement background load, with the run's own CPU taken out, is computed
 * by the measurement itself.)
 */
export class LoadSampler {
  readonly busyCores: number[] = [];
  readonly loadavg: number[] = [];
  #timer: NodeJS.Timeout | undefined;
  #last = parseProcStat(readFileSync('/proc/stat', 'utf8'));

  start(intervalMs = 1000): void {
    this.#timer = setInterval(() => {
      const now = parseProcStat(readFileSync('/proc/stat', 'utf8'));
      const total = now.total - this.#last.total;
      if (total > 0) this.busyCores.push(((now.busy - this.#last.busy) / total) * availableParallelism());
      this.#last = now;
      this.loadavg.push(loadavg());
    }, intervalMs);
    this.#timer.unref();
  }

  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
  }
}

/**
 * `sync` and then `echo 3 > /proc/sys/vm/drop_caches`. This drops the page, dentry and inode caches of the
 * whole machine, not only the bench's files: acceptable on this bench-only path (root only), and the
 * reason the cold-read workload is skipped with --no-drop-caches.
 */
export async function dropCaches(): Promise<void> {
  await runProcess('sync', [], 60_000);
  writeFileSync('/proc/sys/vm/drop_caches', '3');
}

/** `echo 2 > /proc/sys/vm/drop_caches`: evicts unused dentries and inodes, so FUSE daemons get their FORGETs. */
export function dropDentries(): void {
  writeFileSync('/proc/sys/vm/drop_caches', '2');
}
