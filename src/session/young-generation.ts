/**
 * The daemon process's young generation. V8 gives new objects a young generation that starts small and
 * doubles whenever a scavenge finds that more of them survived than it holds (v8 heap.cc
 * CheckNewSpaceExpansionCriteria, `semi_space_growth_factor`): keeping 300,000 small objects alive took
 * it from 1 to 32 MiB under Node 20 and from 0.5 to 16 MiB under Node 26 (v8.getHeapSpaceStatistics,
 * new_space), and it stays that size. A filesystem that looks up a tree keeps what each LOOKUP made (its
 * node table), so the passthrough's first pass over 18,000 files grew it to its maximum, where it stayed
 * through the passes of lookups and forgets that followed (bench/RESULTS.md, "The young generation held
 * at its size"). `--max-semi-space-size` caps it too, but only on Node's command line, as V8 sizes the
 * young generation when the process starts; the growth factor is read at each expansion, so it can be
 * set at run time.
 */
import { setFlagsFromString } from 'node:v8';

/**
 * Stops V8 from growing the young generation from here on, for the whole process (the V8 flag
 * `--semi-space-growth-factor=1`); it keeps the size it has (2 MiB if smaller). Node 26's V8 may still
 * double it once (8 → 16 MiB in 5 of 16 runs of test/session/young-generation.test.ts's child). Meant
 * for a process whose work is serving a filesystem, called early: the `tsfuse` command calls it before
 * it mounts.
 * Surviving objects are still promoted to the old generation as before; scavenges come more often, each
 * over a smaller space. bench/RESULTS.md ("The young generation held at its size") has the figures.
 */
export function limitYoungGeneration(): void {
  setFlagsFromString('--semi-space-growth-factor=1');
}
