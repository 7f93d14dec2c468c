/**
 * The handoff channel between the serving process and its successor: a socketpair the successor
 * inherits (spawn's `'pipe'` stdio), carrying messages as a 4-byte little-endian length and a
 * `v8.serialize` body, so the state may hold Maps, typed arrays and bigints.
 */
import { Socket } from 'node:net';
import { deserialize, serialize } from 'node:v8';
import { TsfuseError } from '../errors.ts';

/** The messages, in the order they are sent. */
export type HandoffMessage =
  | { readonly kind: 'booted'; readonly pid: number }
  | { readonly kind: 'state'; readonly state: HandoffState }
  | { readonly kind: 'serving'; readonly at: number }
  | { readonly kind: 'failed'; readonly message: string }
  | { readonly kind: 'first-reply'; readonly at: number }
  // Between a supervised daemon and its supervisor (./supervisor.ts, ./supervisor-link.ts).
  | { readonly kind: 'recovery'; readonly state: unknown }
  | { readonly kind: 'stop' };

/** What the serving process hands over (see predecessor.ts). */
export interface HandoffState {
  readonly pid: number;
  /** What INIT agreed. */
  readonly negotiated: unknown;
  readonly audit: unknown;
  /** The mount (src/mount/mount.ts DeviceHandoff). */
  readonly device: unknown;
  /** The successor's descriptor numbers of what it inherited. */
  readonly fds: { readonly fuse: number; readonly watchdog: number; readonly control: number };
  /** Descriptors the filesystem passed (token = index): this process's numbers, to reopen through /proc. */
  readonly passed: readonly number[];
  /** The filesystem's exportState() result. */
  readonly fs: unknown;
  /** Wall-clock milliseconds (with fractions) when reading stopped, and of the last reply before that. */
  readonly pausedAt: number;
  readonly lastReplyAt: number | undefined;
  /** A supervised mount: the successor's descriptor of the supervisor's channel, and the journal. */
  readonly supervisor?: { readonly fd: number; readonly journal: string } | undefined;
}

/** Wall-clock milliseconds with sub-millisecond precision, comparable between processes. */
export function wallClockMs(): number {
  return performance.timeOrigin + performance.now();
}

const MAX_MESSAGE = 2 ** 31 - 1;

export class HandoffChannel {
  readonly #socket: Socket;
  readonly #queue: HandoffMessage[] = [];
  #waiter: { ok: (m: HandoffMessage) => void; fail: (e: Error) => void } | undefined;
  #chunks: Buffer[] = [];
  #have = 0;
  #ended: Error | undefined;

  constructor(socket: Socket) {
    this.#socket = socket;
    socket.on('data', (chunk: Buffer) => this.#receive(chunk));
    socket.on('error', (e) => this.#end(e));
    socket.on('close', () => this.#end(new TsfuseError('ERR_FUSE_HANDOFF', 'the other process closed the handoff channel')));
  }

  /** The channel over an inherited descriptor (the successor's end). */
  static fromFd(fd: number): HandoffChannel {
    return new HandoffChannel(new Socket({ fd, readable: true, writable: true }));
  }

  send(message: HandoffMessage): number {
    const body = serialize(message);
    if (body.length > MAX_MESSAGE) throw new TsfuseError('ERR_FUSE_HANDOFF', `the handoff state is too large (${body.length} bytes)`);
    const head = Buffer.allocUnsafe(4);
    head.writeUInt32LE(body.length, 0);
    this.#socket.write(head);
    this.#socket.write(body);
    return body.length;
  }

  /** The next message; rejects after `timeoutMs`, or when the channel ends first. */
  next(timeoutMs: number, what: string): Promise<HandoffMessage> {
    const queued = this.#queue.shift();
    if (queued !== undefined) return Promise.resolve(queued);
    if (this.#ended !== undefined) return Promise.reject(this.#ended);
    return new Promise((ok, fail) => {
      const timer = setTimeout(() => {
        this.#waiter = undefined;
        fail(new TsfuseError('ERR_FUSE_HANDOFF', `${what} did not come within ${timeoutMs} ms`));
      }, timeoutMs);
      this.#waiter = {
        ok: (m) => { clearTimeout(timer); ok(m); },
        fail: (e) => { clearTimeout(timer); fail(e); },
      };
    });
  }

  /** Lets the process exit while the channel is open (it is only waited on with a timeout). */
  unref(): void { this.#socket.unref(); }

  close(): void { this.#socket.destroy(); }

  #receive(chunk: Buffer): void {
    // Chunks are joined only once a whole message is there: a large state arrives in many of them.
    this.#chunks.push(chunk);
    this.#have += chunk.length;
    while (this.#have >= 4) {
      let first = this.#chunks[0]!;
      if (first.length < 4) {
        first = Buffer.concat(this.#chunks);
        this.#chunks = [first];
      }
      const length = first.readUInt32LE(0);
      if (this.#have < 4 + length) return;
      const all = this.#chunks.length === 1 ? first : Buffer.concat(this.#chunks);
      const message = deserialize(all.subarray(4, 4 + length)) as HandoffMessage;
      const rest = all.subarray(4 + length);
      this.#chunks = rest.length > 0 ? [rest] : [];
      this.#have = rest.length;
      const waiter = this.#waiter;
      this.#waiter = undefined;
      if (waiter !== undefined) waiter.ok(message);
      else this.#queue.push(message);
    }
  }

  #end(e: Error): void {
    this.#ended ??= e;
    const waiter = this.#waiter;
    this.#waiter = undefined;
    waiter?.fail(this.#ended);
  }
}
