/**
 * INIT: a pure negotiation from what the kernel offers and what the filesystem asks for, with an audit
 * of every capability bit, and the encoder of fuse_init_out in the size each minor expects.
 */
import {
  INIT_FLAGS, INIT_FLAG_BY_NAME, INIT_EXT, KERNEL_MAJOR, KERNEL_MINOR, MIN_SUPPORTED_MINOR, type InitFlagName,
} from './constants.ts';
import type { InitRequest } from './requests.ts';
import type { Negotiated } from './negotiated.ts';
import { InitOut } from './structs.ts';

const PAGE_SIZE = 4096;
/** The kernel's default `fs.fuse.max_pages_limit` (FUSE_DEFAULT_MAX_PAGES_LIMIT, fs/fuse/fuse_i.h). */
export const DEFAULT_MAX_PAGES_LIMIT = 256;
/** Without MAX_PAGES the kernel uses FUSE_DEFAULT_MAX_PAGES_PER_REQ = 32 pages per request. */
const DEFAULT_MAX_PAGES = 32;
/** FILESYSTEM_MAX_STACK_DEPTH (include/linux/fs.h): passthrough backing files may stack at most 2 deep. */
const FILESYSTEM_MAX_STACK_DEPTH = 2;

/** Defaults for {@link InitWants}; exported so callers can build on them. */
export const INIT_DEFAULTS = Object.freeze({
  /** 1 MiB: bulk writes arrive in as few requests as the kernel allows (256 pages). */
  maxWrite: 1 << 20,
  maxReadahead: 1 << 20,
  /** libfuse's defaults (FUSE_DEFAULT_MAX_BACKGROUND 12, threshold 3/4 of it). */
  maxBackground: 12,
  congestionThreshold: 9,
  timeGran: 1,
});

/** What the filesystem asks of INIT. */
export interface InitWants {
  /** Capabilities to take when offered. Defaults to none. */
  readonly want?: readonly InitFlagName[];
  /** Capabilities without which the filesystem cannot run: negotiation fails if any is refused. */
  readonly require?: readonly InitFlagName[];
  /** Largest WRITE payload. Defaults to 1 MiB; clamped to [4096, maxPages × 4096] like fs/fuse/inode.c process_init_reply. */
  readonly maxWrite?: number;
  /** Defaults to 1 MiB; the kernel keeps the smaller of this and its own offer. */
  readonly maxReadahead?: number;
  /** Defaults to 12. u16. */
  readonly maxBackground?: number;
  /** Defaults to 9. u16. */
  readonly congestionThreshold?: number;
  /** Timestamp granularity in ns, 1..1e9. Defaults to 1. */
  readonly timeGran?: number;
  /** log2 of the DAX mapping alignment (MAP_ALIGNMENT). */
  readonly mapAlignment?: number;
  /**
   * How deep the backing files' filesystems may already be stacked, 1..2, sent only with PASSTHROUGH: 1
   * takes backing files on filesystems that stack nothing (a FUSE mount without passthrough among them),
   * 2 also those on overlayfs or on a passthrough FUSE mount (deeper ones get ELOOP, fs/fuse/backing.c
   * fuse_backing_open). This mount then counts as stacked this deep itself. Defaults to 1.
   */
  readonly maxStackDepth?: number;
  /** Seconds after which the kernel aborts an unanswered request (REQUEST_TIMEOUT, 7.43). u16. */
  readonly requestTimeout?: number;
  /** The kernel's `fs.fuse.max_pages_limit`. Defaults to 256. */
  readonly maxPagesLimit?: number;
}

/** The decision for one capability bit. */
export interface CapabilityAudit {
  readonly name: InitFlagName;
  readonly bit: number;
  readonly minor: number;
  readonly offered: boolean;
  readonly requested: boolean;
  readonly required: boolean;
  readonly granted: boolean;
  /** Why it was not granted (or why it was granted without being asked for). */
  readonly reason?: string;
}

/** The fields of fuse_init_out. */
export interface InitOutFields {
  readonly major: number;
  readonly minor: number;
  readonly maxReadahead: number;
  readonly flags: number;
  readonly maxBackground: number;
  readonly congestionThreshold: number;
  readonly maxWrite: number;
  readonly timeGran: number;
  readonly maxPages: number;
  readonly mapAlignment: number;
  readonly flags2: number;
  readonly maxStackDepth: number;
  readonly requestTimeout: number;
}

export type InitOutcome =
  | { readonly ok: true; readonly negotiated: Negotiated; readonly reply: InitOutFields; readonly audit: readonly CapabilityAudit[] }
  /** The kernel speaks a newer major: answer with ours only and wait for a new INIT. */
  | { readonly ok: false; readonly kind: 'major-retry'; readonly reply: InitOutFields; readonly message: string }
  | { readonly ok: false; readonly kind: 'too-old' | 'refused'; readonly message: string; readonly audit: readonly CapabilityAudit[]; readonly refused: readonly InitFlagName[] };

const WRITEBACK_CACHE_BIT = INIT_FLAG_BY_NAME.get('WRITEBACK_CACHE')!.bit;

/** Capabilities granted without being asked for when the kernel offers them: needed to use the others. */
const IMPLIED: readonly InitFlagName[] = ['INIT_EXT', 'MAX_PAGES'];

function bitSet(flags: number, flags2: number, bit: number): boolean {
  return bit < 32 ? ((flags >>> bit) & 1) === 1 : ((flags2 >>> (bit - 32)) & 1) === 1;
}

function clampInt(v: number, lo: number, hi: number): number {
  return Math.min(hi, Math.max(lo, Math.trunc(v)));
}

/**
 * Agrees on the INIT settings. Pure: same input, same output. Capabilities are granted when offered by
 * the kernel, known at the agreed minor, and requested (or implied); every bit gets an audit line.
 */
export function negotiateInit(kernel: InitRequest, wants: InitWants = {}): InitOutcome {
  if (kernel.major > KERNEL_MAJOR) {
    return {
      ok: false, kind: 'major-retry', message: `kernel offers FUSE ${kernel.major}.${kernel.minor}; answering with ${KERNEL_MAJOR} and waiting for a new INIT`,
      reply: { ...EMPTY_REPLY, major: KERNEL_MAJOR, minor: KERNEL_MINOR },
    };
  }
  if (kernel.major < KERNEL_MAJOR || kernel.minor < MIN_SUPPORTED_MINOR) {
    return {
      ok: false, kind: 'too-old', audit: [], refused: [],
      message: `kernel speaks FUSE ${kernel.major}.${kernel.minor}; tsfuse needs ${KERNEL_MAJOR}.${MIN_SUPPORTED_MINOR} (Linux 4.18) or newer`,
    };
  }
  const minor = Math.min(kernel.minor, KERNEL_MINOR);
  const offeredFlags2 = (kernel.flags & INIT_EXT) !== 0 ? kernel.flags2 : 0;
  const want = new Set<InitFlagName>(wants.want ?? []);
  const require = new Set<InitFlagName>(wants.require ?? []);
  for (const name of [...want, ...require]) {
    if (!INIT_FLAG_BY_NAME.has(name)) {
      return { ok: false, kind: 'refused', message: `unknown INIT capability ${String(name)}`, audit: [], refused: [name] };
    }
  }
  const audit: CapabilityAudit[] = [];
  let flags = 0;
  let flags2 = 0;
  for (const f of INIT_FLAGS) {
    const offered = bitSet(kernel.flags, offeredFlags2, f.bit);
    const requested = want.has(f.name) || require.has(f.name);
    const implied = IMPLIED.includes(f.name);
    let reason: string | undefined;
    if (f.name === 'INIT_RESERVED') reason = 'reserved bit, never granted';
    else if (f.minor > minor) reason = `needs protocol 7.${f.minor}, agreed 7.${minor}`;
    else if (!offered) reason = 'not offered by the kernel';
    else if (!requested && !implied) reason = 'not requested';
    // fs/fuse/inode.c process_init_reply turns passthrough on only without WRITEBACK_CACHE (the kernel
    // would grant both and silently pass nothing through); WRITEBACK_CACHE's bit, 16, is decided first.
    else if (f.name === 'PASSTHROUGH' && bitSet(flags, flags2, WRITEBACK_CACHE_BIT)) reason = 'incompatible with WRITEBACK_CACHE, which was granted';
    const granted = reason === undefined;
    if (granted && !requested) reason = 'implied: needed for other negotiated fields';
    if (granted) {
      if (f.bit < 32) flags = (flags | (1 << f.bit)) >>> 0;
      else flags2 = (flags2 | (1 << (f.bit - 32))) >>> 0;
    }
    audit.push({ name: f.name, bit: f.bit, minor: f.minor, offered, requested, required: require.has(f.name), granted, ...(reason !== undefined && { reason }) });
  }
  const refused = audit.filter((a) => a.required && !a.granted).map((a) => a.name);
  if (refused.length > 0) {
    const why = audit.filter((a) => refused.includes(a.name)).map((a) => `${a.name} (${a.reason})`).join(', ');
    return { ok: false, kind: 'refused', message: `required INIT capabilities refused: ${why}`, audit, refused };
  }
  // INIT_EXT is only meaningful when flags2 carries something; keep it granted either way (the kernel
  // ignores flags2 = 0), so the reply is predictable.
  const has = (name: InitFlagName) => bitSet(flags, flags2, INIT_FLAG_BY_NAME.get(name)!.bit);

  const maxPagesLimit = clampInt(wants.maxPagesLimit ?? DEFAULT_MAX_PAGES_LIMIT, 1, 0xffff);
  const wantWrite = wants.maxWrite ?? INIT_DEFAULTS.maxWrite;
  // fs/fuse/inode.c process_init_reply: max_pages = min(limit, max(arg->max_pages, 1)) with MAX_PAGES,
  // else the default 32; max_write = max(4096, arg->max_write), and a request never exceeds max_pages.
  const maxPages = has('MAX_PAGES') ? clampInt(Math.ceil(wantWrite / PAGE_SIZE), 1, maxPagesLimit) : DEFAULT_MAX_PAGES;
  const maxWrite = clampInt(wantWrite, PAGE_SIZE, maxPages * PAGE_SIZE);
  const maxReadahead = clampInt(Math.min(wants.maxReadahead ?? INIT_DEFAULTS.maxReadahead, kernel.maxReadahead), 0, 0xffff_ffff);
  const maxBackground = clampInt(wants.maxBackground ?? INIT_DEFAULTS.maxBackground, 0, 0xffff);
  const congestionThreshold = clampInt(wants.congestionThreshold ?? Math.min(INIT_DEFAULTS.congestionThreshold, maxBackground), 0, 0xffff);
  const timeGran = clampInt(wants.timeGran ?? INIT_DEFAULTS.timeGran, 1, 1_000_000_000);
  const mapAlignment = has('MAP_ALIGNMENT') ? clampInt(wants.mapAlignment ?? 0, 0, 0xffff) : 0;
  // The kernel enables passthrough only with 0 < max_stack_depth <= FILESYSTEM_MAX_STACK_DEPTH.
  const maxStackDepth = has('PASSTHROUGH') ? clampInt(wants.maxStackDepth ?? 1, 1, FILESYSTEM_MAX_STACK_DEPTH) : 0;
  const requestTimeout = has('REQUEST_TIMEOUT') ? clampInt(wants.requestTimeout ?? 0, 0, 0xffff) : 0;

  const reply: InitOutFields = {
    major: KERNEL_MAJOR, minor: KERNEL_MINOR, maxReadahead, flags, maxBackground, congestionThreshold, maxWrite,
    timeGran, maxPages, mapAlignment, flags2, maxStackDepth, requestTimeout,
  };
  const negotiated: Negotiated = Object.freeze({
    major: KERNEL_MAJOR, minor, flags, flags2, maxReadahead, maxWrite, maxPages, maxBackground, congestionThreshold,
    timeGran, mapAlignment, maxStackDepth, requestTimeout, setxattrExt: has('SETXATTR_EXT'),
  });
  return { ok: true, negotiated, reply: Object.freeze(reply), audit: Object.freeze(audit) };
}

const EMPTY_REPLY: InitOutFields = {
  major: 0, minor: 0, maxReadahead: 0, flags: 0, maxBackground: 0, congestionThreshold: 0, maxWrite: 0, timeGran: 0,
  maxPages: 0, mapAlignment: 0, flags2: 0, maxStackDepth: 0, requestTimeout: 0,
};

/** fuse_init_out of kernels before 7.5 (FUSE_COMPAT_INIT_OUT_SIZE) and before 7.23 (FUSE_COMPAT_22_INIT_OUT_SIZE). */
const COMPAT_INIT_OUT_SIZE = 8;
const COMPAT_22_INIT_OUT_SIZE = 24;

/** fuse_init_out size for a kernel minor: 8 before 7.5, 24 before 7.23, else 64. */
export function initOutSize(kernelMinor: number): number {
  if (kernelMinor < 5) return COMPAT_INIT_OUT_SIZE;
  if (kernelMinor < 23) return COMPAT_22_INIT_OUT_SIZE;
  return InitOut.size;
}

/** Encodes fuse_init_out, truncated to the size the kernel of `kernelMinor` expects. */
export function encodeInitOut(f: InitOutFields, kernelMinor: number): Buffer {
  const b = Buffer.alloc(InitOut.size);
  const o = InitOut.off;
  b.writeUInt32LE(f.major, o.major);
  b.writeUInt32LE(f.minor, o.minor);
  b.writeUInt32LE(f.maxReadahead >>> 0, o.max_readahead);
  b.writeUInt32LE(f.flags >>> 0, o.flags);
  b.writeUInt16LE(f.maxBackground, o.max_background);
  b.writeUInt16LE(f.congestionThreshold, o.congestion_threshold);
  b.writeUInt32LE(f.maxWrite >>> 0, o.max_write);
  b.writeUInt32LE(f.timeGran >>> 0, o.time_gran);
  b.writeUInt16LE(f.maxPages, o.max_pages);
  b.writeUInt16LE(f.mapAlignment, o.map_alignment);
  b.writeUInt32LE(f.flags2 >>> 0, o.flags2);
  b.writeUInt32LE(f.maxStackDepth >>> 0, o.max_stack_depth);
  b.writeUInt16LE(f.requestTimeout, o.request_timeout);
  return b.subarray(0, initOutSize(kernelMinor));
}
