/**
 * The filesystems the benchmarks serve. Both count the requests they answer, so the benches report
 * requests per operation as measured, not assumed. Handlers are synchronous and allocate nothing of
 * their own beyond what the reply needs, so the figures are the cost of tsfuse, not of the filesystem.
 */
import { FuseError, ROOT_ID, type LowLevelOperations, type Attr, type DirEntry, type EntryReply } from '../../src/index.ts';

const S_IFDIR = 0o040000;
const S_IFREG = 0o100000;
const DT_DIR = 4;
const DT_REG = 8;
const T0 = Math.floor(Date.now() / 1000);
const times = { atime: T0, mtime: T0, ctime: T0 };

export type Counts = Record<string, number>;

function counted(ops: LowLevelOperations, counts: Counts): LowLevelOperations {
  const out: Record<string, unknown> = {};
  for (const [name, fn] of Object.entries(ops)) {
    if (typeof fn !== 'function') continue;
    counts[name] = 0;
    out[name] = function (this: unknown, ...args: unknown[]) {
      counts[name]!++;
      return (fn as (...a: unknown[]) => unknown).apply(ops, args);
    };
  }
  return out as LowLevelOperations;
}

/**
 * A fixed tree for the stat benchmark: /file, /dir, /dir/file. Replies carry timeouts of 0 themselves
 * (entry and attr), so every stat(2) reaches the daemon without the `-o attr_timeout=0` wrapper.
 * The reply objects are built once: the daemon's own work per request is a Map lookup.
 */
export function statTree(): { ops: LowLevelOperations; counts: Counts } {
  const nodes = new Map<number, { attr: Attr; children?: Map<string, number> }>([
    [1, { attr: { ino: 1, mode: S_IFDIR | 0o755, nlink: 3, ...times }, children: new Map([['file', 2], ['dir', 3]]) }],
    [2, { attr: { ino: 2, mode: S_IFREG | 0o644, nlink: 1, size: 4096, blocks: 8, ...times } }],
    [3, { attr: { ino: 3, mode: S_IFDIR | 0o755, nlink: 2, ...times }, children: new Map([['file', 4]]) }],
    [4, { attr: { ino: 4, mode: S_IFREG | 0o644, nlink: 1, size: 4096, blocks: 8, ...times } }],
  ]);
  const entryReply = new Map<number, EntryReply>();
  const attrReply = new Map<number, { attr: Attr; timeout: number }>();
  for (const [ino, n] of nodes) {
    entryReply.set(ino, { ino, attr: n.attr, entryTimeout: 0, attrTimeout: 0 });
    attrReply.set(ino, { attr: n.attr, timeout: 0 });
  }
  const counts: Counts = {};
  const ops = counted({
    lookup({ parent, name }) {
      const child = nodes.get(Number(parent))?.children?.get(name.toString('latin1'));
      if (child === undefined) throw new FuseError('ENOENT');
      return entryReply.get(child)!;
    },
    getattr({ ino }) {
      const r = attrReply.get(Number(ino));
      if (r === undefined) throw new FuseError('ENOENT');
      return r;
    },
  }, counts);
  return { ops, counts };
}

export const BIG_SIZE = 1 << 30;
export const DIR_ENTRIES = 10_000;

/**
 * The workload filesystem (timeouts come from the mount options):
 *   /big      1 GiB read-only file; READ returns a view of one preallocated 1 MiB buffer
 *   /sink     write-only sink; WRITE discards the data and says it was all written
 *   /file     a 4 KiB file (stat target)
 *   /dir10k   10 000 entries (e00000 … e09999), plus . and ..
 *   /scratch  an in-memory directory for create / unlink (sizes kept, data discarded)
 */
export function workloadFs(): { ops: LowLevelOperations; counts: Counts; bytes: { read: number; written: number } } {
  const ROOT = ROOT_ID as number;
  const BIG = 2, SINK = 3, FILE = 4, DIR = 5, SCRATCH = 6, FIRST_ENTRY = 1000;
  const chunk = Buffer.alloc(1 << 20, 0x61);
  const bytes = { read: 0, written: 0 };
  const fixed = new Map<number, Attr>([
    [ROOT, { ino: ROOT, mode: S_IFDIR | 0o755, nlink: 4, ...times }],
    [BIG, { ino: BIG, mode: S_IFREG | 0o444, nlink: 1, size: BIG_SIZE, blocks: BIG_SIZE / 512, blksize: 1 << 20, ...times }],
    [SINK, { ino: SINK, mode: S_IFREG | 0o666, nlink: 1, size: 0, blksize: 1 << 20, ...times }],
    [FILE, { ino: FILE, mode: S_IFREG | 0o644, nlink: 1, size: 4096, blocks: 8, ...times }],
    [DIR, { ino: DIR, mode: S_IFDIR | 0o755, nlink: 2, ...times }],
    [SCRATCH, { ino: SCRATCH, mode: S_IFDIR | 0o755, nlink: 2, ...times }],
  ]);
  const rootChildren = new Map([['big', BIG], ['sink', SINK], ['file', FILE], ['dir10k', DIR], ['scratch', SCRATCH]]);
  const entryAttr: Attr = { mode: S_IFREG | 0o644, nlink: 1, size: 0, ...times };
  const dirNames = new Map<string, number>();
  const listing: DirEntry[] = [
    { ino: DIR, name: Buffer.from('.'), offset: 1, type: DT_DIR },
    { ino: ROOT, name: Buffer.from('..'), offset: 2, type: DT_DIR },
  ];
  for (let i = 0; i < DIR_ENTRIES; i++) {
    const name = `e${String(i).padStart(5, '0')}`;
    dirNames.set(name, FIRST_ENTRY + i);
    listing.push({ ino: FIRST_ENTRY + i, name: Buffer.from(name), offset: listing.length + 1, type: DT_REG });
  }
  // The smallest record is 32 bytes (24-byte header + name, 8-aligned): never hand over more than fits.
  const sliceFor = (offset: number, size: number) => listing.slice(offset, offset + Math.ceil(size / 32) + 1);

  let nextIno = 100_000;
  const scratch = new Map<string, { ino: number; size: number }>();
  const scratchByIno = new Map<number, { ino: number; size: number }>();
  const scratchAttr = (n: { ino: number; size: number }): Attr => ({ ino: n.ino, mode: S_IFREG | 0o644, nlink: 1, size: n.size, ...times });

  const attrOf = (ino: number): Attr => {
    const a = fixed.get(ino);
    if (a !== undefined) return a;
    const s = scratchByIno.get(ino);
    if (s !== undefined) return scratchAttr(s);
    if (ino >= FIRST_ENTRY && ino < FIRST_ENTRY + DIR_ENTRIES) return { ...entryAttr, ino };
    throw new FuseError('ENOENT');
  };

  const counts: Counts = {};
  const ops = counted({
    lookup({ parent, name }) {
      const p = Number(parent);
      const key = name.toString('latin1');
      let ino: number | undefined;
      if (p === ROOT) ino = rootChildren.get(key);
      else if (p === DIR) ino = dirNames.get(key);
      else if (p === SCRATCH) ino = scratch.get(key)?.ino;
      if (ino === undefined) throw new FuseError('ENOENT');
      return { ino, attr: attrOf(ino) };
    },
    getattr({ ino }) {
      return { attr: attrOf(Number(ino)) };
    },
    setattr({ ino, size }) {
      const s = scratchByIno.get(Number(ino));
      if (s !== undefined && size !== undefined) s.size = Number(size);
      return { attr: attrOf(Number(ino)) };
    },
    read({ ino, offset, size }) {
      if (Number(ino) !== BIG) throw new FuseError('EISDIR');
      const off = Number(offset);
      const n = Math.max(0, Math.min(size, BIG_SIZE - off, chunk.length));
      bytes.read += n;
      return chunk.subarray(0, n);
    },
    write({ ino, offset, size }) {
      const s = scratchByIno.get(Number(ino));
      if (s !== undefined) s.size = Math.max(s.size, Number(offset) + size);
      bytes.written += size;
      return size;
    },
    readdir({ ino, offset, size }) {
      if (Number(ino) !== DIR) return [];
      return sliceFor(Number(offset), size);
    },
    create({ parent, name }) {
      if (Number(parent) !== SCRATCH) throw new FuseError('EACCES');
      const key = name.toString('latin1');
      let n = scratch.get(key);
      if (n === undefined) {
        n = { ino: nextIno++, size: 0 };
        scratch.set(key, n);
        scratchByIno.set(n.ino, n);
      }
      return { entry: { ino: n.ino, attr: scratchAttr(n) }, open: { fh: 0 } };
    },
    unlink({ parent, name }) {
      if (Number(parent) !== SCRATCH) throw new FuseError('EACCES');
      const key = name.toString('latin1');
      const n = scratch.get(key);
      if (n === undefined) throw new FuseError('ENOENT');
      scratch.delete(key);
      scratchByIno.delete(n.ino);
    },
    forget() { /* nodes live as long as the filesystem */ },
  }, counts);
  return { ops, counts, bytes };
}

export function resetCounts(c: Counts): void {
  for (const k of Object.keys(c)) c[k] = 0;
}

export function totalCount(c: Counts, names?: readonly string[]): number {
  let n = 0;
  for (const [k, v] of Object.entries(c)) if (!names || names.includes(k)) n += v;
  return n;
}
