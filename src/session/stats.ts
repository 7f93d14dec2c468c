/**
 * Live statistics of a session: per-opcode counts, errors by errno, requests in flight, and latency
 * percentiles. The collector is one more subscriber of the `tsfuse:request` / `tsfuse:reply` diagnostics
 * channels (like the `-d` trace in src/session/trace.ts), so a session without it pays nothing.
 *
 * Latencies go into a fixed-size log-linear histogram ({@link LatencyHistogram}): recording is an index
 * computation and one array increment, with no allocation per request, and its memory does not grow with
 * uptime. The channels are process-wide: a collector counts every session of its process (the CLI serves
 * one mount per process).
 */
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { errnoName } from '../errors.ts';
import type { U64 } from '../protocol/u64.ts';
import { REPLY_CHANNEL, REQUEST_CHANNEL, type ReplyMessage, type RequestMessage } from './core.ts';

/** Sub-buckets per power of two: values are kept to 1/16 (6.25 %) of their size. */
const SUB_BITS = 4;
const SUB_COUNT = 1 << SUB_BITS;
/** The largest exponent kept; larger values (2^53 ns is 104 days) land in the last bucket. */
const MAX_EXPONENT = 52;
const BUCKETS = SUB_COUNT + (MAX_EXPONENT - SUB_BITS + 1) * SUB_COUNT;
const TWO_32 = 0x1_0000_0000;

/** The bucket of a non-negative integer: values below 16 have one each, then 16 per power of two. */
function bucketOf(value: number): number {
  if (value < SUB_COUNT) return value;
  const exponent = value < TWO_32 ? 31 - Math.clz32(value) : 63 - Math.clz32(Math.floor(value / TWO_32));
  if (exponent > MAX_EXPONENT) return BUCKETS - 1;
  const sub = Math.floor(value / 2 ** (exponent - SUB_BITS)) - SUB_COUNT;
  return SUB_COUNT + (exponent - SUB_BITS) * SUB_COUNT + sub;
}

/** The smallest value that falls in `bucket`. */
function bucketFloor(bucket: number): number {
  if (bucket < SUB_COUNT) return bucket;
  const exponent = SUB_BITS + Math.floor((bucket - SUB_COUNT) / SUB_COUNT);
  const sub = (bucket - SUB_COUNT) % SUB_COUNT;
  return (SUB_COUNT + sub) * 2 ** (exponent - SUB_BITS);
}

/**
 * A histogram of non-negative integers (latencies in nanoseconds) in 800 log-linear buckets: one per value
 * below 16, then 16 per power of two (HdrHistogram's layout with 4 significant bits). A percentile is
 * reported as the smallest value of its bucket, so it is at most 1/16 below the true value and never above
 * it; it is exact for values below 32 and for values that start a bucket (m·2^k with 16 ≤ m < 32). The
 * minimum, maximum and mean are kept exactly.
 */
export class LatencyHistogram {
  readonly #counts = new Float64Array(BUCKETS);
  #count = 0;
  #sum = 0;
  #min = Number.POSITIVE_INFINITY;
  #max = 0;

  /** Records one value (rounded down to an integer; negative values count as 0). */
  record(value: number): void {
    const v = value > 0 ? Math.floor(value) : 0;
    this.#counts[bucketOf(v)]!++;
    this.#count++;
    this.#sum += v;
    if (v < this.#min) this.#min = v;
    if (v > this.#max) this.#max = v;
  }

  get count(): number { return this.#count; }
  /** 0 when empty. */
  get min(): number { return this.#count === 0 ? 0 : this.#min; }
  /** 0 when empty. */
  get max(): number { return this.#max; }
  /** 0 when empty. */
  get mean(): number { return this.#count === 0 ? 0 : this.#sum / this.#count; }

  /**
   * The nearest-rank percentile `p` (0–100): the smallest recorded value with at least p % of the values
   * at or below it, rounded down to its bucket and kept within [min, max]. 0 when empty.
   */
  percentile(p: number): number {
    if (this.#count === 0) return 0;
    if (p >= 100) return this.#max;
    const rank = Math.max(1, Math.ceil((p / 100) * this.#count));
    let seen = 0;
    for (let b = 0; b < BUCKETS; b++) {
      seen += this.#counts[b]!;
      if (seen >= rank) return Math.min(this.#max, Math.max(this.#min, bucketFloor(b)));
    }
    return this.#max;
  }

  reset(): void {
    this.#counts.fill(0);
    this.#count = 0;
    this.#sum = 0;
    this.#min = Number.POSITIVE_INFINITY;
    this.#max = 0;
  }
}

/** Latency percentiles in nanoseconds. */
export interface LatencySummary {
  /** How many latencies were measured (replies to requests seen arriving; refusals take no time). */
  readonly count: number;
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly max: number;
  readonly mean: number;
}

/** One opcode's figures in a {@link StatsSnapshot}. */
export interface OpcodeStats {
  /** The opcode's name, as in the trace: `LOOKUP`, `READ`, … */
  readonly name: string;
  /** Requests answered (or finished, for those without a reply: FORGET, INTERRUPT, …). */
  readonly count: number;
  /** Replies with an error. */
  readonly errors: number;
  /** Errors by errno name (`ENOENT: 3`). */
  readonly errnos: Readonly<Record<string, number>>;
  /** Requests that have arrived and not been answered yet. */
  readonly inFlight: number;
  readonly latencyNs: LatencySummary;
}

/** What `tsfuse stats --json` prints and the control socket sends. */
export interface StatsSnapshot {
  /** Format version of this object; bumped when a field changes meaning. */
  readonly version: 1;
  readonly pid: number;
  /** The mountpoint, when the collector knows it. */
  readonly mountpoint?: string;
  /** When collecting began (ISO 8601). */
  readonly since: string;
  readonly uptimeMs: number;
  readonly count: number;
  readonly errors: number;
  readonly inFlight: number;
  /** Errors by errno name over all opcodes. */
  readonly errnos: Readonly<Record<string, number>>;
  readonly latencyNs: LatencySummary;
  /** One entry per opcode seen, most frequent first. */
  readonly opcodes: readonly OpcodeStats[];
}

class OpcodeCounters {
  readonly name: string;
  count = 0;
  errors = 0;
  inFlight = 0;
  /** errno → count; created at the first error. */
  errnos: Map<number, number> | undefined;
  readonly latency = new LatencyHistogram();
  constructor(name: string) { this.name = name; }
}

function summary(h: LatencyHistogram): LatencySummary {
  return { count: h.count, p50: h.percentile(50), p90: h.percentile(90), p99: h.percentile(99), max: h.max, mean: Math.round(h.mean) };
}

function errnoRecord(map: ReadonlyMap<number, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [errno, n] of [...map].sort((a, b) => b[1] - a[1])) out[errnoName(errno)] = n;
  return out;
}

/**
 * Counts requests and replies from the diagnostics channels. {@link start} subscribes, {@link stop}
 * unsubscribes; {@link onRequest} and {@link onReply} are what the channels call, public so that tests
 * (and replays) can feed it messages directly.
 */
export class StatsCollector {
  readonly #byName = new Map<string, OpcodeCounters>();
  /** Requests seen arriving and not yet answered, by `unique` → their counters. */
  readonly #pending = new Map<U64, OpcodeCounters>();
  readonly #total = new LatencyHistogram();
  readonly #errnos = new Map<number, number>();
  readonly #now: () => number;
  readonly #mountpoint: string | undefined;
  #since: number;
  #count = 0;
  #errors = 0;
  #subscribed = false;
  readonly #onRequest = (m: unknown): void => this.onRequest(m as RequestMessage);
  readonly #onReply = (m: unknown): void => this.onReply(m as ReplyMessage);

  /** `now` (ms since the epoch) is for tests. */
  constructor(options: { readonly mountpoint?: string; readonly now?: () => number } = {}) {
    this.#now = options.now ?? Date.now;
    this.#mountpoint = options.mountpoint;
    this.#since = this.#now();
  }

  /** Subscribes to the channels. Idempotent. */
  start(): this {
    if (!this.#subscribed) {
      subscribe(REQUEST_CHANNEL, this.#onRequest);
      subscribe(REPLY_CHANNEL, this.#onReply);
      this.#subscribed = true;
    }
    return this;
  }

  /** Unsubscribes. Idempotent; the figures so far stay readable. */
  stop(): void {
    if (!this.#subscribed) return;
    unsubscribe(REQUEST_CHANNEL, this.#onRequest);
    unsubscribe(REPLY_CHANNEL, this.#onReply);
    this.#subscribed = false;
  }

  [Symbol.dispose](): void { this.stop(); }

  #counters(name: string): OpcodeCounters {
    let c = this.#byName.get(name);
    if (c === undefined) {
      c = new OpcodeCounters(name);
      this.#byName.set(name, c);
    }
    return c;
  }

  /** A request arrived (published before its handler runs). */
  onRequest(m: RequestMessage): void {
    const c = this.#counters(m.name);
    c.inFlight++;
    this.#pending.set(m.header.unique, c);
  }

  /**
   * A request was answered, or finished without a reply (`bodyLength` −1). Replies the session sends
   * without a published request (malformed frames, refused requests) are counted but have no latency.
   */
  onReply(m: ReplyMessage): void {
    const c = this.#counters(m.name);
    const pending = this.#pending.get(m.unique);
    if (pending === c) {
      this.#pending.delete(m.unique);
      c.inFlight--;
      c.latency.record(m.latencyNs);
      this.#total.record(m.latencyNs);
    }
    c.count++;
    this.#count++;
    if (m.error !== 0) {
      c.errors++;
      this.#errors++;
      c.errnos ??= new Map();
      c.errnos.set(m.error, (c.errnos.get(m.error) ?? 0) + 1);
      this.#errnos.set(m.error, (this.#errnos.get(m.error) ?? 0) + 1);
    }
  }

  /** The figures now, as plain JSON-ready data. */
  snapshot(): StatsSnapshot {
    const opcodes = [...this.#byName.values()]
      .filter((c) => c.count > 0 || c.inFlight > 0)
      .sort((a, b) => b.count - a.count || a.name.localeCompare(b.name))
      .map((c): OpcodeStats => ({
        name: c.name,
        count: c.count,
        errors: c.errors,
        errnos: c.errnos === undefined ? {} : errnoRecord(c.errnos),
        inFlight: c.inFlight,
        latencyNs: summary(c.latency),
      }));
    const now = this.#now();
    return {
      version: 1,
      pid: process.pid,
      ...(this.#mountpoint !== undefined && { mountpoint: this.#mountpoint }),
      since: new Date(this.#since).toISOString(),
      uptimeMs: now - this.#since,
      count: this.#count,
      errors: this.#errors,
      inFlight: this.#pending.size,
      errnos: errnoRecord(this.#errnos),
      latencyNs: summary(this.#total),
      opcodes,
    };
  }

  /** Forgets the figures (requests in flight stay in flight). */
  reset(): void {
    for (const c of this.#byName.values()) {
      c.count = 0;
      c.errors = 0;
      c.errnos = undefined;
      c.latency.reset();
    }
    this.#total.reset();
    this.#errnos.clear();
    this.#count = 0;
    this.#errors = 0;
    this.#since = this.#now();
  }
}
