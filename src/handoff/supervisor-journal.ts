/**
 * The crash-recovery journal: an append-only file of records a supervised daemon writes as it hands
 * node ids and file handles to the kernel, and that the daemon restarted after a crash
 * (./supervisor.ts) reads to resolve the ids and handles the kernel still holds. The filesystem decides
 * what a record says (src/passthrough/recovery.ts); this file only stores them.
 *
 * Why a file by path rather than memory in the supervisor: the supervisor stays small (it never holds a
 * copy of the node table), and the file survives the daemon that wrote it. It lives in the private
 * runtime directory of the control sockets (`fuse-N.journal` next to `fuse-N.sock`, mode 0600; /run
 * and $XDG_RUNTIME_DIR are tmpfs, so a write costs a memory copy, never a disk wait). It only has to
 * survive the daemon, not the machine: no fsync.
 *
 * Format: each record is a 4-byte little-endian length and that many bytes. A record that must reach
 * the file before the kernel can act on it (a node id in a reply) is written with one write(2) at once
 * ({@link RecoveryJournal.append}); one whose loss costs nothing but a stale entry (a FORGET, a RELEASE
 * of a handle that holds no backing id) is buffered and goes out with the next write or within
 * {@link LAZY_FLUSH_MS}. A write(2) of a regular file completes even when the process is killed during
 * it, so the reader sees whole records; it still stops at a truncated one.
 *
 * Compaction: the file only grows, so once it is larger than {@link COMPACT_MIN_BYTES} and four times
 * what the filesystem last wrote as a snapshot, the filesystem writes a snapshot of what is live, to a
 * temporary file renamed over the journal (rename(2) is atomic: a crash leaves the old journal or the
 * new one, both complete).
 */
// Node opens every file close-on-exec (libuv adds O_CLOEXEC): the supervisor never inherits the journal.
import { closeSync, openSync, readFileSync, renameSync, rmSync, writeSync, writevSync, constants as C } from 'node:fs';

/** Below this size the journal is never compacted. */
export const COMPACT_MIN_BYTES = 1 << 20;
/** How long a lazy record (FORGET, RELEASE) may wait for the next write. */
export const LAZY_FLUSH_MS = 50;

/** What a filesystem that can be restarted after a crash implements (the passthrough does). */
export interface RecoveryHooks {
  /**
   * Called once, before the first request this process serves, on a mount that is supervised: from
   * now on record in `journal` every node id and file handle given to the kernel. `recovered` holds the
   * records a crashed predecessor wrote (resolve what the kernel still holds from them); undefined in
   * the first daemon of a mount and after a planned handoff (the state came through importState).
   */
  attachRecoveryJournal(journal: RecoveryJournal, recovered: readonly Buffer[] | undefined): void;
}

/** Whether `ops` can rebuild its state after a crash. */
export function supportsRecovery(ops: object): ops is RecoveryHooks {
  return typeof (ops as Partial<RecoveryHooks>).attachRecoveryJournal === 'function';
}

export class RecoveryJournal {
  readonly path: string;
  #fd: number;
  #bytes: number;
  #snapshotBytes = 0;
  #lazy: Buffer[] = [];
  #lazyTimer: NodeJS.Timeout | undefined;
  #closed = false;

  private constructor(path: string, fd: number, bytes: number) {
    this.path = path;
    this.#fd = fd;
    this.#bytes = bytes;
  }

  /** A new, empty journal at `path` (replacing one a dead mount left). */
  static create(path: string): RecoveryJournal {
    const fd = openSync(path, C.O_WRONLY | C.O_CREAT | C.O_TRUNC | C.O_APPEND, 0o600);
    return new RecoveryJournal(path, fd, 0);
  }

  /** The journal at `path` and the records in it (up to a truncated one). */
  static open(path: string): { journal: RecoveryJournal; records: Buffer[] } {
    const all = readFileSync(path);
    const records = parseRecords(all);
    const fd = openSync(path, C.O_WRONLY | C.O_APPEND);
    return { journal: new RecoveryJournal(path, fd, all.length), records };
  }

  /** Bytes in the file now. */
  get bytes(): number { return this.#bytes; }

  /** Writes `record` now (with any lazy records before it), so that it is in the file before a reply names it. */
  append(record: Uint8Array): void {
    if (this.#closed) return;
    const head = Buffer.allocUnsafe(4);
    head.writeUInt32LE(record.byteLength, 0);
    const body = Buffer.from(record.buffer, record.byteOffset, record.byteLength);
    if (this.#lazy.length === 0) {
      this.#write([head, body]);
    } else {
      const parts = this.#takeLazy();
      parts.push(head, body);
      this.#write(parts);
    }
  }

  /** Writes `record` with the next {@link append}, or within {@link LAZY_FLUSH_MS}. */
  appendLazy(record: Uint8Array): void {
    if (this.#closed) return;
    const head = Buffer.allocUnsafe(4);
    head.writeUInt32LE(record.byteLength, 0);
    this.#lazy.push(head, Buffer.from(record.buffer, record.byteOffset, record.byteLength));
    if (this.#lazyTimer === undefined) {
      this.#lazyTimer = setTimeout(() => { this.#lazyTimer = undefined; this.flush(); }, LAZY_FLUSH_MS);
      this.#lazyTimer.unref();
    }
  }

  /** Writes the lazy records now. */
  flush(): void {
    if (this.#lazy.length > 0 && !this.#closed) this.#write(this.#takeLazy());
  }

  /** Whether the file has grown enough to be worth a {@link rewrite}. */
  get wantsCompaction(): boolean {
    return this.#bytes > COMPACT_MIN_BYTES && this.#bytes > 4 * this.#snapshotBytes;
  }

  /** Replaces the whole journal with `records` (a snapshot of what is live), atomically. */
  rewrite(records: Iterable<Uint8Array>): void {
    if (this.#closed) return;
    this.#takeLazy(); // the snapshot supersedes them
    const temporary = `${this.path}.new`;
    const fd = openSync(temporary, C.O_WRONLY | C.O_CREAT | C.O_TRUNC | C.O_APPEND, 0o600);
    let bytes = 0;
    try {
      let batch: Buffer[] = [];
      let batchBytes = 0;
      for (const r of records) {
        const head = Buffer.allocUnsafe(4);
        head.writeUInt32LE(r.byteLength, 0);
        batch.push(head, Buffer.from(r.buffer, r.byteOffset, r.byteLength));
        batchBytes += 4 + r.byteLength;
        if (batch.length >= 512) { bytes += writeAll(fd, batch, batchBytes); batch = []; batchBytes = 0; }
      }
      if (batch.length > 0) bytes += writeAll(fd, batch, batchBytes);
      renameSync(temporary, this.path);
    } catch (e) {
      // Compaction is an optimisation: the journal as it is stays valid, and is written on.
      closeSync(fd);
      rmSync(temporary, { force: true });
      this.#snapshotBytes = this.#bytes;
      process.emitWarning(`the crash-recovery journal ${this.path} could not be compacted: ${(e as Error).message}`, 'TsfuseWarning');
      return;
    }
    closeSync(this.#fd);
    this.#fd = fd;
    this.#bytes = bytes;
    this.#snapshotBytes = bytes;
  }

  /** Stops writing (the file stays for a successor). Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.flush();
    this.#closed = true;
    if (this.#lazyTimer !== undefined) clearTimeout(this.#lazyTimer);
    try { closeSync(this.#fd); } catch { /* already closed */ }
  }

  /** Stops writing and removes the file: nobody will recover from it. Idempotent. */
  remove(): void {
    this.close();
    rmSync(this.path, { force: true });
    rmSync(`${this.path}.new`, { force: true });
  }

  #takeLazy(): Buffer[] {
    const parts = this.#lazy;
    this.#lazy = [];
    if (this.#lazyTimer !== undefined) { clearTimeout(this.#lazyTimer); this.#lazyTimer = undefined; }
    return parts;
  }

  /**
   * A failed write (the runtime directory's filesystem is full) must not fail the request that made
   * it: the journal stops, with one warning, and a crash from then on may leave ids unresolvable.
   */
  #write(parts: Buffer[]): void {
    let total = 0;
    for (const p of parts) total += p.length;
    try {
      this.#bytes += writeAll(this.#fd, parts, total);
    } catch (e) {
      this.close();
      process.emitWarning(`the crash-recovery journal ${this.path} could not be written (${(e as Error).message}); a crash now may leave files the kernel holds unresolvable`, 'TsfuseWarning');
    }
  }
}

/** One writev, continued on a short write; returns the bytes written. */
function writeAll(fd: number, parts: Buffer[], total: number): number {
  let done = writevSync(fd, parts);
  if (done === total) return total;
  const all = Buffer.concat(parts);
  while (done < total) done += writeSync(fd, all, done, total - done);
  return total;
}

/** The records in a journal's bytes, up to a truncated one. */
export function parseRecords(all: Buffer): Buffer[] {
  const records: Buffer[] = [];
  for (let at = 0; at + 4 <= all.length;) {
    const length = all.readUInt32LE(at);
    if (at + 4 + length > all.length) break;
    records.push(all.subarray(at + 4, at + 4 + length));
    at += 4 + length;
  }
  return records;
}
