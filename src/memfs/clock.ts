/**
 * "Now" with nanoseconds, for file times. `Date.now()` has milliseconds only, so the wall clock is read
 * once and the monotonic `process.hrtime()` adds the nanoseconds since; when the two drift apart by more
 * than a second (the wall clock was set), the base is taken again.
 */
import type { Timestamp } from '../ops/path/types.ts';

const NS_PER_S = 1e9;
const RESYNC_MS = 1000;

let baseMs = 0;
let baseSec = 0;
let baseNsec = 0;
let baseHr: [number, number] = [0, 0];

// Not taken at import (the package has no side effects): the first call finds baseMs 0 and rebases.
function rebase(): void {
  baseHr = process.hrtime();
  baseMs = Date.now();
  baseSec = Math.floor(baseMs / 1000);
  baseNsec = (baseMs - baseSec * 1000) * 1e6;
}

/** The current wall-clock time, to the nanosecond. */
export function now(): Timestamp {
  const [ds, dns] = process.hrtime(baseHr);
  if (Math.abs(baseMs + ds * 1000 + dns / 1e6 - Date.now()) > RESYNC_MS) {
    rebase();
    return now();
  }
  let sec = baseSec + ds;
  let nsec = baseNsec + dns;
  if (nsec >= NS_PER_S) {
    sec += 1;
    nsec -= NS_PER_S;
  }
  return { sec, nsec };
}
