/**
 * The filesystem `tsfuse demo latency` measures: a root directory with one file per amount of handler
 * work, `spin-0`, `spin-1`, `spin-10`, … (µs). Its GETATTR and READ handlers busy-wait that long before
 * answering, standing in for a filesystem's own work (a lookup in a table, a checksum, a cache miss).
 *
 * Every answer forbids caching, so each measured call reaches the daemon: attribute and entry timeouts
 * of 0 (fs/fuse/dir.c fuse_time_to_jiffies turns 0 into "already expired", so fuse_update_get_attr sends
 * GETATTR on every fstat), and FOPEN_DIRECT_IO on open (fs/fuse/file.c fuse_direct_read_iter: each pread
 * becomes a READ instead of a page-cache hit). The answers are prebuilt, so the handlers' own cost is the
 * spin and nothing else.
 */
import { FuseError } from '../errors.ts';
import { OpenFlags, ROOT_ID } from '../protocol/constants.ts';
import type { Attr } from '../protocol/index.ts';
import type { LowLevelOperations } from '../ops/lowlevel.ts';

const S_IFDIR = 0o040000;
const S_IFREG = 0o100000;
/** Size of each file: room for the 4 KiB reads at any offset the client picks. */
export const SPIN_FILE_SIZE = 1 << 20;
const FIRST_INO = 2;

/** The file name for `us` microseconds of handler work. */
export function spinFileName(us: number): string {
  return `spin-${us}`;
}

/** Busy-waits `us` microseconds: on the CPU, like real handler work, not sleeping on a timer. */
export function spin(us: number): void {
  if (us <= 0) return;
  const end = performance.now() + us / 1000;
  while (performance.now() < end) { /* spinning is the point */ }
}

/** Builds the filesystem with one file per entry of `spins` (µs of work per GETATTR and READ). */
export function spinFilesystem(spins: readonly number[]): LowLevelOperations {
  const now = Date.now() / 1000;
  const times = { atime: now, mtime: now, ctime: now };
  const rootReply = { attr: { ino: ROOT_ID, mode: S_IFDIR | 0o555, nlink: 2, ...times } satisfies Attr, attrTimeout: 0 };
  const files = spins.map((us, i) => {
    const ino = FIRST_INO + i;
    const attr: Attr = { ino, mode: S_IFREG | 0o444, nlink: 1, size: SPIN_FILE_SIZE, blocks: SPIN_FILE_SIZE / 512, ...times };
    return { us, name: spinFileName(us), attrReply: { attr, attrTimeout: 0 }, entry: { ino, attr, entryTimeout: 0, attrTimeout: 0 } };
  });
  const byName = new Map(files.map((f) => [f.name, f]));
  const fileOf = (ino: number | bigint) => (typeof ino === 'number' ? files[ino - FIRST_INO] : undefined);
  const data = Buffer.alloc(SPIN_FILE_SIZE, 'tsfuse latency demo\n');
  const openReply = { fh: 0, flags: OpenFlags.DIRECT_IO };

  return {
    lookup({ parent, name }) {
      const f = parent === ROOT_ID ? byName.get(name.toString()) : undefined;
      if (f === undefined) throw new FuseError('ENOENT');
      return f.entry;
    },
    getattr({ ino }) {
      if (ino === ROOT_ID) return rootReply;
      const f = fileOf(ino);
      if (f === undefined) throw new FuseError('ENOENT');
      spin(f.us);
      return f.attrReply;
    },
    readdir({ ino, offset }) {
      if (ino !== ROOT_ID) throw new FuseError('ENOTDIR');
      const entries = [
        { ino: ROOT_ID, name: '.', mode: S_IFDIR },
        { ino: ROOT_ID, name: '..', mode: S_IFDIR },
        ...files.map((f) => ({ ino: f.entry.ino, name: f.name, mode: S_IFREG })),
      ];
      return entries.slice(Number(offset)).map((e, i) => ({ ...e, offset: Number(offset) + i + 1 }));
    },
    open({ ino }) {
      if (fileOf(ino) === undefined) throw new FuseError('EISDIR');
      return openReply;
    },
    read({ ino, offset, size }) {
      const f = fileOf(ino);
      if (f === undefined) throw new FuseError('EISDIR');
      spin(f.us);
      const start = Math.min(Number(offset), SPIN_FILE_SIZE);
      return data.subarray(start, Math.min(start + size, SPIN_FILE_SIZE));
    },
  };
}
