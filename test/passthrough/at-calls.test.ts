// The passthrough's calls relative to a descriptor (src/passthrough/at-calls.ts, node:ffi): statx decoded
// without BigInts must say exactly what Node's exact-nanosecond lstat says, and failures come back as
// minus the errno. Under a Node without node:ffi, the node:ffi cases run in a child under TSFUSE_NODE26.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { atCalls, devOf, openSameInode, AT_REMOVEDIR } from '../../src/passthrough/at-calls.ts';
import { keyOf, O_PATH } from '../../src/passthrough/nodes.ts';
import { attrFromStats } from '../../src/ops/stats.ts';
import { createPassthrough } from '../../src/passthrough/index.ts';
import { NODE26_SKIP, passUnderNode26 } from '../support/mount-helpers.ts';

const THIS_FILE = fileURLToPath(import.meta.url);
const calls = atCalls();

/** glibc's makedev, written out on BigInts (sysdeps/unix/sysv/linux/sys/sysmacros.h). */
function makedev(major: number, minor: number): bigint {
  const M = BigInt(major);
  const m = BigInt(minor);
  return ((M & 0xfffn) << 8n) | ((M & 0xfffff000n) << 32n) | (m & 0xffn) | ((m & 0xffffff00n) << 12n);
}

test('devOf: dev_t as glibc makedev builds it, for small and large majors and minors', () => {
  const cases: [number, number][] = [[0, 0], [8, 1], [259, 3], [0xfff, 0xff], [0x1000, 0x100], [0xfffff, 0xfffff], [0x12345, 0xabcdef12], [0xffffffff, 0xffffffff]];
  for (const [major, minor] of cases) {
    const want = makedev(major, minor);
    const got = devOf(major, minor);
    assert.equal(BigInt(got), want, `makedev(${major}, ${minor})`);
    // Canonical U64: a number exactly when it is safe.
    assert.equal(typeof got, want <= BigInt(Number.MAX_SAFE_INTEGER) ? 'number' : 'bigint');
  }
});

test('the passthrough refuses a name holding a NUL (EINVAL) and answers a missing name with ENOENT', () => {
  const source = fs.mkdtempSync(join(tmpdir(), 'tsfuse-at-'));
  fs.writeFileSync(join(source, 'a'), '');
  const ops = createPassthrough(source, { preserveOwnership: false, kernelPassthrough: false });
  const ctx = { uid: 0, gid: 0, pid: process.pid, umask: 0o022, resend: false, signal: new AbortController().signal } as never;
  try {
    assert.throws(() => ops.lookup!({ parent: 1, name: Buffer.from('a\0b') } as never, ctx), { code: 'EINVAL' });
    assert.throws(() => ops.unlink!({ parent: 1, name: Buffer.from('a\0') } as never, ctx), { code: 'EINVAL' });
    for (let i = 0; i < 2; i++) assert.throws(() => ops.lookup!({ parent: 1, name: Buffer.from('missing') } as never, ctx), { code: 'ENOENT', errno: 2 });
    assert.ok(fs.existsSync(join(source, 'a')), 'the NUL name did not reach the file "a"');
    const e = ops.lookup!({ parent: 1, name: Buffer.from('a') } as never, ctx) as unknown as { ino: number; attr: { mode: number; ino: number } };
    assert.equal(e.attr.ino, fs.statSync(join(source, 'a')).ino);
  } finally {
    ops.close();
    fs.rmSync(source, { recursive: true, force: true });
  }
});

test('statAt and statFd: what lstat with { bigint: true } says, to the nanosecond, for every file type', { skip: calls === undefined && 'without node:ffi: run in a child under TSFUSE_NODE26 (next test)' }, () => {
  const c = calls!;
  const dir = fs.mkdtempSync(join(tmpdir(), 'tsfuse-at-'));
  const dfd = fs.openSync(dir, O_PATH | fs.constants.O_DIRECTORY);
  const fds: number[] = [];
  try {
    fs.writeFileSync(join(dir, 'file'), Buffer.alloc(12345, 1));
    fs.mkdirSync(join(dir, 'sub'), { mode: 0o2755 });
    fs.symlinkSync('nowhere/at/all', join(dir, 'link'));
    spawnSync('mkfifo', [join(dir, 'fifo')]);
    fs.utimesSync(join(dir, 'file'), -12345.5, 1.7e9 + 0.123456); // a negative time, and a fraction
    for (const name of ['file', 'sub', 'link', 'fifo']) {
      if (!fs.existsSync(join(dir, name)) && name === 'fifo') continue;
      const want = fs.lstatSync(join(dir, name), { bigint: true });
      const st = c.statAt(dfd, Buffer.from(name));
      assert.notEqual(typeof st, 'number', name);
      if (typeof st === 'number') continue;
      assert.equal(st.key, keyOf(want), `${name}: key`);
      assert.equal(BigInt(st.dev), want.dev, `${name}: dev`);
      assert.equal(st.mode, Number(want.mode), `${name}: mode`);
      assert.deepEqual(st.attr, attrFromStats(want), `${name}: attributes`);
      // Through an O_PATH | O_NOFOLLOW descriptor: the same inode, a symlink's own.
      const fd = fs.openSync(join(dir, name), O_PATH | fs.constants.O_NOFOLLOW);
      fds.push(fd);
      const byFd = c.statFd(fd);
      assert.notEqual(typeof byFd, 'number');
      if (typeof byFd !== 'number') assert.deepEqual(byFd.attr, attrFromStats(want), `${name}: by descriptor`);
    }
    // A character device: rdev as attrFromStats encodes it.
    const devNull = fs.openSync('/dev/null', O_PATH);
    fds.push(devNull);
    const nul = c.statFd(devNull);
    assert.ok(typeof nul !== 'number');
    assert.deepEqual(nul.attr, attrFromStats(fs.statSync('/dev/null', { bigint: true })));
    assert.equal(c.statAt(dfd, Buffer.from('missing')), -2, 'ENOENT as minus the errno');
    assert.equal(c.statAt(dfd, Buffer.from('file/x')), -20, 'ENOTDIR');
  } finally {
    for (const fd of fds) fs.closeSync(fd);
    fs.closeSync(dfd);
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('the buffers handed to libc as addresses outlive garbage collection', { skip: calls === undefined && 'without node:ffi: run in a child under TSFUSE_NODE26 (next test)' }, () => {
  // at-calls passes its reused buffers by address (taken once); the GC sees only the variables that hold
  // them. A buffer no closure held would be freed, and its memory reused, under libc's feet.
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  const c = calls!;
  const dir = fs.mkdtempSync(join(tmpdir(), 'tsfuse-at-gc-'));
  const dfd = fs.openSync(dir, O_PATH | fs.constants.O_DIRECTORY);
  try {
    fs.writeFileSync(join(dir, 'file'), 'x');
    const fd = fs.openSync(join(dir, 'file'), O_PATH);
    try {
      for (let round = 0; round < 5; round++) {
        gc();
        // Small buffers of every size, filled, to take any freed memory.
        const litter = Array.from({ length: 2000 }, (_, i) => Buffer.allocUnsafeSlow(1 + (i % 300)).fill(0x2f));
        const st = c.statFd(fd);
        assert.notEqual(typeof st, 'number', `statFd after a collection (round ${round}): ${String(st)}`);
        assert.notEqual(typeof c.statAt(dfd, Buffer.from('file')), 'number');
        assert.ok(litter.length > 0);
      }
    } finally {
      fs.closeSync(fd);
    }
  } finally {
    fs.closeSync(dfd);
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('openAt, mkdirAt, symlinkAt, unlinkAt: relative to the descriptor, errors as minus the errno', { skip: calls === undefined && 'without node:ffi: run in a child under TSFUSE_NODE26 (next test)' }, () => {
  const c = calls!;
  const dir = fs.mkdtempSync(join(tmpdir(), 'tsfuse-at-'));
  const dfd = fs.openSync(dir, O_PATH | fs.constants.O_DIRECTORY);
  try {
    const name = Buffer.from('new');
    const fd = c.openAt(dfd, name, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL, 0o640);
    assert.ok(fd >= 0, `openAt created the file (${fd})`);
    fs.writeSync(fd, 'hello');
    fs.closeSync(fd);
    assert.equal(fs.readFileSync(join(dir, 'new'), 'utf8'), 'hello');
    assert.equal(fs.statSync(join(dir, 'new')).mode & 0o777, 0o640 & ~process.umask());
    assert.equal(c.openAt(dfd, name, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL, 0o600), -17, 'EEXIST');
    // A name longer than the reused buffer still reaches the call (the kernel refuses it: ENAMETOOLONG).
    assert.equal(c.openAt(dfd, Buffer.alloc(2000, 0x61), fs.constants.O_RDONLY, 0), -36);
    assert.equal(c.mkdirAt(dfd, Buffer.from('d'), 0o700), 0);
    assert.equal(fs.statSync(join(dir, 'd')).mode & 0o777, 0o700 & ~process.umask());
    assert.equal(c.mkdirAt(dfd, Buffer.from('d'), 0o700), -17);
    assert.equal(c.symlinkAt(Buffer.from('../target'), dfd, Buffer.from('l')), 0);
    assert.equal(fs.readlinkSync(join(dir, 'l')), '../target');
    assert.equal(c.unlinkAt(dfd, Buffer.from('d'), 0), -21, 'EISDIR: unlink of a directory');
    assert.equal(c.unlinkAt(dfd, Buffer.from('new'), AT_REMOVEDIR), -20, 'ENOTDIR: rmdir of a file');
    assert.equal(c.unlinkAt(dfd, Buffer.from('d'), AT_REMOVEDIR), 0);
    assert.equal(c.unlinkAt(dfd, Buffer.from('new'), 0), 0);
    assert.equal(c.unlinkAt(dfd, Buffer.from('l'), 0), 0);
    assert.equal(c.unlinkAt(dfd, Buffer.from('new'), 0), -2);
    assert.deepEqual(fs.readdirSync(dir), []);
  } finally {
    fs.closeSync(dfd);
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('openSameInode: the name\'s O_PATH descriptor while it names the open file; nothing left open once it was replaced or removed', { skip: calls === undefined && 'without node:ffi: run in a child under TSFUSE_NODE26 (next test)' }, () => {
  const c = calls!;
  const dir = fs.mkdtempSync(join(tmpdir(), 'tsfuse-at-same-'));
  const dfd = fs.openSync(dir, O_PATH | fs.constants.O_DIRECTORY);
  const openFds = (): number => fs.readdirSync('/proc/self/fd').length;
  try {
    const fd = c.openAt(dfd, Buffer.from('f'), fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL, 0o600);
    const same = openSameInode(c, dfd, Buffer.from('f'), fd);
    assert.ok(same !== undefined);
    assert.equal(same.st.ino, fs.fstatSync(fd).ino);
    assert.equal(BigInt(same.st.ino), fs.fstatSync(same.fd, { bigint: true }).ino);
    fs.closeSync(same.fd);
    // Another file renamed onto the name (the race the check is for), then the name removed.
    fs.writeFileSync(join(dir, 'other'), 'x');
    fs.renameSync(join(dir, 'other'), join(dir, 'f'));
    const before = openFds();
    assert.equal(openSameInode(c, dfd, Buffer.from('f'), fd), undefined);
    fs.unlinkSync(join(dir, 'f'));
    assert.equal(openSameInode(c, dfd, Buffer.from('f'), fd), undefined);
    assert.equal(openFds(), before, 'no descriptor left open');
    fs.closeSync(fd);
  } finally {
    fs.closeSync(dfd);
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('under Node >= 26 (TSFUSE_NODE26): the node:ffi cases pass there too', { skip: calls !== undefined ? 'this Node has node:ffi: run above' : NODE26_SKIP, timeout: 120_000 }, () => {
  passUnderNode26(THIS_FILE);
});
