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

/**
 * Mount options: one or more `-o` groups (`'ro,fsname=demo'`, `['ro', 'fsname=demo']`), or an object
 * (`{ readOnly: true, fsname: 'demo' }`) with the fields of the parsed result, which becomes the same `-o`
 * list and is checked by the same rules.
 */
export type MountOptionsInput = string | readonly string[] | MountOptionsObject;

/**
 * Mount options as an object: every field of {@link KernelMountOptions} and {@link FsOptions}, optional.
 * A boolean with an opposite `-o` flag gives either (`readOnly: false` is `rw`, `nosuid: false` is `suid`);
 * other booleans give their flag when true and nothing when false. `umask` may be a number (`0o022`) or
 * octal text (`'022'`). Absent or `undefined` fields keep their defaults.
 */
export type MountOptionsObject = {
  readonly [K in keyof KernelMountOptions | keyof FsOptions]?:
    K extends 'umask' ? number | string
      : K extends keyof KernelMountOptions ? Exclude<KernelMountOptions[K], undefined>
        : K extends keyof FsOptions ? Exclude<FsOptions[K], undefined> : never;
};

/** How access times are updated. `undefined` keeps the kernel default, which is `relatime`. */
export type AtimeMode = 'atime' | 'noatime' | 'relatime';

/** Options the kernel or the mount tools act on. */
export interface KernelMountOptions {
  /** The mount source shown in /proc/self/mountinfo. Defaults to {@link DEFAULT_FSNAME}. */
  readonly fsname: string;
  /** Makes the filesystem type `fuse.<subtype>`; plain `fuse` when undefined. */
  readonly subtype: string | undefined;
  /**
   * Other users may access the mount (kernel `allow_other`). Without {@link defaultPermissions} the kernel
   * then checks no permissions for them, and lets every user reuse an entry and attributes cached after
   * another user's lookup: the filesystem must check each access itself and must not let the kernel
   * cache (see `LowLevelOperations.checksPermissions`, which makes entry and attribute timeouts default to
   * 0), or `mount()` warns. See "Permissions" in the README. Defaults to false.
   */
  readonly allowOther: boolean;
  /**
   * Only the mounting user and root may access the mount. Like libfuse, this mounts with the kernel's
   * `allow_other` and leaves refusing everybody else to the session (libfuse's `deny_others`).
   */
  readonly allowRoot: boolean;
  /**
   * The kernel checks permissions from each node's mode, uid and gid, as for a local filesystem (kernel
   * `default_permissions`). Without it the kernel checks (almost) nothing and leaves it to the filesystem.
   * Defaults to false, as in libfuse; recommended with {@link allowOther}.
   */
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
  /**
   * libfuse's `max_threads`. With clone queues running (see {@link cloneFd}): how many worker queues.
   * Otherwise: at most this many requests in the filesystem's handlers at once; more wait their turn in
   * arrival order (handlers run on the main thread, so this bounds the asynchronous work a filesystem has
   * outstanding, not threads). Absent: one worker queue per CPU with clone queues, else no limit.
   */
  readonly maxThreads: number | undefined;
  /**
   * libfuse's `clone_fd` (a /dev/fuse queue per thread), a performance hint: for a filesystem that
   * declares `workerIo` (the passthrough does), on Node >= 26, `max_threads` (default: one per CPU) more
   * /dev/fuse queues (FUSE_DEV_IOC_CLONE), each read by a worker thread that answers READ/WRITE of mapped
   * handles itself with pread/pwrite and forwards every other request to the main thread
   * (src/session/clone-queues.ts). Random reads gain, metadata requests read by a worker pay a thread hop
   * (bench/RESULTS.md "Several reader queues"). Not with `debug`, `record`, `explain` or `supervise`,
   * which need every request on the main queue. Otherwise (Node 20, a filesystem that does not opt in)
   * accepted and without effect, no error or warning: `FuseMount.queues` says how many queues serve.
   * Defaults to false.
   */
  readonly cloneFd: boolean;
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
/** libfuse refuses max_threads above 100000 (lib/fuse_loop_mt.c, FUSE_LOOP_MT_MAX_THREADS). */
const MAX_MAX_THREADS = 100_000;

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
  // libfuse's multi-threaded loop options (fuse_parse_cmdline); see FsOptions.maxThreads and cloneFd.
  max_threads: value((d, v, n) => { d.fs.maxThreads = parseInteger(n, v, 1, MAX_MAX_THREADS); }),
  clone_fd: flag((d) => { d.fs.cloneFd = true; }),
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
  const isObject = typeof input === 'object' && input !== null && !Array.isArray(input);
  const groups = typeof input === 'string' ? [input] : isObject ? [] : input;
  if (!Array.isArray(groups) || groups.some((g) => typeof g !== 'string')) {
    throw invalid('mount options must be a string, an array of strings, or an object like { allowOther: true }');
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
      maxThreads: undefined, cloneFd: false,
    },
  };
  for (const group of groups) {
    for (const item of splitOptionGroup(group)) applyOption(draft, item);
  }
  if (isObject) {
    for (const [name, val, label] of optionItemsFromObject(input as MountOptionsObject)) applyOption(draft, name, val, label);
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

/** Applies one `-o` item (`name` or `name=value`), or a name and value from the object form. */
function applyOption(draft: Draft, item: string, objectValue?: string, label?: string): void {
  const eq = label !== undefined ? -1 : item.indexOf('=');
  const name = eq === -1 ? item : item.slice(0, eq);
  const val = label !== undefined ? objectValue : eq === -1 ? undefined : item.slice(eq + 1);
  const row = Object.hasOwn(OPTION_TABLE, name) ? OPTION_TABLE[name] : undefined;
  if (row === undefined) throw invalid(`unknown mount option ${JSON.stringify(name)}${suggestion(name, KNOWN_OPTIONS)}`);
  const shown = label ?? name;
  switch (row.kind) {
    case 'refused':
      throw invalid(`option '${name}' is not supported: ${row.why}`);
    case 'flag':
      if (val !== undefined) throw invalid(`option '${name}' is a flag and takes no value (got '${item}')`);
      row.set(draft);
      return;
    case 'value':
      if (val === undefined || val === '') throw invalid(`option '${shown}' needs a value: '${name}=<value>'`);
      row.set(draft, val, shown);
      return;
  }
}

/** How each field of the object form becomes `-o` items. */
type ObjectKey =
  | { readonly kind: 'flag'; readonly on: string; readonly off?: string }
  | { readonly kind: 'value'; readonly name: string }
  | { readonly kind: 'choice'; readonly names: readonly string[] };

const OBJECT_KEYS: Readonly<Record<keyof MountOptionsObject, ObjectKey>> = Object.freeze({
  fsname: { kind: 'value', name: 'fsname' },
  subtype: { kind: 'value', name: 'subtype' },
  allowOther: { kind: 'flag', on: 'allow_other' },
  allowRoot: { kind: 'flag', on: 'allow_root' },
  defaultPermissions: { kind: 'flag', on: 'default_permissions' },
  readOnly: { kind: 'flag', on: 'ro', off: 'rw' },
  nosuid: { kind: 'flag', on: 'nosuid', off: 'suid' },
  nodev: { kind: 'flag', on: 'nodev', off: 'dev' },
  noexec: { kind: 'flag', on: 'noexec', off: 'exec' },
  atime: { kind: 'choice', names: ['atime', 'noatime', 'relatime'] },
  maxRead: { kind: 'value', name: 'max_read' },
  autoUnmount: { kind: 'flag', on: 'auto_unmount' },
  nonempty: { kind: 'flag', on: 'nonempty' },
  attrTimeout: { kind: 'value', name: 'attr_timeout' },
  entryTimeout: { kind: 'value', name: 'entry_timeout' },
  negativeTimeout: { kind: 'value', name: 'negative_timeout' },
  kernelCache: { kind: 'flag', on: 'kernel_cache' },
  autoCache: { kind: 'flag', on: 'auto_cache' },
  directIo: { kind: 'flag', on: 'direct_io' },
  writebackCache: { kind: 'flag', on: 'writeback_cache' },
  maxWrite: { kind: 'value', name: 'max_write' },
  maxBackground: { kind: 'value', name: 'max_background' },
  congestionThreshold: { kind: 'value', name: 'congestion_threshold' },
  uid: { kind: 'value', name: 'uid' },
  gid: { kind: 'value', name: 'gid' },
  umask: { kind: 'value', name: 'umask' },
  maxThreads: { kind: 'value', name: 'max_threads' },
  cloneFd: { kind: 'flag', on: 'clone_fd' },
} satisfies Record<keyof MountOptionsObject, ObjectKey>);

/** The `-o` name a field of the object form stands for, to suggest it for a misspelt or `-o`-style key. */
const OBJECT_KEY_BY_OPTION: ReadonlyMap<string, string> = new Map(Object.entries(OBJECT_KEYS).flatMap(([key, k]) =>
  k.kind === 'flag' ? [[k.on, key], ...(k.off === undefined ? [] : [[k.off, key]])] as [string, string][]
    : k.kind === 'value' ? [[k.name, key]] as [string, string][] : k.names.map((n) => [n, key] as [string, string])));

/** The object form as `[option name, value or undefined, field name]` items, in the object's key order. */
function optionItemsFromObject(input: MountOptionsObject): [string, string | undefined, string][] {
  const items: [string, string | undefined, string][] = [];
  for (const [key, v] of Object.entries(input)) {
    const spec = Object.hasOwn(OBJECT_KEYS, key) ? OBJECT_KEYS[key as keyof MountOptionsObject] : undefined;
    if (spec === undefined) {
      const asOption = OBJECT_KEY_BY_OPTION.get(key) ?? OBJECT_KEY_BY_OPTION.get(key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`));
      const hint = asOption !== undefined ? `; did you mean '${asOption}'?` : suggestion(key, Object.keys(OBJECT_KEYS));
      throw invalid(`unknown mount option key ${JSON.stringify(key)}${hint}`);
    }
    if (v === undefined) continue;
    switch (spec.kind) {
      case 'flag':
        if (typeof v !== 'boolean') throw invalid(`option '${key}' must be true or false, got ${describe(v)}`);
        if (v) items.push([spec.on, undefined, key]);
        else if (spec.off !== undefined) items.push([spec.off, undefined, key]);
        break;
      case 'choice':
        if (typeof v !== 'string' || !spec.names.includes(v)) {
          throw invalid(`option '${key}' must be one of ${spec.names.map((n) => `'${n}'`).join(', ')}, got ${describe(v)}`);
        }
        items.push([v, undefined, key]);
        break;
      case 'value':
        items.push([spec.name, objectValueText(key, v), key]);
        break;
    }
  }
  return items;
}

/** A value of the object form as the text its `-o` option takes; numbers must be finite. */
function objectValueText(key: string, v: unknown): string {
  if (typeof v === 'string') return v;
  if (typeof v !== 'number') throw invalid(`option '${key}' must be a ${key === 'fsname' || key === 'subtype' ? 'string' : 'number'}, got ${describe(v)}`);
  if (key === 'fsname' || key === 'subtype') throw invalid(`option '${key}' must be a string, got ${describe(v)}`);
  if (!Number.isFinite(v)) throw invalid(`option '${key}' must be a finite number, got ${String(v)}`);
  if (key === 'umask') {
    if (!Number.isInteger(v) || v < 0) throw invalid(`option 'umask' must be a mode like 0o022, got ${String(v)}`);
    return v.toString(8);
  }
  // Decimal text as the -o parser reads it (String(1e-7) would be '1e-7').
  return Number.isInteger(v) ? String(v) : v < 0 ? String(v) : v.toFixed(9).replace(/0+$/, '');
}

function describe(v: unknown): string {
  return typeof v === 'string' ? JSON.stringify(v) : typeof v === 'object' ? (v === null ? 'null' : Array.isArray(v) ? 'an array' : 'an object') : `${typeof v} ${String(v)}`;
}

/** `; did you mean 'x'?` for the known name closest to `name` (edit distance ≤ 3), else nothing. */
function suggestion(name: string, known: readonly string[]): string {
  let best: string | undefined;
  let bestDistance = 4;
  for (const k of known) {
    const d = editDistance(name.toLowerCase(), k.toLowerCase());
    if (d < bestDistance) { best = k; bestDistance = d; }
  }
  return best === undefined ? '' : `; did you mean '${best}'?`;
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur.push(Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1)));
    }
    prev = cur;
  }
  return prev[b.length]!;
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
