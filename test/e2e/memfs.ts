// An in-memory filesystem implementing every method of LowLevelOperations, recording which opcode reached
// which handler. The opcode tests drive it from other processes; tests replace single methods to observe
// or delay them.
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import {
  FuseError, REQUEST_CHANNEL, ROOT_ID, opcodeName, type Attr, type EntryReply, type LowLevelOperations, type RequestContext,
  type RequestMessage, type StatxData, type U64,
} from '../../src/index.ts';

export const S_IFMT = 0o170000;
export const S_IFDIR = 0o040000;
export const S_IFREG = 0o100000;
export const S_IFLNK = 0o120000;
const RENAME_NOREPLACE = 1;
const RENAME_EXCHANGE = 2;
const SEEK_DATA = 3;
const SEEK_HOLE = 4;
const F_UNLCK = 2;
/** STATX_BASIC_STATS | STATX_BTIME */
const STATX_MASK = 0x7ff | 0x800;

export interface Node {
  ino: number;
  mode: number;
  nlink: number;
  uid: number;
  gid: number;
  rdev: number;
  data: Buffer;
  target?: Buffer;
  children?: Map<string, number>;
  xattrs: Map<string, Buffer>;
  /** The kernel's lookup references. */
  lookups: number;
  /** FOPEN_* flags given to every open of this node. */
  openFlags: number;
  time: number;
}

export interface Call { op: string; ino: number; name?: string }

export interface MemFsOptions {
  /** Seconds; default 0 (every access reaches the filesystem). */
  readonly entryTimeout?: number;
  readonly attrTimeout?: number;
}

export interface MemFs {
  readonly ops: LowLevelOperations;
  readonly nodes: Map<number, Node>;
  /** Opcode name and node of every handler call, in order. */
  readonly calls: Call[];
  /** Every request frame's opcode name as seen by the session (including INTERRUPT, DESTROY, FORGET, …). */
  readonly frames: string[];
  /** Node ids handed to `forget`, with counts. */
  readonly forgotten: { ino: number; nlookup: number }[];
  destroyed: number;
  /** Adds a node under `parent` without the kernel knowing (a change "behind its back"). */
  add(parent: number, name: string, mode: number, data?: string | Buffer): Node;
  /** Looks a name up in the tree (not through the kernel). */
  child(parent: number, name: string): Node | undefined;
  /** How many handler calls of `op` (for node `ino`, if given) were recorded. */
  count(op: string, ino?: number): number;
  /** How many LOOKUPs of `name` were recorded. */
  lookups(name: string): number;
  /** Stops recording frames (unsubscribes from the diagnostics channel). */
  close(): void;
}

export function memFilesystem(options: MemFsOptions = {}): MemFs {
  const entryTimeout = options.entryTimeout ?? 0;
  const attrTimeout = options.attrTimeout ?? 0;
  const nodes = new Map<number, Node>();
  const calls: Call[] = [];
  const frames: string[] = [];
  const forgotten: { ino: number; nlookup: number }[] = [];
  let nextIno = 2;
  let nextFh = 1;
  const now = Date.now() / 1000;

  const makeNode = (mode: number, data: Buffer = Buffer.alloc(0)): Node => {
    const node: Node = {
      ino: nextIno++, mode, nlink: (mode & S_IFMT) === S_IFDIR ? 2 : 1, uid: 0, gid: 0, rdev: 0, data,
      xattrs: new Map(), lookups: 0, openFlags: 0, time: now,
      ...((mode & S_IFMT) === S_IFDIR && { children: new Map<string, number>() }),
    };
    nodes.set(node.ino, node);
    return node;
  };
  const root: Node = { ino: ROOT_ID, mode: S_IFDIR | 0o777, nlink: 2, uid: 0, gid: 0, rdev: 0, data: Buffer.alloc(0), children: new Map(), xattrs: new Map(), lookups: 1, openFlags: 0, time: now };
  nodes.set(ROOT_ID, root);

  const record = (ctx: RequestContext, ino: U64, name?: Buffer): void => {
    calls.push({ op: opcodeName(ctx.opcode), ino: Number(ino), ...(name && { name: name.toString() }) });
  };
  const get = (ino: U64): Node => {
    const n = nodes.get(Number(ino));
    if (!n) throw new FuseError('ESTALE');
    return n;
  };
  const dir = (ino: U64): Node & { children: Map<string, number> } => {
    const n = get(ino);
    if (!n.children) throw new FuseError('ENOTDIR');
    return n as Node & { children: Map<string, number> };
  };
  const attrOf = (n: Node): Attr => ({
    ino: n.ino, mode: n.mode, nlink: n.nlink, uid: n.uid, gid: n.gid, rdev: n.rdev,
    size: (n.mode & S_IFMT) === S_IFLNK ? n.target?.byteLength ?? 0 : n.data.byteLength,
    blocks: Math.ceil(n.data.byteLength / 512), blksize: 4096, atime: n.time, mtime: n.time, ctime: n.time,
  });
  const entryOf = (n: Node): EntryReply => {
    n.lookups++;
    return { ino: n.ino, attr: attrOf(n), entryTimeout, attrTimeout };
  };
  const link = (parent: U64, name: Buffer, n: Node): void => {
    const d = dir(parent);
    const key = name.toString();
    if (d.children.has(key)) throw new FuseError('EEXIST');
    d.children.set(key, n.ino);
  };
  const childOf = (parent: U64, name: Buffer): Node => {
    const ino = dir(parent).children.get(name.toString());
    if (ino === undefined) throw new FuseError('ENOENT');
    return get(ino);
  };
  const dropLink = (n: Node): void => {
    n.nlink = Math.max(0, n.nlink - ((n.mode & S_IFMT) === S_IFDIR ? 2 : 1));
    if (n.nlink === 0 && n.lookups === 0) nodes.delete(n.ino);
  };
  const listing = (ino: U64): { name: string; node: Node }[] => {
    const d = dir(ino);
    const out: { name: string; node: Node }[] = [{ name: '.', node: d }, { name: '..', node: d }];
    for (const [name, child] of d.children) out.push({ name, node: get(child) });
    return out;
  };
  const openReply = (n: Node) => ({ fh: nextFh++, flags: n.openFlags });

  const ops: LowLevelOperations = {
    destroy() { fs.destroyed++; },
    lookup({ parent, name }, ctx) {
      record(ctx, parent, name);
      return entryOf(childOf(parent, name));
    },
    forget({ items }) {
      for (const { ino, nlookup } of items) {
        forgotten.push({ ino: Number(ino), nlookup: Number(nlookup) });
        const n = nodes.get(Number(ino));
        if (!n || n.ino === ROOT_ID) continue;
        n.lookups = Math.max(0, n.lookups - Number(nlookup));
        if (n.lookups === 0 && n.nlink === 0) nodes.delete(n.ino);
      }
    },
    getattr({ ino }, ctx) {
      record(ctx, ino);
      return { attr: attrOf(get(ino)), timeout: attrTimeout };
    },
    setattr(req, ctx) {
      record(ctx, req.ino);
      const n = get(req.ino);
      if (req.mode !== undefined) n.mode = (n.mode & S_IFMT) | (req.mode & 0o7777);
      if (req.uid !== undefined) n.uid = req.uid;
      if (req.gid !== undefined) n.gid = req.gid;
      if (req.size !== undefined) {
        const size = Number(req.size);
        const data = Buffer.alloc(size);
        n.data.copy(data, 0, 0, Math.min(size, n.data.byteLength));
        n.data = data;
      }
      if (req.mtime !== undefined) n.time = req.mtime === 'now' ? Date.now() / 1000 : Number(req.mtime.sec) + req.mtime.nsec / 1e9;
      return { attr: attrOf(n), timeout: attrTimeout };
    },
    readlink({ ino }, ctx) {
      record(ctx, ino);
      const n = get(ino);
      if (!n.target) throw new FuseError('EINVAL');
      return n.target;
    },
    symlink({ parent, name, target }, ctx) {
      record(ctx, parent);
      const n = makeNode(S_IFLNK | 0o777);
      n.target = Buffer.from(target);
      link(parent, name, n);
      return entryOf(n);
    },
    mknod({ parent, name, mode, rdev, umask }, ctx) {
      record(ctx, parent);
      const n = makeNode(mode & ~umask);
      n.rdev = rdev;
      link(parent, name, n);
      return entryOf(n);
    },
    mkdir({ parent, name, mode, umask }, ctx) {
      record(ctx, parent);
      const n = makeNode(S_IFDIR | (mode & ~umask & 0o7777));
      link(parent, name, n);
      return entryOf(n);
    },
    unlink({ parent, name }, ctx) {
      record(ctx, parent);
      const n = childOf(parent, name);
      dir(parent).children.delete(name.toString());
      dropLink(n);
    },
    rmdir({ parent, name }, ctx) {
      record(ctx, parent);
      const n = childOf(parent, name);
      if (n.children?.size) throw new FuseError('ENOTEMPTY');
      dir(parent).children.delete(name.toString());
      dropLink(n);
    },
    rename({ parent, name, newParent, newName, flags }, ctx) {
      record(ctx, parent);
      const from = dir(parent);
      const to = dir(newParent);
      const a = name.toString();
      const b = newName.toString();
      const src = from.children.get(a);
      if (src === undefined) throw new FuseError('ENOENT');
      const dst = to.children.get(b);
      if (flags & RENAME_EXCHANGE) {
        if (dst === undefined) throw new FuseError('ENOENT');
        from.children.set(a, dst);
        to.children.set(b, src);
        return;
      }
      if (dst !== undefined && flags & RENAME_NOREPLACE) throw new FuseError('EEXIST');
      from.children.delete(a);
      if (dst !== undefined) dropLink(get(dst));
      to.children.set(b, src);
    },
    link({ ino, newParent, newName }, ctx) {
      record(ctx, ino);
      const n = get(ino);
      link(newParent, newName, n);
      n.nlink++;
      return entryOf(n);
    },
    open({ ino }, ctx) {
      record(ctx, ino);
      return openReply(get(ino));
    },
    read({ ino, offset, size }, ctx) {
      record(ctx, ino);
      const n = get(ino);
      return n.data.subarray(Number(offset), Number(offset) + size);
    },
    write({ ino, offset, data }, ctx) {
      record(ctx, ino);
      const n = get(ino);
      const end = Number(offset) + data.byteLength;
      if (end > n.data.byteLength) {
        const grown = Buffer.alloc(end);
        n.data.copy(grown);
        n.data = grown;
      }
      data.copy(n.data, Number(offset));
      return data.byteLength;
    },
    statfs({ ino }, ctx) {
      record(ctx, ino);
      return { blocks: 1000, bfree: 500, bavail: 400, files: 100, ffree: 50, bsize: 4096, frsize: 4096, namelen: 200 };
    },
    release({ ino }, ctx) { record(ctx, ino); },
    fsync({ ino }, ctx) { record(ctx, ino); },
    setxattr({ ino, name, value }, ctx) {
      record(ctx, ino);
      get(ino).xattrs.set(name.toString(), Buffer.from(value));
    },
    getxattr({ ino, name }, ctx) {
      record(ctx, ino);
      const v = get(ino).xattrs.get(name.toString());
      if (!v) throw new FuseError('ENODATA');
      return v;
    },
    listxattr({ ino }, ctx) {
      record(ctx, ino);
      return [...get(ino).xattrs.keys()];
    },
    removexattr({ ino, name }, ctx) {
      record(ctx, ino);
      if (!get(ino).xattrs.delete(name.toString())) throw new FuseError('ENODATA');
    },
    flush({ ino }, ctx) { record(ctx, ino); },
    opendir({ ino }, ctx) {
      record(ctx, ino);
      dir(ino);
      return { fh: nextFh++ };
    },
    readdir({ ino, offset }, ctx) {
      record(ctx, ino);
      return listing(ino).slice(Number(offset)).map((e, i) => ({ ino: e.node.ino, name: e.name, mode: e.node.mode, offset: Number(offset) + i + 1 }));
    },
    readdirplus({ ino, offset }, ctx) {
      record(ctx, ino);
      return listing(ino).slice(Number(offset)).map((e, i) => ({ name: e.name, offset: Number(offset) + i + 1, entry: entryOf(e.node) }));
    },
    releasedir({ ino }, ctx) { record(ctx, ino); },
    fsyncdir({ ino }, ctx) { record(ctx, ino); },
    getlk({ ino, lock }, ctx) {
      record(ctx, ino);
      return { start: lock.start, end: lock.end, type: F_UNLCK, pid: 0 };
    },
    setlk({ ino }, ctx) { record(ctx, ino); },
    access({ ino }, ctx) { record(ctx, ino); get(ino); },
    create({ parent, name, mode, umask }, ctx) {
      record(ctx, parent);
      const n = makeNode(S_IFREG | (mode & ~umask & 0o7777));
      link(parent, name, n);
      return { entry: entryOf(n), open: openReply(n) };
    },
    bmap({ ino, block }, ctx) { record(ctx, ino); return block; },
    ioctl({ ino, inData, outSize }, ctx) {
      record(ctx, ino);
      // Answers with the input reversed, so the caller can tell the data made the round trip.
      const out = Buffer.from(inData).reverse().subarray(0, outSize);
      return { result: 0, data: out };
    },
    poll({ ino }, ctx) {
      record(ctx, ino);
      return 0x1 | 0x4; // POLLIN | POLLOUT
    },
    fallocate({ ino, offset, length }, ctx) {
      record(ctx, ino);
      const n = get(ino);
      const end = Number(offset) + Number(length);
      if (end > n.data.byteLength) {
        const grown = Buffer.alloc(end);
        n.data.copy(grown);
        n.data = grown;
      }
    },
    lseek({ ino, offset, whence }, ctx) {
      record(ctx, ino);
      const size = get(ino).data.byteLength;
      if (Number(offset) >= size) throw new FuseError('ENXIO');
      // One data region [0, size); the hole starts at the end of the file.
      if (whence === SEEK_DATA) return offset;
      if (whence === SEEK_HOLE) return size;
      throw new FuseError('EINVAL');
    },
    copyFileRange({ ino, offIn, inoOut, offOut, len }, ctx) {
      record(ctx, ino);
      const src = get(ino);
      const dst = get(inoOut);
      const bytes = src.data.subarray(Number(offIn), Number(offIn) + Number(len));
      const end = Number(offOut) + bytes.byteLength;
      if (end > dst.data.byteLength) {
        const grown = Buffer.alloc(end);
        dst.data.copy(grown);
        dst.data = grown;
      }
      bytes.copy(dst.data, Number(offOut));
      return bytes.byteLength;
    },
    syncfs({ ino }, ctx) { record(ctx, ino); },
    tmpfile({ parent, mode, umask }, ctx) {
      record(ctx, parent);
      const n = makeNode(S_IFREG | (mode & ~umask & 0o7777));
      n.nlink = 0;
      return { entry: entryOf(n), open: openReply(n) };
    },
    statx({ ino }, ctx) {
      record(ctx, ino);
      const n = get(ino);
      const a = attrOf(n);
      const t = { sec: Math.floor(n.time), nsec: 0 };
      const statx: StatxData = {
        mask: STATX_MASK, blksize: 4096, nlink: n.nlink, uid: n.uid, gid: n.gid, mode: n.mode, ino: n.ino,
        size: a.size ?? 0, blocks: a.blocks ?? 0, atime: t, mtime: t, ctime: t,
        // A birth time the GETATTR path cannot express: proof that the answer came from STATX.
        btime: { sec: 1_000_000_000, nsec: 0 },
      };
      return { statx, timeout: attrTimeout };
    },
  };

  const onFrame = (m: unknown): void => { frames.push((m as RequestMessage).name); };
  subscribe(REQUEST_CHANNEL, onFrame);

  const fs: MemFs = {
    ops, nodes, calls, frames, forgotten, destroyed: 0,
    add(parent, name, mode, data) {
      const n = makeNode(mode, typeof data === 'string' ? Buffer.from(data) : data);
      dir(parent).children.set(name, n.ino);
      return n;
    },
    child(parent, name) {
      const ino = nodes.get(parent)?.children?.get(name);
      return ino === undefined ? undefined : nodes.get(ino);
    },
    count(op, ino) {
      return calls.filter((c) => c.op === op && (ino === undefined || c.ino === ino)).length;
    },
    lookups(name) {
      return calls.filter((c) => c.op === 'LOOKUP' && c.name === name).length;
    },
    close() { unsubscribe(REQUEST_CHANNEL, onFrame); },
  };
  return fs;
}
