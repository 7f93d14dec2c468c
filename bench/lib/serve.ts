/**
 * Mounting a filesystem over one of the candidate /dev/fuse read designs:
 *  - 'epoll' and 'worker': tsfuse's own transports, through the public `mount()`.
 *  - 'pool1' and 'pool4': a bench-only design that reads /dev/fuse through libuv's thread pool
 *    (`fs.read`, 1 or 4 reads outstanding), mounted with `mountDevice` and served by driving
 *    `SessionCore` directly. tsfuse does not ship it (see src/session/transport.ts): each outstanding
 *    read parks a pool thread in read(2), which starves the daemon's own async `fs` calls.
 */
import fs from 'node:fs';
import { mount } from '../../src/session/fuse-mount.ts';
import { SessionCore } from '../../src/session/core.ts';
import { readBufferSize } from '../../src/session/session.ts';
import { mountDevice, parseMountOptions } from '../../src/mount/index.ts';
import { applyFsOptions, initWantsFrom } from '../../src/ops/fs-options.ts';
import { INIT_DEFAULTS } from '../../src/protocol/init.ts';
import type { LowLevelOperations } from '../../src/ops/lowlevel.ts';
import { runProcess } from './loadgen.ts';

export type BenchTransport = 'epoll' | 'worker' | 'pool1' | 'pool4';
export const ALL_TRANSPORTS: readonly BenchTransport[] = ['epoll', 'worker', 'pool1', 'pool4'];

export const TRANSPORT_LABEL: Record<BenchTransport, string> = {
  epoll: '(a) epoll: libuv pipe handle, main thread',
  worker: '(b) worker thread blocking in read(2)',
  pool1: '(c) thread-pool fs.read, 1 outstanding',
  pool4: '(c) thread-pool fs.read, 4 outstanding',
};

export interface Served {
  readonly transport: string;
  readonly mountpoint: string;
  /** Unmounts and waits until serving stopped. */
  unmount(): Promise<void>;
}

export async function serve(kind: BenchTransport, mountpoint: string, ops: LowLevelOperations, options?: string): Promise<Served> {
  if (kind === 'epoll' || kind === 'worker') {
    const m = await mount(mountpoint, ops, { transport: kind, ...(options !== undefined && { options }) });
    return { transport: m.transport, mountpoint, unmount: () => m.unmount() };
  }
  return mountPool(mountpoint, ops, kind === 'pool1' ? 1 : 4, options);
}

const RETRY = new Set(['EINTR', 'EAGAIN', 'ENOENT']);

/** The thread-pool design: N `fs.read`s in flight, each frame handed to SessionCore, replies by writevSync. */
async function mountPool(mountpoint: string, ops: LowLevelOperations, outstanding: number, options?: string): Promise<Served> {
  const parsed = parseMountOptions(options ?? []);
  const fsOps = applyFsOptions(ops, parsed.fs);
  const wants = initWantsFrom(parsed.fs);
  const device = await mountDevice(mountpoint, { options: parsed, method: 'mount' });
  const fd = device.fd;
  let fdClosed = false;
  const write = (iov: readonly Uint8Array[]): string | 0 => {
    if (fdClosed) return 'EBADF';
    try {
      fs.writevSync(fd, iov as Uint8Array[]);
      return 0;
    } catch (e) {
      return (e as NodeJS.ErrnoException).code ?? 'EIO';
    }
  };
  const core = new SessionCore(fsOps, {
    write,
    writeAsync: (iov) => new Promise((resolve) => fs.writev(fd, iov as Uint8Array[], (err) => resolve(err ? (err.code ?? 'EIO') : 0))),
  }, { wants, capabilities: wants.want });

  const size = readBufferSize(wants.maxWrite ?? INIT_DEFAULTS.maxWrite);
  let live = outstanding;
  let resolveClosed!: () => void;
  const closed = new Promise<void>((r) => { resolveClosed = r; });
  const issue = (buf: Buffer): void => {
    fs.read(fd, buf, 0, size, null, (err, n) => {
      if (err) {
        if (RETRY.has(err.code ?? '')) { issue(buf); return; }
        // ENODEV after unmount (or ECONNABORTED): this reader is done.
        if (--live === 0) {
          fdClosed = true;
          fs.close(fd, () => { void core.shutdown().finally(resolveClosed); });
        }
        return;
      }
      // Same ownership rule as the epoll transport: the request owns a copy, the buffer is reused.
      const frame = Buffer.allocUnsafe(n);
      buf.copy(frame, 0, 0, n);
      issue(buf);
      core.handleFrame(frame);
    });
  };
  for (let i = 0; i < outstanding; i++) issue(Buffer.allocUnsafeSlow(size));

  try {
    await withTimeout(core.initialized, 10_000, 'no INIT from the kernel');
  } catch (e) {
    await device.unmount({ lazy: true }).catch(() => {});
    throw e;
  }
  let unmounting: Promise<void> | undefined;
  return {
    transport: `pool${outstanding}`,
    mountpoint,
    unmount: () => (unmounting ??= device.unmount().then(() => closed)),
  };
}

function withTimeout<T>(p: Promise<T>, ms: number, message: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`${message} within ${ms} ms`)), ms);
    p.then((v) => { clearTimeout(t); resolve(v); }, (e: unknown) => { clearTimeout(t); reject(e as Error); });
  });
}

/** True when `path` is a mountpoint in /proc/self/mountinfo. */
export function isMounted(path: string): boolean {
  const esc = (s: string) => s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(Number.parseInt(o, 8)));
  return fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n').some((l) => esc(l.split(' ')[4] ?? '') === path);
}

/**
 * Last-resort cleanup: `umount -f -l` aborts the FUSE connection (MNT_FORCE calls fuse_umount_begin), so
 * any request stuck on a deadlocked daemon fails instead of hanging, then detaches the mount. Never stats
 * the mountpoint. Bounded by a timeout.
 */
export async function forceUnmount(path: string): Promise<void> {
  for (let i = 0; i < 5 && isMounted(path); i++) {
    await runProcess('umount', ['-i', '-c', '-f', '-l', '--', path], 10_000).catch(() => {});
  }
}
