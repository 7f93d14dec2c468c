// What the test daemons run in child processes share (test/*/fixtures/*-daemon.ts): the request they were
// started with (JSON in argv[2]), a `send` to the parent that tolerates a parent already gone, and a count
// of the requests the session handled, by opcode name, from the tsfuse:request diagnostics channel.
import { subscribe } from 'node:diagnostics_channel';

/** The daemon's request, as the test passed it (JSON in argv[2]). */
export function daemonRequest<T>(): T {
  return JSON.parse(process.argv[2] ?? '{}') as T;
}

/** Sends a message to the parent test, if it is still listening. */
export function send(message: unknown): void {
  if (process.connected) process.send?.(message);
}

/** Requests handled so far, by opcode name; the object is updated as requests come. */
export function countRequests(): Record<string, number> {
  const counts: Record<string, number> = {};
  subscribe('tsfuse:request', (message) => {
    const name = (message as { name: string }).name;
    counts[name] = (counts[name] ?? 0) + 1;
  });
  return counts;
}
