/**
 * The path layer's tree lock (libfuse's high-level layer has the same idea, `treelock` in lib/fuse.c):
 * a request that hands the filesystem a path holds every node on that path for reading, from before
 * the path is computed until its reply has been registered in the node table; RENAME, UNLINK and RMDIR
 * hold the nodes whose names they change for writing. So a path, once handed out, stays true while the
 * filesystem works with it: a directory is not renamed under a LOOKUP or CREATE that is using its old
 * path (which could otherwise register the wrong file, or create one in a directory that now has
 * another name), and a name is not removed under a request about it.
 *
 * The kernel does not provide this: it serializes changes to one directory's names (the directory's
 * i_rwsem, fs/namei.c lock_rename), but a request below a directory holds only its own parent's lock,
 * not the locks of the directories above, so it runs concurrently with a rename of any of them.
 *
 * A request takes all its nodes at once or waits holding none, so requests cannot deadlock on each
 * other here. A writer waits for the readers of its nodes to finish, and new readers of those nodes queue
 * behind it so it is not starved. Requests about open files (read, write, locks, …) take no lock: they
 * carry the file handle, and one waiting for a lock or data must not hold up a rename.
 */
import { FuseError } from '../../errors.ts';
import type { PathNode } from './node-table.ts';

/** Deeper than this, the parent chain must be a cycle (as in NodeTable.pathOf). */
const MAX_DEPTH = 100_000;

/** What one request holds: every node of its read paths (repeats allowed), and its write nodes. */
export interface Held {
  readonly read: readonly PathNode[];
  readonly write: readonly PathNode[];
}

interface Waiter extends Held {
  readonly grant: () => void;
}

const NO_NODES: readonly PathNode[] = Object.freeze([]);
const NOTHING: Held = Object.freeze({ read: NO_NODES, write: NO_NODES });

export class TreeLock {
  readonly #queue: Waiter[] = [];

  /**
   * Holds the paths of `readNodes` (each node and all above it, the root excepted) for reading and
   * `writeNodes` (undefined entries ignored) for writing, now or once possible. Waiting ends with EINTR
   * when `request.signal` aborts (it is read only when the request has to wait: signals are made on
   * first use). Allocates nothing for a request about the root or a name in it.
   */
  acquire(readNodes: readonly (PathNode | undefined)[], writeNodes: readonly (PathNode | undefined)[], request: { readonly signal: AbortSignal }): Held | Promise<Held> {
    let read: PathNode[] | undefined;
    for (const start of readNodes) {
      let depth = 0;
      for (let n = start; n !== undefined && n.parent !== undefined; n = n.parent) {
        if (++depth > MAX_DEPTH) throw new FuseError('ELOOP', `node ${n.id}: the parent chain has a cycle`);
        if (read === undefined) read = [n];
        else read.push(n);
      }
    }
    // A node both read and written (an ancestor renamed over its descendant: the kernel refuses that
    // before asking) is only read, so a request never waits for itself.
    const write = writeNodes.length === 0 ? NO_NODES
      : writeNodes.filter((n): n is PathNode => n !== undefined && n.parent !== undefined && !(read?.includes(n) ?? false));
    if (read === undefined && write.length === 0) return NOTHING;
    const held: Held = { read: read ?? NO_NODES, write };
    if (isFree(held, true)) {
      take(held);
      return held;
    }
    return this.#wait(held, request.signal);
  }

  release(held: Held): void {
    if (held === NOTHING) return;
    for (const n of held.read) n.readers--;
    for (const n of held.write) n.writer = false;
    // Grant whatever has become possible, oldest first; queued waiters ignore each other's claims, so
    // the queue cannot block itself.
    for (let i = 0; i < this.#queue.length;) {
      const w = this.#queue[i]!;
      if (!isFree(w, false)) { i++; continue; }
      this.#queue.splice(i, 1);
      unclaim(w);
      take(w);
      w.grant();
    }
  }

  /** Requests waiting for the lock (for tests). */
  get waiting(): number { return this.#queue.length; }

  #wait(held: Held, signal: AbortSignal): Promise<Held> {
    if (signal.aborted) return Promise.reject(new FuseError('EINTR'));
    return new Promise((resolve, reject) => {
      const onAbort = (): void => {
        const i = this.#queue.indexOf(waiter);
        if (i < 0) return;
        this.#queue.splice(i, 1);
        unclaim(waiter);
        reject(new FuseError('EINTR'));
      };
      const waiter: Waiter = {
        ...held,
        grant: () => { signal.removeEventListener('abort', onAbort); resolve(held); },
      };
      for (const n of held.write) n.writersWaiting++;
      this.#queue.push(waiter);
      signal.addEventListener('abort', onAbort, { once: true });
    });
  }
}

/** Whether `h` can be taken now; a newcomer also yields to writers already waiting for its nodes. */
function isFree(h: Held, newcomer: boolean): boolean {
  for (const n of h.read) if (n.writer || (newcomer && n.writersWaiting > 0)) return false;
  for (const n of h.write) if (n.writer || n.readers > 0) return false;
  return true;
}

function take(h: Held): void {
  for (const n of h.read) n.readers++;
  for (const n of h.write) n.writer = true;
}

function unclaim(h: Held): void {
  for (const n of h.write) n.writersWaiting--;
}
