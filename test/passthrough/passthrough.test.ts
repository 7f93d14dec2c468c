// The passthrough through the real kernel: SOURCE mounted at a fresh MOUNTPOINT, driven by python3 and
// sh in child processes; what the clients see is checked against the backing directory.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fsp from 'node:fs/promises';
import { constants, mkdtempSync, readFileSync, writeFileSync, rmSync, lstatSync, statSync } from 'node:fs';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mountSkip, leftoverMounts, run, pyJson, waitFor, withPassthrough } from './helpers.ts';
import { createPassthrough } from '../../src/passthrough/index.ts';
import { NODE_MAJOR as MAJOR, NODE26_SKIP, passUnderNode26 } from '../support/mount-helpers.ts';
import { fileURLToPath } from 'node:url';
import { hasFlag, type RequestContext } from '../../src/index.ts';

const skip = mountSkip();
const THIS_FILE = fileURLToPath(import.meta.url);

test('files: create, write, append, read, truncate, rename, link, symlink, stat; inode numbers are the backing ones', { skip, timeout: 60000 }, async () => {
  await withPassthrough(async ({ source, mnt }) => {
    const r = await pyJson<Record<string, unknown>>(`
m = sys.argv[1]
out = {}
p = m + '/a.txt'
with open(p, 'w') as f: f.write('hello')
with open(p, 'a') as f: f.write(' world')
out['read'] = open(p).read()
with open(p, 'r+') as f:
    f.seek(2); f.write('XY')
out['pwrite'] = open(p).read()
os.truncate(p, 4); out['trunc'] = open(p).read()
os.truncate(p, 10); out['grow'] = open(p, 'rb').read().hex()
with open(p, 'r+') as f:
    f.truncate(3)
    out['ftrunc_size'] = os.fstat(f.fileno()).st_size
os.rename(p, m + '/b.txt'); out['renamed'] = sorted(os.listdir(m))
os.link(m + '/b.txt', m + '/c.txt')
out['nlink'] = [os.stat(m + '/b.txt').st_nlink, os.stat(m + '/c.txt').st_nlink]
with open(m + '/c.txt', 'a') as f: f.write('!')
out['via_link'] = open(m + '/b.txt').read()
os.unlink(m + '/c.txt'); out['nlink_after'] = os.stat(m + '/b.txt').st_nlink
os.symlink('b.txt', m + '/s'); out['readlink'] = os.readlink(m + '/s'); out['through_link'] = open(m + '/s').read()
os.symlink('/nonexistent/far/away', m + '/dangling'); out['dangling'] = os.readlink(m + '/dangling')
os.mkdir(m + '/d', 0o750); out['dir_mode'] = oct(os.stat(m + '/d').st_mode & 0o7777)
fd = os.open(m + '/d/new', os.O_CREAT | os.O_WRONLY | os.O_EXCL, 0o640); os.write(fd, b'x'); os.close(fd)
out['file_mode'] = oct(os.stat(m + '/d/new').st_mode & 0o7777)
os.chmod(m + '/b.txt', 0o604); out['chmod'] = oct(os.stat(m + '/b.txt').st_mode & 0o7777)
os.chown(m + '/b.txt', 1234, 5678); st = os.stat(m + '/b.txt'); out['chown'] = [st.st_uid, st.st_gid]
os.utime(m + '/b.txt', ns=(1_000_000_123_456_000, 2_000_000_654_321_000)); st = os.stat(m + '/b.txt'); out['utime'] = [st.st_atime_ns, st.st_mtime_ns]
os.utime(m + '/s', ns=(3_000_000_000, 4_000_000_000), follow_symlinks=False); out['lutime'] = os.lstat(m + '/s').st_mtime_ns
os.utime(m + '/b.txt'); out['utime_now_recent'] = abs(os.stat(m + '/b.txt').st_mtime - __import__('time').time()) < 60
out['ino'] = {n: os.lstat(m + '/' + n).st_ino for n in ['b.txt', 's', 'd', 'dangling']}
out['types'] = {e.name: [e.is_dir(follow_symlinks=False), e.is_file(follow_symlinks=False), e.is_symlink()] for e in os.scandir(m)}
out['dino'] = {e.name: e.inode() for e in os.scandir(m)}
out['ls'] = sorted(os.listdir(m))
sv = os.statvfs(m); out['statvfs'] = [sv.f_bsize > 0, sv.f_blocks > 0, sv.f_namemax]
print(json.dumps(out))
`, [mnt]);
    assert.equal(r['read'], 'hello world');
    assert.equal(r['pwrite'], 'heXYo world');
    assert.equal(r['trunc'], 'heXY');
    assert.equal(r['grow'], Buffer.from('heXY\0\0\0\0\0\0').toString('hex'));
    assert.equal(r['ftrunc_size'], 3);
    assert.deepEqual(r['renamed'], ['b.txt']);
    assert.deepEqual(r['nlink'], [2, 2]);
    assert.equal(r['via_link'], 'heX!');
    assert.equal(r['nlink_after'], 1);
    assert.equal(r['readlink'], 'b.txt');
    assert.equal(r['through_link'], 'heX!');
    assert.equal(r['dangling'], '/nonexistent/far/away');
    assert.equal(r['dir_mode'], '0o750');
    assert.equal(r['file_mode'], '0o640');
    assert.equal(r['chmod'], '0o604');
    assert.deepEqual(r['chown'], [1234, 5678]);
    // Microsecond precision: Node's utimes stops there (src/passthrough/attr.ts utimeArg).
    assert.deepEqual(r['utime'], [1_000_000_123_456_000, 2_000_000_654_321_000]);
    assert.equal(r['lutime'], 4_000_000_000);
    assert.equal(r['utime_now_recent'], true);
    assert.deepEqual(r['statvfs'], [true, true, 255]);
    // What the backing directory holds, and its inode numbers, are what the mount shows.
    const ino = r['ino'] as Record<string, number>;
    for (const n of ['b.txt', 's', 'd', 'dangling']) assert.equal(ino[n], Number(lstatSync(join(source, n)).ino), n);
    assert.deepEqual(r['dino'], Object.fromEntries(['b.txt', 's', 'd', 'dangling'].map((n) => [n, ino[n]])));
    assert.deepEqual(r['types'], { 'b.txt': [false, true, false], s: [false, false, true], d: [true, false, false], dangling: [false, false, true] });
    assert.deepEqual(r['ls'], ['b.txt', 'd', 'dangling', 's']);
    assert.equal(await fsp.readFile(join(source, 'b.txt'), 'utf8'), 'heX!');
    assert.equal(await fsp.readlink(join(source, 's')), 'b.txt');
    assert.equal((await fsp.stat(join(source, 'b.txt'))).uid, 1234);
    // readdir with "." and ".." (ls -a, plain getdents): d_ino of "." is the directory's.
    const ls = await run('ls', ['-a1i', mnt]);
    assert.equal(ls.code, 0, ls.stderr);
    const dot = ls.stdout.split('\n').find((l) => / \.$/.test(l));
    assert.equal(dot?.trim().split(' ')[0], String(statSync(source).ino));
  });
});

test('errors pass through with their errno; 255-byte names work and 256 give ENAMETOOLONG', { skip, timeout: 60000 }, async () => {
  await withPassthrough(async ({ mnt }) => {
    const r = await pyJson<Record<string, string>>(`
m = sys.argv[1]
os.mkdir(m + '/d'); open(m + '/d/f', 'w').close(); open(m + '/file', 'w').close()
out = {
  'enoent_open': err(lambda: open(m + '/nope')),
  'enoent_stat': err(lambda: os.stat(m + '/nope/x')),
  'eexist_mkdir': err(lambda: os.mkdir(m + '/d')),
  'eexist_excl': err(lambda: os.open(m + '/file', os.O_CREAT | os.O_EXCL | os.O_WRONLY)),
  'eexist_symlink': err(lambda: os.symlink('x', m + '/file')),
  'eexist_link': err(lambda: os.link(m + '/file', m + '/d/f')),
  'enotempty': err(lambda: os.rmdir(m + '/d')),
  'enotdir_stat': err(lambda: os.stat(m + '/file/x')),
  'enotdir_rmdir': err(lambda: os.rmdir(m + '/file')),
  'eisdir_open': err(lambda: open(m + '/d', 'w')),
  'eisdir_unlink': err(lambda: os.unlink(m + '/d')),
  'eisdir_rename': err(lambda: os.rename(m + '/file', m + '/d')),
  'enotdir_rename': err(lambda: os.rename(m + '/d', m + '/file')),
  'einval_rename_into_self': err(lambda: os.rename(m + '/d', m + '/d/sub')),
  'eperm_link_dir': err(lambda: os.link(m + '/d', m + '/d2')),
  'einval_readlink': err(lambda: os.readlink(m + '/file')),
  'name255': err(lambda: open(m + '/' + 'n' * 255, 'w').close()),
  'name255_stat': err(lambda: os.stat(m + '/' + 'n' * 255)),
  'name256_create': err(lambda: open(m + '/' + 'n' * 256, 'w').close()),
  'name256_mkdir': err(lambda: os.mkdir(m + '/' + 'n' * 256)),
  'name256_stat': err(lambda: os.stat(m + '/' + 'n' * 256)),
}
print(json.dumps(out))
`, [mnt]);
    assert.deepEqual(r, {
      enoent_open: 'ENOENT', enoent_stat: 'ENOENT', eexist_mkdir: 'EEXIST', eexist_excl: 'EEXIST', eexist_symlink: 'EEXIST',
      eexist_link: 'EEXIST', enotempty: 'ENOTEMPTY', enotdir_stat: 'ENOTDIR', enotdir_rmdir: 'ENOTDIR', eisdir_open: 'EISDIR',
      eisdir_unlink: 'EISDIR', eisdir_rename: 'EISDIR', enotdir_rename: 'ENOTDIR', einval_rename_into_self: 'EINVAL',
      eperm_link_dir: 'EPERM', einval_readlink: 'EINVAL', name255: 'ok', name255_stat: 'ok',
      name256_create: 'ENAMETOOLONG', name256_mkdir: 'ENAMETOOLONG', name256_stat: 'ENAMETOOLONG',
    });
  });
});

test('unlink and rename while open keep the handle working; non-UTF-8 names round-trip; FIFOs and sockets; rename flags', { skip, timeout: 60000 }, async () => {
  await withPassthrough(async ({ source, mnt }) => {
    const r = await pyJson<Record<string, unknown>>(`
import ctypes, socket
os.umask(0)
m = sys.argv[1].encode()
out = {}
fd = os.open(m + b'/gone', os.O_CREAT | os.O_RDWR, 0o644)
os.write(fd, b'still here')
os.unlink(m + b'/gone')
out['unlinked_exists'] = os.path.exists(m + b'/gone')
os.lseek(fd, 0, 0); out['read_after_unlink'] = os.read(fd, 100).decode()
os.write(fd, b'!'); out['fstat_after_unlink'] = [os.fstat(fd).st_size, os.fstat(fd).st_nlink]
os.close(fd)
fd = os.open(m + b'/moving', os.O_CREAT | os.O_RDWR, 0o644); os.write(fd, b'abc')
os.mkdir(m + b'/sub'); os.rename(m + b'/moving', m + b'/sub/moved')
os.write(fd, b'def'); os.close(fd)
out['moved'] = open(m + b'/sub/moved', 'rb').read().decode()
name = b'caf\\xe9-\\xff\\xfe'
with open(m + b'/' + name, 'wb') as f: f.write(b'latin1')
out['listed'] = [n.hex() for n in os.listdir(m) if n.startswith(b'caf')]
out['read_nonutf8'] = open(m + b'/' + name, 'rb').read().decode()
os.mkfifo(m + b'/fifo', 0o620)
st = os.lstat(m + b'/fifo'); out['fifo'] = [stat.S_ISFIFO(st.st_mode), oct(st.st_mode & 0o777)]
os.mknod(m + b'/sock', stat.S_IFSOCK | 0o600)
out['sock'] = stat.S_ISSOCK(os.lstat(m + b'/sock').st_mode)
os.mknod(m + b'/reg', stat.S_IFREG | 0o600); out['reg'] = stat.S_ISREG(os.lstat(m + b'/reg').st_mode)
out['mknod_exists'] = err(lambda: os.mkfifo(m + b'/fifo'))
os.mknod(m + b'/null', stat.S_IFCHR | 0o666, os.makedev(1, 3))
st = os.lstat(m + b'/null'); out['chr'] = [stat.S_ISCHR(st.st_mode), os.major(st.st_rdev), os.minor(st.st_rdev)]
libc = ctypes.CDLL(None, use_errno=True)
def renameat2(a, b, flags):
    r = libc.renameat2(-100, a, -100, b, flags)
    return 'ok' if r == 0 else errno.errorcode[ctypes.get_errno()]
open(m + b'/x', 'w').write('x'); open(m + b'/y', 'w').write('y')
out['noreplace_exists'] = renameat2(m + b'/x', m + b'/y', 1)
out['noreplace_new'] = renameat2(m + b'/x', m + b'/z', 1)
out['noreplace_dir'] = renameat2(m + b'/sub', m + b'/sub2', 1)
out['noreplace_dir_exists'] = renameat2(m + b'/sub2', m + b'/z', 1)
out['exchange'] = renameat2(m + b'/y', m + b'/z', 2)
out['after'] = sorted(n.decode() for n in os.listdir(m) if n in (b'x', b'y', b'z', b'sub', b'sub2'))
out['z'] = open(m + b'/z').read()
print(json.dumps(out))
`, [mnt]);
    assert.equal(r['unlinked_exists'], false);
    assert.equal(r['read_after_unlink'], 'still here');
    assert.deepEqual(r['fstat_after_unlink'], [11, 0]);
    assert.equal(r['moved'], 'abcdef');
    assert.deepEqual(r['listed'], [Buffer.from([0x63, 0x61, 0x66, 0xe9, 0x2d, 0xff, 0xfe]).toString('hex')]);
    assert.equal(r['read_nonutf8'], 'latin1');
    assert.deepEqual(r['fifo'], [true, '0o620']);
    assert.equal(r['sock'], true);
    assert.equal(r['reg'], true);
    assert.equal(r['mknod_exists'], 'EEXIST');
    assert.deepEqual(r['chr'], [true, 1, 3]);
    assert.equal(r['noreplace_exists'], 'EEXIST');
    assert.equal(r['noreplace_new'], 'ok');
    assert.equal(r['noreplace_dir'], 'ok');
    assert.equal(r['noreplace_dir_exists'], 'EEXIST');
    assert.equal(r['exchange'], 'EINVAL');
    assert.deepEqual(r['after'], ['sub2', 'y', 'z']);
    assert.equal(r['z'], 'x');
    // The backing directory has the same bytes as names, and no temporary names left behind.
    const names = await fsp.readdir(source, { encoding: 'buffer' });
    assert.ok(names.some((n) => n.equals(Buffer.from([0x63, 0x61, 0x66, 0xe9, 0x2d, 0xff, 0xfe]))));
    assert.ok(!names.some((n) => n.toString().startsWith('.tsfuse-')), 'no temporary names left');
  });
});

test('ownership: as root the caller owns what it creates; permission errors for another uid', { skip, timeout: 60000 }, async () => {
  await withPassthrough(async ({ source, mnt }) => {
    await fsp.chmod(source, 0o777);
    await fsp.writeFile(join(source, 'rootfile'), 'root');
    await fsp.chmod(join(source, 'rootfile'), 0o644);
    await fsp.mkdir(join(source, 'rootdir'), 0o755);
    await fsp.mkdir(join(source, 'sgid'), 0o777);
    await fsp.chown(join(source, 'sgid'), 0, 4321);
    await fsp.chmod(join(source, 'sgid'), 0o2777);
    const r = await pyJson<Record<string, unknown>>(`
m = sys.argv[1]
out = {}
os.umask(0o022)
open(m + '/mine', 'w').write('n')
os.mkdir(m + '/mydir', 0o777)
os.symlink('mine', m + '/mylink')
os.mkfifo(m + '/myfifo', 0o666)
fd = os.open(m + '/modes', os.O_CREAT | os.O_WRONLY, 0o777); os.close(fd)
open(m + '/sgid/inherits', 'w').close()
os.mkdir(m + '/sgid/subdir')
out['uid'] = os.getuid()
out['write_root_file'] = err(lambda: open(m + '/rootfile', 'w'))
out['create_in_root_dir'] = err(lambda: open(m + '/rootdir/x', 'w'))
out['chmod_root_file'] = err(lambda: os.chmod(m + '/rootfile', 0o777))
out['chown_own_file'] = err(lambda: os.chown(m + '/mine', 0, -1))
out['unlink_own'] = err(lambda: os.unlink(m + '/myfifo'))
out['utime_root_file'] = err(lambda: os.utime(m + '/rootfile', (1, 1)))
out['read_root_file'] = open(m + '/rootfile').read()
print(json.dumps(out))
`, [mnt], 'nobody');
    const nobody = r['uid'] as number;
    assert.equal(nobody, 65534);
    for (const n of ['mine', 'mydir', 'mylink', 'modes']) {
      const st = lstatSync(join(source, n));
      assert.equal(st.uid, nobody, `${n} uid`);
      assert.equal(st.gid, 65534, `${n} gid`);
    }
    assert.equal(lstatSync(join(source, 'mine')).mode & 0o7777, 0o644);
    assert.equal(lstatSync(join(source, 'mydir')).mode & 0o7777, 0o755);
    assert.equal(lstatSync(join(source, 'modes')).mode & 0o7777, 0o755);
    // A setgid directory gives its group, and its setgid bit to subdirectories.
    assert.equal(lstatSync(join(source, 'sgid/inherits')).gid, 4321);
    assert.equal(lstatSync(join(source, 'sgid/inherits')).uid, nobody);
    assert.equal(lstatSync(join(source, 'sgid/subdir')).gid, 4321);
    assert.equal(lstatSync(join(source, 'sgid/subdir')).mode & 0o2000, 0o2000);
    assert.deepEqual({ ...r, uid: undefined }, {
      uid: undefined, write_root_file: 'EACCES', create_in_root_dir: 'EACCES', chmod_root_file: 'EPERM', chown_own_file: 'EPERM',
      unlink_own: 'ok', utime_root_file: 'EPERM', read_root_file: 'root',
    });
    // Root through the mount creates as root.
    const root = await run('sh', ['-c', `touch ${mnt}/byroot && stat -c %u:%g ${source}/byroot`]);
    assert.equal(root.stdout.trim(), '0:0', root.stderr);
  });
});

test('ownership off (an ordinary user\'s daemon): files are created as the daemon', { skip, timeout: 60000 }, async () => {
  await withPassthrough(async ({ source, mnt }) => {
    await fsp.chmod(source, 0o777);
    const r = await run('runuser', ['-u', 'nobody', '--', 'sh', '-c', `echo x > ${mnt}/f && mkdir ${mnt}/d`]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(lstatSync(join(source, 'f')).uid, 0);
    assert.equal(lstatSync(join(source, 'd')).uid, 0);
  }, { preserveOwnership: false });
});

test('a tree deeper than PATH_MAX: every request is relative to a directory descriptor', { skip, timeout: 60000 }, async () => {
  await withPassthrough(async ({ source, mnt }) => {
    const r = await pyJson<Record<string, unknown>>(`
m, src = sys.argv[1], sys.argv[2]
name = 'd' * 200
os.chdir(m)
for i in range(25):
    os.mkdir(name); os.chdir(name)
with open('deep.txt', 'w') as f: f.write('bottom')
os.symlink('deep.txt', 'deeplink')
out = {'depth_bytes': len(m) + 25 * (len(name) + 1), 'via_link': open('deeplink').read()}
os.rename('deep.txt', 'deeper.txt')
out['read'] = open('deeper.txt').read()
out['ls'] = sorted(os.listdir('.'))
# Check from the backing side, also without whole paths.
os.chdir(src)
for i in range(25): os.chdir(name)
out['backing'] = open('deeper.txt').read()
out['backing_link'] = os.readlink('deeplink')
print(json.dumps(out))
`, [mnt, source]);
    assert.ok((r['depth_bytes'] as number) > 4096);
    assert.equal(r['via_link'], 'bottom');
    assert.equal(r['read'], 'bottom');
    assert.deepEqual(r['ls'], ['deeper.txt', 'deeplink']);
    assert.equal(r['backing'], 'bottom');
    assert.equal(r['backing_link'], 'deep.txt');
    const find = await run('sh', ['-c', `cd ${mnt} && find . -name deeper.txt | wc -c`]);
    assert.equal(find.code, 0, find.stderr);
    assert.ok(Number(find.stdout.trim()) > 4096, 'find walked below PATH_MAX');
  });
});

test('lookup counts are exact: after readdirplus, stats and opens, dropping caches forgets every node', { skip, timeout: 60000 }, async () => {
  await withPassthrough(async ({ mnt, ops }) => {
    const r = await run('sh', ['-c', `cd ${mnt} && mkdir a && for i in $(seq 1 300); do echo $i > a/f$i; done && ln a/f1 a/hard && ls -l a >/dev/null && cat a/f7 a/hard >/dev/null && stat a/f300 >/dev/null`]);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(ops.nodeCount > 300, `nodes while cached: ${ops.nodeCount}`);
    await waitFor(() => ops.handleCount === 0, 5000, 'every handle released');
    // Dropping dentries and inodes makes the kernel FORGET each node with the count it holds.
    await fsp.writeFile('/proc/sys/vm/drop_caches', '2');
    await waitFor(() => ops.nodeCount === 1, 10000, `the node table to shrink to the root (now ${ops.nodeCount})`);
    // Nothing was forgotten too early: the tree still works from scratch.
    const again = await run('sh', ['-c', `cat ${mnt}/a/f300 ${mnt}/a/hard && ls ${mnt}/a | wc -l`]);
    assert.equal(again.stdout, '300\n1\n301\n');
  });
});

test('open(O_TRUNC) of an existing file truncates in OPEN (ATOMIC_O_TRUNC), with no SETATTR; HANDLE_KILLPRIV_V2 is granted too', { skip, timeout: 60000 }, async () => {
  await withPassthrough(async ({ source, mnt, m }) => {
    assert.ok(hasFlag(m.negotiated, 'ATOMIC_O_TRUNC') && hasFlag(m.negotiated, 'HANDLE_KILLPRIV_V2'));
    writeFileSync(join(source, 'f'), 'some data');
    const seen: { name: string; flags?: number }[] = [];
    const record = (message: unknown): void => {
      const { name, args } = message as { name: string; args: { flags?: number } };
      seen.push({ name, ...(args.flags !== undefined && { flags: args.flags }) });
    };
    subscribe('tsfuse:request', record);
    try {
      const r = await run('sh', ['-c', `printf new > ${mnt}/f`]);
      assert.equal(r.code, 0, r.stderr);
    } finally {
      unsubscribe('tsfuse:request', record);
    }
    assert.equal(statSync(join(source, 'f')).size, 3);
    const open = seen.find((x) => x.name === 'OPEN');
    assert.ok(open !== undefined && ((open.flags ?? 0) & constants.O_TRUNC) !== 0, `OPEN with O_TRUNC: ${JSON.stringify(seen)}`);
    assert.deepEqual(seen.filter((x) => x.name === 'SETATTR'), []);
  });
});

test('set-user-ID given on SOURCE after writes through the mount is still removed by the next write of another user (timeouts 0)', { skip, timeout: 60000 }, async () => {
  await withPassthrough(async ({ source, mnt }) => {
    await fsp.chmod(source, 0o777);
    await fsp.writeFile(join(source, 'f'), '#!');
    await fsp.chmod(join(source, 'f'), 0o777);
    const append = async (data: string): Promise<void> => {
      await pyJson(`
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_APPEND); os.write(fd, sys.argv[2].encode()); os.close(fd)
print(json.dumps(os.stat(sys.argv[1]).st_mode & 0o7777))
`, [join(mnt, 'f'), data], 'nobody');
    };
    // Two writes: the kernel has asked once and marked the inode as having nothing to remove (S_NOSEC).
    await append('a');
    await append('b');
    // Behind the mount's back; the next attributes the kernel gets show the bit (fuse_change_attributes_common).
    await fsp.chmod(join(source, 'f'), 0o4777);
    await append('c');
    assert.equal(statSync(join(source, 'f')).mode & 0o7777, 0o777);
    assert.equal(readFileSync(join(source, 'f'), 'utf8'), '#!abc');
  }, { entryTimeout: 0, attrTimeout: 0 });
});

test('under Node >= 26 (TSFUSE_NODE26): the same through kernel passthrough, where the write never reaches the daemon', { skip: skip ?? (MAJOR >= 26 ? 'this Node passes writes through: run above' : NODE26_SKIP), timeout: 120000 }, () => {
  passUnderNode26(THIS_FILE, 'given on SOURCE');
});

test('requests cannot leave SOURCE: dot names, slashes, symlinks as directories, O_CREAT through a symlink', { skip, timeout: 60000 }, async () => {
  const source = mkdtempSync(join(tmpdir(), 'tsfuse-pt-src-'));
  const outside = mkdtempSync(join(tmpdir(), 'tsfuse-pt-outside-'));
  const ops = createPassthrough(source);
  try {
    writeFileSync(join(outside, 'secret'), 'secret');
    await fsp.symlink(outside, join(source, 'out'));
    await fsp.symlink(join(outside, 'created'), join(source, 'dangling'));
    await fsp.symlink(join(outside, 'secret'), join(source, 'secretlink'));
    const ctx = { uid: 0, gid: 0, pid: 1 } as RequestContext;
    const codeOf = async (f: () => unknown): Promise<string> => {
      try { await f(); return 'ok'; } catch (e) { return (e as { code?: string }).code ?? String(e); }
    };
    const name = (s: string) => Buffer.from(s);
    const lookup = (parent: number, n: string) => ops.lookup!({ parent, name: name(n) } as never, ctx);
    assert.equal(await codeOf(() => lookup(1, '..')), 'EINVAL');
    assert.equal(await codeOf(() => lookup(1, '.')), 'EINVAL');
    assert.equal(await codeOf(() => lookup(1, 'out/secret')), 'EINVAL');
    assert.equal(await codeOf(() => lookup(1, '')), 'EINVAL');
    // A symlink to a directory outside is a symlink node, never a directory to look into.
    const out = await lookup(1, 'out');
    assert.equal(await codeOf(() => lookup(out.ino as number, 'secret')), 'ENOTDIR');
    assert.equal(await codeOf(() => ops.mkdir!({ parent: out.ino, name: name('x'), mode: 0o755, umask: 0 } as never, ctx)), 'ENOTDIR');
    // Unknown node ids (a crafted frame) are refused.
    assert.equal(await codeOf(() => lookup(987654, 'x')), 'ESTALE');
    // O_CREAT on a dangling symlink creates nothing outside (O_NOFOLLOW), nor does open follow one.
    const flags = 0o1 | 0o100; // O_WRONLY | O_CREAT
    assert.equal(await codeOf(() => ops.create!({ parent: 1, name: name('dangling'), flags, mode: 0o644, umask: 0, openFlags: 0 } as never, ctx)), 'ELOOP');
    await assert.rejects(fsp.stat(join(outside, 'created')), { code: 'ENOENT' });
    const link = await lookup(1, 'secretlink');
    assert.equal(await codeOf(() => ops.open!({ ino: link.ino, flags: 0o2, openFlags: 0 } as never, ctx)), 'ELOOP');
    // setattr on a symlink node changes the link, not its target.
    const before = statSync(join(outside, 'secret'));
    await ops.setattr!({ ino: link.ino, valid: 0, atime: { sec: 5, nsec: 0 }, mtime: { sec: 6, nsec: 0 }, killSuidgid: false } as never, ctx);
    await ops.setattr!({ ino: link.ino, valid: 0, uid: 4242, gid: 4242, killSuidgid: false } as never, ctx);
    const after = statSync(join(outside, 'secret'));
    assert.equal(after.mtimeMs, before.mtimeMs);
    assert.equal(after.uid, before.uid);
    assert.equal(lstatSync(join(source, 'secretlink')).mtimeMs, 6000);
    assert.equal(lstatSync(join(source, 'secretlink')).uid, 4242);
    // Renames and links name only our own nodes: a symlink node as the target directory is refused.
    assert.equal(await codeOf(() => ops.rename!({ parent: 1, name: name('secretlink'), newParent: out.ino, newName: name('x'), flags: 0 } as never, ctx)), 'ENOTDIR');
    assert.equal(await codeOf(() => ops.link!({ ino: link.ino, newParent: out.ino, newName: name('x') } as never, ctx)), 'ENOTDIR');
    assert.equal(await codeOf(() => ops.rename!({ parent: 1, name: name('..'), newParent: 1, newName: name('x'), flags: 0 } as never, ctx)), 'EINVAL');
    assert.deepEqual((await fsp.readdir(outside)).sort(), ['secret']);
  } finally {
    ops.close();
    rmSync(source, { recursive: true, force: true });
    rmSync(outside, { recursive: true, force: true });
  }
});

test('no mount left behind', { skip }, () => {
  assert.deepEqual(leftoverMounts(), []);
});
