// Shared by the memfs tests: request contexts for chosen callers, and errno assertions.
import assert from 'node:assert/strict';
import { constants } from 'node:os';
import type { PathContext } from '../../src/ops/path/types.ts';
import { createMemfs, type MemfsOptions } from '../../src/memfs/index.ts';
import type { Memfs } from '../../src/memfs/memfs.ts';

const errno = constants.errno;

export const S_IFMT = 0o170000;
export const S_IFREG = 0o100000;
export const S_IFDIR = 0o040000;
export const S_IFLNK = 0o120000;
export const S_IFIFO = 0o010000;
export const S_IFSOCK = 0o140000;
export const S_IFCHR = 0o020000;
export const S_IFBLK = 0o060000;
export const O_RDONLY = 0;
export const O_WRONLY = 1;
export const O_RDWR = 2;
export const O_CREAT = 0o100;
export const O_EXCL = 0o200;
export const O_TRUNC = 0o1000;

/** A request context for `uid`/`gid` (pid 0: nobody to read groups from). */
export function ctxOf(uid = 0, gid = uid, signal: AbortSignal = new AbortController().signal): PathContext {
  return { uid, gid, pid: 0, umask: 0, signal };
}

export const root = ctxOf(0, 0);
export const alice = ctxOf(1000, 1000);
export const bob = ctxOf(1001, 1001);
/** Supplementary groups by uid for the tests' `groups` option: bob is also in group 50. */
export const GROUPS: Readonly<Record<number, readonly number[]>> = { 1001: [1001, 50] };

/** A memfs owned by root, mode 0777 at the root, with the test users' groups. */
export function newFs(options: MemfsOptions = {}): Memfs {
  return createMemfs({ uid: 0, gid: 0, mode: 0o777, groups: (ctx) => GROUPS[ctx.uid] ?? [ctx.gid], ...options });
}

/** Asserts that `run` throws or rejects with errno `code` (by number: EAGAIN is EWOULDBLOCK, ENOTSUP EOPNOTSUPP). */
export async function rejects(run: () => unknown, code: string, message?: string): Promise<void> {
  await assert.rejects(async () => { await run(); }, (err: { code?: string; errno?: number }) => {
    assert.equal(err.errno, errno[code as keyof typeof errno], `${message ?? ''} (got ${err.code})`);
    return true;
  }, message);
}

/** Creates `path` with `content` as `ctx` and closes it. */
export async function writeFile(fs: Memfs, path: string, content: string | Uint8Array, ctx = root, mode = 0o644): Promise<void> {
  const fh = await fs.create(path, mode, O_WRONLY | O_CREAT, ctx);
  fs.write(path, fh, typeof content === 'string' ? Buffer.from(content) : content, 0, ctx);
  fs.release(path, fh, 0, ctx);
}

export async function readFile(fs: Memfs, path: string, ctx = root): Promise<string> {
  const fh = await fs.open(path, O_RDONLY, ctx);
  const size = Number((await fs.getattr(path, fh, ctx)).size);
  const data = fs.read(path, fh, size + 1, 0, ctx);
  fs.release(path, fh, 0, ctx);
  return data.toString();
}
