// Times set through Node's fs (no node:ffi): src/passthrough/attr.ts utimeArg, for both libuv behaviours
// (checked by simulating libuv's conversion, the same IEEE arithmetic in JavaScript as in C), and on a
// real file with this process's libuv.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { LIBUV_KEEPS_NS, utimeArg } from '../../src/passthrough/attr.ts';
import { NODE26_SKIP, passUnderNode26 } from '../support/mount-helpers.ts';

/**
 * The oracle, written from libuv's C rather than taken from attr.ts: what libuv >= 1.52 sets for a double
 * d >= 0 (src/unix/fs.c uv__fs_to_timespec: tv_sec = (time_t)d; tv_nsec = (long)((d - tv_sec) * 1e9)),
 * as ns after `sec`. JavaScript's doubles round exactly as C's do.
 */
function libuvNsAfter(sec: number, d: number): number {
  const tvSec = Math.trunc(d);
  const tvNsec = Math.trunc((d - tvSec) * 1e9);
  return (tvSec - sec) * 1_000_000_000 + tvNsec;
}

/** libuv < 1.52: the same conversion, then truncated to the microsecond. */
const oldLibuvNsAfter = (sec: number, d: number): number => {
  const ns = libuvNsAfter(sec, d);
  return ns - (ns % 1000);
};

const SECONDS = [0, 1, 1_000_000_000, 1_700_000_000, 4_102_444_800 /* 2100 */];
const NANOS = [1, 999, 1000, 123_456_789, 500_000_000, 999_999_000, 999_999_999];

test('libuv >= 1.52: within half a double\'s step of the asked time, and a time libuv made is hit exactly', () => {
  for (const sec of SECONDS) {
    for (const nsec of NANOS) {
      const d = utimeArg({ sec, nsec }, true);
      assert.equal(typeof d, 'number');
      const got = libuvNsAfter(sec, d as number);
      // 2^-22 s steps below 2^31 s, 2^-21 above: at most half of that off.
      assert.ok(Math.abs(got - nsec) <= (sec >= 2 ** 31 ? 240 : 120), `${sec} s + ${nsec} ns → ${got} ns`);
      // Re-setting the time the file now has (an omitted time) must not move it.
      const again = utimeArg({ sec, nsec: got < 1e9 ? got : 0 }, true);
      if (got < 1e9) assert.equal(libuvNsAfter(sec, again as number), got, `${sec} s + ${got} ns again`);
    }
  }
  assert.equal(utimeArg({ sec: 5, nsec: 0 }, true), 5);
});

test('libuv < 1.52: the asked microsecond exactly, the nanoseconds below it dropped', () => {
  for (const sec of SECONDS) {
    for (const nsec of NANOS) {
      const d = utimeArg({ sec, nsec }, false);
      assert.equal(oldLibuvNsAfter(sec, d as number), nsec - (nsec % 1000), `${sec} s + ${nsec} ns`);
    }
  }
});

test('negative times: whole seconds, as strings (Node turns a negative number into "now")', () => {
  for (const keepsNs of [true, false]) {
    assert.equal(utimeArg({ sec: -5, nsec: 250_000_000 }, keepsNs), '-5');
  }
});

test(`on a real file with this libuv (${process.versions.uv}, keeps nanoseconds: ${LIBUV_KEEPS_NS})`, () => {
  const dir = mkdtempSync(join(tmpdir(), 'tsfuse-times-'));
  try {
    const file = join(dir, 'f');
    writeFileSync(file, '');
    const sec = 1_700_000_000;
    const nsec = 123_456_789;
    const arg = utimeArg({ sec, nsec });
    utimesSync(file, arg, arg);
    const first = statSync(file, { bigint: true }).mtimeNs - BigInt(sec) * 1_000_000_000n;
    const off = Number(first) - nsec;
    assert.ok(LIBUV_KEEPS_NS ? Math.abs(off) <= 120 : off === -789, `set ${nsec} ns, got ${first}`);
    // The same time read back and set again stays put.
    const again = utimeArg({ sec, nsec: Number(first) });
    utimesSync(file, again, again);
    assert.equal(statSync(file, { bigint: true }).mtimeNs - BigInt(sec) * 1_000_000_000n, first);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('under Node >= 26 (TSFUSE_NODE26): the real file with a libuv that keeps nanoseconds', {
  skip: LIBUV_KEEPS_NS ? `this Node's libuv (${process.versions.uv}) keeps nanoseconds: run above` : NODE26_SKIP,
  timeout: 60_000,
}, () => {
  assert.match(passUnderNode26(fileURLToPath(import.meta.url), 'on a real file', 50_000), /keeps nanoseconds: true/);
});
