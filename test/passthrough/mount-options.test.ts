import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseMountOptions } from '../../src/mount/options.ts';
import { passthroughMountOptions } from '../../src/passthrough/index.ts';

const checked = (given: Parameters<typeof passthroughMountOptions>[0]): boolean =>
  parseMountOptions(passthroughMountOptions(given)).mount.defaultPermissions;

test('passthroughMountOptions: default_permissions when other users can reach the mount', () => {
  assert.equal(checked('allow_other'), true);
  assert.equal(checked('ro,allow_root'), true);
  assert.equal(checked(['fsname=x', 'allow_other']), true);
  assert.equal(checked({ allowOther: true }), true);
  assert.deepEqual(passthroughMountOptions(['allow_other']), ['default_permissions', 'allow_other']);
  assert.equal(passthroughMountOptions('allow_other'), 'default_permissions,allow_other');
});

test('passthroughMountOptions: only the mounting user → the options as given, no permission round trips', () => {
  assert.equal(checked(undefined), false);
  assert.equal(checked(''), false);
  assert.equal(checked('ro,fsname=src'), false);
  assert.equal(passthroughMountOptions('ro'), 'ro');
  assert.deepEqual(passthroughMountOptions(undefined), []);
  // Asked for explicitly, it stays.
  assert.equal(checked('default_permissions'), true);
});

test('passthroughMountOptions: bad options are the parser\'s clear error', () => {
  assert.throws(() => passthroughMountOptions('allow_other,allow_root'), { code: 'ERR_FUSE_INVALID_OPTION' });
});
