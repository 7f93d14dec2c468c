/**
 * The locks of one file: POSIX record locks (fcntl F_GETLK/F_SETLK/F_SETLKW), owned by a lock owner
 * (the kernel's per-process `fl_owner`), and flock(2) locks, owned by an open file.
 *
 * Record locks follow fs/locks.c posix_lock_inode: setting a lock replaces whatever the same owner held
 * on that range, splitting its older locks around it and merging adjacent ones of the same type, and a
 * lock conflicts with another owner's when they overlap and either is a write lock. flock follows
 * flock_lock_inode: converting a lock drops the old one before waiting for the new.
 *
 * A waiter re-checks whenever anything on this file is unlocked; it gives up with EINTR when its
 * AbortSignal fires (the kernel interrupted the request).
 */
import { FuseError } from '../errors.ts';
import type { PathLock } from '../ops/path/types.ts';

export const F_RDLCK = 0;
export const F_WRLCK = 1;
export const F_UNLCK = 2;
/** `end` of a lock that runs to the end of the file (OFFSET_MAX). */
export const LOCK_TO_EOF = (1n << 63n) - 1n;

export const LOCK_SH = 1;
export const LOCK_EX = 2;
export const LOCK_NB = 4;
export const LOCK_UN = 8;

interface RecordLock {
  readonly owner: bigint;
  readonly pid: number;
  readonly type: number;
  readonly start: bigint;
  /** Inclusive. */
  readonly end: bigint;
}

interface FlockHolder {
  /** The open file holding it, so closing that file releases it. */
  readonly fh: number;
  readonly exclusive: boolean;
}

/** {@link FileLocks.exportLocks}. */
export interface ExportedLocks {
  readonly records: readonly RecordLock[];
  /** [owner, fh, exclusive]. */
  readonly flocks: readonly (readonly [bigint, number, boolean])[];
}

export class FileLocks {
  #records: RecordLock[] = [];
  readonly #flocks = new Map<bigint, FlockHolder>();
  readonly #waiters = new Set<() => void>();

  /** The locks held, for a handoff (src/handoff); waiters are not (a handoff waits until none is left). */
  exportLocks(): ExportedLocks {
    return { records: this.#records.map((r) => ({ ...r })), flocks: [...this.#flocks].map(([owner, h]) => [owner, h.fh, h.exclusive] as const) };
  }

  /** Takes over exported locks (this object must be new). */
  importLocks(locks: ExportedLocks): void {
    this.#records = locks.records.map((r) => ({ ...r }));
    for (const [owner, fh, exclusive] of locks.flocks) this.#flocks.set(owner, { fh, exclusive });
  }

  /** Nothing held and nobody waiting: the owner may drop this object. */
  get idle(): boolean {
    return this.#records.length === 0 && this.#flocks.size === 0 && this.#waiters.size === 0;
  }

  /** F_GETLK: the first lock of another owner that conflicts with `lock`, or `lock` with type F_UNLCK. */
  test(lock: PathLock, owner: bigint): PathLock {
    const wanted = recordOf(lock, owner);
    const conflict = this.#recordConflict(wanted);
    if (conflict === undefined) return { type: F_UNLCK, start: wanted.start, end: wanted.end, pid: 0 };
    return { type: conflict.type, start: conflict.start, end: conflict.end, pid: conflict.pid };
  }

  /** F_SETLK / F_SETLKW (`wait`): set, change or (F_UNLCK) clear `owner`'s lock on the range. */
  async set(lock: PathLock, owner: bigint, wait: boolean, signal: AbortSignal | undefined): Promise<void> {
    const wanted = recordOf(lock, owner);
    if (wanted.type === F_UNLCK) {
      this.#replaceRange(wanted);
      this.#wake();
      return;
    }
    for (;;) {
      if (this.#recordConflict(wanted) === undefined) {
        this.#replaceRange(wanted);
        this.#wake(); // a downgrade (write → read) may admit readers
        return;
      }
      if (!wait) throw new FuseError('EAGAIN');
      await this.#waitForChange(signal);
    }
  }

  /** Drop every record lock of `owner` (what closing a file does for its process). */
  releaseOwner(owner: bigint): void {
    const before = this.#records.length;
    this.#records = this.#records.filter((r) => r.owner !== owner);
    if (this.#records.length !== before) this.#wake();
  }

  /** Drop every record lock (nobody has the file open any more, so no process can hold one). */
  releaseAllRecords(): void {
    if (this.#records.length === 0) return;
    this.#records = [];
    this.#wake();
  }

  /** flock(2): LOCK_SH / LOCK_EX (with LOCK_NB: EWOULDBLOCK instead of waiting) or LOCK_UN. */
  async flock(operation: number, owner: bigint, fh: number, signal: AbortSignal | undefined): Promise<void> {
    if ((operation & LOCK_UN) !== 0) {
      if (this.#flocks.delete(owner)) this.#wake();
      return;
    }
    const kind = operation & (LOCK_SH | LOCK_EX);
    if (kind !== LOCK_SH && kind !== LOCK_EX) throw new FuseError('EINVAL');
    const exclusive = kind === LOCK_EX;
    const held = this.#flocks.get(owner);
    if (held !== undefined) {
      if (held.exclusive === exclusive) return;
      this.#flocks.delete(owner); // flock_lock_inode: the old lock goes before waiting for the new one
      this.#wake();
    }
    for (;;) {
      if (!this.#flockConflicts(owner, exclusive)) {
        this.#flocks.set(owner, { fh, exclusive });
        return;
      }
      if ((operation & LOCK_NB) !== 0) throw new FuseError('EWOULDBLOCK');
      await this.#waitForChange(signal);
    }
  }

  /** Drop the flock locks held through the open file `fh` (its last close). */
  releaseHandle(fh: number): void {
    let changed = false;
    for (const [owner, holder] of this.#flocks) {
      if (holder.fh === fh) {
        this.#flocks.delete(owner);
        changed = true;
      }
    }
    if (changed) this.#wake();
  }

  #recordConflict(wanted: RecordLock): RecordLock | undefined {
    return this.#records.find((r) =>
      r.owner !== wanted.owner && r.start <= wanted.end && wanted.start <= r.end && (r.type === F_WRLCK || wanted.type === F_WRLCK));
  }

  #flockConflicts(owner: bigint, exclusive: boolean): boolean {
    for (const [other, holder] of this.#flocks) {
      if (other !== owner && (exclusive || holder.exclusive)) return true;
    }
    return false;
  }

  /** Replace `lock.owner`'s locks on `[start, end]` with `lock` (nothing for F_UNLCK), then merge neighbours. */
  #replaceRange(lock: RecordLock): void {
    const next: RecordLock[] = [];
    for (const r of this.#records) {
      if (r.owner !== lock.owner || r.end < lock.start || r.start > lock.end) {
        next.push(r);
        continue;
      }
      if (r.start < lock.start) next.push({ ...r, end: lock.start - 1n });
      if (r.end > lock.end) next.push({ ...r, start: lock.end + 1n });
    }
    if (lock.type !== F_UNLCK) next.push(lock);
    this.#records = mergeAdjacent(next, lock.owner);
  }

  #wake(): void {
    const waiters = [...this.#waiters];
    this.#waiters.clear();
    for (const wake of waiters) wake();
  }

  /** Resolves at the next change that may admit a waiter; rejects with EINTR when `signal` fires. */
  #waitForChange(signal: AbortSignal | undefined): Promise<void> {
    if (signal?.aborted === true) return Promise.reject(new FuseError('EINTR'));
    return new Promise((resolve, reject) => {
      const onAbort = (): void => {
        this.#waiters.delete(wake);
        reject(new FuseError('EINTR'));
      };
      const wake = (): void => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      };
      this.#waiters.add(wake);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }
}

function recordOf(lock: PathLock, owner: bigint): RecordLock {
  const start = BigInt(lock.start);
  const end = BigInt(lock.end);
  if (start < 0n || end < start || end > LOCK_TO_EOF) throw new FuseError('EINVAL');
  if (lock.type !== F_RDLCK && lock.type !== F_WRLCK && lock.type !== F_UNLCK) throw new FuseError('EINVAL');
  return { owner, pid: lock.pid, type: lock.type, start, end };
}

/** `owner`'s locks of one type that touch or overlap become one lock (posix_lock_inode's coalescing). */
function mergeAdjacent(records: RecordLock[], owner: bigint): RecordLock[] {
  const others = records.filter((r) => r.owner !== owner);
  const own = records.filter((r) => r.owner === owner).sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : 0));
  const merged: RecordLock[] = [];
  for (const r of own) {
    const last = merged[merged.length - 1];
    if (last !== undefined && last.type === r.type && r.start <= last.end + 1n) {
      merged[merged.length - 1] = { ...last, end: maxOf(r.end, last.end) };
    } else {
      merged.push(r);
    }
  }
  return others.concat(merged);
}

function maxOf(a: bigint, b: bigint): bigint {
  return a > b ? a : b;
}
