import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, stat, writeFile, utimes, symlink, lstat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BigIntStats, Stats } from 'node:fs';
import { attrFromStats } from '../../src/ops/stats.ts';
import {
  S_IFMT, S_IFREG, S_IFDIR, S_IFLNK, S_IFCHR, S_IFBLK, S_IFIFO, S_IFSOCK,
  DT_REG, DT_DIR, DT_LNK, DT_CHR, DT_BLK, DT_FIFO, DT_SOCK, DT_UNKNOWN, dtFromMode,
} from '../../src/ops/file-mode.ts';
import { constants } from 'node:fs';

test('S_IF* match Node\'s fs.constants and DT_* follow from them', () => {
  assert.equal(S_IFMT, constants.S_IFMT);
  assert.equal(S_IFREG, constants.S_IFREG);
  assert.equal(S_IFDIR, constants.S_IFDIR);
  assert.equal(S_IFLNK, constants.S_IFLNK);
  assert.equal(S_IFCHR, constants.S_IFCHR);
  assert.equal(S_IFBLK, constants.S_IFBLK);
  assert.equal(S_IFIFO, constants.S_IFIFO);
  assert.equal(S_IFSOCK, constants.S_IFSOCK);
  const pairs: [number, number][] = [[S_IFREG, DT_REG], [S_IFDIR, DT_DIR], [S_IFLNK, DT_LNK], [S_IFCHR, DT_CHR],
    [S_IFBLK, DT_BLK], [S_IFIFO, DT_FIFO], [S_IFSOCK, DT_SOCK], [0, DT_UNKNOWN]];
  // Linux's values (include/linux/fs_types.h)
  assert.deepEqual(pairs.map(([, dt]) => dt), [8, 4, 10, 2, 6, 1, 12, 0]);
  for (const [ifmt, dt] of pairs) assert.equal(dtFromMode(ifmt | 0o7777), dt);
});

test('attrFromStats: a real file, BigIntStats exact to the nanosecond', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'tsfuse-stats-'));
  try {
    const file = join(dir, 'f');
    await writeFile(file, 'hello');
    const s = await stat(file, { bigint: true });
    const a = attrFromStats(s);
    assert.equal(a.mode, Number(s.mode));
    assert.equal(a.mode & S_IFMT, S_IFREG);
    assert.equal(a.size, 5);
    assert.equal(a.ino, Number(s.ino));
    assert.equal(a.nlink, 1);
    assert.equal(a.uid, Number(s.uid));
    assert.equal(a.gid, Number(s.gid));
    assert.equal(a.blksize, Number(s.blksize));
    assert.equal(a.blocks, Number(s.blocks));
    for (const t of ['atime', 'mtime', 'ctime'] as const) {
      const ns = s[`${t}Ns`];
      assert.equal(BigInt(a[t] as number) * 1_000_000_000n + BigInt(a[`${t}nsec`]!), ns, t);
    }
    const d = attrFromStats(await stat(dir));
    assert.equal(d.mode! & S_IFMT, S_IFDIR);
    await symlink('f', join(dir, 'l'));
    assert.equal(attrFromStats(await lstat(join(dir, 'l'))).mode & S_IFMT, S_IFLNK);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('attrFromStats: plain Stats keep the time to well under a microsecond', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'tsfuse-stats-'));
  try {
    const file = join(dir, 'f');
    await writeFile(file, '');
    await utimes(file, 1_700_000_000.25, 1_600_000_000.5);
    const big = await stat(file, { bigint: true });
    const a = attrFromStats(await stat(file));
    assert.equal(a.atime, 1_700_000_000);
    assert.equal(a.atimensec, 250_000_000);
    assert.equal(a.mtime, 1_600_000_000);
    assert.equal(a.mtimensec, 500_000_000);
    const cNs = BigInt(a.ctime as number) * 1_000_000_000n + BigInt(a.ctimensec!);
    const diff = cNs - big.ctimeNs;
    assert.ok(diff < 1000n && diff > -1000n, `ctime within 1 µs (off by ${diff} ns)`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

/** A stand-in with only the fields attrFromStats reads. */
function fakeBig(over: Partial<Record<keyof BigIntStats, bigint>>): BigIntStats {
  const base = { ino: 1n, size: 0n, blocks: 0n, atimeNs: 0n, mtimeNs: 0n, ctimeNs: 0n, mode: BigInt(S_IFREG | 0o644), nlink: 1n, uid: 0n, gid: 0n, rdev: 0n, blksize: 4096n };
  return { ...base, ...over } as unknown as BigIntStats;
}

test('attrFromStats: times before 1970 floor to a timespec (negative seconds, positive nanoseconds)', () => {
  const a = attrFromStats(fakeBig({ mtimeNs: -1n, atimeNs: -1_500_000_000n, ctimeNs: 1_999_999_999n }));
  assert.deepEqual([a.mtime, a.mtimensec], [-1, 999_999_999]);
  assert.deepEqual([a.atime, a.atimensec], [-2, 500_000_000]);
  assert.deepEqual([a.ctime, a.ctimensec], [1, 999_999_999]);
  const p = attrFromStats({ ...plainBase, mtimeMs: -500, atimeMs: 1999.9999999 } as unknown as Stats);
  assert.deepEqual([p.mtime, p.mtimensec], [-1, 500_000_000]);
  assert.deepEqual([p.atime, p.atimensec], [2, 0]);
});
const plainBase = { ino: 1, size: 0, blocks: 0, atimeMs: 0, mtimeMs: 0, ctimeMs: 0, mode: S_IFREG | 0o644, nlink: 1, uid: 0, gid: 0, rdev: 0, blksize: 4096 };

test('attrFromStats: 64-bit values stay exact with BigIntStats', () => {
  const a = attrFromStats(fakeBig({ ino: 2n ** 63n + 5n, size: 2n ** 60n + 1n }));
  assert.equal(a.ino, 2n ** 63n + 5n);
  assert.equal(a.size, 2n ** 60n + 1n);
  assert.equal(attrFromStats(fakeBig({ ino: 12n })).ino, 12, 'small values are plain numbers');
});

test('attrFromStats: rdev in the kernel\'s 32-bit encoding (major 4095, minor 0xfffff)', () => {
  // glibc makedev(0xfff, 0xfffff) = 0xfffff_fff_ff >> split: low byte of minor, major, rest of minor.
  const glibc = (major: bigint, minor: bigint) => ((major & 0xfffn) << 8n) | (minor & 0xffn) | ((major & ~0xfffn) << 32n) | ((minor & ~0xffn) << 12n);
  const kernel = (major: number, minor: number) => ((minor & 0xff) | (major << 8) | ((minor & ~0xff) << 12)) >>> 0;
  for (const [ma, mi] of [[8, 1], [136, 3], [4095, 0xfffff], [259, 65536]] as const) {
    const dev = glibc(BigInt(ma), BigInt(mi));
    assert.equal(attrFromStats(fakeBig({ rdev: dev })).rdev, kernel(ma, mi), `big ${ma}:${mi}`);
    assert.equal(attrFromStats({ ...plainBase, rdev: Number(dev) } as unknown as Stats).rdev, kernel(ma, mi), `plain ${ma}:${mi}`);
  }
});
