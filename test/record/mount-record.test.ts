// Recording a real mount: mount()'s `record` option and `tsfuse record FILE -- memfs MNT`, with the
// workload in another process; the recording starts with the kernel's INIT, holds what the workload
// did, and replays on memfs with every reply the same. Needs root and /dev/fuse (skips otherwise).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mount, type FuseMount } from '../../src/session/fuse-mount.ts';
import { pathOperations } from '../../src/ops/path/layer.ts';
import { createMemfs } from '../../src/memfs/index.ts';
import { decodeRecording, type Recording } from '../../src/record/format.ts';
import { dissect } from '../../src/record/dissect.ts';
import { replay } from '../../src/record/replay.ts';
import { main } from '../../src/cli.ts';
import { cleanupMountpoints, freshMountpoint, isFuseMount, mountSkip, rejectAfter, run, safeUnmount, waitFor, forceUnmount } from '../support/mount-helpers.ts';

const skip = mountSkip();
const scratch = mkdtempSync(join(tmpdir(), 'tsfuse-record-'));
after(async () => {
  await cleanupMountpoints();
  rmSync(scratch, { recursive: true, force: true });
});

function load(path: string): Recording {
  const r = decodeRecording(readFileSync(path));
  assert.ok(!('error' in r), 'error' in r ? r.error.message : '');
  assert.equal(r.truncated, undefined);
  return r;
}

const WORKLOAD = 'mkdir "$1/d" && printf "recorded\\n" > "$1/d/f" && cat "$1/d/f" && mv "$1/d/f" "$1/d/g" && ls "$1/d" && cat "$1/missing" 2>/dev/null; true';

test('mount({ record }): every frame from INIT on, complete once closed resolves, replayable', { skip, timeout: 60_000 }, async () => {
  const dir = freshMountpoint();
  const file = join(scratch, 'api.tsfr');
  let m: FuseMount | undefined;
  try {
    m = await mount(dir, pathOperations(createMemfs()), { record: file, recordMetadata: { filesystem: 'memfs' }, options: 'entry_timeout=0' });
    const r = await run('sh', ['-c', WORKLOAD, 'sh', dir]);
    assert.equal(r.stdout, 'recorded\ng\n', r.stderr);
    await m.unmount();
  } finally {
    await safeUnmount(m, dir);
  }
  const rec = load(file);
  assert.equal(rec.metadata.filesystem, 'memfs');
  assert.equal(rec.metadata.mountpoint, dir);
  assert.deepEqual(rec.metadata.mountOptions, 'entry_timeout=0');
  const d = dissect(rec);
  assert.equal(d.exchanges[0]!.name, 'INIT');
  assert.equal(rec.frames[0]!.timeNs, 0n);
  const names = new Set(d.exchanges.map((x) => x.name));
  for (const op of ['MKDIR', 'CREATE', 'WRITE', 'READ', 'RENAME2', 'LOOKUP']) assert.ok(names.has(op), `no ${op} in ${[...names].join(' ')}`);
  assert.ok(d.negotiated.maxWrite > 0);
  const report = await replay(rec, pathOperations(createMemfs()));
  assert.deepEqual(report.differences, []);
  // The recorded entry_timeout=0 reached the replay too: otherwise every entry_valid would differ.
  assert.ok(report.compared > 10);
});

test('tsfuse record FILE -- memfs MNT -f: records until unmounted; tsfuse replay agrees', { skip, timeout: 60_000 }, async () => {
  const dir = freshMountpoint();
  const file = join(scratch, 'cli.tsfr');
  const err: string[] = [];
  const serving = main(['record', file, '--', 'memfs', dir, '-f', '--no-stats'], { out: () => {}, err: (s) => { err.push(s); } });
  try {
    await waitFor(() => isFuseMount(dir), 10_000, `the mount at ${dir}`);
    const r = await run('sh', ['-c', WORKLOAD, 'sh', dir]);
    assert.equal(r.stdout, 'recorded\ng\n', r.stderr);
    assert.equal((await run('umount', [dir])).code, 0);
    assert.equal(await Promise.race([serving, rejectAfter(10_000, 'tsfuse record did not end after the unmount')]), 0, err.join(''));
  } finally {
    await forceUnmount(dir);
  }
  const rec = load(file);
  assert.equal(rec.metadata.filesystem, 'memfs');
  assert.deepEqual(rec.metadata.sources, []);
  const out: string[] = [];
  assert.equal(await main(['replay', file], { out: (s) => { out.push(s); }, err: () => {} }), 0, out.join(''));
  assert.match(out.join(''), /: identical/);
});
