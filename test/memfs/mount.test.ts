// memfs mounted for real (root, mount(8)) and driven by a python3 process doing os.* calls: what the
// kernel makes of memfs's answers, errnos included, as root and as another user (memfs's own checks:
// mounted with allow_other and without default_permissions, no attribute or entry caching).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { mount, type FuseMount } from '../../src/session/fuse-mount.ts';
import { pathOperations } from '../../src/ops/path/layer.ts';
import { createMemfs } from '../../src/memfs/index.ts';
import { hasFlag } from '../../src/protocol/negotiated.ts';
import { freshMountpoint, isFuseMount, mountSkip, rejectAfter, run, safeUnmount } from '../support/mount-helpers.ts';

const SMOKE = fileURLToPath(new URL('./fixtures/posix_smoke.py', import.meta.url));
const LIMIT = 8 << 20;
const GiB = 2 ** 30;

test('memfs through the kernel: files, holes, names, links, special files, xattrs, locks, statfs, permissions', { skip: mountSkip(), timeout: 120_000 }, async () => {
  const dir = freshMountpoint();
  let m: FuseMount | undefined;
  try {
    const fs = createMemfs({ size: LIMIT, uid: 0, gid: 0, mode: 0o755 });
    m = await mount(dir, pathOperations(fs, { entryTimeout: 0, attrTimeout: 0, checksPermissions: true }), {
      method: 'mount', options: 'allow_other',
    });
    assert.ok(isFuseMount(dir));
    const r = await Promise.race([run('python3', [SMOKE, dir, String(LIMIT)]), rejectAfter(90_000, 'python3 smoke script hung')]);
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout) as Record<string, unknown> & { user: Record<string, unknown> };

    assert.deepEqual(out['sparse'], {
      size: 5 * GiB + 4, blocks: 16, tail: 'tail', hole: '00000000', hole_at: 4096, data_at: 5 * GiB,
    });
    assert.equal(out['seek_data_past_eof'], 'ENXIO');
    assert.deepEqual(out['fallocate'], {
      size: 65536, blocks: 112, edge: '7800', keep_size: 65536, keep_blocks: 240, extended: 200000,
    });
    assert.equal(out['fallocate_zero_range'], 'ENOTSUP');
    // fstat(2) sends GETATTR without a file handle (fs/fuse/dir.c fuse_getattr passes no file): the path
    // layer answers it through one of the node's open handles, its name being gone.
    assert.deepEqual(out['unlink_while_open'], { data: 'still here!', exists: false, fstat_nlink: 0 });
    assert.deepEqual(out['times'], { atime: '1234567890123456789', mtime: '987654321987654321', sub_ms: true });

    assert.equal(out['name_255'], 'ok');
    assert.equal(out['name_256'], 'ENAMETOOLONG');
    assert.equal(out['mkdir'], 'ok');
    assert.equal(out['mkdir_again'], 'EEXIST');
    assert.equal(out['dir_nlink'], 3);
    assert.equal(out['rmdir_nonempty'], 'ENOTEMPTY');
    assert.equal(out['unlink_dir'], 'EISDIR');
    assert.equal(out['rename_into_itself'], 'EINVAL');
    assert.equal(out['rename_file_over_dir'], 'EISDIR');
    assert.equal(out['rename_dir_over_file'], 'ENOTDIR');
    assert.equal(out['rename_noreplace'], 'EEXIST');
    assert.deepEqual(out['rename_exchange'], { d_is_file: true, sub: ['sub'] });
    assert.equal(out['open_missing'], 'ENOENT');
    assert.equal(out['file_as_dir'], 'ENOTDIR');
    assert.deepEqual(out['links'], { same_ino: true, nlink: 2, readlink: 'file', via_symlink: 'contents', lstat_link: true });
    assert.equal(out['link_dir'], 'EPERM');
    assert.deepEqual(out['specials'], { fifo: true, chr: true, rdev: [1, 3], sock: true });

    assert.deepEqual(out['xattrs'], { value: 'v1', create: 'EEXIST', replace: 'ENODATA', list: ['user.k'] });
    assert.equal(out['xattr_other_namespace'], 'ENOTSUP');
    assert.equal(out['xattr_missing'], 'ENODATA');
    assert.deepEqual(out['locks'], { posix: 'EAGAIN', posix_other_range: 'ok', flock: 'EAGAIN', after_unlock: 0 });
    assert.equal(out['close_releases_locks'], 'released');
    assert.deepEqual(out['tmpfile'], {
      nlink_before: 0, mode: '0o640', names_before: ['sub'], nlink_after: 1, same_ino: true, data: 'unnamed', fstat_after: 1,
    });
    assert.equal(out['tmpfile_excl_link'], 'ENOENT');
    assert.deepEqual(out['copy_file_range'], { copied: 3 * 2 ** 20, size: 3 * 2 ** 20, blocks: 24, same: true });

    const space = out['space'] as Record<string, unknown>;
    assert.equal(space['bsize'], 4096);
    assert.equal(space['blocks'], LIMIT / 4096);
    assert.equal(space['namemax'], 255);
    assert.equal(space['error'], 'ENOSPC');
    assert.equal(space['written_le_limit'], true);
    assert.ok((space['freed'] as number) > (LIMIT / 4096) / 2, `unlinking the filler freed ${String(space['freed'])} blocks`);

    assert.deepEqual(out.user, {
      create_in_root_dir: 'EACCES',
      search_private: 'EACCES',
      read_secret: 'EACCES',
      chmod_not_owner: 'EPERM',
      chown_not_owner: 'EPERM',
      utime_explicit_not_owner: 'EPERM',
      utime_now_writer: 'ok',
      sticky_unlink: 'EPERM',
      create_in_tmp: 'ok',
      own_file_owner: [1000, 1000],
      chown_own_to_root: 'EPERM',
      write_clears_setuid: '0o777',
    });

    // Birth time reaches statx(2) through STATX (stat(1) prints 0 when the filesystem gives none), and
    // agrees with the file's creation: no later than its first change.
    const birth = await run('stat', ['-c', '%W %Z', `${dir}/file`]);
    assert.equal(birth.code, 0, birth.stderr);
    const [born, changed] = birth.stdout.trim().split(' ').map(Number) as [number, number];
    assert.ok(born > 1_600_000_000 && born <= changed, `birth time ${born}, ctime ${changed}`);
  } finally {
    await safeUnmount(m, dir);
  }
  assert.equal(isFuseMount(dir), false);
});

test('memfs takes HANDLE_KILLPRIV_V2: the kernel asks for security.capability once per file, not before every write(2)', { skip: mountSkip(), timeout: 60_000 }, async () => {
  const dir = freshMountpoint();
  let m: FuseMount | undefined;
  const getxattrs: string[] = [];
  let writes = 0;
  const seen = (message: unknown): void => {
    const { name, args } = message as { name: string; args: { name?: Buffer } };
    if (name === 'GETXATTR') getxattrs.push(String(args.name));
    if (name === 'WRITE') writes++;
  };
  subscribe('tsfuse:request', seen);
  try {
    m = await mount(dir, pathOperations(createMemfs({ size: LIMIT })), { method: 'mount' });
    assert.ok(hasFlag(m.negotiated, 'HANDLE_KILLPRIV_V2'), 'granted');
    // Two files, 20 separate write(2)s each (unbuffered), from another process.
    const r = await run('python3', ['-c', `
import os
for name in ('a', 'b'):
    fd = os.open('${dir}/' + name, os.O_WRONLY | os.O_CREAT, 0o644)
    for i in range(20): os.write(fd, b'x' * 100)
    os.close(fd)
print(os.path.getsize('${dir}/a') + os.path.getsize('${dir}/b'))
`]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim(), '4000');
    assert.equal(writes, 40);
    assert.deepEqual(getxattrs, ['security.capability', 'security.capability'], 'one per file');
  } finally {
    unsubscribe('tsfuse:request', seen);
    await safeUnmount(m, dir);
  }
});
