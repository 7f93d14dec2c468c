/**
 * Replays a recording against a filesystem, with no kernel, no root and no mount: every recorded request
 * frame goes into a SessionCore (the same core a mount runs), in recorded order, and every reply that
 * comes out is compared with the recorded one, field by field.
 *
 * Deterministic by construction:
 *  - Concurrency as recorded: requests are handed over without waiting, and the replay waits for a reply
 *    only where the recording has it, so requests in flight together in the recording are in flight
 *    together here too.
 *  - Time as recorded: the core runs on a {@link VirtualClock} that stands still between frames and is
 *    moved to each frame's recorded time before it is handled, firing the interrupt grace and RETRIEVE
 *    timers that were due by then.
 *  - The filesystem is rebuilt with the recorded mount options (entry/attr timeouts, max_write, …) and
 *    session options, so INIT agrees on the same settings.
 *
 * What legitimately differs between two runs is ignored unless `strict`: see {@link NORMALIZED_FIELDS}.
 * Node ids are compared like any field: the filesystem must hand out the same ids for the same sequence
 * of requests (memfs does: it numbers nodes in creation order and never reuses a number).
 */
import type { LowLevelOperations } from '../ops/lowlevel.ts';
import { SessionCore, type SessionClock, type SessionCoreOptions } from '../session/core.ts';
import { parseMountOptions, type MountOptionsInput } from '../mount/options.ts';
import { permissionPolicy } from '../session/fuse-mount.ts';
import { applyFsOptions, initWantsFrom } from '../ops/fs-options.ts';
import type { InitFlagName } from '../protocol/constants.ts';
import { errnoName } from '../errors.ts';
import { dissect, frameUnique, replyErrno, replySpans, spanValue, OUT_HEADER_SPANS, notifyName, type Exchange, type FieldSpan } from './dissect.ts';
import type { Recording, RecordingMetadata } from './format.ts';

/**
 * Reply fields that differ between two correct runs and are not compared unless `strict`: a field is
 * skipped when any part of its dotted name is one of these (`attr.mtime`, `[3].entry_out.attr.ctimensec`,
 * `stat.btime.tv_sec`).
 *  - atime, mtime, ctime (and their nsec parts), btime: the filesystem stamps them from its own clock.
 *  - generation: a filesystem may seed it per run (NFS export uniqueness).
 */
export const NORMALIZED_FIELDS: readonly string[] = Object.freeze(['atime', 'atimensec', 'mtime', 'mtimensec', 'ctime', 'ctimensec', 'btime', 'generation']);

/** A clock that moves only when told: the replay's time is the recording's. */
export class VirtualClock implements SessionClock {
  #now = 0n;
  #next = 1;
  readonly #timers = new Map<number, { at: bigint; fn: () => void }>();

  now(): bigint { return this.#now; }

  setTimeout(fn: () => void, ms: number): unknown {
    const id = this.#next++;
    this.#timers.set(id, { at: this.#now + BigInt(Math.max(0, Math.round(ms * 1e6))), fn });
    return id;
  }

  clearTimeout(handle: unknown): void {
    this.#timers.delete(handle as number);
  }

  /** Moves time forward to `t`, running each timer due by then at its own time, earliest first. */
  advanceTo(t: bigint): void {
    for (;;) {
      let due: [number, { at: bigint; fn: () => void }] | undefined;
      for (const entry of this.#timers) if (entry[1].at <= t && (due === undefined || entry[1].at < due[1].at)) due = entry;
      if (due === undefined) break;
      this.#timers.delete(due[0]);
      if (due[1].at > this.#now) this.#now = due[1].at;
      due[1].fn();
    }
    if (t > this.#now) this.#now = t;
  }
}

/** One field that differs. */
export interface FieldDifference {
  readonly field: string;
  /** Byte offset in the frame (out-header included). */
  readonly offset: number;
  readonly recorded: string;
  readonly replayed: string;
}

/** A reply (or notification) that differs from the recording. */
export interface ReplyDifference {
  /** What is wrong, in a word. */
  readonly kind: 'errno' | 'fields' | 'missing' | 'unexpected' | 'notification';
  /** The request, as `#12 LOOKUP n1 (unique 24)`; for notifications, their name. */
  readonly what: string;
  readonly message: string;
  readonly fields: readonly FieldDifference[];
}

export interface ReplayReport {
  readonly requests: number;
  /** Replies and notifications compared. */
  readonly compared: number;
  readonly differences: readonly ReplyDifference[];
  /** Differing fields that were ignored by {@link NORMALIZED_FIELDS} (0 with `strict`). */
  readonly normalized: number;
  /** Warnings the session gave while replaying (handler errors, malformed frames). */
  readonly warnings: readonly string[];
}

export interface ReplayOptions {
  /** Compare every field, the normalised ones too. Defaults to false. */
  readonly strict?: boolean;
  /** Real time to wait for a reply the recording has before calling it missing. Defaults to 5000 ms. */
  readonly replyTimeoutMs?: number;
}

/** The SessionCore options a recording's metadata asks for, and the filesystem with its mount options applied. */
export function sessionFor(ops: LowLevelOperations, metadata: RecordingMetadata): { ops: LowLevelOperations; options: SessionCoreOptions } {
  const policy = permissionPolicy(parseMountOptions((metadata.mountOptions ?? []) as MountOptionsInput), ops.checksPermissions === true);
  const parsed = policy.options;
  const wants = initWantsFrom(parsed.fs);
  const session = metadata.session ?? {};
  return {
    ops: applyFsOptions(ops, parsed.fs),
    options: {
      wants,
      capabilities: [...((session.capabilities ?? []) as InitFlagName[]), ...wants.want],
      ...(session.ownerOnly !== undefined && { ownerOnly: session.ownerOnly }),
      ...(session.interruptGraceMs !== undefined && { interruptGraceMs: session.interruptGraceMs }),
    },
  };
}

/** Replies by unique, and notifications in order, as the core writes them; `take` waits for one. */
class ReplyQueue {
  readonly #items = new Map<string, Buffer[]>();
  readonly #waiters = new Map<string, (b: Buffer) => void>();

  put(key: string, frame: Buffer): void {
    const waiter = this.#waiters.get(key);
    if (waiter !== undefined) { this.#waiters.delete(key); waiter(frame); return; }
    const list = this.#items.get(key);
    if (list === undefined) this.#items.set(key, [frame]); else list.push(frame);
  }

  take(key: string, timeoutMs: number): Promise<Buffer | undefined> {
    const list = this.#items.get(key);
    if (list !== undefined && list.length > 0) {
      const frame = list.shift()!;
      if (list.length === 0) this.#items.delete(key);
      return Promise.resolve(frame);
    }
    return new Promise((resolve) => {
      const timer = setTimeout(() => { this.#waiters.delete(key); resolve(undefined); }, timeoutMs);
      this.#waiters.set(key, (frame) => { clearTimeout(timer); resolve(frame); });
    });
  }

  /** What nobody took. */
  leftovers(): [string, Buffer][] {
    return [...this.#items].flatMap(([key, list]) => list.map((f) => [key, f] as [string, Buffer]));
  }
}

const NOTIFY_KEY = 'notify';

/** Replays `recording` against `ops` (a filesystem as the CLI or a user builds it, before mount options). */
export async function replay(recording: Recording, fsOps: LowLevelOperations, options: ReplayOptions = {}): Promise<ReplayReport> {
  const strict = options.strict ?? false;
  const timeoutMs = options.replyTimeoutMs ?? 5000;
  const { ops, options: coreOptions } = sessionFor(fsOps, recording.metadata);
  const clock = new VirtualClock();
  const queue = new ReplyQueue();
  const warnings: string[] = [];
  const collect = (iov: readonly Uint8Array[]): string | 0 => {
    // A copy: the parts may be views of buffers the filesystem reuses.
    const frame = Buffer.concat(iov.map((b) => Buffer.from(b.buffer, b.byteOffset, b.byteLength)));
    const unique = frameUnique(frame);
    queue.put(unique === 0 ? NOTIFY_KEY : String(unique), frame);
    return 0;
  };
  const core = new SessionCore(ops, { write: collect, writeAsync: async (iov) => collect(iov) }, {
    ...coreOptions, clock, onWarning: (message) => warnings.push(message),
  });
  const d = dissect(recording);
  const differences: ReplyDifference[] = [];
  let compared = 0;
  let normalized = 0;
  let requests = 0;
  for (const { frame, exchange } of d.timeline) {
    clock.advanceTo(frame.timeNs);
    if (frame.direction === 'request') {
      requests++;
      // A copy: the core may poison a frame once handled (TSFUSE_POISON), and the recording is the reference.
      core.handleFrame(Buffer.from(frame.bytes));
      continue;
    }
    compared++;
    if (frame.direction === 'notify') {
      const got = await queue.take(NOTIFY_KEY, timeoutMs);
      const what = `notification ${notifyName(frame.bytes)}`;
      if (got === undefined) { differences.push({ kind: 'notification', what, message: 'recorded, but the replay sent no notification', fields: [] }); continue; }
      const fields = compareFrames(frame.bytes, got, notifySpans(frame.bytes), strict);
      normalized += fields.ignored;
      if (fields.list.length > 0) differences.push({ kind: 'notification', what, message: 'differs', fields: fields.list });
      continue;
    }
    const key = String(frameUnique(frame.bytes));
    const what = exchange === undefined ? `reply to unique ${key}` : describeExchange(exchange);
    const got = await queue.take(key, timeoutMs);
    if (got === undefined) {
      differences.push({ kind: 'missing', what, message: `recorded ${errnoLabel(replyErrno(frame.bytes))}, but the replay gave no reply within ${timeoutMs} ms`, fields: [] });
      continue;
    }
    const recErr = replyErrno(frame.bytes);
    const gotErr = replyErrno(got);
    if (recErr !== gotErr) {
      differences.push({ kind: 'errno', what, message: `recorded ${errnoLabel(recErr)}, replayed ${errnoLabel(gotErr)}`, fields: [] });
      continue;
    }
    const spans = exchange?.row === undefined ? [] : replySpans(exchange.row.reply, frame.bytes.subarray(16), exchange.args).map((s) => ({ ...s, offset: s.offset + 16 }));
    const fields = compareFrames(frame.bytes, got, [...OUT_HEADER_SPANS, ...spans], strict);
    normalized += fields.ignored;
    if (fields.list.length > 0) differences.push({ kind: 'fields', what, message: fields.list.length === 1 ? '1 field differs' : `${fields.list.length} fields differ`, fields: fields.list });
  }
  // Let handlers still running finish, then report replies the recording does not have.
  for (let i = 0; i < 100 && core.pending > 0; i++) await new Promise((r) => setTimeout(r, 10));
  await core.shutdown();
  if (recording.truncated === undefined) {
    for (const [key, frame] of queue.leftovers()) {
      const exchange = d.exchanges.find((x) => x.header !== undefined && String(x.header.unique) === key);
      differences.push({
        kind: 'unexpected', what: key === NOTIFY_KEY ? `notification ${notifyName(frame)}` : exchange === undefined ? `reply to unique ${key}` : describeExchange(exchange),
        message: `the replay sent ${key === NOTIFY_KEY ? 'a notification' : `a reply (${errnoLabel(replyErrno(frame))})`} the recording does not have`, fields: [],
      });
    }
  }
  return { requests, compared, differences, normalized, warnings };
}

function describeExchange(x: Exchange): string {
  return `#${x.index + 1} ${x.name}${x.header === undefined ? '' : ` n${String(x.header.nodeid)} (unique ${String(x.header.unique)})`}`;
}

function errnoLabel(errno: number): string {
  return errno === 0 ? 'OK' : errnoName(errno);
}

function notifySpans(frame: Buffer): FieldSpan[] {
  return [...OUT_HEADER_SPANS, { name: 'body', offset: 16, size: Math.max(0, frame.byteLength - 16), scalar: false }];
}

function isNormalized(name: string): boolean {
  return name.replace(/\[\d+\]\./g, '').split('.').some((part) => NORMALIZED_FIELDS.includes(part));
}

/**
 * The fields of `spans` whose bytes differ (spans are laid out over the recorded frame), and how many
 * normalised ones were skipped. Bytes no span covers are compared as `bytes[a..b]`.
 */
export function compareFrames(recorded: Buffer, replayed: Buffer, spans: readonly FieldSpan[], strict: boolean): { list: FieldDifference[]; ignored: number } {
  const list: FieldDifference[] = [];
  let ignored = 0;
  if (recorded.equals(replayed)) return { list, ignored };
  const covered = new Uint8Array(recorded.byteLength);
  for (const s of spans) {
    covered.fill(1, s.offset, s.offset + s.size);
    const a = recorded.subarray(s.offset, s.offset + s.size);
    const b = replayed.subarray(s.offset, s.offset + s.size);
    if (a.equals(b)) continue;
    if (!strict && isNormalized(s.name)) { ignored++; continue; }
    list.push(s.scalar && b.byteLength === a.byteLength
      ? { field: s.name, offset: s.offset, recorded: String(spanValue(recorded, s)), replayed: String(spanValue(replayed, s)) }
      : describeBytes(s.name, s.offset, a, b));
  }
  // Bytes outside every span (a body the table does not describe), and a replayed frame that is longer.
  let at = 0;
  while (at < recorded.byteLength) {
    if (covered[at] === 1 || recorded[at] === replayed[at]) { at++; continue; }
    let end = at;
    while (end < recorded.byteLength && covered[end] !== 1) end++;
    list.push(describeBytes(`bytes[${at}..${end})`, at, recorded.subarray(at, end), replayed.subarray(at, end)));
    at = end;
  }
  if (replayed.byteLength > recorded.byteLength) {
    list.push({ field: `bytes[${recorded.byteLength}..${replayed.byteLength})`, offset: recorded.byteLength, recorded: '(absent)', replayed: `${replayed.byteLength - recorded.byteLength} more bytes` });
  }
  return { list, ignored };
}

function describeBytes(field: string, offset: number, a: Buffer, b: Buffer): FieldDifference {
  let first = 0;
  while (first < a.byteLength && first < b.byteLength && a[first] === b[first]) first++;
  const show = (x: Buffer) => {
    const text = x.toString('utf8');
    return x.byteLength <= 48 && /^[\x20-\x7e]*$/.test(text) ? JSON.stringify(text) : `${x.byteLength} bytes ${x.subarray(first, first + 8).toString('hex')}… at +${first}`;
  };
  return { field, offset, recorded: show(a), replayed: show(b) };
}

/** The report as text: one block per difference, then a summary line. */
export function formatReplayReport(r: ReplayReport, strict: boolean): string {
  const lines: string[] = [];
  for (const d of r.differences) {
    lines.push(`${d.what}: ${d.message}`);
    for (const f of d.fields) lines.push(`    ${f.field.padEnd(28)} (offset ${String(f.offset).padStart(4)})  recorded ${f.recorded}  replayed ${f.replayed}`);
  }
  const verdict = r.differences.length === 0 ? 'identical' : `${r.differences.length} difference${r.differences.length === 1 ? '' : 's'}`;
  const norm = strict ? ' (--strict: every field compared)' : r.normalized > 0 ? ` (${r.normalized} differing time/generation field${r.normalized === 1 ? '' : 's'} ignored; --strict compares them)` : '';
  lines.push(`replayed ${r.requests} requests, compared ${r.compared} replies and notifications: ${verdict}${norm}`);
  return `${lines.join('\n')}\n`;
}
