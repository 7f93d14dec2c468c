/**
 * A small in-memory path filesystem for the layer's tests: inodes with data, names in directories,
 * hard links, xattrs, open handles that survive unlink. It records every call (`calls`), so tests can
 * check exactly what the layer asked for. Written only against the public PathFilesystem interface.
 */
import { FuseError, type PathContext, type PathFilesystem, type PathStat, type Timestamp } from '../../src/index.ts';
import { S_IFDIR, S_IFLNK, S_IFREG } from './harness.ts';

export interface Inode {
  readonly ino: number;
  mode: number;
  uid: number;
  gid: number;
  nlink: number;
  data: Buffer;
  target: string;
  mtime: Timestamp;
  atime: Timestamp;
  readonly entries: Map<string, Inode> | undefined;
  readonly xattrs: Map<string, Buffer>;
}

export class ModelFs implements PathFilesystem {
  readonly calls: string[] = [];
  readonly contexts: PathContext[] = [];
  readonly root: Inode;
  readonly handles = new Map<number, Inode>();
  #nextIno = 100;
  #nextFh = 7000;

  constructor() {
    this.root = this.#inode(S_IFDIR | 0o755, true);
    this.root.nlink = 2;
  }

  #inode(mode: number, dir = false): Inode {
    return {
      ino: this.#nextIno++, mode, uid: 0, gid: 0, nlink: 1, data: Buffer.alloc(0), target: '', mtime: { sec: 1_000_000, nsec: 5 },
      atime: { sec: 1_000_000, nsec: 5 }, entries: dir ? new Map() : undefined, xattrs: new Map(),
    };
  }

  #record(call: string, ctx: PathContext): void {
    this.calls.push(call);
    this.contexts.push(ctx);
  }

  /** The inode at `path`, or ENOENT/ENOTDIR. */
  find(path: string): Inode {
    let node = this.root;
    for (const part of path.split('/').filter(Boolean)) {
      if (node.entries === undefined) throw new FuseError('ENOTDIR');
      const next = node.entries.get(part);
      if (next === undefined) throw new FuseError('ENOENT');
      node = next;
    }
    return node;
  }

  #split(path: string): [Inode, string] {
    const i = path.lastIndexOf('/');
    const dir = this.find(path.slice(0, i) || '/');
    if (dir.entries === undefined) throw new FuseError('ENOTDIR');
    return [dir, path.slice(i + 1)];
  }

  /** Creates a file directly (test setup, not through the kernel). */
  add(path: string, mode: number, content = ''): Inode {
    const [dir, name] = this.#split(path);
    const n = this.#inode(mode, (mode & 0o170000) === S_IFDIR);
    n.data = Buffer.from(content);
    dir.entries!.set(name, n);
    return n;
  }

  #byFh(path: string, fh: number | undefined): Inode {
    return fh !== undefined && fh !== 0 && this.handles.has(fh) ? this.handles.get(fh)! : this.find(path);
  }

  getattr(path: string, fh: number | undefined, ctx: PathContext): PathStat {
    this.#record(`getattr ${path}${fh !== undefined ? ` fh=${fh}` : ''}`, ctx);
    const n = this.#byFh(path, fh);
    return { mode: n.mode, size: n.data.length, nlink: n.nlink, uid: n.uid, gid: n.gid, ino: n.ino, mtime: n.mtime, atime: n.atime };
  }

  readdir(path: string, fh: number, ctx: PathContext): string[] {
    this.#record(`readdir ${path} fh=${fh}`, ctx);
    const n = this.find(path);
    if (n.entries === undefined) throw new FuseError('ENOTDIR');
    return [...n.entries.keys()];
  }

  opendir(path: string, _flags: number, ctx: PathContext): number {
    this.#record(`opendir ${path}`, ctx);
    this.find(path);
    return 55;
  }

  releasedir(path: string, fh: number, ctx: PathContext): void { this.#record(`releasedir ${path} fh=${fh}`, ctx); }
  fsyncdir(path: string, datasync: boolean, fh: number, ctx: PathContext): void { this.#record(`fsyncdir ${path} ${datasync} fh=${fh}`, ctx); }

  open(path: string, flags: number, ctx: PathContext): { fh: number; keepCache: boolean } {
    this.#record(`open ${path} flags=${flags.toString(8)}`, ctx);
    const n = this.find(path);
    if ((flags & 0o1000) !== 0) n.data = Buffer.alloc(0);
    const fh = this.#nextFh++;
    this.handles.set(fh, n);
    return { fh, keepCache: true };
  }

  read(path: string, fh: number, length: number, position: number, ctx: PathContext): Uint8Array {
    this.#record(`read ${path} fh=${fh} ${length}@${position}`, ctx);
    return this.#byFh(path, fh).data.subarray(position, position + length);
  }

  write(path: string, fh: number, data: Uint8Array, position: number, ctx: PathContext): number {
    this.#record(`write ${path} fh=${fh} ${data.length}@${position}`, ctx);
    const n = this.#byFh(path, fh);
    const end = position + data.length;
    if (end > n.data.length) n.data = Buffer.concat([n.data, Buffer.alloc(end - n.data.length)]);
    n.data.set(data, position);
    return data.length;
  }

  flush(path: string, fh: number, owner: bigint, ctx: PathContext): void { this.#record(`flush ${path} fh=${fh} owner=${owner}`, ctx); }
  release(path: string, fh: number, _flags: number, ctx: PathContext): void {
    this.#record(`release ${path} fh=${fh}`, ctx);
    this.handles.delete(fh);
  }
  fsync(path: string, datasync: boolean, fh: number, ctx: PathContext): void { this.#record(`fsync ${path} ${datasync} fh=${fh}`, ctx); }

  mknod(path: string, mode: number, rdev: number, ctx: PathContext): void {
    this.#record(`mknod ${path} ${mode.toString(8)} ${rdev} umask=${ctx.umask.toString(8)}`, ctx);
    const [dir, name] = this.#split(path);
    if (dir.entries!.has(name)) throw new FuseError('EEXIST');
    dir.entries!.set(name, this.#inode(mode));
  }

  mkdir(path: string, mode: number, ctx: PathContext): void {
    this.#record(`mkdir ${path} ${mode.toString(8)}`, ctx);
    const [dir, name] = this.#split(path);
    if (dir.entries!.has(name)) throw new FuseError('EEXIST');
    const n = this.#inode(S_IFDIR | mode, true);
    n.nlink = 2;
    dir.entries!.set(name, n);
  }

  unlink(path: string, ctx: PathContext): void {
    this.#record(`unlink ${path}`, ctx);
    const [dir, name] = this.#split(path);
    const n = dir.entries!.get(name);
    if (n === undefined) throw new FuseError('ENOENT');
    if (n.entries !== undefined) throw new FuseError('EISDIR');
    n.nlink--;
    dir.entries!.delete(name);
  }

  rmdir(path: string, ctx: PathContext): void {
    this.#record(`rmdir ${path}`, ctx);
    const [dir, name] = this.#split(path);
    const n = dir.entries!.get(name);
    if (n === undefined) throw new FuseError('ENOENT');
    if (n.entries === undefined) throw new FuseError('ENOTDIR');
    if (n.entries.size > 0) throw new FuseError('ENOTEMPTY');
    dir.entries!.delete(name);
  }

  rename(from: string, to: string, flags: number, ctx: PathContext): void {
    this.#record(`rename ${from} ${to} ${flags}`, ctx);
    const [fd, fname] = this.#split(from);
    const [td, tname] = this.#split(to);
    const a = fd.entries!.get(fname);
    if (a === undefined) throw new FuseError('ENOENT');
    const b = td.entries!.get(tname);
    if ((flags & 1) !== 0 && b !== undefined) throw new FuseError('EEXIST');
    if ((flags & 2) !== 0) {
      if (b === undefined) throw new FuseError('ENOENT');
      fd.entries!.set(fname, b);
      td.entries!.set(tname, a);
      return;
    }
    fd.entries!.delete(fname);
    td.entries!.set(tname, a);
  }

  link(existingPath: string, newPath: string, _fh: number | undefined, ctx: PathContext): void {
    this.#record(`link ${existingPath} ${newPath}`, ctx);
    const n = this.find(existingPath);
    const [dir, name] = this.#split(newPath);
    if (dir.entries!.has(name)) throw new FuseError('EEXIST');
    n.nlink++;
    dir.entries!.set(name, n);
  }

  symlink(target: string, path: string, ctx: PathContext): void {
    this.#record(`symlink ${target} ${path}`, ctx);
    const [dir, name] = this.#split(path);
    const n = this.#inode(S_IFLNK | 0o777);
    n.target = target;
    dir.entries!.set(name, n);
  }

  readlink(path: string, ctx: PathContext): string {
    this.#record(`readlink ${path}`, ctx);
    return this.find(path).target;
  }

  chmod(path: string, mode: number, fh: number | undefined, ctx: PathContext): void {
    this.#record(`chmod ${path} ${mode.toString(8)}${fh !== undefined ? ` fh=${fh}` : ''}`, ctx);
    const n = this.#byFh(path, fh);
    n.mode = (n.mode & 0o170000) | mode;
  }

  chown(path: string, uid: number, gid: number, fh: number | undefined, ctx: PathContext): void {
    this.#record(`chown ${path} ${uid} ${gid}`, ctx);
    const n = this.#byFh(path, fh);
    if (uid !== -1) n.uid = uid;
    if (gid !== -1) n.gid = gid;
  }

  truncate(path: string, size: number, fh: number | undefined, ctx: PathContext): void {
    this.#record(`truncate ${path} ${size}${fh !== undefined ? ` fh=${fh}` : ''}`, ctx);
    const n = this.#byFh(path, fh);
    const d = Buffer.alloc(size);
    n.data.copy(d, 0, 0, Math.min(size, n.data.length));
    n.data = d;
  }

  utimens(path: string, atime: Timestamp | undefined, mtime: Timestamp | undefined, fh: number | undefined, ctx: PathContext): void {
    const t = (x: Timestamp | undefined): string => (x === undefined ? 'omit' : `${x.sec}.${x.nsec}`);
    this.#record(`utimens ${path} ${t(atime)} ${t(mtime)}`, ctx);
    const n = this.#byFh(path, fh);
    if (atime !== undefined) n.atime = atime;
    if (mtime !== undefined) n.mtime = mtime;
  }

  statfs(path: string, ctx: PathContext): { bsize: number; blocks: bigint; bfree: number; namelen: number } {
    this.#record(`statfs ${path}`, ctx);
    return { bsize: 4096, blocks: 2n ** 40n, bfree: 77, namelen: 200 };
  }

  access(path: string, mask: number, ctx: PathContext): void {
    this.#record(`access ${path} ${mask}`, ctx);
    if (ctx.uid !== 0 && (mask & 2) !== 0) throw new FuseError('EACCES');
  }

  setxattr(path: string, name: string, value: Uint8Array, flags: number, ctx: PathContext): void {
    this.#record(`setxattr ${path} ${name} ${Buffer.from(value).toString()} ${flags}`, ctx);
    const n = this.find(path);
    if ((flags & 1) !== 0 && n.xattrs.has(name)) throw new FuseError('EEXIST');
    if ((flags & 2) !== 0 && !n.xattrs.has(name)) throw new FuseError('ENODATA');
    n.xattrs.set(name, Buffer.from(value));
  }

  getxattr(path: string, name: string, ctx: PathContext): Uint8Array {
    this.#record(`getxattr ${path} ${name}`, ctx);
    const v = this.find(path).xattrs.get(name);
    if (v === undefined) throw new FuseError('ENODATA');
    return v;
  }

  listxattr(path: string, ctx: PathContext): string[] {
    this.#record(`listxattr ${path}`, ctx);
    return [...this.find(path).xattrs.keys()];
  }

  removexattr(path: string, name: string, ctx: PathContext): void {
    this.#record(`removexattr ${path} ${name}`, ctx);
    if (!this.find(path).xattrs.delete(name)) throw new FuseError('ENODATA');
  }
}

export { S_IFREG };
