import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isFuseType, mountsAt, parseMountinfo, readMountinfo } from '../../src/mount/mountinfo.ts';

const SAMPLE = [
  '22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw,errors=remount-ro',
  '42 22 0:39 / /tmp/with\\040space\\011tab\\134back rw,nosuid,nodev,relatime shared:5 master:2 - fuse.sshfs me@host:/x\\040y rw,user_id=1000,group_id=1000,allow_other',
  '43 42 0:40 / /tmp/with\\040space\\011tab\\134back rw,nosuid,nodev - fuse src rw,user_id=0,group_id=0',
  'garbage line',
  '',
].join('\n');

test('parses fields, optional fields and octal escapes', () => {
  const entries = parseMountinfo(SAMPLE);
  assert.equal(entries.length, 3);
  const e = entries[1];
  assert.ok(e !== undefined);
  assert.deepEqual(e, {
    mountId: 42, parentId: 22, device: '0:39', root: '/', mountpoint: '/tmp/with space\ttab\\back',
    mountOptions: ['rw', 'nosuid', 'nodev', 'relatime'], fsType: 'fuse.sshfs', source: 'me@host:/x y',
    superOptions: ['rw', 'user_id=1000', 'group_id=1000', 'allow_other'],
  });
  assert.deepEqual(mountsAt(entries, '/tmp/with space\ttab\\back').map((x) => x.mountId), [42, 43]);
  assert.deepEqual(mountsAt(entries, '/nowhere'), []);
});

test('FUSE types', () => {
  for (const t of ['fuse', 'fuse.sshfs', 'fuseblk', 'fuseblk.ntfs']) assert.ok(isFuseType(t), t);
  for (const t of ['fusectl', 'ext4', 'fuse-x', 'tmpfs']) assert.ok(!isFuseType(t), t);
});

test('reads this process\'s mountinfo', async () => {
  const entries = await readMountinfo();
  assert.ok(entries.some((e) => e.mountpoint === '/'));
});
