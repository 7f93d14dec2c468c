/**
 * Issue #8's speed targets, judged from one run's samples, so that a run says for itself which it meets:
 *  - every workload at ≥ 1.0× the best C or Go anchor of that run (bindfs, go-fuse, passthrough_ll,
 *    passthrough_hp: the one with the highest median on that workload);
 *  - every workload at ≥ 3× fuse-native;
 *  - sequential reads and the write at ≥ 0.9× native (kernel passthrough, where tsfuse's daemon runs on a
 *    Node with node:ffi);
 *  - the do-nothing daemon at ≥ 0.9× libfuse's.
 * Each figure is the median of the per-round ratios (tsfuse ÷ the other in the same round), as the issue
 * defines them; never a ratio of two runs.
 */
import { ratioCell, roundRatios, summarize, type Sample } from './analysis.ts';
import { ANCHORS } from './subjects.ts';

/** The anchors in C and Go: every anchor but the backing directory itself and fuse-native (Node). */
export const C_GO_ANCHORS: readonly string[] = ANCHORS.filter((a) => a !== 'native' && a !== 'fuse-native');
export const BEST_ANCHOR_TARGET = 1.0;
export const FUSE_NATIVE_TARGET = 3;
export const NATIVE_TARGET = 0.9;
export const NULL_TARGET = 0.9;

/** One workload's samples by subject id ('tsfuse', 'native', an anchor…). */
export type BySubject = ReadonlyMap<string, readonly Sample[]>;

/** The C or Go anchor with the highest median on this workload, if any was measured. */
export function bestAnchor(bySubject: BySubject): string | undefined {
  let best: string | undefined;
  let bestMedian = -Infinity;
  for (const id of C_GO_ANCHORS) {
    const values = (bySubject.get(id) ?? []).map((s) => s.value).filter(Number.isFinite);
    if (values.length === 0) continue;
    const m = summarize(values).median;
    if (m > bestMedian) { best = id; bestMedian = m; }
  }
  return best;
}

/** "1.06× (0.62–1.28×) yes": the per-round ratios against `target`; "–" when no round pairs up. */
export function judged(ratios: readonly number[], target: number): string {
  if (ratios.length === 0) return '–';
  // The epsilon forgives floating point only: (0.95 + 0.85) / 2 is 0.8999999999999999.
  return `${ratioCell(ratios)} ${summarize(ratios).median >= target - 1e-9 ? 'yes' : '**no**'}`;
}

export interface TargetWorkload {
  readonly label: string;
  readonly samples: BySubject;
  /** A sequential read or write: judged against native too. */
  readonly sequential: boolean;
}

/** The table's rows: workload, best anchor, ÷ it, ÷ fuse-native, ÷ native (sequential rows only). */
export function targetRows(workloads: readonly TargetWorkload[], ours = 'tsfuse'): string[][] {
  return workloads.map(({ label, samples, sequential }) => {
    const mine = samples.get(ours) ?? [];
    const best = bestAnchor(samples);
    const against = (id: string | undefined, target: number): string =>
      (id === undefined ? '–' : judged(roundRatios(mine, samples.get(id) ?? []), target));
    return [
      label,
      best ?? '–',
      against(best, BEST_ANCHOR_TARGET),
      against('fuse-native', FUSE_NATIVE_TARGET),
      sequential ? against('native', NATIVE_TARGET) : '',
    ];
  });
}

export const TARGET_HEAD: readonly string[] = [
  'workload', 'best C/Go anchor (highest median)', `÷ it, target ≥ ${BEST_ANCHOR_TARGET.toFixed(1)}×`,
  `÷ fuse-native, target ≥ ${FUSE_NATIVE_TARGET}×`, `÷ native, target ≥ ${NATIVE_TARGET}× (sequential)`,
];
