/**
 * fuse-native's constructor options, read the way fuse-native reads them, and turned into tsfuse mount
 * options. The rules kept from fuse-native (its `_fuseOptions`):
 * - an option applies only when its value is truthy (`attrTimeout: 0` leaves libfuse's default of 1 s,
 *   `uid: 0` leaves the filesystem's owner);
 * - `DEBUG=*` (or a DEBUG list naming `fuse-native`/`fuse-bindings`) turns `debug` on;
 * - `displayFolder` and `name` are macOS-only and do nothing on Linux;
 * - `timeout` is per operation: milliseconds (default 15 000), `false` for none, or an object
 *   `{ default, read: 1000, write: false, … }`; a late callback answers ETIMEDOUT.
 * Options naming another libfuse option in camel case (`negativeTimeout`, `directIO`, `maxWrite`, …)
 * pass through as fuse-native's README promises; options tsfuse cannot honour are a clear error at mount.
 */
import { KNOWN_OPTIONS } from '../mount/options.ts';
import { TsfuseError } from '../errors.ts';

/** fuse-native's default operation timeout (ms). */
export const DEFAULT_TIMEOUT_MS = 15_000;

/** Per-operation timeouts: milliseconds, or false for none; `default` for the operations not named. */
export type FuseNativeTimeouts = { readonly default?: number | false } & { readonly [operation: string]: number | false | undefined };

/** The options of `new Fuse(mnt, ops, opts)`. Every field is optional; each says what fuse-native does. */
export interface FuseNativeOptions {
  /** Print every request and reply (libfuse's `-d`) on stderr. Defaults to false (or on with `DEBUG=*`). */
  readonly debug?: boolean;
  /** Unmount a broken (dead daemon) mount at the mountpoint first. Defaults to false. */
  readonly force?: boolean;
  /** Create the mountpoint (and its parents) when missing. Defaults to false. */
  readonly mkdir?: boolean;
  /** macOS volume name and icon; no effect on Linux, as in fuse-native. */
  readonly displayFolder?: boolean | string;
  /** macOS volume name with `displayFolder`; no effect on Linux. */
  readonly name?: string;
  /** Milliseconds before an operation without an answer fails with ETIMEDOUT; `false`: never. Defaults to 15 000. */
  readonly timeout?: number | false | FuseNativeTimeouts;
  /** `-o allow_other`. */
  readonly allowOther?: boolean;
  /** `-o allow_root`. */
  readonly allowRoot?: boolean;
  /** `-o auto_unmount` (tsfuse's watchdog unmounts a dead daemon's mount either way). */
  readonly autoUnmount?: boolean;
  /** `-o default_permissions`: the kernel checks modes. */
  readonly defaultPermissions?: boolean;
  /** `-o max_read=N`. */
  readonly maxRead?: number;
  /** `-o fsname=…`. */
  readonly fsname?: string;
  /** `-o subtype=…`. */
  readonly subtype?: string;
  /** `-o kernel_cache`: keep the page cache across opens. */
  readonly kernelCache?: boolean;
  /** `-o auto_cache`: drop the page cache when mtime or size change. */
  readonly autoCache?: boolean;
  /** `-o umask=…`: octal text (`'022'`) or a number (`0o022`). */
  readonly umask?: number | string;
  /** `-o uid=N`: every file reports this owner. */
  readonly uid?: number;
  /** `-o gid=N`. */
  readonly gid?: number;
  /** `-o entry_timeout=S` (seconds). libfuse's default is 1. */
  readonly entryTimeout?: number;
  /** `-o attr_timeout=S` (seconds). libfuse's default is 1. */
  readonly attrTimeout?: number;
  /** `-o negative_timeout=S` (seconds). libfuse's default is 0. */
  readonly negativeTimeout?: number;
  /** `-o direct_io`: bypass the page cache. */
  readonly directIO?: boolean;
  /** libfuse 2's auto_cache check interval; accepted, no effect (the kernel does the checking: AUTO_INVAL_DATA). */
  readonly acAttrTimeout?: number;
  /** libfuse 2 node-table tuning; accepted, no effect (tsfuse's path layer keeps paths of open files itself). */
  readonly noforget?: boolean;
  /** Same as {@link noforget}. */
  readonly remember?: number;
  /** Not supported: a {@link TsfuseError} ERR_FUSE_INVALID_OPTION at mount. */
  readonly fd?: number;
  /** Not supported: a {@link TsfuseError} ERR_FUSE_INVALID_OPTION at mount. */
  readonly userId?: number;
  /** Not supported: a {@link TsfuseError} ERR_FUSE_INVALID_OPTION at mount. */
  readonly modules?: string;
  /** Not supported: a {@link TsfuseError} ERR_FUSE_INVALID_OPTION at mount. */
  readonly blkdev?: boolean;
  /** Not supported: a {@link TsfuseError} ERR_FUSE_INVALID_OPTION at mount. */
  readonly blksize?: number;
}

/** fuse-native's option names, with the `-o` option each becomes (`null`: accepted, no effect on Linux). */
const OPTION_NAMES: Readonly<Record<string, string | null>> = Object.freeze({
  allowOther: 'allow_other', allowRoot: 'allow_root', autoUnmount: 'auto_unmount', defaultPermissions: 'default_permissions',
  maxRead: 'max_read', fsname: 'fsname', subtype: 'subtype', kernelCache: 'kernel_cache', autoCache: 'auto_cache',
  umask: 'umask', uid: 'uid', gid: 'gid', entryTimeout: 'entry_timeout', attrTimeout: 'attr_timeout', directIO: 'direct_io',
  acAttrTimeout: null, noforget: null, remember: null, displayFolder: null, name: null,
  // Not mount options: read by the adapter itself.
  debug: null, force: null, mkdir: null, timeout: null,
});

/** Options tsfuse cannot honour, with the reason given at mount. */
const UNSUPPORTED: Readonly<Record<string, string>> = Object.freeze({
  fd: 'tsfuse opens /dev/fuse itself and cannot serve a descriptor opened elsewhere',
  userId: "'user_id' is set by the mount tool, not by the filesystem",
  modules: 'libfuse 2 stacking modules (subdir, iconv) do not exist in tsfuse',
  blkdev: 'fuseblk (block-device) mounts are not supported by tsfuse',
  blksize: 'the kernel accepts blksize only for fuseblk mounts, which tsfuse does not make',
});

/** What the adapter does with a set of fuse-native options. */
export interface AdapterSettings {
  /** `-o` items for tsfuse's `mount()`. */
  readonly mountOptions: readonly string[];
  readonly debug: boolean;
  readonly force: boolean;
  readonly mkdir: boolean;
  /** Milliseconds allowed to each operation (0: no timeout). */
  timeoutOf(operation: string): number;
}

const snakeCase = (key: string): string => key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);

/** `DEBUG` as fuse-native reads it: `*`, or a comma list naming this module. */
function debugFromEnv(env: string | undefined): boolean {
  if (env === undefined) return false;
  return env.includes('*') || env.split(',').some((s) => s.trim() === 'fuse-native' || s.trim() === 'fuse-bindings');
}

/** A milliseconds value as fuse-native takes it: falsy → the default; `false` alone disables. */
function timeoutValue(v: unknown, fallback: number): number {
  if (v === false) return 0;
  if (typeof v === 'number' && v > 0 && Number.isFinite(v)) return v;
  return fallback;
}

/**
 * Reads fuse-native options. Throws ERR_FUSE_INVALID_OPTION for options tsfuse cannot honour (the `Fuse`
 * class hands it to the mount callback); values are checked again by tsfuse's `-o` parser at mount.
 */
export function adapterSettings(opts: FuseNativeOptions | null | undefined, env: NodeJS.ProcessEnv = process.env): AdapterSettings {
  const o = (opts !== null && typeof opts === 'object' ? opts : {}) as Readonly<Record<string, unknown>>;
  const mountOptions: string[] = [];
  for (const [key, value] of Object.entries(o)) {
    if (!value) continue; // fuse-native applies only truthy values
    if (Object.hasOwn(UNSUPPORTED, key)) {
      throw new TsfuseError('ERR_FUSE_INVALID_OPTION', `fuse-native option '${key}' is not supported: ${UNSUPPORTED[key]}`);
    }
    const known = Object.hasOwn(OPTION_NAMES, key) ? OPTION_NAMES[key] : KNOWN_OPTIONS.includes(snakeCase(key)) ? snakeCase(key) : null;
    if (known === null || known === undefined) continue; // not an option of either: ignored, as fuse-native does
    if (value === true) mountOptions.push(known);
    else if (key === 'umask' && typeof value === 'number') mountOptions.push(`umask=${value.toString(8)}`);
    else mountOptions.push(`${known}=${String(value).replace(/[\\,]/g, (c) => `\\${c}`)}`);
  }
  const t = o['timeout'];
  const base = t === false ? 0 : t !== null && typeof t === 'object' ? t as Readonly<Record<string, unknown>> : timeoutValue(t, DEFAULT_TIMEOUT_MS);
  const timeoutOf = typeof base === 'number'
    ? () => base
    : (operation: string) => timeoutValue(Object.hasOwn(base, operation) ? base[operation] : undefined, timeoutValue(base['default'] || undefined, DEFAULT_TIMEOUT_MS));
  return {
    mountOptions,
    debug: Boolean(o['debug']) || debugFromEnv(env['DEBUG']),
    force: Boolean(o['force']),
    mkdir: Boolean(o['mkdir']),
    timeoutOf,
  };
}
