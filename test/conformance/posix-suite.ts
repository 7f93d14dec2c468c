// The POSIX conformance suite, run against one target per test file (posix-<target>.test.ts). Each test
// runs one scenario of fixtures/posix.py (a python3 client performing the system calls, in its own
// directory on the mount) and compares every observation (errno names, values) with what Linux on ext4
// answers. Where a target legitimately cannot do something, its TARGET_TRAITS entry says so and the test
// asserts that exact behaviour instead: nothing is skipped silently.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { run } from '../support/mount-helpers.ts';
import { PASSTHROUGH_NODE, mountTarget, targetSkip, type MountedTarget, type TargetName } from './targets.ts';

export const POSIX_PY = fileURLToPath(new URL('./fixtures/posix.py', import.meta.url));
const SCENARIO_TIMEOUT_MS = 120_000;

/** Runs one scenario of posix.py in `t.dir` and returns its observations. */
export async function scenario(t: MountedTarget, name: string): Promise<Record<string, unknown>> {
  const r = await run('timeout', ['-k', '5', '100', 'python3', POSIX_PY, name, t.dir]);
  if (r.code !== 0) throw new Error(`posix.py ${name} on ${t.name} exited with ${String(r.code ?? r.signal)}:\n${r.out}`);
  return JSON.parse(r.stdout) as Record<string, unknown>;
}

/** `expected` with the keys in `overrides` replaced: a target's stated difference from ext4. */
function withOverrides(expected: Record<string, unknown>, overrides: Record<string, unknown>): Record<string, unknown> {
  return { ...expected, ...overrides };
}

export function posixSuite(name: TargetName): void {
  const skip = targetSkip(name);
  describe(`POSIX conformance: ${name}`, { skip, timeout: 15 * 60_000 }, () => {
    let t: MountedTarget;
    before(async () => { t = await mountTarget(name); });
    after(async () => { await t?.close(); });
    const traits = (): MountedTarget['traits'] => t.traits;

    test('ENOENT, EEXIST, ENOTEMPTY, EISDIR, ENOTDIR, EXDEV, EINVAL', { timeout: SCENARIO_TIMEOUT_MS }, async () => {
      assert.deepEqual(await scenario(t, 'errors'), {
        'stat missing': 'ENOENT', 'open missing': 'ENOENT', 'unlink missing': 'ENOENT', 'rmdir missing': 'ENOENT',
        'mkdir in missing': 'ENOENT', 'rename missing': 'ENOENT', 'link missing': 'ENOENT', 'readlink missing': 'ENOENT',
        'chmod missing': 'ENOENT', 'stat dangling': 'ENOENT', 'lstat dangling': 'ok', 'open empty name': 'ENOENT',
        'mkdir existing': 'EEXIST', 'mkdir on file': 'EEXIST', 'mkdir on symlink': 'EEXIST', 'creat excl existing': 'EEXIST',
        'creat excl dangling symlink': 'EEXIST', 'symlink existing': 'EEXIST', 'link existing': 'EEXIST',
        'mkfifo existing': 'EEXIST',
        'rmdir nonempty': 'ENOTEMPTY', 'rename dir onto nonempty': 'ENOTEMPTY',
        'open dir wronly': 'EISDIR', 'open dir rdwr': 'EISDIR', 'open dir creat': 'EISDIR', 'rename file onto dir': 'EISDIR',
        'unlink dir': 'EISDIR', 'truncate dir': 'EISDIR', 'read dir fd': 'EISDIR',
        'stat through file': 'ENOTDIR', 'mkdir through file': 'ENOTDIR', 'rmdir file': 'ENOTDIR',
        'rename dir onto file': 'ENOTDIR', 'open file O_DIRECTORY': 'ENOTDIR', 'open file trailing slash': 'ENOTDIR',
        'listdir file': 'ENOTDIR',
        'rename across filesystems': 'EXDEV', 'link across filesystems': 'EXDEV',
        'rename dir into itself': 'EINVAL', 'rename dir below a file inside it': 'ENOTDIR',
        'rename dir into its grandchild': 'EINVAL', 'rmdir dot': 'EINVAL', 'readlink file': 'EINVAL',
        'renameat2 both flags': 'EINVAL',
        'dir survives': ['deeper', 'inner'], 'f survives': 'data',
      });
    });

    test('ENAMETOOLONG: 255-byte names work, 256 fail', { timeout: SCENARIO_TIMEOUT_MS }, async () => {
      assert.deepEqual(await scenario(t, 'names'), {
        'create 255': 'ok', 'stat 255': 'ok', 'mkdir 255': 'ok', 'symlink name 255': 'ok', 'create 255 bytes utf8': 'ok',
        listed: [255, 255, 255, 255], 'rename to 255': 'ok',
        'create 256': 'ENAMETOOLONG', 'mkdir 256': 'ENAMETOOLONG', 'stat 256': 'ENAMETOOLONG',
        'symlink name 256': 'ENAMETOOLONG', 'rename to 256': 'ENAMETOOLONG', 'link to 256': 'ENAMETOOLONG',
        'create 256 bytes utf8': 'ENAMETOOLONG', 'path over PATH_MAX': 'ENAMETOOLONG',
        'odd name': 'ok', 'odd name read': 'odd', 'odd name listed': true,
      });
    });

    test('ELOOP: symlink loops, 40 links resolve and 41 do not, O_NOFOLLOW', { timeout: SCENARIO_TIMEOUT_MS }, async () => {
      assert.deepEqual(await scenario(t, 'loops'), {
        'open loop': 'ELOOP', 'stat loop': 'ELOOP', 'stat self loop': 'ELOOP', 'lstat loop': 'ok',
        'creat through loop': 'ELOOP', 'mkdir under loop': 'ELOOP', 'O_NOFOLLOW on symlink': 'ELOOP',
        'O_NOFOLLOW on file': 'ok', 'O_NOFOLLOW|O_PATH on symlink': 'ok', 'O_DIRECTORY through dir symlink': 'ok',
        'O_DIRECTORY|O_NOFOLLOW on dir symlink': 'ENOTDIR', 'chain of 40': 'ok', 'chain of 41': 'ELOOP',
      });
    });

    test('open flags: O_CREAT|O_EXCL, O_TRUNC, O_APPEND, O_DIRECTORY, access modes', { timeout: SCENARIO_TIMEOUT_MS }, async () => {
      assert.deepEqual(await scenario(t, 'open_flags'), {
        'creat excl new': 'ok', 'creat mode under umask 022': '0o755', 'creat excl again': 'EEXIST',
        'O_TRUNC size': 0, 'after O_TRUNC write': 'ab', 'creat existing keeps data': 'ab', 'creat existing keeps mode': '0o644',
        'O_APPEND offset after write': 19, 'O_APPEND content': 'start-one-two-three-four',
        'read on O_WRONLY': 'EBADF', 'write on O_RDONLY': 'EBADF', 'ftruncate on O_RDONLY': 'EINVAL',
        'O_DIRECTORY on file': 'ENOTDIR', 'O_WRONLY on dir': 'EISDIR', 'O_RDONLY on dir': 'ok',
        'O_CREAT|O_DIRECTORY': 'EINVAL', 'O_CREAT on dir trailing slash': 'EISDIR',
        'O_EXCL without O_CREAT on existing': 'ok', 'O_RDWR read back': 'world', 'second fd sees write': 'hello world',
      });
    });

    test('O_TMPFILE', { timeout: SCENARIO_TIMEOUT_MS }, async () => {
      const r = await scenario(t, 'tmpfile');
      if (traits().tmpfile !== 'ok') {
        assert.deepEqual(r, { O_TMPFILE: traits().tmpfile });
        return;
      }
      assert.deepEqual(r, {
        O_TMPFILE: 'ok', nlink: 0, listed: [], pread: 'anonymous', 'linkat into the tree': 'ok',
        'named content': 'anonymous', 'nlink after link': 1,
      });
    });

    test('unlink, rename and rmdir while open', { timeout: SCENARIO_TIMEOUT_MS }, async () => {
      assert.deepEqual(await scenario(t, 'unlink_open'), {
        'nlink after unlink': 0, 'name gone': 'ENOENT', 'read after unlink': 'original', 'read after write': 'original-more',
        'size after ftruncate': 4, 'new file content': 'second', 'old fd content': 'orig', 'different inode': true,
        'after mmap write': 'MMAP', 'renamed content': 'G-data', 'old name gone': 'ENOENT', 'after dir rename': 'G-data!',
        'victim nlink': 0, 'victim data via fd': 'victim', 'name has winner': 'winner',
        'removed dir listing': [], 'create in removed dir': 'ENOENT', 'removed dir nlink': 0,
        left: ['f', 'sub2', 'victim'],
      });
    });

    test('hard links: one inode, attributes coherent through every name', { timeout: SCENARIO_TIMEOUT_MS }, async () => {
      assert.deepEqual(await scenario(t, 'hardlinks'), {
        'same ino': true, nlink: [3, 3, 3], 'mode via each': ['0o640', '0o640', '0o640'],
        'owner via each': [[1234, 5678], [1234, 5678], [1234, 5678]], 'size via each': [7, 7, 7], 'content via a': 'one-two',
        'mtime via each': [1_500_000_000_000_000_000, 1_500_000_000_000_000_000, 1_500_000_000_000_000_000],
        'nlink after unlink': [2, 2], 'fstat nlink after new link': 3, 'readdir d_ino matches': true,
        'rename onto same inode': ['b', 'd', 'sub'], 'link of symlink': [true, 2], 'link dir': 'EPERM',
      });
    });

    test('readdir, telldir/seekdir, d_type, and listing under concurrent changes', { timeout: SCENARIO_TIMEOUT_MS }, async () => {
      assert.deepEqual(await scenario(t, 'seekdir'), {
        count: 305, unique: true, 'has dot and dotdot': true, d_type: [4, 10, 1, 8], 'seekdir mismatches': [],
        'rest after seekdir': true, 'rewinddir count': 305, 'stable entries missing': [], 'entries repeated': [],
      });
    });

    test('truncate and ftruncate, sparse files past 4 GiB', { timeout: SCENARIO_TIMEOUT_MS }, async () => {
      assert.deepEqual(await scenario(t, 'truncate'), {
        shrink: '0123', 'mtime and ctime changed': true, grow: [48, 49, 50, 51, 0, 0, 0, 0], ftruncate: '01', 'to zero': 0,
        'big size': 5 * 2 ** 30, 'read past 4 GiB': '00007461696c0000', 'read zeros in hole': '0000000000000000',
        'blocks of sparse file below 1 MiB': true, 'ftruncate negative': 'EINVAL', 'truncate negative': 'EINVAL',
        'truncate missing': 'ENOENT', 'final size': 0,
      });
    });

    test('symlink and readlink', { timeout: SCENARIO_TIMEOUT_MS }, async () => {
      const all = { short: true, rel: true, abs: true, dirlink: true, long255: true, long1000: true, long4095: true };
      assert.deepEqual(await scenario(t, 'symlinks'), {
        readlink: all, 'lstat size': all, mode: '0o120777', 'follow rel': 'T', 'follow abs': 'T', 'through dir link': 'I',
        'symlink target 4096': 'ENAMETOOLONG', 'readlink bytes': 'target', 'stat dangling': 'ENOENT',
        'rmdir on dir symlink': 'ENOTDIR', 'unlink removes the link only': ['ok', true], 'chmod follows': ['ok', '0o600'],
      });
    });

    test('mknod: FIFO (data through it), regular, socket, devices', { timeout: SCENARIO_TIMEOUT_MS }, async () => {
      assert.deepEqual(await scenario(t, 'mknod'), {
        'fifo type': true, 'fifo data': 'through the pipe', 'mknod regular': [true, 0], 'mknod socket': true,
        'mknod char device': [true, 1, 3], 'mknod block device': [true, 7, 200], 'mknod existing': 'EEXIST',
      });
    });

    test(`xattrs (${name}: ${TARGET_XATTR_NOTE[name]})`, { timeout: SCENARIO_TIMEOUT_MS }, async () => {
      const r = await scenario(t, 'xattr');
      if (traits().xattr !== 'ok') {
        const e = traits().xattr;
        assert.deepEqual(r, { set: e, get: e, remove: e, list: e });
        return;
      }
      assert.deepEqual(r, {
        set: 'ok', get: 'blue', 'create existing': 'EEXIST', 'replace missing': 'ENODATA', 'replace existing': 'ok',
        'after replace': 'green', 'get missing': 'ENODATA', 'empty value': ['ok', ''], '2 KiB value': ['ok', true],
        'on directory': ['ok', '1'], list: ['user.big', 'user.color', 'user.empty'], remove: 'ok', 'remove missing': 'ENODATA',
        'list after remove': ['user.big', 'user.empty'], 'get size probe': 2048, 'name too long': 'ERANGE',
        'user xattr on symlink': 'EPERM',
      });
    });

    test('utimensat: ns precision, UTIME_NOW, UTIME_OMIT, symlinks', { timeout: SCENARIO_TIMEOUT_MS }, async () => {
      const g = BigInt(traits().timeGranularityNs);
      const r = await scenario(t, 'utimens');
      // times as decimal strings (exact); the target keeps them to its granularity
      const near = (got: unknown, want: bigint): boolean => {
        const diff = BigInt(String(got)) - want;
        return (diff < 0n ? -diff : diff) < g;
      };
      assert.ok(near(r['atime ns'], 1_234_567_891_123_456_789n), `atime ${String(r['atime ns'])}`);
      assert.ok(near(r['mtime ns'], 1_300_000_000_987_654_321n), `mtime ${String(r['mtime ns'])}`);
      assert.ok(near(r['omit kept atime'], 1_234_567_891_123_456_789n), `UTIME_OMIT atime ${String(r['omit kept atime'])}`);
      const { 'atime ns': _a, 'mtime ns': _m, 'omit kept atime': _o, ...rest } = r;
      assert.deepEqual(rest, {
        'now mtime in window': true, 'ctime moved': true, 'omit kept mtime': true, 'now atime in window': true,
        'both omit unchanged': [true, true], 'pre-epoch': ['ok', -1_000_000_000_000_000_000], 'year 2200': ['ok', 7_258_118_400_000_000_000],
        'write moved mtime': true, 'symlink nofollow': 'ok', 'symlink mtime': 500_000_000_000_000_000,
        'target untouched by nofollow': true, 'dir mtime moved on create': true,
      });
    });

    test('statfs', { timeout: SCENARIO_TIMEOUT_MS }, async () => {
      const r = await scenario(t, 'statfs');
      const { 'free bytes drop after 8 MiB': drop, 'free bytes back after unlink': back, ...rest } = r;
      assert.deepEqual(rest, { 'bsize positive': true, 'blocks ordered': true, namemax: 255, fstatvfs: 255 });
      if (traits().statfsOwnUsage) {
        // memfs counts its own files only: 8 MiB of data is exactly 8 MiB less free, and back after unlink
        assert.deepEqual([drop, back], [8 << 20, 8 << 20]);
      } else {
        // a disk shared with the rest of the machine: other writers move the figures, so only their types are checked
        assert.equal(typeof drop, 'number');
        assert.equal(typeof back, 'number');
      }
    });

    test('rename: replace, directories, subtrees, RENAME_NOREPLACE, RENAME_EXCHANGE', { timeout: SCENARIO_TIMEOUT_MS }, async () => {
      const r = await scenario(t, 'rename');
      const exchange = traits().renameExchange === 'ok'
        ? { RENAME_EXCHANGE: 'ok', 'after exchange': ['1', '2'], 'RENAME_EXCHANGE missing': 'ENOENT' }
        : { RENAME_EXCHANGE: traits().renameExchange, 'after exchange': ['2', '1'], 'RENAME_EXCHANGE missing': 'ENOENT' };
      assert.deepEqual(r, withOverrides({
        'replace file': ['A', 'ENOENT', 0], 'dir onto empty dir': ['C', 'ENOENT'], 'parent nlink': 3,
        'deep child after dir rename': ['L', true, 'ENOENT'], 'move subtree up': ['L', 3, 2], 'self rename': ['ok', 'A'],
        'RENAME_NOREPLACE onto existing': 'EEXIST', 'RENAME_NOREPLACE to new': ['ok', '1'],
        listing: ['b', 'd2', 'moved', 'n2', 'n3', 'y-up'],
      }, exchange));
    });

    test('POSIX record locks and flock between processes', { timeout: SCENARIO_TIMEOUT_MS }, async () => {
      assert.deepEqual(await scenario(t, 'locks'), {
        'posix lock conflict': ['EAGAIN', 'ok'], 'after unlock': ['ok', 'ok'], 'flock conflict': 'EAGAIN', 'flock after unlock': 'ok',
      });
    });

    test('fallocate, SEEK_DATA/SEEK_HOLE', { timeout: SCENARIO_TIMEOUT_MS }, async () => {
      const r = await scenario(t, 'fallocate');
      if (traits().fallocate === 'ok') {
        assert.deepEqual(r, {
          posix_fallocate: ['ok', 1 << 20], 'keep size': ['ok', 1 << 20], 'punch hole': 'ok', 'after punch': '00ff',
          'SEEK_DATA from 0': 1 << 20, 'SEEK_HOLE from 0': 0, 'SEEK_DATA past end': 'ENXIO',
        });
      } else {
        // No fallocate: glibc's posix_fallocate falls back to writing; the kernel's generic lseek reports the
        // whole file as data (no holes), which POSIX allows.
        const e = traits().fallocate;
        assert.deepEqual(r, {
          posix_fallocate: ['ok', 1 << 20], 'keep size': [e, 1 << 20], 'punch hole': e, 'after punch': 'ffff',
          'SEEK_DATA from 0': 0, 'SEEK_HOLE from 0': (1 << 20) + 4, 'SEEK_DATA past end': 'ENXIO',
        });
      }
    });

    test('EACCES / EPERM for a non-root caller; sticky, setuid and setgid rules', { timeout: SCENARIO_TIMEOUT_MS }, async () => {
      assert.deepEqual(await scenario(t, 'permissions'), {
        'read 0600': 'EACCES', 'write 0644 of root': 'EACCES', 'read 0644': 'ok', 'write 0666': 'ok',
        'chmod root file': 'EPERM', 'chown root file': 'EPERM', 'chown own file to root': 'EPERM',
        'chgrp own file to a group not held': 'EPERM', 'chown own file to itself': 'ok', 'chmod own file': 'ok',
        'truncate 0644 of root': 'EACCES', 'utime explicit on root file': 'EPERM', 'utime now on writable root file': 'ok',
        'utime now on unwritable root file': 'EACCES', 'utime explicit on own file': 'ok',
        'list 0700 dir': 'EACCES', 'stat in 0700 dir': 'EACCES', 'stat in 0711 dir': 'ok', 'list 0711 dir': 'EACCES',
        'create in 0755 root dir': 'EACCES', 'mkdir in 0755 root dir': 'EACCES', 'unlink in 0755 root dir': 'EACCES',
        'sticky: unlink root file': 'EPERM', 'sticky: unlink other user file': 'EPERM', 'sticky: rename root file': 'EPERM',
        'sticky: unlink own file': 'ok', 'sticky: create': 'ok', 'sticky: write others 0666 file': 'ok',
        'suid after write by other': '0o777', 'suid after truncate by other': '0o777', 'suid after O_TRUNC by other': '0o777',
        // Linux 6.2+ also drops set-group-ID without group execute when the writer is not in the file's group
        // (fs/inode.c setattr_should_drop_sgid)
        'setgid without g+x after write by other': '0o666', 'suid set while open, then write': '0o777',
        'suid set after open, then write': '0o777', 'suid set before open, then write': '0o777',
        'setgid dropped by chmod': '0o755', 'setgid kept by chmod in own group': '0o2755',
        'own new file owner': [65534, 65534], 'setgid dir: file group': 4321, 'setgid dir: subdir group and bit': [4321, true],
        'access R_OK on 0600': false, 'access W_OK on 0666': true, 'link to 0600 root file': 'EPERM',
        // the kernel checks write permission for user.* attributes before asking the filesystem (fs/xattr.c xattr_permission)
        'xattr on root file': 'EACCES',
        'root reads 0600': 'root only', 'root chown': ['ok', 65534], 'pub unchanged': ['public', '0o644'],
        'root chown clears setuid': '0o755', 'left in sticky': ['new-by-nobody', 'others', 'roots'],
      });
    });

    test('mmap and read/write see each other', { timeout: SCENARIO_TIMEOUT_MS }, async () => {
      assert.deepEqual(await scenario(t, 'integrity_mmap'), {
        'read sees mmap writes': ['0123456789', 'page'], 'mmap sees write': 'written', 'after reopen': ['0123456789', 'written', 3 * 4096 + 100],
      });
    });
  });
}

const TARGET_XATTR_NOTE: Readonly<Record<TargetName, string>> = {
  native: 'ext4 has them',
  memfs: 'memfs has them',
  'memfs-own-checks': 'memfs has them',
  passthrough: PASSTHROUGH_NODE === undefined ? 'Node 20 has no xattr calls: EOPNOTSUPP everywhere' : 'libc through node:ffi (Node 26)',
  'passthrough-noffi': 'Node\'s fs has no xattr calls: EOPNOTSUPP everywhere',
};
