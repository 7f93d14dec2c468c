/**
 * `tsfuse/fuse-native`: a drop-in for fuse-native. Change `require('fuse-native')` to
 * `require('tsfuse/fuse-native')` (or `import Fuse from 'tsfuse/fuse-native'`) and keep the rest: the
 * same class, callbacks, errno constants and options, served by tsfuse's path layer instead of a C addon
 * over libfuse 2. The README's "Moving from fuse-native" table lists what differs.
 *
 * The object keeps fuse-native's life cycle (nanoresource's): `mount(cb)` once, concurrent calls share
 * the outcome, `unmount(cb)` after which the object cannot mount again.
 */
import { resolve } from 'node:path';
import { mkdir, stat } from 'node:fs/promises';
import { mount as mountLowLevel, type FuseMount } from '../session/fuse-mount.ts';
import { pathOperations } from '../ops/path/layer.ts';
import { unmount as unmountMountpoint } from '../mount/unmount.ts';
import { cleanStaleMount } from '../mount/stale.ts';
import { parseMountOptions } from '../mount/options.ts';
import { TsfuseError } from '../errors.ts';
import { ERRNO_CONSTANTS, type ErrnoConstants } from './errno.ts';
import { adapterSettings, type FuseNativeOptions } from './options.ts';
import { fuseNativeFilesystem, type FuseNativeOperations } from './filesystem.ts';

export type { FuseNativeOptions, FuseNativeTimeouts } from './options.ts';
export type { FuseNativeOperations } from './filesystem.ts';
export type { FuseNativeStat, FuseNativeStatfs } from './stat.ts';
export type { FuseNativeCallback } from './callback.ts';
export type { ErrnoName, ErrnoConstants } from './errno.ts';

/** A completion callback: `null` on success (fuse-native's nanoresource passes nothing in places; so may this). */
export type DoneCallback = (err?: Error | null) => void;

const noop: DoneCallback = () => {};
/** The most setTimeout takes; beyond it Node fires at once. */
const MAX_TIMER_MS = 0x7fff_ffff;
/** Time for the kernel's INIT beyond what the user's `init` may take. */
const INIT_MARGIN_MS = 10_000;
/** The `-o` items the path layer takes as its own options (see #mount). */
const CACHE_TIMEOUT_OPTION = /^(?:entry|attr|negative)_timeout=/;

/** A fuse-native filesystem, mounted by tsfuse. */
class Fuse {
  /** The absolute mountpoint. */
  readonly mnt: string;
  readonly ops: FuseNativeOperations;
  readonly opts: FuseNativeOptions;
  /** As fuse-native computes it: the `timeout` option, 0 for `false`, 15 000 when absent. */
  readonly timeout: number | object;
  opening = false;
  opened = false;
  closing = false;
  closed = false;
  #mounted: FuseMount | undefined;
  #openQueue: DoneCallback[] | undefined;
  #closeQueue: DoneCallback[] | undefined;
  #closeAfterOpen: DoneCallback[] | undefined;

  constructor(mnt: string, ops: FuseNativeOperations, opts: FuseNativeOptions = {}) {
    this.mnt = resolve(mnt);
    this.ops = ops;
    this.opts = opts ?? {};
    this.timeout = this.opts.timeout === false ? 0 : (this.opts.timeout || 15_000);
  }

  /** Mounts; `cb(err)` once the kernel has initialised the filesystem. */
  mount(cb?: DoneCallback): void {
    this.open(cb);
  }

  /** Unmounts (lazily, as fuse-native's `fusermount -uz`); an error has `unmountFailure: true`. */
  unmount(cb?: DoneCallback): void {
    this.close(cb);
  }

  /** The negative errno for a name (`'ENOENT'` → -2), or -1 when it names none. */
  errno(code: string): number {
    const v = code ? (ERRNO_CONSTANTS as unknown as Record<string, number | undefined>)[code.toUpperCase()] : undefined;
    return v ?? -1;
  }

  /** nanoresource's `open`: what `mount` calls. */
  open(cb: DoneCallback = noop): void {
    if (this.closing || this.closed) {
      process.nextTick(cb, new TsfuseError('ERR_INVALID_STATE', 'Resource is closed: this Fuse object was unmounted; create a new one to mount again'));
      return;
    }
    if (this.opened) {
      process.nextTick(cb, null);
      return;
    }
    if (this.#openQueue !== undefined) {
      this.#openQueue.push(cb);
      return;
    }
    this.opening = true;
    this.#openQueue = [cb];
    this.#mount().then(() => this.#opened(null), (err: unknown) => this.#opened(err instanceof Error ? err : new Error(String(err))));
  }

  /** nanoresource's `close`: what `unmount` calls. */
  close(cb: DoneCallback = noop): void {
    if (this.closed) {
      process.nextTick(cb, null);
      return;
    }
    if (this.opening) {
      this.#closeAfterOpen ??= [];
      this.#closeAfterOpen.push(cb);
      return;
    }
    if (!this.opened) {
      this.closed = true;
      process.nextTick(cb, null);
      return;
    }
    if (this.#closeQueue !== undefined) {
      this.#closeQueue.push(cb);
      return;
    }
    this.closing = true;
    this.#closeQueue = [cb];
    const done = (err: Error | null): void => {
      const queue = this.#closeQueue ?? [];
      this.#closeQueue = undefined;
      this.closing = false;
      this.closed = err === null;
      if (err === null) this.#mounted = undefined;
      for (const f of queue) f(err);
    };
    this.#mounted!.unmount({ lazy: true }).then(() => done(null), (e: unknown) => {
      const err = e instanceof Error ? e : new Error(String(e));
      (err as Error & { unmountFailure?: boolean }).unmountFailure = true;
      done(err);
    });
  }

  async #mount(): Promise<void> {
    const settings = adapterSettings(this.opts);
    // force: first unmount a mount whose daemon is gone (fuse-native: when a stat there fails with ENOTCONN).
    // A failure is not fatal, as in fuse-native; a working mount there still fails the mount below.
    if (settings.force) await cleanStaleMount(this.mnt).catch(() => false);
    try {
      const st = await stat(this.mnt);
      if (!st.isDirectory()) throw new TsfuseError('ERR_FUSE_MOUNTPOINT', `Mountpoint is not a directory: ${this.mnt}`);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
      if (!settings.mkdir) throw new TsfuseError('ERR_FUSE_MOUNTPOINT', `Mountpoint does not exist: ${this.mnt} (pass { mkdir: true } to create it)`);
      await mkdir(this.mnt, { recursive: true });
    }
    const fs = fuseNativeFilesystem(this.ops ?? {}, settings.timeoutOf, (err) => {
      // fuse-native ignores what init reports and serves on; say so rather than stay silent.
      process.emitWarning(`fuse-native init failed (${String(err)}); serving anyway, as fuse-native does`, 'TsfuseWarning');
    });
    const initMs = settings.timeoutOf('init');
    // The cache timeouts go to the path layer itself rather than through `-o`: the layer then puts them
    // in its replies as it builds them, where the mount option would wrap every entry and attribute
    // reply in a copy with the timeout filled in (src/ops/fs-options.ts). Parsing checks them as `-o` would.
    const { entryTimeout, attrTimeout, negativeTimeout } = parseMountOptions([...settings.mountOptions]).fs;
    const layerOptions = { useIno: false, entryTimeout, attrTimeout, negativeTimeout };
    this.#mounted = await mountLowLevel(this.mnt, pathOperations(fs, layerOptions), {
      options: settings.mountOptions.filter((o) => !CACHE_TIMEOUT_OPTION.test(o)),
      debug: settings.debug,
      initTimeoutMs: initMs === 0 ? MAX_TIMER_MS : Math.min(MAX_TIMER_MS, initMs + INIT_MARGIN_MS),
    });
  }

  #opened(err: Error | null): void {
    const queue = this.#openQueue ?? [];
    this.#openQueue = undefined;
    this.opening = false;
    this.opened = err === null;
    for (const f of queue) f(err);
    const closers = this.#closeAfterOpen;
    this.#closeAfterOpen = undefined;
    if (closers !== undefined) for (const f of closers) this.close(f);
  }

  /** Lazily unmounts whatever is mounted at `mnt` (fuse-native runs `fusermount -uz`). */
  static unmount(mnt: string, cb: DoneCallback = noop): void {
    unmountMountpoint(resolve(mnt), { lazy: true }).then(() => cb(null), (e: unknown) => cb(e instanceof Error ? e : new Error(String(e))));
  }

  /** Nothing to configure for tsfuse: always `cb(null, true)`. */
  static isConfigured(cb: (err: Error | null, configured: boolean) => void = () => {}): void {
    process.nextTick(cb, null, true);
  }

  /** Nothing to configure for tsfuse (no kernel extension, no shared library): `cb(null)`. */
  static configure(cb: DoneCallback = noop): void {
    process.nextTick(cb, null);
  }

  /** Nothing to undo: `cb(null)`. */
  static unconfigure(cb: DoneCallback = noop): void {
    process.nextTick(cb, null);
  }

  /** fuse-native runs its bundled libfuse's init script here; tsfuse needs nothing: `cb(null)`. */
  static beforeMount(cb: DoneCallback = noop): void {
    process.nextTick(cb, null);
  }

  /** Nothing to do: `cb(null)`. */
  static beforeUnmount(cb: DoneCallback = noop): void {
    process.nextTick(cb, null);
  }
}

Object.assign(Fuse, ERRNO_CONSTANTS);

/** The `Fuse` class with fuse-native's errno constants (`Fuse.ENOENT === -2`). */
const FuseWithErrno = Fuse as typeof Fuse & ErrnoConstants;
type FuseWithErrno = Fuse;
export { FuseWithErrno as default, FuseWithErrno as Fuse };
