// How handler failures reach real callers: errnos (FuseError, Node SystemErrors), non-errno throws and
// invalid results (EIO plus a warning, and the daemon keeps serving), sync throws, and interrupted
// requests (FUSE_INTERRUPT → ctx.signal, and EINTR after the grace period when a handler ignores it).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fsp from 'node:fs/promises';
import { join } from 'node:path';
import { mount, FuseError, OpenFlags, ROOT_ID, type FuseMount, type LowLevelOperations, type RequestContext, type Attr } from '../../src/index.ts';
import { E2E_FIXTURES, freshMountpoint, leftoverMounts, mountSkip, pyJson, rejectAfter, safeUnmount } from '../support/mount-helpers.ts';

const skip = mountSkip();
const S_IFDIR = 0o040000;
const S_IFREG = 0o100000;
const CONTENT = 'fine\n';
const NAMES = ['ok', 'eacces', 'enoent', 'boom', 'syncperm', 'syncboom', 'hang', 'ignore'] as const;
type Name = (typeof NAMES)[number];
const inoOf = (name: string): number => NAMES.indexOf(name as Name) + 2;
const nameOf = (ino: number | bigint): Name | undefined => NAMES[Number(ino) - 2];

interface Probe {
  fs: LowLevelOperations;
  warnings: { message: string; cause: unknown }[];
  /** Resolves with the read's context when a read of `hang`/`ignore` starts. */
  reading: Map<Name, Promise<RequestContext>>;
  /** Set when the hang handler saw its signal abort. */
  abortSeen: { aborted: boolean; reasonName?: string } | undefined;
}

function probeFilesystem(): Probe {
  const warnings: Probe['warnings'] = [];
  const readers = new Map<Name, (ctx: RequestContext) => void>();
  const reading = new Map<Name, Promise<RequestContext>>();
  for (const n of ['hang', 'ignore'] as const) reading.set(n, new Promise((resolve) => readers.set(n, resolve)));
  const probe: Probe = { fs: {} as LowLevelOperations, warnings, reading, abortSeen: undefined };
  const attrOf = (ino: number | bigint): Attr =>
    ino === ROOT_ID ? { mode: S_IFDIR | 0o755, nlink: 2 } : { mode: S_IFREG | 0o644, nlink: 1, size: 4096 };
  probe.fs = {
    lookup({ parent, name }) {
      const n = name.toString();
      if (parent !== ROOT_ID) throw new FuseError('ENOENT');
      // A handler whose result is not a valid reply: EIO and a warning.
      if (n === 'undef') return undefined as never;
      if (!NAMES.includes(n as Name)) throw new FuseError('ENOENT');
      return { ino: inoOf(n), attr: attrOf(inoOf(n)), entryTimeout: 0, attrTimeout: 0 };
    },
    getattr({ ino }) {
      return { attr: attrOf(ino), timeout: 0 };
    },
    open({ ino }) {
      const n = nameOf(ino);
      switch (n) {
        case 'eacces': return Promise.reject(new FuseError('EACCES'));
        // A Node SystemError, rethrown as is: its code (ENOENT) becomes the errno.
        case 'enoent': return fsp.stat('/nonexistent/tsfuse-e2e').then(() => ({}));
        case 'boom': return Promise.reject(new Error('boom'));
        case 'syncperm': throw new FuseError('EPERM');
        case 'syncboom': throw new Error('sync boom');
        // Direct I/O, so the read is a synchronous, interruptible request rather than readahead.
        case 'hang': case 'ignore': return { flags: OpenFlags.DIRECT_IO };
        default: return {};
      }
    },
    read({ ino, offset, size }, ctx) {
      const n = nameOf(ino);
      if (n === 'hang') {
        return new Promise((_, reject) => {
          const signal = ctx.signal;
          signal.addEventListener('abort', () => {
            probe.abortSeen = { aborted: signal.aborted, reasonName: (signal.reason as Error).name };
            reject(signal.reason as Error);
          });
          readers.get('hang')?.(ctx);
        });
      }
      if (n === 'ignore') {
        readers.get('ignore')?.(ctx);
        return new Promise(() => { /* never settles, ignores the signal */ });
      }
      return Buffer.from(CONTENT.padEnd(4096, '.')).subarray(Number(offset), Number(offset) + size);
    },
  };
  return probe;
}

const READ_ALL = `
import sys, os, json, errno
res = {}
for name in sys.argv[2:]:
    try:
        with open(os.path.join(sys.argv[1], name), 'rb') as f:
            res[name] = f.read(5).decode()
    except OSError as e:
        res[name] = errno.errorcode[e.errno]
print(json.dumps(res))
`;

test('errors: errnos pass through, other throws become EIO with a warning, and the daemon keeps serving', { skip, timeout: 30000 }, async () => {
  const dir = freshMountpoint();
  const probe = probeFilesystem();
  let m: FuseMount | undefined;
  try {
    m = await mount(dir, probe.fs, { method: 'mount', onWarning: (message, cause) => probe.warnings.push({ message, cause }) });
    const first = await pyJson(READ_ALL, dir, 'ok', 'eacces', 'enoent', 'boom', 'ok', 'syncperm', 'syncboom', 'undef', 'missing', 'ok');
    assert.deepEqual(first, {
      ok: CONTENT, eacces: 'EACCES', enoent: 'ENOENT', boom: 'EIO', syncperm: 'EPERM', syncboom: 'EIO', undef: 'EIO', missing: 'ENOENT',
    });
    // Each non-errno failure was reported once, with its cause; errno failures were not.
    const messages = probe.warnings.map((w) => `${w.message} / ${(w.cause as Error | undefined)?.message ?? ''}`);
    assert.equal(probe.warnings.length, 3, messages.join('\n'));
    // Each warning names the opcode, the handler and what it threw or returned instead of what was expected.
    assert.ok(messages.some((s) => /^OPEN: open\(\) threw Error: boom, which names no errno; answering EIO \/ boom$/.test(s)), messages.join('\n'));
    assert.ok(messages.some((s) => /^OPEN: open\(\) threw Error: sync boom, which names no errno; answering EIO \/ sync boom$/.test(s)), messages.join('\n'));
    assert.ok(messages.some((s) => /^LOOKUP: lookup\(\) returned an invalid result: .*expected an EntryReply.*got undefined; answering EIO/.test(s)), messages.join('\n'));
    // Still serving afterwards.
    assert.deepEqual(await pyJson(READ_ALL, dir, 'ok'), { ok: CONTENT });
  } finally {
    await safeUnmount(m, dir);
    await fsp.rmdir(dir).catch(() => {});
  }
});

/** Reads the file once in python3 and reports errno; see fixtures/interrupted_read.py. */
const INTERRUPTED_READ = join(E2E_FIXTURES, 'interrupted_read.py');

async function interruptedRead(path: string, started: Promise<RequestContext>): Promise<{ result: { n: number; errno: string | null; ms: number }; ctx: RequestContext }> {
  const child = spawn('python3', [INTERRUPTED_READ, path], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => { out += d.toString(); });
  child.stderr.on('data', (d: Buffer) => { err += d.toString(); });
  const closed = new Promise<number | null>((resolve) => child.on('close', resolve));
  try {
    const ctx = await Promise.race([started, rejectAfter(10_000, `the read never reached the handler: ${out} ${err}`)]);
    assert.equal(ctx.signal.aborted, false);
    child.kill('SIGUSR1');
    const code = await Promise.race([closed, rejectAfter(10_000, `the reader was not interrupted: ${out} ${err}`)]);
    assert.equal(code, 0, out + err);
    const line = out.split('\n').find((l) => l.startsWith('{'));
    assert.ok(line, out + err);
    return { result: JSON.parse(line) as { n: number; errno: string | null; ms: number }, ctx };
  } finally {
    child.kill('SIGKILL');
  }
}

test('errors: an interrupted read aborts ctx.signal, and the caller gets EINTR', { skip, timeout: 30000 }, async () => {
  const dir = freshMountpoint();
  const probe = probeFilesystem();
  let m: FuseMount | undefined;
  try {
    m = await mount(dir, probe.fs, { method: 'mount', interruptGraceMs: 5000, onWarning: (message, cause) => probe.warnings.push({ message, cause }) });
    const { result, ctx } = await interruptedRead(join(dir, 'hang'), probe.reading.get('hang') as Promise<RequestContext>);
    assert.equal(result.n, -1);
    assert.equal(result.errno, 'EINTR');
    assert.equal(ctx.signal.aborted, true);
    assert.deepEqual(probe.abortSeen, { aborted: true, reasonName: 'AbortError' });
    // Answered by the handler's rejection, not by the 5 s grace timer.
    assert.ok(result.ms < 4000, `took ${result.ms} ms`);
    assert.deepEqual(probe.warnings, []);
  } finally {
    await safeUnmount(m, dir);
    await fsp.rmdir(dir).catch(() => {});
  }
});

test('errors: a handler that ignores the interrupt still leaves the caller with EINTR after interruptGraceMs', { skip, timeout: 30000 }, async () => {
  const dir = freshMountpoint();
  const probe = probeFilesystem();
  let m: FuseMount | undefined;
  try {
    m = await mount(dir, probe.fs, { method: 'mount', interruptGraceMs: 50, onWarning: (message, cause) => probe.warnings.push({ message, cause }) });
    const { result, ctx } = await interruptedRead(join(dir, 'ignore'), probe.reading.get('ignore') as Promise<RequestContext>);
    assert.equal(result.n, -1);
    assert.equal(result.errno, 'EINTR');
    assert.equal(ctx.signal.aborted, true, 'the signal was aborted even though the handler never looked');
    // The session waited out the grace period (python's clock started before the signal was even sent).
    assert.ok(result.ms >= 45, `EINTR came after only ${result.ms} ms`);
    // And the daemon serves on.
    assert.deepEqual(await pyJson(READ_ALL, dir, 'ok'), { ok: CONTENT });
  } finally {
    await safeUnmount(m, dir);
    await fsp.rmdir(dir).catch(() => {});
  }
});

test('errors: no FUSE mount of these tests remains', { skip, timeout: 30000 }, () => {
  assert.deepEqual(leftoverMounts(), []);
});
