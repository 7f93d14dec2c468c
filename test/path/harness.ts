/**
 * Drives a path filesystem through `pathOperations` and the fake kernel, frame by frame. Request bodies
 * are built with the naive FrameBuilder (test/protocol/frame-builder.ts), field by field as in
 * include/uapi/linux/fuse.h, so nothing here shares code with the layer or the codec it tests.
 */
import { FakeKernel, decodeEntryOut, decodeAttrOut, decodeOpenOut, decodeDirents, type FakeReply, type DecodedAttr } from '../../src/testing.ts';
import { pathOperations, type PathFilesystem, type PathLayerOptions, type PathOperations } from '../../src/index.ts';
import { FrameBuilder } from '../protocol/frame-builder.ts';

export const S_IFDIR = 0o040000;
export const S_IFREG = 0o100000;
export const S_IFLNK = 0o120000;
export const S_IFIFO = 0o010000;

export interface Entry { error: number; nodeid: number; attr: DecodedAttr; entryValid: number; attrValid: number }
export interface PlusEntry { nodeid: number; ino: number; off: number; type: number; name: string; attr: DecodedAttr }

const num = (v: number | bigint): number => Number(v);

export class Harness {
  readonly k: FakeKernel;
  readonly ops: PathOperations;
  readonly warnings: string[] = [];

  constructor(fs: PathFilesystem, options?: PathLayerOptions) {
    this.ops = pathOperations(fs, options);
    this.k = new FakeKernel(this.ops, { onWarning: (m) => { this.warnings.push(m); } });
  }

  static async start(fs: PathFilesystem, options?: PathLayerOptions): Promise<Harness> {
    const h = new Harness(fs, options);
    await h.k.init();
    return h;
  }

  req(opcode: string, nodeid: number, body: FrameBuilder | Uint8Array | readonly Uint8Array[] = [], uid = 0): Promise<FakeReply> {
    return this.k.request(opcode, nodeid, body instanceof FrameBuilder ? body.build() : body, { uid, gid: uid });
  }

  static entry(r: FakeReply): Entry {
    if (r.error !== 0) return { error: r.error, nodeid: 0, attr: undefined as unknown as DecodedAttr, entryValid: 0, attrValid: 0 };
    const e = decodeEntryOut(r.body);
    return { error: 0, nodeid: num(e.nodeid), attr: e.attr, entryValid: num(e.entryValid), attrValid: num(e.attrValid) };
  }

  async lookup(parent: number, name: string | Uint8Array): Promise<Entry> {
    return Harness.entry(await this.req('LOOKUP', parent, FakeKernel.name(name)));
  }

  async getattr(ino: number, fh?: number): Promise<{ error: number; attr: DecodedAttr; valid: number }> {
    const r = await this.req('GETATTR', ino, FakeKernel.getattr(fh));
    if (r.error !== 0) return { error: r.error, attr: undefined as unknown as DecodedAttr, valid: 0 };
    const a = decodeAttrOut(r.body);
    return { error: 0, attr: a.attr, valid: num(a.attrValid) };
  }

  /** Sends FORGET (no reply) through the core. */
  forget(ino: number, nlookup: number): void {
    const unique = this.k.nextUnique();
    this.k.core.handleFrame(this.k.frame('FORGET', ino, FakeKernel.forget(nlookup), { unique }));
  }

  /** Sends BATCH_FORGET (no reply). */
  batchForget(items: readonly (readonly [number, number])[]): void {
    const b = new FrameBuilder().u32(items.length).u32(0);
    for (const [ino, n] of items) b.u64(ino).u64(n);
    const unique = this.k.nextUnique();
    this.k.core.handleFrame(this.k.frame('BATCH_FORGET', 0, b.build(), { unique }));
  }

  async open(ino: number, flags: number, opcode = 'OPEN'): Promise<{ error: number; fh: number; openFlags: number }> {
    const r = await this.req(opcode, ino, FakeKernel.open(flags));
    if (r.error !== 0) return { error: r.error, fh: 0, openFlags: 0 };
    const o = decodeOpenOut(r.body);
    return { error: 0, fh: num(o.fh), openFlags: o.openFlags };
  }

  async read(ino: number, fh: number, offset: number, size: number): Promise<FakeReply> {
    return this.req('READ', ino, FakeKernel.read(fh, offset, size));
  }

  async write(ino: number, fh: number, offset: number, data: string): Promise<{ error: number; size: number }> {
    const r = await this.req('WRITE', ino, FakeKernel.write(fh, offset, Buffer.from(data)));
    return { error: r.error, size: r.error === 0 ? r.body.readUInt32LE(0) : 0 };
  }

  release(ino: number, fh: number, opcode = 'RELEASE', releaseFlags = 0, lockOwner = 0): Promise<FakeReply> {
    return this.req(opcode, ino, new FrameBuilder().u64(fh).u32(0).u32(releaseFlags).u64(lockOwner));
  }

  async readdir(ino: number, fh: number, offset: number, size = 4096): Promise<{ error: number; entries: { ino: number; off: number; type: number; name: string }[] }> {
    const r = await this.req('READDIR', ino, FakeKernel.read(fh, offset, size));
    if (r.error !== 0) return { error: r.error, entries: [] };
    return { error: 0, entries: decodeDirents(r.body).map((e) => ({ ...e, ino: num(e.ino), off: num(e.off) })) };
  }

  async readdirplus(ino: number, fh: number, offset: number, size = 4096): Promise<{ error: number; entries: PlusEntry[] }> {
    const r = await this.req('READDIRPLUS', ino, FakeKernel.read(fh, offset, size));
    if (r.error !== 0) return { error: r.error, entries: [] };
    const out: PlusEntry[] = [];
    let at = 0;
    const b = r.body;
    while (at + 152 <= b.length) {
      const e = decodeEntryOut(b.subarray(at, at + 128));
      const ino2 = Number(b.readBigUInt64LE(at + 128));
      const off = Number(b.readBigUInt64LE(at + 136));
      const namelen = b.readUInt32LE(at + 144);
      const type = b.readUInt32LE(at + 148);
      const name = b.subarray(at + 152, at + 152 + namelen).toString();
      out.push({ nodeid: num(e.nodeid), ino: ino2, off, type, name, attr: e.attr });
      at += (152 + namelen + 7) & ~7;
    }
    return { error: 0, entries: out };
  }

  /** Every name of a directory, read page by page with READDIR of `size` bytes, `between` run after each page. */
  async listAll(ino: number, size: number, between?: (page: number) => void | Promise<void>): Promise<string[]> {
    const d = await this.open(ino, 0, 'OPENDIR');
    const names: string[] = [];
    let offset = 0;
    for (let page = 0; ; page++) {
      const r = await this.readdir(ino, d.fh, offset, size);
      if (r.error !== 0) throw new Error(`readdir failed: ${r.error}`);
      if (r.entries.length === 0) break;
      for (const e of r.entries) names.push(e.name);
      offset = r.entries.at(-1)!.off;
      await between?.(page);
    }
    await this.release(ino, d.fh, 'RELEASEDIR');
    return names;
  }

  async mknod(parent: number, name: string, mode: number, rdev = 0, umask = 0): Promise<Entry> {
    return Harness.entry(await this.req('MKNOD', parent, new FrameBuilder().u32(mode).u32(rdev).u32(umask).u32(0).cstring(name)));
  }

  async mkdir(parent: number, name: string, mode = 0o755, umask = 0o022): Promise<Entry> {
    return Harness.entry(await this.req('MKDIR', parent, new FrameBuilder().u32(mode).u32(umask).cstring(name)));
  }

  async symlink(parent: number, name: string, target: string): Promise<Entry> {
    return Harness.entry(await this.req('SYMLINK', parent, new FrameBuilder().cstring(name).cstring(target)));
  }

  async link(ino: number, newParent: number, newName: string): Promise<Entry> {
    return Harness.entry(await this.req('LINK', newParent, new FrameBuilder().u64(ino).cstring(newName)));
  }

  unlink(parent: number, name: string, opcode = 'UNLINK'): Promise<FakeReply> {
    return this.req(opcode, parent, FakeKernel.name(name));
  }

  rename(parent: number, name: string, newParent: number, newName: string, flags = 0): Promise<FakeReply> {
    return this.req('RENAME2', parent, new FrameBuilder().u64(newParent).u32(flags).u32(0).cstring(name).cstring(newName));
  }

  async create(parent: number, name: string, mode: number, flags: number, umask = 0): Promise<{ entry: Entry; fh: number; openFlags: number }> {
    const r = await this.req('CREATE', parent, new FrameBuilder().u32(flags).u32(mode).u32(umask).u32(0).cstring(name));
    const entry = Harness.entry(r);
    if (r.error !== 0) return { entry, fh: 0, openFlags: 0 };
    const o = decodeOpenOut(r.body.subarray(128));
    return { entry, fh: num(o.fh), openFlags: o.openFlags };
  }

  /** SETATTR with the given FATTR_* fields (valid bits computed here). */
  async setattr(ino: number, s: {
    mode?: number; uid?: number; gid?: number; size?: number; fh?: number;
    atime?: [number, number] | 'now'; mtime?: [number, number] | 'now';
  }): Promise<{ error: number; attr: DecodedAttr }> {
    let valid = 0;
    if (s.mode !== undefined) valid |= 1;
    if (s.uid !== undefined) valid |= 2;
    if (s.gid !== undefined) valid |= 4;
    if (s.size !== undefined) valid |= 8;
    if (s.atime !== undefined) valid |= s.atime === 'now' ? 16 | 128 : 16;
    if (s.mtime !== undefined) valid |= s.mtime === 'now' ? 32 | 256 : 32;
    if (s.fh !== undefined) valid |= 64;
    const at = Array.isArray(s.atime) ? s.atime : [0, 0];
    const mt = Array.isArray(s.mtime) ? s.mtime : [0, 0];
    const b = new FrameBuilder()
      .u32(valid).u32(0) // valid, padding
      .u64(s.fh ?? 0) // fh
      .u64(s.size ?? 0) // size
      .u64(0) // lock_owner
      .i64(at[0]!).i64(mt[0]!).i64(0) // atime, mtime, ctime
      .u32(at[1]!).u32(mt[1]!).u32(0) // atimensec, mtimensec, ctimensec
      .u32(s.mode ?? 0).u32(0) // mode, unused4
      .u32(s.uid ?? 0).u32(s.gid ?? 0).u32(0); // uid, gid, unused5
    const r = await this.req('SETATTR', ino, b);
    return { error: r.error, attr: r.error === 0 ? decodeAttrOut(r.body).attr : (undefined as unknown as DecodedAttr) };
  }

  /** fuse_lk_in */
  lk(opcode: 'GETLK' | 'SETLK' | 'SETLKW', ino: number, fh: number, owner: bigint, lock: { start: bigint | number; end: bigint | number; type: number; pid: number }, flock = false): Promise<FakeReply> {
    return this.req(opcode, ino, new FrameBuilder().u64(fh).u64(owner).u64(lock.start).u64(lock.end).u32(lock.type).u32(lock.pid).u32(flock ? 1 : 0).u32(0));
  }

  /** The fs and the node table agree that nothing is held. */
  get nodes(): number { return this.ops.nodeCount; }
}
