/**
 * The four-client workloads of the queue benchmarks (bench/clone-queues.ts, bench/profile-clone.ts): four
 * stat loops, four sequential readers (fio, 128 KiB reads of their own 64 MiB each), four random 4 KiB
 * readers (fio, time-based). `dir` holds `file` and a 256 MiB `big`. Each returns the work done: stats,
 * MiB read, or reads.
 */
import { join } from 'node:path';
import type { LoadGen } from './loadgen.ts';
import { parseFio } from './workloads.ts';

export type FourClientWorkload = 'stat4' | 'seq4' | 'rand4';
export const FOUR_CLIENT_WORKLOADS: readonly FourClientWorkload[] = ['stat4', 'seq4', 'rand4'];
export const FOUR_CLIENT_UNITS: Readonly<Record<FourClientWorkload, string>> = { stat4: 'stat/s', seq4: 'MiB/s', rand4: 'IOPS' };

/** Runs workload `w` on `dir` for about `seconds`; `fioOptions` are added to both fio command lines. */
export async function fourClients(lg: LoadGen, w: FourClientWorkload, dir: string, seconds: number, fioOptions: readonly string[] = []): Promise<number> {
  const t = seconds * 1000 + 60_000;
  const common = ['--ioengine=psync', '--output-format=json', ...fioOptions, '--group_reporting', `--filename=${join(dir, 'big')}`];
  if (w === 'stat4') {
    const rs = await Promise.all([0, 1, 2, 3].map(() => lg.run(['stat', join(dir, 'file'), seconds, 0.1], t)));
    return rs.reduce((s, r) => s + r.values[0]!, 0);
  }
  if (w === 'seq4') {
    const r = await lg.run(['exec', 'fio', '--name=s', '--rw=read', '--bs=128k', '--size=64m', '--numjobs=4', '--offset_increment=64m', ...common], t);
    return parseFio(r.stderr).ioBytes / (1 << 20);
  }
  const r = await lg.run(['exec', 'fio', '--name=r', '--rw=randread', '--bs=4k', '--size=256m', '--numjobs=4', '--time_based', `--runtime=${seconds * 1000}ms`, '--norandommap', ...common], t);
  return parseFio(r.stderr).totalIos;
}
