// Every opcode the kernel sends to a /dev/fuse mount, driven by real system calls from other processes,
// reaching its handler; and every notification having an effect a real caller observes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fsp from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  mount, FuseError, OpenFlags, PollFlags, RenameFlags, ROOT_ID, type FuseMount, type MountOptions, type RequestContext,
  type LockRequest, type U64,
} from '../../src/index.ts';
import { memFilesystem, S_IFDIR, S_IFREG, type MemFs } from './memfs.ts';
import { E2E_FIXTURES, freshMountpoint, leftoverMounts, mountSkip, rejectAfter, run, safeUnmount, waitFor } from '../support/mount-helpers.ts';

const skip = mountSkip();
const EXERCISE = join(E2E_FIXTURES, 'exercise.py');

/** Mounts `fs` on a fresh directory, runs `body`, and always unmounts. */
async function withMount(fs: MemFs, body: (m: FuseMount, dir: string) => Promise<void>, options: MountOptions = {}): Promise<void> {
  const dir = freshMountpoint();
  let m: FuseMount | undefined;
  try {
    m = await mount(dir, fs.ops, { method: 'mount', ...options });
    await body(m, dir);
  } finally {
    await safeUnmount(m, dir);
    fs.close();
    await fsp.rmdir(dir).catch(() => {});
  }
}

/** `stat -c %s` of a path, from another process: the size, or the error text. */
async function statSize(path: string): Promise<string> {
  const r = await run('stat', ['-c', '%s', path]);
  return r.code === 0 ? r.stdout.trim() : (/No such file/.test(r.stderr) ? 'ENOENT' : r.stderr.trim());
}

async function cat(path: string): Promise<string> {
  const r = await run('cat', [path]);
  assert.equal(r.code, 0, r.stderr);
  return r.stdout;
}

/** Reads the file once in python3 and reports errno; see fixtures/interrupted_read.py. */
const INTERRUPTED_READ = join(E2E_FIXTURES, 'interrupted_read.py');

async function interruptRead(path: string, started: Promise<unknown>, beforeSignal: () => Promise<void> = async () => {}): Promise<{ n: number; errno: string | null; data: string }> {
  const child = spawn('python3', [INTERRUPTED_READ, path], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => { out += d.toString(); });
  child.stderr.on('data', (d: Buffer) => { out += d.toString(); });
  const closed = new Promise<number | null>((resolve) => child.on('close', resolve));
  try {
    await Promise.race([started, rejectAfter(10_000, `the read never reached the handler: ${out}`)]);
    await beforeSignal();
    child.kill('SIGUSR1');
    const code = await Promise.race([closed, rejectAfter(10_000, `the reader was not interrupted: ${out}`)]);
    assert.equal(code, 0, out);
    const { n, errno, data } = JSON.parse(out) as { n: number; errno: string | null; data: string; ms: number };
    return { n, errno, data };
  } finally {
    child.kill('SIGKILL');
  }
}

/** Resolves the next time `fn` is called. */
function deferred<T = void>(): { promise: Promise<T>; resolve: (v: T) => void } {
  let resolve!: (v: T) => void;
  const promise = new Promise<T>((r) => { resolve = r; });
  return { promise, resolve };
}

test('opcodes: every request the kernel sends to a /dev/fuse mount reaches its handler', { skip, timeout: 30000 }, async () => {
  const fs = memFilesystem();
  const big = fs.add(ROOT_ID, 'big', S_IFDIR | 0o755);
  // Enough entries for several READDIR rounds: the first round is READDIRPLUS (offset 0), later ones are
  // plain READDIR because nothing looks entries up in between (READDIRPLUS_AUTO).
  for (let i = 0; i < 300; i++) fs.add(big.ino, `entry-with-a-longish-name-${String(i).padStart(4, '0')}`, S_IFREG | 0o644, 'x');
  const slow = fs.add(ROOT_ID, 'slow', S_IFREG | 0o644, 'slow data');
  slow.openFlags = OpenFlags.DIRECT_IO;

  // Observe the arguments that distinguish variants of one opcode.
  const seen = { renameFlags: new Set<number>(), locks: [] as { op: string; flock: boolean; sleep: boolean }[], fsync: new Set<boolean>(), whence: new Set<number>(), interrupted: false };
  const ops = fs.ops;
  const rename = ops.rename!.bind(ops);
  ops.rename = (req, ctx) => { seen.renameFlags.add(req.flags); return rename(req, ctx); };
  const setlk = ops.setlk!.bind(ops);
  ops.setlk = (req: LockRequest, ctx) => { seen.locks.push({ op: ctx.opcode === 33 ? 'SETLKW' : 'SETLK', flock: req.flock, sleep: req.sleep }); return setlk(req, ctx); };
  const fsync = ops.fsync!.bind(ops);
  ops.fsync = (req, ctx) => { seen.fsync.add(req.datasync); return fsync(req, ctx); };
  const lseek = ops.lseek!.bind(ops);
  ops.lseek = (req, ctx) => { seen.whence.add(req.whence); return lseek(req, ctx); };
  // The kernel tries COPY_FILE_RANGE_64 (7.45) first and falls back to COPY_FILE_RANGE for good after ENOSYS.
  const copy = ops.copyFileRange!.bind(ops);
  ops.copyFileRange = (req, ctx) => {
    const r = copy(req, ctx);
    if (ctx.opcode === 53) throw new FuseError('ENOSYS');
    return r;
  };
  const slowRead = deferred<RequestContext>();
  const read = ops.read!.bind(ops);
  ops.read = (req, ctx) => {
    if (req.ino !== slow.ino) return read(req, ctx);
    read(req, ctx);
    slowRead.resolve(ctx);
    return new Promise((_, reject) => ctx.signal.addEventListener('abort', () => { seen.interrupted = true; reject(ctx.signal.reason as Error); }));
  };
  const warnings: string[] = [];

  await withMount(fs, async (m, dir) => {
    const r = await run('python3', [EXERCISE, dir]);
    assert.equal(r.code, 0, r.stderr);
    const res = JSON.parse(r.stdout) as Record<string, unknown>;
    assert.deepEqual(res, {
      create: 12,
      read: 'hello world\n',
      stat: 12,
      // STATX answered with a birth time GETATTR cannot carry.
      statx: { btime: true, sec: 1_000_000_000 },
      setattr: ['0o600', 1_500_000_000, 5],
      links: ['f', 2, 1],
      nodes: [true, true],
      renames: { noreplace: 'EEXIST', c: 'B', b: 'A', a2: false },
      statvfs: 200,
      xattrs: ['v1', ['user.k'], []],
      listdir: 300,
      fsyncdir: true,
      locks: { getlk_type: 2 },
      access: [true, true],
      file_ops: { size_after_fallocate: 8192, seek_data: 10, seek_hole: 8192, copied: 5, ioctl: [0, '87654321'], poll: [5], syncfs: 0 },
      tmpfile: 3,
      copy: 'hello',
    });

    // INTERRUPT: a signal to a caller blocked in a (direct I/O) read.
    const interrupted = await interruptRead(join(dir, 'slow'), slowRead.promise);
    assert.deepEqual(interrupted, { n: -1, errno: 'EINTR', data: '' });
    assert.ok(seen.interrupted);

    // FORGET / BATCH_FORGET: unlinking an unused file evicts its inode at once (one FORGET); pruning the
    // hundreds of inodes READDIRPLUS and the script made known evicts them together (batched). Pruned
    // through the notification rather than /proc/sys/vm/drop_caches, which would evict every other
    // mount's cache on the machine too (and fail a concurrent run's caching assertions).
    const lone = fs.add(ROOT_ID, 'lone', S_IFREG | 0o644, 'x');
    assert.equal(await statSize(join(dir, 'lone')), '1');
    await run('rm', [join(dir, 'lone')]);
    await waitFor(() => fs.forgotten.some((f) => f.ino === lone.ino), 5000, 'FORGET of an unlinked file');
    const bigChildren = [...(big.children?.values() ?? [])];
    await m.notify.prune(bigChildren);
    await waitFor(() => fs.frames.includes('BATCH_FORGET'), 5000, 'BATCH_FORGET after notify.prune');
    assert.ok(fs.frames.includes('FORGET'), 'a single FORGET arrived');
    await waitFor(() => bigChildren.every((ino) => fs.forgotten.some((f) => f.ino === ino)), 5000, 'every READDIRPLUS entry to be forgotten');
    assert.equal(m.negotiated.minor, 45);
  }, { onWarning: (msg) => warnings.push(msg) });

  const handlers = new Set(fs.calls.map((c) => c.op));
  const expected = [
    'LOOKUP', 'GETATTR', 'SETATTR', 'READLINK', 'SYMLINK', 'MKNOD', 'MKDIR', 'UNLINK', 'RMDIR', 'RENAME', 'RENAME2', 'LINK',
    'OPEN', 'READ', 'WRITE', 'STATFS', 'RELEASE', 'FSYNC', 'SETXATTR', 'GETXATTR', 'LISTXATTR', 'REMOVEXATTR', 'FLUSH',
    'OPENDIR', 'READDIR', 'READDIRPLUS', 'RELEASEDIR', 'FSYNCDIR', 'GETLK', 'SETLK', 'SETLKW', 'ACCESS', 'CREATE',
    'FALLOCATE', 'LSEEK', 'COPY_FILE_RANGE', 'COPY_FILE_RANGE_64', 'IOCTL', 'POLL', 'STATX', 'TMPFILE',
  ];
  assert.deepEqual(expected.filter((op) => !handlers.has(op)), [], `handlers reached: ${[...handlers].sort().join(' ')}`);
  // Requests the session serves itself, and the handler-less FORGETs, seen on the request channel.
  for (const op of ['INIT', 'INTERRUPT', 'FORGET', 'BATCH_FORGET']) assert.ok(fs.frames.includes(op), `${op} arrived`);
  // Variants: both rename2 flags, POSIX and BSD locks, fsync and fdatasync, SEEK_DATA and SEEK_HOLE.
  assert.deepEqual([...seen.renameFlags].sort(), [0, RenameFlags.NOREPLACE, RenameFlags.EXCHANGE]);
  assert.ok(seen.locks.some((l) => l.op === 'SETLK' && !l.flock && !l.sleep), JSON.stringify(seen.locks));
  assert.ok(seen.locks.some((l) => l.op === 'SETLKW' && !l.flock && l.sleep), JSON.stringify(seen.locks));
  assert.ok(seen.locks.some((l) => l.op === 'SETLKW' && l.flock), JSON.stringify(seen.locks));
  assert.deepEqual([...seen.fsync].sort(), [false, true]);
  assert.deepEqual([...seen.whence].sort(), [3, 4]);
  // The copy went 64-bit first, then (after ENOSYS) the old opcode, exactly once each.
  assert.equal(fs.count('COPY_FILE_RANGE_64'), 1);
  assert.equal(fs.count('COPY_FILE_RANGE'), 1);

  // Not sent to /dev/fuse mounts by this kernel, and so proven absent rather than skipped:
  //  - SYNCFS: fs/fuse/inode.c fuse_sync_fs returns early unless fc->sync_fs, which only virtiofs sets
  //    (an unprivileged server must not be able to stall syncfs(2)); the script's syncfs() returned 0.
  //  - DESTROY: fuse_conn_destroy sends it only when fc->destroy, set for fuseblk and virtiofs mounts;
  //    tsfuse refuses fuseblk ('blkdev'). The session calls the destroy handler itself on unmount.
  //  - BMAP (fuseblk only), SETUPMAPPING/REMOVEMAPPING (virtiofs DAX), CUSE_INIT (CUSE) likewise.
  for (const op of ['SYNCFS', 'DESTROY', 'BMAP', 'SETUPMAPPING', 'REMOVEMAPPING', 'CUSE_INIT']) {
    assert.ok(!fs.frames.includes(op), `${op} unexpectedly arrived`);
  }
  assert.equal(fs.destroyed, 1, 'destroy handler called once at unmount');
  assert.deepEqual(warnings, []);
});

test('notify.invalInode: new content of a cached file becomes visible', { skip, timeout: 30000 }, async () => {
  const fs = memFilesystem({ entryTimeout: 3600, attrTimeout: 3600 });
  const f = fs.add(ROOT_ID, 'cached', S_IFREG | 0o644, 'version-1');
  f.openFlags = OpenFlags.KEEP_CACHE;
  await withMount(fs, async (m, dir) => {
    const path = join(dir, 'cached');
    assert.equal(await cat(path), 'version-1');
    assert.equal(fs.count('READ', f.ino), 1);
    f.data = Buffer.from('version-2');
    assert.equal(await cat(path), 'version-1', 'served from the page cache');
    assert.equal(fs.count('READ', f.ino), 1);
    await m.notify.invalInode(f.ino);
    assert.equal(await cat(path), 'version-2');
    assert.equal(fs.count('READ', f.ino), 2);
  });
});

for (const kind of ['invalEntry', 'expireEntry'] as const) {
  test(`notify.${kind}: a name renamed behind the kernel's back is looked up again`, { skip, timeout: 30000 }, async () => {
    const fs = memFilesystem({ entryTimeout: 3600, attrTimeout: 3600 });
    const f = fs.add(ROOT_ID, 'old', S_IFREG | 0o644, 'abc');
    await withMount(fs, async (m, dir) => {
      assert.equal(await statSize(join(dir, 'old')), '3');
      assert.equal(fs.lookups('old'), 1);
      // Renamed in the filesystem only.
      const root = fs.nodes.get(ROOT_ID)!;
      root.children!.delete('old');
      root.children!.set('new', f.ino);
      assert.equal(await statSize(join(dir, 'old')), '3', 'the kernel still has the old name cached');
      assert.equal(fs.lookups('old'), 1);
      await m.notify[kind](ROOT_ID, 'old');
      assert.equal(await statSize(join(dir, 'old')), 'ENOENT');
      // invalEntry drops the dentry (one LOOKUP); expireEntry keeps it expired, so the kernel revalidates
      // it with a LOOKUP and, finding it gone, looks it up once more.
      assert.ok(fs.lookups('old') >= 2, 'a new LOOKUP arrived');
      assert.equal(await statSize(join(dir, 'new')), '3');
    });
  });
}

test('notify.delete: a deleted name disappears from the kernel cache', { skip, timeout: 30000 }, async () => {
  const fs = memFilesystem({ entryTimeout: 3600, attrTimeout: 3600 });
  const f = fs.add(ROOT_ID, 'victim', S_IFREG | 0o644, 'abc');
  await withMount(fs, async (m, dir) => {
    assert.equal(await statSize(join(dir, 'victim')), '3');
    fs.nodes.get(ROOT_ID)!.children!.delete('victim');
    assert.equal(await statSize(join(dir, 'victim')), '3', 'still cached');
    await m.notify.delete(ROOT_ID, f.ino, 'victim');
    const lookupsBefore = fs.lookups('victim');
    assert.equal(await statSize(join(dir, 'victim')), 'ENOENT');
    assert.equal(fs.lookups('victim'), lookupsBefore + 1);
    // Deleting a name the kernel does not know is an error the caller sees.
    await assert.rejects(m.notify.delete(ROOT_ID, 12345, 'never-seen'), (e: Error & { code?: string }) => e.code === 'ENOENT');
  });
});

test('notify.store and notify.retrieve: stored data is read without a READ, and retrieved back', { skip, timeout: 30000 }, async () => {
  const fs = memFilesystem({ entryTimeout: 3600, attrTimeout: 3600 });
  const f = fs.add(ROOT_ID, 'stored', S_IFREG | 0o644, 'SERVER-DATA');
  f.openFlags = OpenFlags.KEEP_CACHE;
  await withMount(fs, async (m, dir) => {
    const path = join(dir, 'stored');
    assert.equal(await statSize(path), '11'); // the kernel knows the inode now
    await m.notify.store(f.ino, 0, Buffer.from('STORED-DATA'));
    assert.equal(await cat(path), 'STORED-DATA');
    assert.equal(fs.count('READ', f.ino), 0, 'no READ reached the filesystem');
    const back = await m.notify.retrieve(f.ino, 0, 11);
    assert.equal(back.toString(), 'STORED-DATA');
    assert.ok(fs.frames.includes('NOTIFY_REPLY'));
    // Retrieve of a range: what the kernel caches at offset 7.
    assert.equal((await m.notify.retrieve(f.ino, 7, 4)).toString(), 'DATA');
  });
});

test('notify.pollWakeup: a poll() waiting on the file returns after the wakeup', { skip, timeout: 30000 }, async () => {
  const fs = memFilesystem();
  const f = fs.add(ROOT_ID, 'pollme', S_IFREG | 0o644, 'x');
  let ready = false;
  const scheduled = deferred<U64>();
  fs.ops.poll = (req) => {
    fs.calls.push({ op: 'POLL', ino: Number(req.ino) });
    if (req.flags & PollFlags.SCHEDULE_NOTIFY) scheduled.resolve(req.kh);
    return ready ? 0x1 : 0; // POLLIN once ready
  };
  await withMount(fs, async (m, dir) => {
    const child = spawn('python3', ['-c', `
import os, sys, select, json, time
fd = os.open(sys.argv[1], os.O_RDONLY)
p = select.poll()
p.register(fd, select.POLLIN)
t = time.monotonic()
ev = p.poll(20000)
print(json.dumps({'events': [e for _, e in ev], 'ms': (time.monotonic() - t) * 1000}))
`, join(dir, 'pollme')], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => { out += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { out += d.toString(); });
    const closed = new Promise((resolve) => child.on('close', resolve));
    try {
      const kh = await Promise.race([scheduled.promise, rejectAfter(10_000, `no POLL with SCHEDULE_NOTIFY: ${out}`)]);
      await sleep(300);
      assert.equal(out, '', 'the poller is still waiting');
      ready = true;
      await m.notify.pollWakeup(kh);
      await Promise.race([closed, rejectAfter(10_000, `poll() did not return after the wakeup: ${out}`)]);
      const r = JSON.parse(out) as { events: number[]; ms: number };
      assert.deepEqual(r.events, [1]);
      assert.ok(r.ms < 15_000);
      assert.ok(fs.count('POLL', f.ino) >= 2);
    } finally {
      child.kill('SIGKILL');
    }
  });
});

test('notify.resend: a request pending in a handler is delivered again with ctx.resend', { skip, timeout: 30000 }, async () => {
  const fs = memFilesystem();
  const f = fs.add(ROOT_ID, 'resendme', S_IFREG | 0o644, 'resent answer');
  f.openFlags = OpenFlags.DIRECT_IO;
  const deliveries: { resend: boolean; unique: U64 }[] = [];
  const first = deferred();
  const read = fs.ops.read!.bind(fs.ops);
  fs.ops.read = (req, ctx) => {
    if (req.ino !== f.ino) return read(req, ctx);
    // cat reads again after the answer (to find the end): only the first read is held back.
    if (Number(req.offset) !== 0) return read(req, ctx);
    deliveries.push({ resend: ctx.resend, unique: ctx.unique });
    if (!ctx.resend) {
      first.resolve();
      return new Promise(() => { /* the first delivery is never answered */ });
    }
    return read(req, ctx);
  };
  await withMount(fs, async (m, dir) => {
    const reader = run('cat', [join(dir, 'resendme')]);
    await Promise.race([first.promise, rejectAfter(10_000, 'the read never arrived')]);
    await m.notify.resend();
    const r = await Promise.race([reader, rejectAfter(10_000, 'the resent read was not answered')]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'resent answer');
    assert.deepEqual(deliveries.map((d) => d.resend), [false, true]);
    assert.equal(deliveries[0]?.unique, deliveries[1]?.unique, 'the same request, resent');
  });
});

test('notify.resend: a resent request can still be interrupted', { skip, timeout: 30000 }, async () => {
  const fs = memFilesystem();
  const f = fs.add(ROOT_ID, 'resendme', S_IFREG | 0o644, 'x');
  f.openFlags = OpenFlags.DIRECT_IO;
  const resent = deferred<RequestContext>();
  const first = deferred();
  const answerFirst = deferred<Buffer>();
  let aborted = false;
  fs.ops.read = (_req, ctx) => {
    if (!ctx.resend) { first.resolve(); return answerFirst.promise; }
    resent.resolve(ctx);
    // The first delivery answers late, after the resend: the kernel no longer knows that unique, and
    // the resent request must stay interruptible.
    setImmediate(() => answerFirst.resolve(Buffer.from('late')));
    return new Promise((_, reject) => ctx.signal.addEventListener('abort', () => { aborted = true; reject(ctx.signal.reason as Error); }));
  };
  await withMount(fs, async (m, dir) => {
    const result = await interruptRead(join(dir, 'resendme'), first.promise.then(async () => {
      await m.notify.resend();
      await resent.promise;
      await answerFirst.promise;
      await sleep(50);
    }));
    assert.deepEqual(result, { n: -1, errno: 'EINTR', data: '' });
    assert.ok(aborted, 'the resent request saw its signal abort');
  }, { interruptGraceMs: 5000 });
});

test('notify.incEpoch: the next access looks the name up again', { skip, timeout: 30000 }, async () => {
  const fs = memFilesystem({ entryTimeout: 3600, attrTimeout: 3600 });
  fs.add(ROOT_ID, 'ep', S_IFREG | 0o644, 'abc');
  await withMount(fs, async (m, dir) => {
    const path = join(dir, 'ep');
    assert.equal(await statSize(path), '3');
    assert.equal(await statSize(path), '3');
    assert.equal(fs.lookups('ep'), 1, 'cached for an hour');
    await m.notify.incEpoch();
    assert.equal(await statSize(path), '3');
    assert.equal(fs.lookups('ep'), 2, 'revalidated after the epoch changed');
  });
});

test('notify.prune: the kernel forgets an unused inode', { skip, timeout: 30000 }, async () => {
  const fs = memFilesystem({ entryTimeout: 3600, attrTimeout: 3600 });
  const f = fs.add(ROOT_ID, 'prunable', S_IFREG | 0o644, 'abc');
  const keep = fs.add(ROOT_ID, 'kept', S_IFREG | 0o644, 'abc');
  await withMount(fs, async (m, dir) => {
    assert.equal(await statSize(join(dir, 'prunable')), '3');
    assert.equal(await statSize(join(dir, 'kept')), '3');
    await sleep(100);
    assert.ok(!fs.forgotten.some((x) => x.ino === f.ino));
    await m.notify.prune([f.ino]);
    await waitFor(() => fs.forgotten.some((x) => x.ino === f.ino), 5000, 'a FORGET for the pruned inode');
    assert.deepEqual(fs.forgotten.filter((x) => x.ino === f.ino), [{ ino: f.ino, nlookup: 1 }]);
    assert.ok(!fs.forgotten.some((x) => x.ino === keep.ino), 'the other inode is kept');
    // The kernel looks it up again on the next access.
    assert.equal(await statSize(join(dir, 'prunable')), '3');
    assert.equal(fs.lookups('prunable'), 2);
  });
});

test('opcodes: no FUSE mount of these tests remains', { skip, timeout: 30000 }, () => {
  assert.deepEqual(leftoverMounts(), []);
});
