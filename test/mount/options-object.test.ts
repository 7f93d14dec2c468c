import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseMountOptions, KNOWN_OPTIONS, type MountOptionsObject } from '../../src/mount/options.ts';
import { TsfuseError } from '../../src/errors.ts';

/** Asserts ERR_FUSE_INVALID_OPTION whose message contains every fragment. */
function rejects(input: unknown, ...fragments: string[]): void {
  assert.throws(
    () => parseMountOptions(input as MountOptionsObject),
    (err: unknown) => {
      assert.ok(err instanceof TsfuseError, 'a TsfuseError');
      assert.equal(err.code, 'ERR_FUSE_INVALID_OPTION');
      for (const f of fragments) assert.ok(err.message.includes(f), `message ${JSON.stringify(err.message)} names ${f}`);
      return true;
    },
  );
}

test('object form: the same result as the -o string, for every option', () => {
  const object: MountOptionsObject = {
    fsname: 'my,fs', subtype: 'demo', allowOther: true, defaultPermissions: true, readOnly: true, nosuid: false,
    nodev: false, noexec: true, atime: 'noatime', maxRead: 131072, autoUnmount: true, nonempty: true,
    attrTimeout: 1.5, entryTimeout: 2, negativeTimeout: 0.25, kernelCache: true, autoCache: true, directIo: true,
    writebackCache: true, maxWrite: 1 << 20, maxBackground: 64, congestionThreshold: 48, uid: 1000, gid: 100, umask: 0o022,
    maxThreads: 16, cloneFd: true,
  };
  const text = 'fsname=my\\,fs,subtype=demo,allow_other,default_permissions,ro,suid,dev,noexec,noatime,max_read=131072,' +
    'auto_unmount,nonempty,attr_timeout=1.5,entry_timeout=2,negative_timeout=0.25,kernel_cache,auto_cache,direct_io,' +
    'writeback_cache,max_write=1048576,max_background=64,congestion_threshold=48,uid=1000,gid=100,umask=022,max_threads=16,clone_fd';
  const fromObject = parseMountOptions(object);
  assert.deepEqual(fromObject, parseMountOptions(text));
  assert.equal(fromObject.mount.fsname, 'my,fs', 'a comma in a value needs no escaping in the object form');
  assert.ok(Object.isFrozen(fromObject) && Object.isFrozen(fromObject.fs));
  // Every -o option (except the exclusive allow_root, tested below) is reachable from some key.
  const reached = new Set(text.split(/(?<!\\),/).map((i) => i.split('=')[0]));
  for (const o of KNOWN_OPTIONS) {
    if (!['allow_root', 'rw', 'nosuid', 'nodev', 'exec', 'atime', 'relatime'].includes(o)) assert.ok(reached.has(o), o);
  }
});

test('object form: opposite flags, choices, false and undefined', () => {
  assert.deepEqual(parseMountOptions({ readOnly: false, nosuid: true, nodev: true, noexec: false, atime: 'relatime' }), parseMountOptions('rw,nosuid,nodev,exec,relatime'));
  assert.deepEqual(parseMountOptions({ allowOther: false, kernelCache: false, attrTimeout: undefined }), parseMountOptions(''));
  assert.equal(parseMountOptions({ allowRoot: true }).mount.allowRoot, true);
  assert.equal(parseMountOptions({ atime: 'atime' }).mount.atime, 'atime');
  assert.equal(parseMountOptions({ umask: '027' }).fs.umask, 0o027);
  assert.equal(parseMountOptions({ attrTimeout: 0 }).fs.attrTimeout, 0);
  assert.equal(parseMountOptions({}).mount.fsname, parseMountOptions().mount.fsname);
});

test('object form: the string and array forms still work', () => {
  assert.equal(parseMountOptions('allow_other').mount.allowOther, true);
  assert.equal(parseMountOptions(['ro', 'fsname=x']).mount.fsname, 'x');
});

test('object form: an unknown key names the key and the closest known one', () => {
  rejects({ allow_other: true }, '"allow_other"', "did you mean 'allowOther'");
  rejects({ ro: true }, '"ro"', "did you mean 'readOnly'");
  rejects({ rw: true }, "did you mean 'readOnly'");
  rejects({ attr_timeout: 1 }, "did you mean 'attrTimeout'");
  rejects({ attrTimout: 1 }, '"attrTimout"', "did you mean 'attrTimeout'");
  rejects({ allowother: true }, "did you mean 'allowOther'");
  rejects({ suid: true }, "did you mean 'nosuid'");
  rejects({ xyzzyPlugh: 1 }, '"xyzzyPlugh"');
  // No suggestion when nothing is close.
  assert.throws(() => parseMountOptions({ xyzzyPlugh: 1 } as never), (e: Error) => !e.message.includes('did you mean'));
});

test('object form: wrong value types and out-of-range values name the key', () => {
  rejects({ allowOther: 'yes' }, "'allowOther'", 'true or false', '"yes"');
  rejects({ allowOther: 1 }, "'allowOther'", 'true or false');
  rejects({ atime: 'sometimes' }, "'atime'", "'noatime'");
  rejects({ attrTimeout: -1 }, "'attrTimeout'", '-1');
  rejects({ attrTimeout: Number.NaN }, "'attrTimeout'", 'finite');
  rejects({ attrTimeout: Number.POSITIVE_INFINITY }, "'attrTimeout'", 'finite');
  rejects({ maxRead: 1 }, "'maxRead'", '4096');
  rejects({ uid: 1.5 }, "'uid'", 'integer');
  rejects({ uid: true }, "'uid'", 'number');
  rejects({ fsname: 5 }, "'fsname'", 'string');
  rejects({ umask: 0o1777 }, "'umask'");
  rejects({ umask: -1 }, "'umask'");
  rejects({ maxWrite: {} }, "'maxWrite'", 'an object');
  rejects({ allowOther: true, allowRoot: true }, 'mutually exclusive');
  rejects({ fsname: 'UUID=1234' }, 'device tag');
});

test('-o form: an unknown option suggests the closest known one', () => {
  rejects('allow_othr', '"allow_othr"', "did you mean 'allow_other'");
  rejects('allowOther', "did you mean 'allow_other'");
  rejects('frobnicate_everything', '"frobnicate_everything"');
});

test('options that are neither a string, an array of strings, nor an object are refused', () => {
  rejects(5, 'an object like');
  rejects([5], 'an array of strings');
  rejects(null, 'an object like');
});
