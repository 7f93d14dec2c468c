import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  DEFAULT_FSNAME,
  KNOWN_OPTIONS,
  fsTypeOf,
  fusermountOptions,
  kernelMountData,
  mountFlags,
  parseMountOptions,
} from '../../src/mount/index.ts';
import { splitOptionGroup } from '../../src/mount/options.ts';
import { TsfuseError } from '../../src/errors.ts';

/** Asserts ERR_FUSE_INVALID_OPTION whose message contains every fragment. */
function rejects(input: string | string[], ...fragments: string[]): void {
  assert.throws(
    () => parseMountOptions(input),
    (err: unknown) => {
      assert.ok(err instanceof TsfuseError, 'a TsfuseError');
      assert.equal(err.code, 'ERR_FUSE_INVALID_OPTION');
      for (const f of fragments) assert.ok(err.message.includes(f), `message ${JSON.stringify(err.message)} names ${f}`);
      return true;
    },
  );
}

test('defaults: nothing given', () => {
  const o = parseMountOptions();
  assert.deepEqual(o.mount, {
    fsname: DEFAULT_FSNAME, subtype: undefined, allowOther: false, allowRoot: false, defaultPermissions: false,
    readOnly: false, nosuid: true, nodev: true, noexec: false, atime: undefined, maxRead: undefined,
    autoUnmount: false, nonempty: false,
  });
  assert.deepEqual(o.fs, {
    attrTimeout: undefined, entryTimeout: undefined, negativeTimeout: undefined, kernelCache: false,
    autoCache: false, directIo: false, writebackCache: false, maxWrite: undefined, maxBackground: undefined,
    congestionThreshold: undefined, uid: undefined, gid: undefined, umask: undefined, maxThreads: undefined,
    cloneFd: false,
  });
  assert.deepEqual(parseMountOptions(''), o);
  assert.deepEqual(parseMountOptions([]), o);
});

test('result is frozen', () => {
  const o = parseMountOptions('ro');
  assert.ok(Object.isFrozen(o) && Object.isFrozen(o.mount) && Object.isFrozen(o.fs));
  assert.throws(() => { (o.mount as { readOnly: boolean }).readOnly = false; }, TypeError);
});

test('every mount-level option', () => {
  const m = parseMountOptions(
    'fsname=myfs,subtype=my.fs-1,allow_other,default_permissions,ro,suid,dev,noexec,noatime,max_read=131072,' +
    'auto_unmount,nonempty',
  ).mount;
  assert.equal(m.fsname, 'myfs');
  assert.equal(m.subtype, 'my.fs-1');
  assert.equal(m.allowOther, true);
  assert.equal(m.defaultPermissions, true);
  assert.equal(m.readOnly, true);
  assert.equal(m.nosuid, false);
  assert.equal(m.nodev, false);
  assert.equal(m.noexec, true);
  assert.equal(m.atime, 'noatime');
  assert.equal(m.maxRead, 131072);
  assert.equal(m.autoUnmount, true);
  assert.equal(m.nonempty, true);
  assert.equal(parseMountOptions('allow_root').mount.allowRoot, true);
  assert.equal(parseMountOptions('relatime').mount.atime, 'relatime');
  assert.equal(parseMountOptions('atime').mount.atime, 'atime');
  const back = parseMountOptions('ro,rw,noexec,exec,nosuid,nodev').mount;
  assert.deepEqual([back.readOnly, back.noexec, back.nosuid, back.nodev], [false, false, true, true]);
});

test('every filesystem-level option', () => {
  const fs = parseMountOptions(
    'attr_timeout=1.5,entry_timeout=0,negative_timeout=.25,kernel_cache,auto_cache,direct_io,writeback_cache,' +
    'max_write=1048576,max_background=64,congestion_threshold=48,uid=1000,gid=0,umask=022,max_threads=16,clone_fd',
  ).fs;
  assert.deepEqual(fs, {
    attrTimeout: 1.5, entryTimeout: 0, negativeTimeout: 0.25, kernelCache: true, autoCache: true, directIo: true,
    writebackCache: true, maxWrite: 1048576, maxBackground: 64, congestionThreshold: 48, uid: 1000, gid: 0,
    umask: 0o22, maxThreads: 16, cloneFd: true,
  });
  assert.equal(parseMountOptions('umask=0').fs.umask, 0);
  assert.equal(parseMountOptions('umask=0777').fs.umask, 0o777);
  assert.equal(parseMountOptions('attr_timeout=3.').fs.attrTimeout, 3);
});

test('KNOWN_OPTIONS lists every accepted option and each parses', () => {
  for (const name of KNOWN_OPTIONS) {
    const sample: Record<string, string> = {
      fsname: 'x', subtype: 'x', max_read: '4096', attr_timeout: '1', entry_timeout: '1', negative_timeout: '1',
      max_write: '4096', max_background: '1', congestion_threshold: '1', uid: '1', gid: '1', umask: '022',
      max_threads: '16',
    };
    const item = name in sample ? `${name}=${sample[name]}` : name;
    assert.doesNotThrow(() => parseMountOptions(item), name);
  }
  assert.equal(KNOWN_OPTIONS.length, 34); // 19 mount-level + 15 filesystem-level
  assert.ok(!KNOWN_OPTIONS.includes('blksize'));
});

test('arrays are several -o groups; the last repeat wins; empty items are skipped', () => {
  const o = parseMountOptions(['ro,fsname=a', 'rw', 'fsname=b,,', ',max_read=8192']);
  assert.equal(o.mount.readOnly, false);
  assert.equal(o.mount.fsname, 'b');
  assert.equal(o.mount.maxRead, 8192);
});

test('backslash escapes, as libfuse fuse_opt.c', () => {
  assert.deepEqual(splitOptionGroup('a\\,b,c'), ['a,b', 'c']);
  assert.deepEqual(splitOptionGroup('x\\\\,y'), ['x\\', 'y']);
  assert.deepEqual(splitOptionGroup('sp\\040ace'), ['sp ace']);
  assert.deepEqual(splitOptionGroup('not\\8octal'), ['not8octal']);
  assert.deepEqual(splitOptionGroup('trailing\\'), ['trailing\\']);
  assert.equal(parseMountOptions('fsname=a\\,b\\=c,ro').mount.fsname, 'a,b=c');
  assert.equal(parseMountOptions('fsname=my\\040disk').mount.fsname, 'my disk');
  // An escaped comma never splits, even in a flag position.
  rejects('ro\\,rw', 'unknown mount option', '"ro,rw"');
});

test('unknown options are named', () => {
  rejects('ro,bogus', 'unknown mount option', '"bogus"');
  rejects('sync', '"sync"');
  rejects(' ro', '" ro"');
  rejects('RO', '"RO"');
  rejects('__proto__', '"__proto__"');
  rejects('toString', '"toString"');
});

test('flags given a value', () => {
  for (const flag of ['ro', 'allow_other', 'default_permissions', 'kernel_cache', 'auto_unmount', 'nonempty']) {
    rejects(`${flag}=1`, `'${flag}'`, 'takes no value');
  }
  rejects('ro=', "'ro'", 'takes no value');
});

test('value options without a value', () => {
  for (const name of ['fsname', 'subtype', 'max_read', 'attr_timeout', 'max_write', 'uid', 'umask']) {
    rejects(name, `'${name}'`, 'needs a value');
    rejects(`${name}=`, `'${name}'`, 'needs a value');
  }
});

test('non-numbers and out-of-range numbers', () => {
  rejects('max_read=abc', "'max_read'", 'decimal integer');
  rejects('max_read=0x1000', "'max_read'");
  rejects('max_read=-1', "'max_read'");
  rejects('max_read=4095', "'max_read'", '4096');
  rejects('max_read=4294967296', "'max_read'");
  rejects('max_write=1.5', "'max_write'");
  rejects('max_write=100', "'max_write'", '4096');
  rejects(`max_write=${0xffff * 4096 + 1}`, "'max_write'");
  rejects('max_background=0', "'max_background'", '1 to 65535');
  rejects('max_background=65536', "'max_background'");
  rejects('congestion_threshold=0', "'congestion_threshold'");
  rejects('uid=-1', "'uid'");
  rejects('uid=4294967295', "'uid'", '4294967294');
  rejects('gid=x', "'gid'");
  rejects('attr_timeout=-1', "'attr_timeout'", 'seconds');
  rejects('entry_timeout=1e3', "'entry_timeout'");
  rejects('negative_timeout=Infinity', "'negative_timeout'");
  rejects('negative_timeout=NaN', "'negative_timeout'");
  rejects(`attr_timeout=${'9'.repeat(400)}`, "'attr_timeout'", 'too large');
  rejects('umask=8', "'umask'", 'octal');
  rejects('umask=1000', "'umask'", '777');
  rejects('umask=abc', "'umask'");
});

test('conflicts', () => {
  rejects('allow_other,allow_root', "'allow_other'", "'allow_root'", 'mutually exclusive');
  rejects(['allow_root', 'allow_other'], 'mutually exclusive');
  rejects('max_background=10,congestion_threshold=11', "'congestion_threshold'", "'max_background'");
  assert.doesNotThrow(() => parseMountOptions('max_background=10,congestion_threshold=10'));
});

test('refused options say why', () => {
  rejects('blksize=4096', "'blksize'", 'fuseblk', 'fuse_parse_param');
  rejects('blkdev', "'blkdev'", 'fuseblk');
});

test('fsname and subtype validation', () => {
  rejects('fsname=LABEL=x', "'fsname=LABEL=x'", 'device tag');
  rejects('fsname=UUID=1234', 'device tag');
  rejects('fsname=a\\000b', "'fsname'", 'NUL');
  rejects('subtype=a/b', "'subtype'");
  rejects('subtype=a b', "'subtype'");
  rejects('subtype=a\\,b', "'subtype'");
  assert.equal(parseMountOptions('fsname=-weird /path\\,x').mount.fsname, '-weird /path,x');
});

test('input type is checked', () => {
  assert.throws(() => parseMountOptions(42 as unknown as string), { code: 'ERR_FUSE_INVALID_OPTION' });
  assert.throws(() => parseMountOptions(['ro', 1] as unknown as string[]), { code: 'ERR_FUSE_INVALID_OPTION' });
});

test('kernel mount data string', () => {
  const ids = { fd: 3, uid: 1000, gid: 100 };
  assert.equal(kernelMountData(parseMountOptions('').mount, ids), 'fd=3,rootmode=40000,user_id=1000,group_id=100');
  assert.equal(
    kernelMountData(parseMountOptions('allow_other,default_permissions,max_read=65536,ro,fsname=x').mount, ids),
    'fd=3,rootmode=40000,user_id=1000,group_id=100,default_permissions,allow_other,max_read=65536',
  );
  // allow_root is allow_other to the kernel (libfuse does the same and filters in the session).
  assert.equal(kernelMountData(parseMountOptions('allow_root').mount, { fd: 7, uid: 0, gid: 0 }),
    'fd=7,rootmode=40000,user_id=0,group_id=0,allow_other');
});

test('mount(8) flags', () => {
  assert.deepEqual(mountFlags(parseMountOptions('').mount), ['rw', 'nosuid', 'nodev']);
  assert.deepEqual(mountFlags(parseMountOptions('ro,suid,dev,noexec,noatime').mount), ['ro', 'suid', 'dev', 'noexec', 'noatime']);
  assert.deepEqual(mountFlags(parseMountOptions('relatime').mount), ['rw', 'nosuid', 'nodev', 'relatime']);
  assert.deepEqual(mountFlags(parseMountOptions('atime,exec').mount), ['rw', 'nosuid', 'nodev', 'atime']);
});

test('fusermount3 -o string', () => {
  assert.equal(fusermountOptions(parseMountOptions('').mount), 'rw,nosuid,nodev,fsname=tsfuse');
  assert.equal(
    fusermountOptions(parseMountOptions('fsname=a\\,b\\\\c,subtype=s,allow_root,default_permissions,max_read=8192,auto_unmount,relatime,noexec,nonempty').mount),
    'rw,nosuid,nodev,noexec,fsname=a\\,b\\\\c,subtype=s,default_permissions,allow_other,max_read=8192,auto_unmount',
  );
});

test('filesystem type', () => {
  assert.equal(fsTypeOf(parseMountOptions('').mount), 'fuse');
  assert.equal(fsTypeOf(parseMountOptions('subtype=sshfs').mount), 'fuse.sshfs');
});

test('max_threads and clone_fd (libfuse multi-threading options) are accepted; max_threads is checked', () => {
  assert.equal(parseMountOptions('max_threads=16').fs.maxThreads, 16);
  assert.equal(parseMountOptions('clone_fd').fs.cloneFd, true);
  assert.equal(parseMountOptions({ maxThreads: 4, cloneFd: true }).fs.maxThreads, 4);
  assert.throws(() => parseMountOptions('max_threads=0'), (e: Error & { code?: string }) => e.code === 'ERR_FUSE_INVALID_OPTION' && /max_threads/.test(e.message));
  assert.throws(() => parseMountOptions('max_threads'), /needs a value/);
  assert.throws(() => parseMountOptions('clone_fd=1'), /is a flag/);
});
