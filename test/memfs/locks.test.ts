// FileLocks: POSIX record locks (split, merge, conflicts, waiting, interruption) and flock.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setImmediate as tick } from 'node:timers/promises';
import { F_RDLCK, F_UNLCK, F_WRLCK, FileLocks, LOCK_EX, LOCK_NB, LOCK_SH, LOCK_TO_EOF, LOCK_UN } from '../../src/memfs/locks.ts';

const A = 1n;
const B = 2n;
const lock = (type: number, start: number | bigint, end: number | bigint, pid = 10) => ({ type, start, end, pid });

test('F_GETLK reports the first conflicting lock of another owner, or F_UNLCK', async () => {
  const locks = new FileLocks();
  await locks.set(lock(F_WRLCK, 10, 19, 111), A, false, undefined);
  assert.deepEqual(locks.test(lock(F_RDLCK, 0, 9), B), { type: F_UNLCK, start: 0n, end: 9n, pid: 0 });
  assert.deepEqual(locks.test(lock(F_RDLCK, 15, 30), B), { type: F_WRLCK, start: 10n, end: 19n, pid: 111 });
  assert.equal(locks.test(lock(F_WRLCK, 0, 100), A).type, F_UNLCK, 'an owner never conflicts with itself');
});

test('read locks share, write locks exclude (EAGAIN without waiting)', async () => {
  const locks = new FileLocks();
  await locks.set(lock(F_RDLCK, 0, LOCK_TO_EOF), A, false, undefined);
  await locks.set(lock(F_RDLCK, 5, 6), B, false, undefined);
  await assert.rejects(locks.set(lock(F_WRLCK, 100, 200), B, false, undefined), { errno: 11 });
});

test('unlocking the middle splits a lock; same-type neighbours merge', async () => {
  const locks = new FileLocks();
  await locks.set(lock(F_WRLCK, 0, 99), A, false, undefined);
  await locks.set(lock(F_UNLCK, 40, 59), A, false, undefined);
  assert.equal(locks.test(lock(F_WRLCK, 40, 59), B).type, F_UNLCK);
  assert.deepEqual(locks.test(lock(F_WRLCK, 30, 45), B), { type: F_WRLCK, start: 0n, end: 39n, pid: 10 });
  assert.deepEqual(locks.test(lock(F_WRLCK, 55, 65), B), { type: F_WRLCK, start: 60n, end: 99n, pid: 10 });
  // Filling the gap with the same type merges back into one lock.
  await locks.set(lock(F_WRLCK, 40, 59), A, false, undefined);
  assert.deepEqual(locks.test(lock(F_WRLCK, 50, 50), B), { type: F_WRLCK, start: 0n, end: 99n, pid: 10 });
  // A read lock in the middle replaces that part of the write lock (a downgrade).
  await locks.set(lock(F_RDLCK, 40, 59), A, false, undefined);
  await locks.set(lock(F_RDLCK, 45, 50), B, false, undefined);
  assert.deepEqual(locks.test(lock(F_WRLCK, 30, 45), B), { type: F_WRLCK, start: 0n, end: 39n, pid: 10 });
});

test('F_SETLKW waits until the conflicting lock goes, then takes it', async () => {
  const locks = new FileLocks();
  await locks.set(lock(F_WRLCK, 0, 9), A, false, undefined);
  let acquired = false;
  const waiting = locks.set(lock(F_WRLCK, 5, 5), B, true, new AbortController().signal).then(() => { acquired = true; });
  await tick();
  assert.equal(acquired, false);
  await locks.set(lock(F_UNLCK, 0, 3), A, false, undefined);
  await tick();
  assert.equal(acquired, false, 'still overlapping');
  await locks.set(lock(F_UNLCK, 0, LOCK_TO_EOF), A, false, undefined);
  await waiting;
  assert.equal(locks.test(lock(F_RDLCK, 5, 5), A).type, F_WRLCK);
});

test('an interrupted F_SETLKW gives EINTR and leaves nothing behind', async () => {
  const locks = new FileLocks();
  await locks.set(lock(F_WRLCK, 0, 9), A, false, undefined);
  const abort = new AbortController();
  const waiting = locks.set(lock(F_RDLCK, 0, 0), B, true, abort.signal);
  abort.abort();
  await assert.rejects(waiting, { code: 'EINTR' });
  await locks.set(lock(F_UNLCK, 0, 9), A, false, undefined);
  assert.equal(locks.idle, true);
});

test('closing: releaseOwner drops one owner\'s record locks, releaseAllRecords all', async () => {
  const locks = new FileLocks();
  await locks.set(lock(F_RDLCK, 0, 9), A, false, undefined);
  await locks.set(lock(F_RDLCK, 0, 9), B, false, undefined);
  locks.releaseOwner(A);
  assert.equal(locks.test(lock(F_WRLCK, 0, 9), A).type, F_RDLCK, 'B still holds');
  locks.releaseAllRecords();
  assert.equal(locks.idle, true);
});

test('bad ranges and types are EINVAL', async () => {
  const locks = new FileLocks();
  await assert.rejects(locks.set(lock(F_WRLCK, 10, 5), A, false, undefined), { code: 'EINVAL' });
  await assert.rejects(locks.set(lock(7, 0, 5), A, false, undefined), { code: 'EINVAL' });
});

test('flock: shared with shared, exclusive alone, LOCK_NB gives EWOULDBLOCK, release by handle', async () => {
  const locks = new FileLocks();
  await locks.flock(LOCK_SH, A, 1, undefined);
  await locks.flock(LOCK_SH, B, 2, undefined);
  await assert.rejects(locks.flock(LOCK_EX | LOCK_NB, B, 2, undefined), { errno: 11 });
  // B's failed conversion dropped its shared lock first (flock_lock_inode), so A may now go exclusive.
  await locks.flock(LOCK_EX | LOCK_NB, A, 1, undefined);
  let got = false;
  const waiting = locks.flock(LOCK_SH, B, 2, new AbortController().signal).then(() => { got = true; });
  await tick();
  assert.equal(got, false);
  locks.releaseHandle(1);
  await waiting;
  await locks.flock(LOCK_UN, B, 2, undefined);
  assert.equal(locks.idle, true);
});

test('an interrupted flock wait gives EINTR', async () => {
  const locks = new FileLocks();
  await locks.flock(LOCK_EX, A, 1, undefined);
  const abort = new AbortController();
  const waiting = locks.flock(LOCK_EX, B, 2, abort.signal);
  abort.abort();
  await assert.rejects(waiting, { code: 'EINTR' });
});
