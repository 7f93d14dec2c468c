// A daemon out of descriptors can still unmount: spawning umount takes several descriptors, which a
// passthrough holding one per inode up to RLIMIT_NOFILE no longer had, so Ctrl-C left the mount and the
// daemon in place. src/mount/unmount.ts keeps spares for that spawn.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { cleanupMountpoints, forceUnmount, freshMountpoint, isFuseMount, realMountSkip, run } from '../support/mount-helpers.ts';

const FIXTURE = fileURLToPath(new URL('./fixtures/out-of-descriptors.ts', import.meta.url));

after(async () => {
  assert.deepEqual(await cleanupMountpoints(), [], 'no test left a mount behind');
});

test('unmount works after the daemon has used up every descriptor (EMFILE)', { skip: realMountSkip(), timeout: 90_000 }, async () => {
  const dir = freshMountpoint();
  try {
    // A low limit, so exhausting it is quick; Node itself starts within it.
    const r = await run('sh', ['-c', 'ulimit -n 128 && exec "$0" --import tsx "$1" "$2"', process.execPath, FIXTURE, dir], { timeout: 60_000 });
    assert.equal(r.code, 0, r.stderr);
    const report = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as { exhausted: string; held: number; unmounted: string };
    assert.equal(report.exhausted, 'EMFILE');
    assert.ok(report.held > 0, `held ${report.held} more descriptors first`);
    assert.equal(report.unmounted, 'yes');
    assert.equal(isFuseMount(dir), false, 'the mount is gone');
  } finally {
    if (isFuseMount(dir)) await forceUnmount(dir);
  }
});
