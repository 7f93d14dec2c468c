/**
 * The passthrough's opt-in to clone queues (`-o clone_fd`, src/session/clone-queues.ts): its file
 * handles are real descriptors, and its `read`/`write` are exactly pread(2)/pwrite(2) of them
 * (./reads.ts, passthrough.ts `write`), so worker threads may answer READ and WRITE of them directly.
 *
 * The passthrough's open-file map mirrors itself into the shared handle table: a handle is in the table
 * from the moment the map has it (before the OPEN/CREATE reply hands it out) until RELEASE deletes it
 * (before its descriptor is closed). The table maps each handle to the descriptor this process holds,
 * not to the handle's low bits: after a handoff or a crash the same handle names a descriptor opened
 * again, under another number. Handles without a descriptor of ours stay out of the table, so their
 * requests go to the passthrough's own handlers: kernel-passthrough opens (no READ reaches the daemon
 * anyway) and handles lost in a crash (answered EBADF there).
 */
import { HandleDescriptors } from '../ops/handle-descriptors.ts';

/** What the mirrored map needs of an open file. */
export interface MirroredHandle {
  readonly fd: number;
  readonly passthrough: boolean;
}

/**
 * A `Map<fh, handle>` that keeps `table` in step (set, delete, clear). Only number handles: the
 * passthrough's are below 2^53 (passthrough.ts fileHandleOf).
 */
export class WorkerReadableFiles<H extends MirroredHandle> extends Map<number, H> {
  readonly table: HandleDescriptors;

  constructor(table: HandleDescriptors = new HandleDescriptors({ writes: true })) {
    super();
    this.table = table;
  }

  override set(fh: number, h: H): this {
    super.set(fh, h);
    // Map's constructor calls set before `table` exists: nothing is passed to it there.
    if (this.table === undefined) return this;
    if (h.fd >= 0 && !h.passthrough) this.table.set(fh, h.fd);
    else this.table.delete(fh);
    return this;
  }

  override delete(fh: number): boolean {
    this.table.delete(fh);
    return super.delete(fh);
  }

  override clear(): void {
    this.table.clear();
    super.clear();
  }
}
