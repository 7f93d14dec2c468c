// Hard links and readlink by descriptor (src/passthrough/by-descriptor.ts, node:ffi): linkat through the
// magic link reaches the inode of an O_PATH descriptor, a symlink's own included, and fails with ENOENT
// once the inode has no name left; readlinkat with an empty name reads the symlink the descriptor holds,
// up to the longest target symlink(2) accepts. Without node:ffi there is nothing to bind (the passthrough
// then works by the names it tracks). Under Node 20 the node:ffi cases run in a Node 26 child
// (TSFUSE_NODE26), as the last test.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, constants, lstatSync, mkdtempSync, openSync, readFileSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { byDescriptor } from '../../src/passthrough/by-descriptor.ts';
import { O_PATH } from '../../src/passthrough/nodes.ts';
import { NODE_MAJOR as MAJOR, NODE26_SKIP, passUnderNode26 } from '../support/mount-helpers.ts';

const THIS_FILE = fileURLToPath(import.meta.url);
const skip = MAJOR >= 26 ? undefined : 'needs node:ffi: run in a child under TSFUSE_NODE26 (last test)';

let dir: string;
before(() => { dir = mkdtempSync(join(tmpdir(), 'tsfuse-by-descriptor-')); });
after(() => { rmSync(dir, { recursive: true, force: true }); });

const openPath = (path: string): number => openSync(path, O_PATH | constants.O_NOFOLLOW);

test('without node:ffi there is nothing to bind', { skip: MAJOR >= 26 ? 'this Node has node:ffi' : undefined }, () => {
  assert.equal(byDescriptor(), undefined);
});

test('link: a new name for the inode of a descriptor, a symlink\'s own inode too; ENOENT once it has no name; EEXIST as link(2)', { skip }, () => {
  const calls = byDescriptor();
  assert.ok(calls !== undefined);
  const file = join(dir, 'file');
  writeFileSync(file, 'content');
  const fd = openPath(file);
  const link = join(dir, 'symlink');
  symlinkSync('file', link);
  const linkFd = openPath(link);
  const gone = join(dir, 'gone');
  writeFileSync(gone, 'x');
  const goneFd = openPath(gone);
  try {
    calls.link(fd, Buffer.from(join(dir, 'second')));
    assert.equal(lstatSync(join(dir, 'second')).ino, lstatSync(file).ino);
    assert.equal(readFileSync(join(dir, 'second'), 'utf8'), 'content');
    calls.link(linkFd, Buffer.from(join(dir, 'symlink-2')));
    const st = lstatSync(join(dir, 'symlink-2'));
    assert.ok(st.isSymbolicLink(), 'the symlink itself was linked, not its target');
    assert.equal(st.ino, lstatSync(link).ino);
    assert.throws(() => calls.link(fd, Buffer.from(join(dir, 'second'))), { name: 'FuseError', code: 'EEXIST' });
    unlinkSync(gone);
    assert.throws(() => calls.link(goneFd, Buffer.from(join(dir, 'revived'))), { name: 'FuseError', code: 'ENOENT' });
  } finally {
    for (const d of [fd, linkFd, goneFd]) closeSync(d);
  }
});

test('readlink: the target of the symlink a descriptor holds, up to 4,095 bytes; not a symlink: ENOENT', { skip }, () => {
  const calls = byDescriptor();
  assert.ok(calls !== undefined);
  const short = join(dir, 'short');
  symlinkSync('a target that need not exist', short);
  const long = join(dir, 'long');
  const longTarget = `${'d/'.repeat(2047)}x`;
  assert.equal(longTarget.length, 4095);
  symlinkSync(longTarget, long);
  const plain = join(dir, 'plain');
  writeFileSync(plain, '');
  const fds = [openPath(short), openPath(long), openPath(plain)];
  try {
    assert.equal(calls.readlink(fds[0]!).toString(), 'a target that need not exist');
    assert.equal(calls.readlink(fds[1]!).toString(), longTarget);
    // fs/stat.c do_readlinkat: an empty name whose descriptor is not a symlink is ENOENT.
    assert.throws(() => calls.readlink(fds[2]!), { name: 'FuseError', code: 'ENOENT' });
  } finally {
    for (const d of fds) closeSync(d);
  }
});

test('under Node >= 26 (TSFUSE_NODE26): the node:ffi cases above pass there', { skip: MAJOR >= 26 ? 'this Node has node:ffi: run above' : NODE26_SKIP, timeout: 120_000 }, () => {
  assert.match(passUnderNode26(THIS_FILE), /^# pass 2$/m);
});
