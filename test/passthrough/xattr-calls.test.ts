// The passthrough's xattr handlers (src/passthrough/ffi-ops.ts, node:ffi) called directly: the size probe
// asks libc for the length alone, a read asks for no more than the caller takes, names and magic links go
// to libc from reused buffers by address. Under a Node without node:ffi, the cases run in a child under
// TSFUSE_NODE26. (test/passthrough/ffi-ops.test.ts checks the same calls through the kernel.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { createPassthrough, type PassthroughOperations } from '../../src/passthrough/index.ts';
import { hasFfiOperations } from '../../src/passthrough/ffi-ops.ts';
import { encodeXattrData } from '../../src/protocol/replies.ts';
import { NODE26_SKIP, passUnderNode26 } from '../support/mount-helpers.ts';

const THIS_FILE = fileURLToPath(import.meta.url);
const HERE = hasFfiOperations() ? undefined : 'without node:ffi: run in a child under TSFUSE_NODE26 (last test)';
const ctx = { uid: 0, gid: 0, pid: process.pid, umask: 0o022, resend: false, signal: new AbortController().signal } as never;

/** Runs `fn` with a passthrough of a fresh SOURCE holding the file `f`, and `f`'s node id. */
function withFile(fn: (ops: PassthroughOperations, ino: number, path: string) => void): void {
  const source = fs.mkdtempSync(join(tmpdir(), 'tsfuse-xattr-'));
  fs.writeFileSync(join(source, 'f'), '');
  const ops = createPassthrough(source, { preserveOwnership: false, kernelPassthrough: false });
  try {
    const e = ops.lookup!({ parent: 1, name: Buffer.from('f') } as never, ctx) as unknown as { ino: number };
    fn(ops, e.ino, join(source, 'f'));
  } finally {
    ops.close();
    fs.rmSync(source, { recursive: true, force: true });
  }
}

const get = (ops: PassthroughOperations, ino: number, name: string | Buffer, size: number): Buffer =>
  ops.getxattr!({ ino, name: Buffer.from(name), size } as never, ctx) as Buffer;
const set = (ops: PassthroughOperations, ino: number, name: string, value: Buffer): void => {
  ops.setxattr!({ ino, name: Buffer.from(name), value, flags: 0, setxattrFlags: 0 } as never, ctx);
};

test('getxattr: the probe gives the length, a short buffer ERANGE, a big enough one the value; ENODATA for a missing name', { skip: HERE }, () => {
  withFile((ops, ino) => {
    const value = Buffer.from(Array.from({ length: 1500 }, (_, i) => (i * 7) & 0xff));
    set(ops, ino, 'user.v', value);
    const probe = get(ops, ino, 'user.v', 0);
    assert.equal(probe.length, 1500);
    // What the kernel gets for the probe: fuse_getxattr_out with the length alone.
    const out = encodeXattrData(probe, 0) as Uint8Array[];
    assert.equal(out.length, 1);
    assert.equal(Buffer.from(out[0]!).readUInt32LE(0), 1500);
    assert.throws(() => get(ops, ino, 'user.v', 1499), { code: 'ERANGE' });
    assert.deepEqual(get(ops, ino, 'user.v', 1500), value);
    assert.deepEqual(get(ops, ino, 'user.v', 65536), value);
    // A value, unlike the probe's view, is the caller's to keep: the next call does not change it.
    const kept = get(ops, ino, 'user.v', 4096);
    set(ops, ino, 'user.w', Buffer.alloc(1500, 0xee));
    get(ops, ino, 'user.w', 4096);
    assert.deepEqual(kept, value);
    for (const size of [0, 10, 65536]) assert.throws(() => get(ops, ino, 'security.capability', size), { code: 'ENODATA', errno: 61 });
  });
});

test('xattr names: a short name after a long one is cut at its own NUL; 255 bytes reach the VFS, 256 are ERANGE', { skip: HERE }, () => {
  withFile((ops, ino, path) => {
    const long = `user.${'n'.repeat(250)}`;
    set(ops, ino, long, Buffer.from('long'));
    set(ops, ino, 'user.a', Buffer.from('short'));
    assert.equal(get(ops, ino, long, 100).toString(), 'long');
    assert.equal(get(ops, ino, 'user.a', 100).toString(), 'short');
    assert.throws(() => get(ops, ino, `${long}x`, 100), { code: 'ERANGE' });
    assert.throws(() => set(ops, ino, `${long}x`, Buffer.from('v')), { code: 'ERANGE' });
    const names = (ops.listxattr!({ ino, size: 65536 } as never, ctx) as Buffer).toString('latin1').split('\0').filter(Boolean).sort();
    assert.deepEqual(names, [long, 'user.a'].sort());
    ops.removexattr!({ ino, name: Buffer.from(long) } as never, ctx);
    assert.throws(() => ops.removexattr!({ ino, name: Buffer.from(long) } as never, ctx), { code: 'ENODATA' });
    assert.throws(() => get(ops, ino, long, 100), { code: 'ENODATA' });
    // The calls reached the backing file itself.
    assert.equal(fs.statSync(path).isFile(), true);
  });
});

test('xattr calls name the right inode through the reused magic-link buffer, for descriptors of any width', { skip: HERE }, () => {
  const source = fs.mkdtempSync(join(tmpdir(), 'tsfuse-xattr-'));
  // Hold descriptors so the nodes' own ones take more digits than the first node's.
  const held: number[] = [];
  const ops = createPassthrough(source, { preserveOwnership: false, kernelPassthrough: false });
  try {
    fs.writeFileSync(join(source, 'a'), '');
    const a = (ops.lookup!({ parent: 1, name: Buffer.from('a') } as never, ctx) as unknown as { ino: number }).ino;
    for (let i = 0; i < 120; i++) held.push(fs.openSync(source, 'r'));
    fs.writeFileSync(join(source, 'b'), '');
    const b = (ops.lookup!({ parent: 1, name: Buffer.from('b') } as never, ctx) as unknown as { ino: number }).ino;
    set(ops, b, 'user.who', Buffer.from('b'));
    set(ops, a, 'user.who', Buffer.from('a'));
    assert.equal(get(ops, a, 'user.who', 10).toString(), 'a');
    assert.equal(get(ops, b, 'user.who', 10).toString(), 'b');
  } finally {
    ops.close();
    for (const fd of held) fs.closeSync(fd);
    fs.rmSync(source, { recursive: true, force: true });
  }
});

test('getxattr while files are open (fgetxattr on an open descriptor): each node its own value, before, during and after', { skip: HERE }, () => {
  const source = fs.mkdtempSync(join(tmpdir(), 'tsfuse-xattr-'));
  const ops = createPassthrough(source, { preserveOwnership: false, kernelPassthrough: false });
  try {
    const made: { ino: number; fh: number }[] = [];
    for (const name of ['one', 'two', 'three']) {
      // CREATE, as the kernel sends it: the file stays open (a handle) until RELEASE.
      const r = ops.create!({ parent: 1, name: Buffer.from(name), flags: fs.constants.O_WRONLY, mode: 0o100644, umask: 0, openFlags: 0 } as never, ctx) as unknown as { entry: { ino: number }; open: { fh: number } };
      made.push({ ino: r.entry.ino, fh: r.open.fh });
      set(ops, r.entry.ino, 'user.name', Buffer.from(name));
      // The kernel's question before the first write: the size probe of security.capability.
      assert.throws(() => get(ops, r.entry.ino, 'security.capability', 0), { code: 'ENODATA' });
    }
    // A second open of "two" (OPEN), then the first handle released: the other still answers for it.
    const again = ops.open!({ ino: made[1]!.ino, flags: fs.constants.O_RDONLY, openFlags: 0 } as never, ctx) as unknown as { fh: number };
    ops.release!({ ino: made[1]!.ino, fh: made[1]!.fh, flags: 0, releaseFlags: 0, lockOwner: 0 } as never, ctx);
    ['one', 'two', 'three'].forEach((name, i) => {
      assert.equal(get(ops, made[i]!.ino, 'user.name', 100).toString(), name);
      assert.equal(get(ops, made[i]!.ino, 'user.name', 0).length, name.length);
    });
    ops.release!({ ino: made[1]!.ino, fh: again.fh, flags: 0, releaseFlags: 0, lockOwner: 0 } as never, ctx);
    for (const { ino, fh } of [made[0]!, made[2]!]) ops.release!({ ino, fh, flags: 0, releaseFlags: 0, lockOwner: 0 } as never, ctx);
    // All closed: through the magic links again.
    ['one', 'two', 'three'].forEach((name, i) => {
      assert.equal(get(ops, made[i]!.ino, 'user.name', 100).toString(), name);
    });
  } finally {
    ops.close();
    fs.rmSync(source, { recursive: true, force: true });
  }
});

test('the xattr buffers handed to libc as addresses outlive garbage collection', { skip: HERE }, () => {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  withFile((ops, ino) => {
    set(ops, ino, 'user.kept', Buffer.from('value'));
    for (let round = 0; round < 5; round++) {
      gc();
      // Small buffers of every size, filled, to take any freed memory.
      const litter = Array.from({ length: 2000 }, (_, i) => Buffer.allocUnsafeSlow(1 + (i % 300)).fill(0x2f));
      assert.equal(get(ops, ino, 'user.kept', 0).length, 5, `probe after a collection (round ${round})`);
      assert.equal(get(ops, ino, 'user.kept', 100).toString(), 'value');
      assert.ok(litter.length > 0);
    }
  });
});

test('under Node >= 26 (TSFUSE_NODE26): the node:ffi cases pass there too', { skip: HERE === undefined ? 'this Node has node:ffi: run above' : NODE26_SKIP, timeout: 120_000 }, () => {
  passUnderNode26(THIS_FILE);
});
