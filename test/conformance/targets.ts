// The filesystems the conformance suite, the integrity check and the soak run against. Each target is
// mounted at a fresh temp dir and handed back as `{ dir, close() }`; the daemon runs in its own Node
// process (fixtures/daemon.ts), so this process and every client may use synchronous fs calls on `dir`.
// `native` is a plain directory on the temp filesystem (ext4 here): the suite must pass there, which is
// what shows the suite itself is right.
import { chmodSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  NODE_MAJOR, NODE26, forceUnmount, freshMountpoint, isFuseMount, mountSkip, mountsUnder, rejectAfter, startDaemon, stopDaemon, type Daemon,
} from '../support/mount-helpers.ts';

export const DAEMON_FIXTURE = fileURLToPath(new URL('./fixtures/daemon.ts', import.meta.url));

export type TargetName = 'native' | 'memfs' | 'memfs-own-checks' | 'passthrough' | 'passthrough-noffi';
export const TARGET_NAMES: readonly TargetName[] = ['native', 'memfs', 'memfs-own-checks', 'passthrough', 'passthrough-noffi'];

/**
 * What a target legitimately cannot do, each stated as the exact behaviour the suite then asserts instead
 * (never a silent skip).
 */
export interface TargetTraits {
  /** What setxattr/getxattr of a user.* attribute answer: 'ok', or the errno when the target has none. */
  readonly xattr: 'ok' | 'EOPNOTSUPP';
  /** Granularity of times set by utimensat, in ns (1 = exact). */
  readonly timeGranularityNs: number;
  /** What open(dir, O_TMPFILE) answers: 'ok', or the errno when the target has no anonymous files. */
  readonly tmpfile: 'ok' | 'EOPNOTSUPP';
  /** What renameat2(RENAME_EXCHANGE) answers. */
  readonly renameExchange: 'ok' | 'EINVAL';
  /** What fallocate(2) with KEEP_SIZE or PUNCH_HOLE answers (and whether SEEK_DATA/SEEK_HOLE see holes). */
  readonly fallocate: 'ok' | 'EOPNOTSUPP';
  /** statfs counts this filesystem's own files only (exactly), rather than a disk shared with the machine. */
  readonly statfsOwnUsage: boolean;
  /** Mount options (`-o`); absent for native. */
  readonly mountOptions?: string;
}

/**
 * The Node >= 26 binary the passthrough daemon runs under, for node:ffi (test/support/machine.mjs
 * findNode26: $TSFUSE_NODE26, which `npm test` sets when it finds one); undefined: it runs under this Node.
 */
export const PASSTHROUGH_NODE: string | undefined = NODE26;

/** Whether this Node has node:ffi (Node >= 26): the no-ffi target then turns it off for its daemon. */
const THIS_NODE_HAS_FFI = NODE_MAJOR >= 26;

/** The passthrough's traits without node:ffi (Node < 26, or node:ffi turned off): see the comment below. */
const PASSTHROUGH_NOFFI_TRAITS = {
  xattr: 'EOPNOTSUPP', timeGranularityNs: 1000, tmpfile: 'EOPNOTSUPP', renameExchange: 'EINVAL', fallocate: 'EOPNOTSUPP',
  statfsOwnUsage: false, mountOptions: 'allow_other,default_permissions',
} as const;

const MEMFS_TRAITS = { xattr: 'ok', timeGranularityNs: 1, tmpfile: 'ok', renameExchange: 'ok', fallocate: 'ok', statfsOwnUsage: true } as const;

export const TARGET_TRAITS: Readonly<Record<TargetName, TargetTraits>> = {
  native: { xattr: 'ok', timeGranularityNs: 1, tmpfile: 'ok', renameExchange: 'ok', fallocate: 'ok', statfsOwnUsage: false },
  memfs: { ...MEMFS_TRAITS, mountOptions: 'allow_other,default_permissions' },
  // memfs checks permissions itself when the kernel does not (no default_permissions).
  'memfs-own-checks': { ...MEMFS_TRAITS, mountOptions: 'allow_other' },
  // What src/passthrough/passthrough.ts documents it cannot do on Node's fs API: RENAME_EXCHANGE refused
  // with EINVAL (special.ts), no O_TMPFILE. Under Node >= 26 (see PASSTHROUGH_NODE) node:ffi gives it
  // xattrs, fallocate, SEEK_DATA/SEEK_HOLE and times to the nanosecond (ffi-ops.ts); without it, the
  // kernel answers EOPNOTSUPP for xattrs and fallocate, its generic lseek sees no holes, and times go
  // through doubles: to the microsecond, or within ~120 ns where libuv >= 1.52 keeps nanoseconds (attr.ts).
  passthrough: PASSTHROUGH_NODE === undefined ? PASSTHROUGH_NOFFI_TRAITS : {
    xattr: 'ok', timeGranularityNs: 1, tmpfile: 'EOPNOTSUPP', renameExchange: 'EINVAL', fallocate: 'ok', statfsOwnUsage: false,
    mountOptions: 'allow_other,default_permissions',
  },
  // The same passthrough on Node's fs API alone, as Node 20, 22 and 24 run it: under this Node, with
  // node:ffi turned off (--no-experimental-ffi) when this Node has it. `passthrough` above runs under
  // Node >= 26 whenever one is found, so without this target CI would never check the fs-only paths.
  'passthrough-noffi': PASSTHROUGH_NOFFI_TRAITS,
};

export interface MountedTarget {
  readonly name: TargetName;
  /** Where clients work: the mountpoint (or the plain directory for native). */
  readonly dir: string;
  /** The serving process (absent for native), for RSS sampling. */
  readonly daemonPid: number | undefined;
  /** Passthrough only: the backing directory. */
  readonly source: string | undefined;
  readonly traits: TargetTraits;
  /** Unmounts (lazily if busy), stops the daemon and removes the directories. Idempotent; never throws. */
  close(): Promise<void>;
}

/** Why `name` cannot be mounted here, or undefined. */
export function targetSkip(name: TargetName): string | undefined {
  return name === 'native' ? undefined : mountSkip();
}

/** Every target from `$TSFUSE_TARGETS` (comma-separated), else `fallback`. */
export function selectedTargets(fallback: readonly TargetName[] = TARGET_NAMES): TargetName[] {
  const env = process.env['TSFUSE_TARGETS'];
  if (env === undefined || env === '') return [...fallback];
  const names = env.split(',').map((s) => s.trim());
  for (const n of names) if (!TARGET_NAMES.includes(n as TargetName)) throw new Error(`unknown target ${n} (one of ${TARGET_NAMES.join(', ')})`);
  return names as TargetName[];
}

/** A fresh directory readable and searchable by everyone (the suite runs some clients as `nobody`). */
function openTempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  chmodSync(dir, 0o755);
  return dir;
}

/** Mounts `name` at a fresh directory; rejects (after cleaning up) if it is not up within `timeoutMs`. */
export async function mountTarget(name: TargetName, timeoutMs = 20_000): Promise<MountedTarget> {
  const traits = TARGET_TRAITS[name];
  if (name === 'native') {
    const dir = openTempDir('tsfuse-native-');
    let closed = false;
    return {
      name, dir, daemonPid: undefined, source: undefined, traits,
      close: async () => {
        if (closed) return;
        closed = true;
        rmSync(dir, { recursive: true, force: true });
      },
    };
  }
  const dir = freshMountpoint();
  const isPassthrough = name === 'passthrough' || name === 'passthrough-noffi';
  const source = isPassthrough ? openTempDir('tsfuse-pt-src-') : undefined;
  const args = {
    kind: isPassthrough ? 'passthrough' : 'memfs',
    mountpoint: dir,
    options: traits.mountOptions,
    ...(source !== undefined && { source }),
    ...(name === 'memfs-own-checks' && { checksPermissions: true }),
  };
  // Node >= 26 strips the types itself; this Node runs the fixture through tsx.
  const daemon: Daemon = name === 'passthrough' && PASSTHROUGH_NODE !== undefined
    ? startDaemon(PASSTHROUGH_NODE, ['--no-warnings', DAEMON_FIXTURE, JSON.stringify(args)])
    : startDaemon(process.execPath, [
      ...(name === 'passthrough-noffi' && THIS_NODE_HAS_FFI ? ['--no-experimental-ffi'] : []), '--import', 'tsx', DAEMON_FIXTURE, JSON.stringify(args),
    ]);
  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      if (daemon.child.exitCode === null && daemon.child.signalCode === null) daemon.child.kill('SIGTERM');
      await Promise.race([daemon.exited, rejectAfter(10_000, 'daemon did not stop')]).catch(() => {});
      await stopDaemon(daemon);
      await forceUnmount(dir);
      if (mountsUnder(dir).length === 0) rmSync(dir, { recursive: true, force: true });
      if (source !== undefined) rmSync(source, { recursive: true, force: true });
    })();
    return closing;
  };
  try {
    const ready = await Promise.race([daemon.ready, rejectAfter(timeoutMs, `${name} did not mount within ${timeoutMs} ms`)]);
    if (!isFuseMount(dir)) throw new Error(`${name}: daemon said ready but ${dir} is not a FUSE mount`);
    return { name, dir, daemonPid: Number(ready['pid']), source, traits, close };
  } catch (err) {
    await close();
    throw new Error(`${(err as Error).message}\n${daemon.output()}`);
  }
}

/** The daemon's resident set in KiB (VmRSS), or undefined when it is gone. */
export function daemonRssKiB(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    const m = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m === null ? undefined : Number(m[1]);
  } catch {
    return undefined;
  }
}
