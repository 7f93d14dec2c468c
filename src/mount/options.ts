/**
 * Mount options in libfuse's `-o` syntax: `'ro,allow_other,fsname=foo,max_read=131072'`.
 *
 * Parsing follows libfuse's `process_real_option_group` (lib/fuse_opt.c): options are split on commas, a
 * backslash escapes the next character (`\,` is a literal comma) and `\ooo` (first digit 0–3) is an octal
 * byte. An array is several `-o` groups. When an option repeats, the last one wins, as in libfuse and
 * mount(8); empty items (`'ro,,rw'`, a trailing comma) are skipped.
 *
 * Every option is one row of {@link OPTION_TABLE}; the result splits into what the kernel and the mount
 * tools see (`mount`) and what the session applies itself (`fs`). Everything is checked here, before
 * anything is mounted, and every problem is an `ERR_FUSE_INVALID_OPTION` naming the option.
 */
import { TsfuseError } from '../errors.ts';

/** One or more `-o` groups. */
export type MountOptionsInput = string | readonly string[];

/** How access times are updated. `undefined` keeps the kernel default, which is `relatime`. */
export type AtimeMode = 'atime' | 'noatime' | 'relatime';

/** Options the kernel or the mount tools act on. */
export interface KernelMountOptions {
  /** The mount source shown in /proc/self/mountinfo. Defaults to {@link DEFAULT_FSNAME}. */
  readonly fsname: string;
  /** Makes the filesystem type `fuse.<subtype>`; plain `fuse` when undefined. */
  readonly subtype: string | undefined;
  /** Other users may access the mount (kernel `allow_other`). */
  readonly allowOther: boolean;
  /**
   * Only the mounting user and root may access the mount. Like libfuse, this mounts with the kernel's
   * `allow_other` and leaves refusing everybody else to the session (libfuse's `deny_others`).
   */
  readonly allowRoot: boolean;
  /** The kernel checks permissions from the file mode (kernel `default_permissions`). */
  readonly defaultPermissions: boolean;
  readonly readOnly: boolean;
  /** Defaults to true, as in libfuse (`MS_NOSUID | MS_NODEV` unless `suid`/`dev` is given). */
  readonly nosuid: boolean;
  /** Defaults to true, as in libfuse. */
  readonly nodev: boolean;
  readonly noexec: boolean;
  readonly atime: AtimeMode | undefined;
  /** Largest READ request, in bytes (kernel `max_read`). */
  readonly maxRead: number | undefined;
  /** Ask fusermount3 to unmount when the daemon dies. tsfuse's own watchdog runs either way. */
  readonly autoUnmount: boolean;
  /**
   * Accepted for compatibility and has no effect: since libfuse 3.0 neither fusermount3 nor mount(2)
   * refuses a non-empty mountpoint (fusermount3 3.x skips `nonempty` in `do_mount`).
   */
  readonly nonempty: boolean;
}

/** Options the session layer applies itself; the kernel never sees them. */
export interface FsOptions {
  /** Seconds the kernel may cache attributes. */
  readonly attrTimeout: number | undefined;
  /** Seconds the kernel may cache a name lookup. */
  readonly entryTimeout: number | undefined;
  /** Seconds the kernel may cache a failed lookup. */
  readonly negativeTimeout: number | undefined;
  readonly kernelCache: boolean;
  readonly autoCache: boolean;
  readonly directIo: boolean;
  readonly writebackCache: boolean;
  readonly maxWrite: number | undefined;
  readonly maxBackground: number | undefined;
  readonly congestionThreshold: number | undefined;
  /** Owner reported for every file, overriding the filesystem's answer. */
  readonly uid: number | undefined;
  readonly gid: number | undefined;
  /** Permission bits masked out of every reported mode. */
  readonly umask: number | undefined;
}

/** The parsed, validated and frozen result of {@link parseMountOptions}. */
export interface ParsedMountOptions {
  readonly mount: KernelMountOptions;
  readonly fs: FsOptions;
}

/** The mount source used when no `fsname` is given. */
export const DEFAULT_FSNAME = 'tsfuse';

/** Largest uid/gid: 0xFFFFFFFF is `(uid_t)-1`, "no id" (and FUSE_INVALID_UIDGID on the wire). */
const MAX_ID = 0xffff_fffe;
/** The kernel raises a smaller max_read to 4096 (fs/fuse/inode.c, fuse_fill_super_common). */
const MIN_MAX_READ = 4096;
/** The kernel raises a smaller max_write to 4096 (fs/fuse/inode.c, process_init_reply). */
const MIN_MAX_WRITE = 4096;
/** fuse_init_out.max_pages is a u16, so no kernel takes more than 65535 pages per request. */
const MAX_MAX_WRITE = 0xffff * 4096;
/** fuse_init_out.max_background and congestion_threshold are u16. */
const MAX_U16 = 0xffff;
const MAX_U32 = 0xffff_ffff;

type Mutable<T> = { -readonly [K in keyof T]: T[K] };
interface Draft {
  mount: Mutable<KernelMountOptions> & { fsnameGiven: boolean };
  fs: Mutable<FsOptions>;
}

type OptionRow =
  | { readonly kind: 'flag'; readonly set: (d: Draft) => void }
  | { readonly kind: 'value'; readonly set: (d: Draft, value: string, name: string) => void }
  | { readonly kind: 'refused'; readonly why: string };

function flag(set: (d: Draft) => void): OptionRow {
  return { kind: 'flag', set };
}
function value(set: (d: Draft, value: string, name: string) => void): OptionRow {
  return { kind: 'value', set };
}

/** Every option tsfuse knows, one row each. */
const OPTION_TABLE: Readonly<Record<string, OptionRow>> = Object.freeze({
  // Kernel and mount-level options.
  fsname: value((d, v, n) => {
    d.mount.fsname = checkFsname(n, v);
    d.mount.fsnameGiven = true;
  }),
  subtype: value((d, v, n) => { d.mount.subtype = checkSubtype(n, v); }),
  allow_other: flag((d) => { d.mount.allowOther = true; }),
  allow_root: flag((d) => { d.mount.allowRoot = true; }),
  default_permissions: flag((d) => { d.mount.defaultPermissions = true; }),
  ro: flag((d) => { d.mount.readOnly = true; }),
  rw: flag((d) => { d.mount.readOnly = false; }),
  nosuid: flag((d) => { d.mount.nosuid = true; }),
  suid: flag((d) => { d.mount.nosuid = false; }),
  nodev: flag((d) => { d.mount.nodev = true; }),
  dev: flag((d) => { d.mount.nodev = false; }),
  noexec: flag((d) => { d.mount.noexec = true; }),
  exec: flag((d) => { d.mount.noexec = false; }),
  noatime: flag((d) => { d.mount.atime = 'noatime'; }),
  atime: flag((d) => { d.mount.atime = 'atime'; }),
  relatime: flag((d) => { d.mount.atime = 'relatime'; }),
  max_read: value((d, v, n) => { d.mount.maxRead = parseInteger(n, v, MIN_MAX_READ, MAX_U32); }),
  auto_unmount: flag((d) => { d.mount.autoUnmount = true; }),
  nonempty: flag((d) => { d.mount.nonempty = true; }),
  blksize: {
    kind: 'refused',
    why:
      'the kernel accepts blksize only for fuseblk mounts ("blksize only supported for fuseblk", ' +
      'fs/fuse/inode.c fuse_parse_param) and tsfuse mounts plain fuse',
  },
  blkdev: { kind: 'refused', why: 'fuseblk (block-device) mounts are not supported by tsfuse' },
  // Filesystem-level options, applied by the session.
  attr_timeout: value((d, v, n) => { d.fs.attrTimeout = parseSeconds(n, v); }),
  entry_timeout: value((d, v, n) => { d.fs.entryTimeout = parseSeconds(n, v); }),
  negative_timeout: value((d, v, n) => { d.fs.negativeTimeout = parseSeconds(n, v); }),
  kernel_cache: flag((d) => { d.fs.kernelCache = true; }),
  auto_cache: flag((d) => { d.fs.autoCache = true; }),
  direct_io: flag((d) => { d.fs.directIo = true; }),
  writeback_cache: flag((d) => { d.fs.writebackCache = true; }),
  max_write: value((d, v, n) => { d.fs.maxWrite = parseInteger(n, v, MIN_MAX_WRITE, MAX_MAX_WRITE); }),
  max_background: value((d, v, n) => { d.fs.maxBackground = parseInteger(n, v, 1, MAX_U16); }),
  congestion_threshold: value((d, v, n) => { d.fs.congestionThreshold = parseInteger(n, v, 1, MAX_U16); }),
  uid: value((d, v, n) => { d.fs.uid = parseInteger(n, v, 0, MAX_ID); }),
  gid: value((d, v, n) => { d.fs.gid = parseInteger(n, v, 0, MAX_ID); }),
  umask: value((d, v, n) => { d.fs.umask = parseOctal(n, v, 0o777); }),
} satisfies Record<string, OptionRow>);

/** The names of every option {@link parseMountOptions} accepts (refused ones excluded). */
export const KNOWN_OPTIONS: readonly string[] = Object.freeze(
  Object.entries(OPTION_TABLE).filter(([, row]) => row.kind !== 'refused').map(([name]) => name),
);

function invalid(message: string): TsfuseError {
  return new TsfuseError('ERR_FUSE_INVALID_OPTION', message);
}

/**
 * Parses, checks and freezes mount options. Throws `ERR_FUSE_INVALID_OPTION` for an unknown option, a
 * flag given a value, a value option without a value, a malformed or out-of-range number, and
 * `allow_root` together with `allow_other`.
 */
export function parseMountOptions(input: MountOptionsInput = []): ParsedMountOptions {
  const groups = typeof input === 'string' ? [input] : input;
  if (!Array.isArray(groups) || groups.some((g) => typeof g !== 'string')) {
    throw invalid('mount options must be a string or an array of strings');
  }
  const draft: Draft = {
    mount: {
      fsname: DEFAULT_FSNAME, fsnameGiven: false, subtype: undefined, allowOther: false, allowRoot: false,
      defaultPermissions: false, readOnly: false, nosuid: true, nodev: true, noexec: false, atime: undefined,
      maxRead: undefined, autoUnmount: false, nonempty: false,
    },
    fs: {
      attrTimeout: undefined, entryTimeout: undefined, negativeTimeout: undefined, kernelCache: false,
      autoCache: false, directIo: false, writebackCache: false, maxWrite: undefined, maxBackground: undefined,
      congestionThreshold: undefined, uid: undefined, gid: undefined, umask: undefined,
    },
  };
  for (const group of groups) {
    for (const item of splitOptionGroup(group)) applyOption(draft, item);
  }
  const { mount, fs } = draft;
  if (mount.allowOther && mount.allowRoot) {
    throw invalid("options 'allow_other' and 'allow_root' are mutually exclusive (as in libfuse)");
  }
  if (fs.congestionThreshold !== undefined && fs.maxBackground !== undefined &&
      fs.congestionThreshold > fs.maxBackground) {
    throw invalid(
      `option 'congestion_threshold' (${fs.congestionThreshold}) must not exceed ` +
      `'max_background' (${fs.maxBackground})`,
    );
  }
  const { fsnameGiven: _ignored, ...mountOut } = mount;
  return Object.freeze({ mount: Object.freeze(mountOut), fs: Object.freeze({ ...fs }) });
}

/** Splits one `-o` group on unescaped commas and resolves escapes, like libfuse's fuse_opt.c. */
export function splitOptionGroup(group: string): string[] {
  const items: string[] = [];
  let current = '';
  for (let i = 0; i < group.length; i++) {
    const ch = group[i] as string;
    if (ch === ',') {
      items.push(current);
      current = '';
    } else if (ch === '\\' && i + 1 < group.length) {
      const octal = /^[0-3][0-7][0-7]/.exec(group.slice(i + 1, i + 4));
      if (octal !== null) {
        current += String.fromCharCode(Number.parseInt(octal[0], 8));
        i += 3;
      } else {
        current += group[i + 1] as string;
        i += 1;
      }
    } else {
      current += ch;
    }
  }
  items.push(current);
  return items.filter((item) => item !== '');
}

function applyOption(draft: Draft, item: string): void {
  const eq = item.indexOf('=');
  const name = eq === -1 ? item : item.slice(0, eq);
  const val = eq === -1 ? undefined : item.slice(eq + 1);
  const row = Object.hasOwn(OPTION_TABLE, name) ? OPTION_TABLE[name] : undefined;
  if (row === undefined) throw invalid(`unknown mount option ${JSON.stringify(name)}`);
  switch (row.kind) {
    case 'refused':
      throw invalid(`option '${name}' is not supported: ${row.why}`);
    case 'flag':
      if (val !== undefined) throw invalid(`option '${name}' is a flag and takes no value (got '${item}')`);
      row.set(draft);
      return;
    case 'value':
      if (val === undefined || val === '') throw invalid(`option '${name}' needs a value: '${name}=<value>'`);
      row.set(draft, val, name);
      return;
  }
}

function parseInteger(name: string, text: string, min: number, max: number): number {
  if (!/^\d+$/.test(text)) throw invalid(`option '${name}' needs a decimal integer, got '${text}'`);
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n < min || n > max) {
    throw invalid(`option '${name}' must be an integer from ${min} to ${max}, got ${text}`);
  }
  return n;
}

function parseSeconds(name: string, text: string): number {
  if (!/^(?:\d+(?:\.\d*)?|\.\d+)$/.test(text)) {
    throw invalid(`option '${name}' needs a number of seconds >= 0 (like 1 or 0.5), got '${text}'`);
  }
  const n = Number(text);
  if (!Number.isFinite(n)) throw invalid(`option '${name}' is too large: '${text}'`);
  return n;
}

function parseOctal(name: string, text: string, max: number): number {
  if (!/^[0-7]{1,4}$/.test(text)) throw invalid(`option '${name}' needs an octal number like 022, got '${text}'`);
  const n = Number.parseInt(text, 8);
  if (n > max) throw invalid(`option '${name}' must be at most ${max.toString(8)} (octal), got ${text}`);
  return n;
}

/** Device tags mount(8) would try to resolve to a block device instead of using as a plain source. */
const DEVICE_TAG = /^(?:LABEL|UUID|PARTLABEL|PARTUUID|ID)=/;

function checkFsname(name: string, text: string): string {
  if (text.includes('\0')) throw invalid(`option '${name}' must not contain a NUL byte`);
  if (DEVICE_TAG.test(text)) {
    throw invalid(
      `option '${name}=${text}' looks like a mount(8) device tag (LABEL=, UUID=, ...), ` +
      'which mount(8) would try to resolve; choose another fsname',
    );
  }
  return text;
}

function checkSubtype(name: string, text: string): string {
  // It becomes part of the filesystem type `fuse.<subtype>`; keep it to characters every tool passes through.
  if (!/^[A-Za-z0-9_+.-]+$/.test(text)) {
    throw invalid(`option '${name}' may only contain letters, digits and '_+.-', got ${JSON.stringify(text)}`);
  }
  return text;
}

/** The filesystem type: `fuse.<subtype>`, or `fuse`. */
export function fsTypeOf(mount: KernelMountOptions): string {
  return mount.subtype === undefined ? 'fuse' : `fuse.${mount.subtype}`;
}

/** Which ids own the mount, and the /dev/fuse descriptor number as the mounting process sees it. */
export interface MountDataIds {
  readonly fd: number;
  readonly uid: number;
  readonly gid: number;
}

/**
 * The data string the kernel parses (fs/fuse/inode.c fuse_parse_param):
 * `fd=N,rootmode=40000,user_id=U,group_id=G[,default_permissions][,allow_other][,max_read=N]`.
 * `allow_root` becomes `allow_other` here; the session must then refuse everybody but the owner and root.
 */
export function kernelMountData(mount: KernelMountOptions, ids: MountDataIds): string {
  const parts = [`fd=${ids.fd}`, 'rootmode=40000', `user_id=${ids.uid}`, `group_id=${ids.gid}`];
  if (mount.defaultPermissions) parts.push('default_permissions');
  if (mount.allowOther || mount.allowRoot) parts.push('allow_other');
  if (mount.maxRead !== undefined) parts.push(`max_read=${mount.maxRead}`);
  return parts.join(',');
}

/** The generic mount flags for mount(8)'s `-o`, e.g. `['rw', 'nosuid', 'nodev', 'noatime']`. */
export function mountFlags(mount: KernelMountOptions): string[] {
  const flags = [mount.readOnly ? 'ro' : 'rw', mount.nosuid ? 'nosuid' : 'suid', mount.nodev ? 'nodev' : 'dev'];
  if (mount.noexec) flags.push('noexec');
  if (mount.atime !== undefined) flags.push(mount.atime);
  return flags;
}

/** Escapes a value for fusermount3, which splits on commas and honours backslash escapes (3.10+). */
function escapeForFusermount(text: string): string {
  return text.replace(/[\\,]/g, (c) => `\\${c}`);
}

/**
 * The `-o` string for `fusermount3`. It knows the generic flags except `relatime` (the kernel default, so
 * it is left out), passes `default_permissions`, `allow_other` and `max_read` to the kernel, and takes
 * `fsname`, `subtype` and `auto_unmount` itself (util/fusermount.c, do_mount).
 */
export function fusermountOptions(mount: KernelMountOptions): string {
  const parts = mountFlags(mount).filter((f) => f !== 'relatime');
  parts.push(`fsname=${escapeForFusermount(mount.fsname)}`);
  if (mount.subtype !== undefined) parts.push(`subtype=${escapeForFusermount(mount.subtype)}`);
  if (mount.defaultPermissions) parts.push('default_permissions');
  if (mount.allowOther || mount.allowRoot) parts.push('allow_other');
  if (mount.maxRead !== undefined) parts.push(`max_read=${mount.maxRead}`);
  if (mount.autoUnmount) parts.push('auto_unmount');
  return parts.join(',');
}
