/**
 * A fake kernel: drives a low-level filesystem through the real protocol core, frame by frame, with no
 * root, no /dev/fuse and no mount. Requests are built as the kernel builds them and replies come back as
 * bytes, so tests (yours and ours) exercise exactly what a mounted filesystem would see.
 *
 *   const k = new FakeKernel(ops);
 *   await k.init();
 *   const r = await k.request('LOOKUP', 1, FakeKernel.name('hello.txt'));
 *   r.error; // 0
 *   decodeEntryOut(r.body).nodeid;
 */
import { SessionCore, type SessionCoreOptions, type RequestSink } from './session/core.ts';
import type { LowLevelOperations } from './ops/lowlevel.ts';
import { opcodeByName } from './protocol/opcodes.ts';
import { INIT_FLAGS, KERNEL_MAJOR, KERNEL_MINOR, type InitFlagName } from './protocol/constants.ts';
import { readU64, writeU64, type U64 } from './protocol/u64.ts';
import type { Negotiated } from './protocol/negotiated.ts';
import { Attr as AttrLayout, EntryOut, AttrOut, OpenOut, Dirent } from './protocol/structs.ts';
import { TsfuseError } from './errors.ts';

// Request builders, reply readers and the path-level client (src/testing/), documented in the README.
export {
  build, type NameLike, type DataLike, type TimeArg, type SetattrFields, type ReadArgs, type WriteArgs, type ReleaseArgs,
  type LockArgs, type CreateArgs, type CopyFileRangeArgs,
} from './testing/builders.ts';
export {
  reply, type AttrFields, type EntryFields, type AttrOutFields, type OpenFields, type StatfsFields, type LockFields, type IoctlFields,
  type IovecFields, type SxTimeFields, type StatxFields, type StatxOutFields, type DirentFields, type DirentPlusFields,
} from './testing/replies.ts';
export { mountFake, FakeMount, FakeStats, type MountFakeOptions, type FakeFileHandle, type FakeSystemError } from './testing/client.ts';

export interface FakeReply {
  readonly unique: U64;
  /** 0 or a positive errno. */
  readonly error: number;
  readonly body: Buffer;
}

export interface FakeRequestOptions {
  readonly uid?: number;
  readonly gid?: number;
  readonly pid?: number;
  /** Request extensions (already encoded, 8-byte aligned), appended after the body. */
  readonly extensions?: Uint8Array;
  /** Resolve with `undefined` instead of rejecting when no reply arrives (FORGET and friends). */
  readonly expectNoReply?: boolean;
  /** Defaults to 2000 ms. */
  readonly timeoutMs?: number;
  /** Lend the frame, as a transport does with large ones: called once the core gives its memory back. */
  readonly release?: () => void;
}

export interface FakeKernelOptions extends SessionCoreOptions {
  /** The minor the fake kernel announces. Defaults to 45. */
  readonly minor?: number;
  /** Capabilities the fake kernel offers. Defaults to all of them. */
  readonly offer?: readonly InitFlagName[];
  readonly maxReadahead?: number;
  /**
   * Collect replies nobody waits for (a second reply to one request, a reply after its timeout, a reply
   * to a frame that was never sent through `send`/`request`) in `strayReplies` instead of failing.
   * Defaults to false: the first stray reply rejects every pending and later request with an error
   * saying which request it answered, and `check()` throws it.
   */
  readonly allowStrayReplies?: boolean;
}

export class FakeKernel {
  readonly core: SessionCore;
  /** Notification frames the filesystem sent (whole frames, out-header included). */
  readonly notifications: Buffer[] = [];
  /** Replies to requests nobody waits for any more (answered twice, or after a timeout): should stay empty. */
  readonly strayReplies: FakeReply[] = [];
  readonly #waiting = new Map<string, { resolve: (r: FakeReply) => void; reject: (e: Error) => void }>();
  readonly #options: FakeKernelOptions;
  /** The sink every request frame is delivered with: replies come back to `#deliver`. */
  readonly #sink: RequestSink;
  #unique = 0;
  #fault: Error | undefined;

  constructor(ops: LowLevelOperations, options: FakeKernelOptions = {}) {
    this.#options = options;
    const deliver = (iov: readonly Uint8Array[]): string | 0 => this.#deliver(iov);
    this.#sink = Object.freeze({ reply: deliver });
    this.core = new SessionCore(ops, { write: deliver, writeAsync: async (iov) => deliver(iov) }, options);
  }

  /** The first stray reply seen (unless `allowStrayReplies`), as the error pending requests were rejected with. */
  get fault(): Error | undefined { return this.#fault; }

  /** Throws if a stray or duplicate reply was seen (see `allowStrayReplies`). */
  check(): void {
    if (this.#fault) throw this.#fault;
  }

  /** Checks a reply or notification frame as the kernel's fuse_dev_do_write would, and routes it. */
  #deliver(iov: readonly Uint8Array[]): string | 0 {
    // Like writev(2) from Node: only byte views can be written; anything else never reaches the kernel.
    if (!iov.every((b) => b instanceof Uint8Array)) {
      const e = new TypeError('The "buffers" argument must be an ArrayBufferView[]') as TypeError & { code: string };
      e.code = 'ERR_INVALID_ARG_TYPE';
      throw e;
    }
    const frame = Buffer.concat(iov.map((b) => Buffer.from(b.buffer, b.byteOffset, b.byteLength)));
    // fs/fuse/dev.c fuse_dev_do_write: a wrong length or an error outside -511..0 is EINVAL, and the
    // request stays waiting for a proper reply.
    if (frame.length < 16 || frame.readUInt32LE(0) !== frame.length) return 'EINVAL';
    const unique = readU64(frame, 8);
    const error = frame.readInt32LE(4);
    if (unique === 0) { this.notifications.push(frame); return 0; }
    if (error > 0 || error <= -512) return 'EINVAL';
    const key = String(unique);
    const reply: FakeReply = { unique, error: error === 0 ? 0 : -error, body: frame.subarray(16) };
    const waiter = this.#waiting.get(key);
    if (!waiter) {
      this.strayReplies.push(reply);
      if (!this.#options.allowStrayReplies) {
        this.#failAll(new Error(
          `FakeKernel: stray reply to request ${key} (error ${reply.error}, ${reply.body.length} body bytes): nobody waits for it — ` +
          'a second reply to one request, a reply after its timeout, or a reply to a frame not sent through send()/request(). ' +
          'Pass { allowStrayReplies: true } to collect these in strayReplies instead.',
        ));
      }
      return 'ENOENT'; // like the kernel: nobody waits for this request any more
    }
    this.#waiting.delete(key);
    waiter.resolve(reply);
    return 0;
  }

  #failAll(e: Error): void {
    this.#fault ??= e;
    const waiting = [...this.#waiting.values()];
    this.#waiting.clear();
    for (const w of waiting) w.reject(e);
  }

  /** The next request id (the kernel counts in steps of 2; bit 0 marks interrupts). */
  nextUnique(): number { this.#unique += 2; return this.#unique; }

  /** Performs INIT and returns the agreed settings. */
  async init(): Promise<Negotiated> {
    const offer = this.#options.offer ?? INIT_FLAGS.map((f) => f.name);
    let flags = 0;
    let flags2 = 0;
    for (const name of offer) {
      const f = INIT_FLAGS.find((x) => x.name === name)!;
      if (f.bit < 32) flags = (flags | (1 << f.bit)) >>> 0; else flags2 = (flags2 | (1 << (f.bit - 32))) >>> 0;
    }
    flags = (flags | (1 << 30)) >>> 0; // INIT_EXT: flags2 is valid
    const body = Buffer.alloc(64);
    body.writeUInt32LE(KERNEL_MAJOR, 0);
    body.writeUInt32LE(this.#options.minor ?? KERNEL_MINOR, 4);
    body.writeUInt32LE(this.#options.maxReadahead ?? 131072, 8);
    body.writeUInt32LE(flags, 12);
    body.writeUInt32LE(flags2, 16);
    const r = await this.request('INIT', 0, body);
    if (r.error !== 0) throw new TsfuseError('ERR_FUSE_PROTOCOL', `INIT answered ${r.error}`);
    return this.core.initialized;
  }

  /** Sends one request and waits for its reply. */
  request(opcode: string | number, nodeid: U64, body: Uint8Array | readonly Uint8Array[] = [], options: FakeRequestOptions = {}): Promise<FakeReply> {
    const unique = this.nextUnique();
    return this.send(this.frame(opcode, nodeid, body, { ...options, unique }), unique, options);
  }

  /** Builds a request frame as the kernel would. */
  frame(opcode: string | number, nodeid: U64, body: Uint8Array | readonly Uint8Array[], options: FakeRequestOptions & { unique: U64 }): Buffer {
    const code = typeof opcode === 'number' ? opcode : opcodeByName(opcode)?.code;
    if (code === undefined) throw new TsfuseError('ERR_INVALID_ARG_VALUE', `unknown opcode ${String(opcode)}`);
    const parts = body instanceof Uint8Array ? [body] : [...body];
    const ext = options.extensions ?? new Uint8Array(0);
    const bodyLen = parts.reduce((n, p) => n + p.byteLength, 0);
    const h = Buffer.alloc(40);
    h.writeUInt32LE(40 + bodyLen + ext.byteLength, 0);
    h.writeUInt32LE(code, 4);
    writeU64(h, 8, options.unique);
    writeU64(h, 16, nodeid);
    h.writeUInt32LE(options.uid ?? 0, 24);
    h.writeUInt32LE(options.gid ?? 0, 28);
    h.writeUInt32LE(options.pid ?? 1, 32);
    h.writeUInt16LE(ext.byteLength / 8, 36);
    return Buffer.concat([h, ...parts, ext]);
  }

  /** Delivers a raw frame; resolves with the reply to `unique` (or undefined when none is expected). */
  send(frame: Buffer, unique: U64, options: FakeRequestOptions = {}): Promise<FakeReply> {
    if (this.#fault) return Promise.reject(this.#fault);
    const key = String(unique);
    const reply = new Promise<FakeReply>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiting.delete(key);
        if (options.expectNoReply) resolve(undefined as unknown as FakeReply);
        else reject(new Error(`no reply to request ${key} within ${options.timeoutMs ?? 2000} ms`));
      }, options.expectNoReply ? Math.min(options.timeoutMs ?? 50, 50) : options.timeoutMs ?? 2000);
      this.#waiting.set(key, {
        resolve: (r) => {
          clearTimeout(timer);
          if (options.expectNoReply) reject(new Error(`FakeKernel: request ${key} expected no reply, got error ${r.error}`));
          else resolve(r);
        },
        reject: (e) => { clearTimeout(timer); reject(e); },
      });
    });
    this.core.handleFrame(frame, options.release === undefined ? this.#sink : { reply: this.#sink.reply, release: options.release });
    return reply;
  }

  /** Sends FUSE_INTERRUPT for a request in flight. */
  interrupt(target: U64): void {
    const body = Buffer.alloc(8);
    writeU64(body, 0, target);
    const unique = this.nextUnique();
    this.core.handleFrame(this.frame('INTERRUPT', 0, body, { unique }), this.#sink);
  }

  /* ---- request body builders ------------------------------------------------------------------ */

  /** A NUL-terminated name (LOOKUP, UNLINK, RMDIR, GETXATTR name, …). */
  static name(name: string | Uint8Array): Buffer {
    return Buffer.concat([typeof name === 'string' ? Buffer.from(name) : name, Buffer.alloc(1)]);
  }
  /** fuse_getattr_in. */
  static getattr(fh?: U64): Buffer {
    const b = Buffer.alloc(16);
    if (fh !== undefined) { b.writeUInt32LE(1, 0); writeU64(b, 8, fh); }
    return b;
  }
  /** fuse_open_in. */
  static open(flags: number): Buffer {
    const b = Buffer.alloc(8);
    b.writeUInt32LE(flags >>> 0, 0);
    return b;
  }
  /** fuse_read_in (READ, READDIR, READDIRPLUS). */
  static read(fh: U64, offset: U64, size: number): Buffer {
    const b = Buffer.alloc(40);
    writeU64(b, 0, fh);
    writeU64(b, 8, offset);
    b.writeUInt32LE(size, 16);
    return b;
  }
  /** fuse_write_in followed by the data. */
  static write(fh: U64, offset: U64, data: Uint8Array): Buffer[] {
    const b = Buffer.alloc(40);
    writeU64(b, 0, fh);
    writeU64(b, 8, offset);
    b.writeUInt32LE(data.byteLength, 16);
    return [b, Buffer.from(data)];
  }
  /** fuse_release_in (RELEASE, RELEASEDIR). */
  static release(fh: U64, flags = 0): Buffer {
    const b = Buffer.alloc(24);
    writeU64(b, 0, fh);
    b.writeUInt32LE(flags, 8);
    return b;
  }
  /** fuse_forget_in. */
  static forget(nlookup: U64): Buffer {
    const b = Buffer.alloc(8);
    writeU64(b, 0, nlookup);
    return b;
  }
}

/* ---- reply decoders ---------------------------------------------------------------------------- */

export interface DecodedAttr {
  ino: U64; size: U64; blocks: U64; atime: U64; mtime: U64; ctime: U64; atimensec: number; mtimensec: number;
  ctimensec: number; mode: number; nlink: number; uid: number; gid: number; rdev: number; blksize: number; flags: number;
}

function decodeAttrAt(b: Buffer, off: number): DecodedAttr {
  const o = AttrLayout.off;
  return {
    ino: readU64(b, off + o.ino), size: readU64(b, off + o.size), blocks: readU64(b, off + o.blocks),
    atime: readU64(b, off + o.atime), mtime: readU64(b, off + o.mtime), ctime: readU64(b, off + o.ctime),
    atimensec: b.readUInt32LE(off + o.atimensec), mtimensec: b.readUInt32LE(off + o.mtimensec),
    ctimensec: b.readUInt32LE(off + o.ctimensec), mode: b.readUInt32LE(off + o.mode), nlink: b.readUInt32LE(off + o.nlink),
    uid: b.readUInt32LE(off + o.uid), gid: b.readUInt32LE(off + o.gid), rdev: b.readUInt32LE(off + o.rdev),
    blksize: b.readUInt32LE(off + o.blksize), flags: b.readUInt32LE(off + o.flags),
  };
}

/** Reads a fuse_entry_out reply body. */
export function decodeEntryOut(b: Buffer): { nodeid: U64; generation: U64; entryValid: U64; entryValidNsec: number; attrValid: U64; attrValidNsec: number; attr: DecodedAttr } {
  const o = EntryOut.off;
  return {
    nodeid: readU64(b, o.nodeid), generation: readU64(b, o.generation), entryValid: readU64(b, o.entry_valid),
    entryValidNsec: b.readUInt32LE(o.entry_valid_nsec), attrValid: readU64(b, o.attr_valid),
    attrValidNsec: b.readUInt32LE(o.attr_valid_nsec), attr: decodeAttrAt(b, o.attr),
  };
}

/** Reads a fuse_attr_out reply body. */
export function decodeAttrOut(b: Buffer): { attrValid: U64; attrValidNsec: number; attr: DecodedAttr } {
  return { attrValid: readU64(b, AttrOut.off.attr_valid), attrValidNsec: b.readUInt32LE(AttrOut.off.attr_valid_nsec), attr: decodeAttrAt(b, AttrOut.off.attr) };
}

/** Reads a fuse_open_out reply body. */
export function decodeOpenOut(b: Buffer): { fh: U64; openFlags: number; backingId: number } {
  return { fh: readU64(b, OpenOut.off.fh), openFlags: b.readUInt32LE(OpenOut.off.open_flags), backingId: b.readInt32LE(OpenOut.off.backing_id) };
}

/** Reads the fuse_dirent records of a READDIR reply body. */
export function decodeDirents(b: Buffer): { ino: U64; off: U64; type: number; name: string }[] {
  const out: { ino: U64; off: U64; type: number; name: string }[] = [];
  let at = 0;
  while (at + Dirent.size <= b.length) {
    const namelen = b.readUInt32LE(at + Dirent.off.namelen);
    out.push({
      ino: readU64(b, at + Dirent.off.ino), off: readU64(b, at + Dirent.off.off), type: b.readUInt32LE(at + Dirent.off.type),
      name: b.subarray(at + Dirent.size, at + Dirent.size + namelen).toString(),
    });
    at += (Dirent.size + namelen + 7) & ~7;
  }
  return out;
}
