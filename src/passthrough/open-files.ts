/**
 * The passthrough's open files: its handle map (mirrored for clone-queue workers, ./worker-reads.ts),
 * indexed by node as well, so a request about an inode can use a descriptor of it that is open for
 * reading or writing. The `f*` calls take such a descriptor where the node's own O_PATH one is refused
 * (EBADF), and spare the walk through `/proc/self/fd/N`. That walk is dearest for a new node: procfs's
 * entry for its descriptor number is new, or stale since the number's previous file closed, so the walk
 * first allocates a dentry and an inode there (fs/proc/fd.c tid_fd_revalidate, proc_lookupfd). And a
 * new node is just what the kernel asks `security.capability` of, before the first write to each new
 * file, with that file open (fs/inode.c file_remove_privs, from fs/fuse/file.c fuse_cache_write_iter, or
 * fs/backing-file.c backing_file_write_iter under kernel passthrough).
 */
import { WorkerReadableFiles, type MirroredHandle } from './worker-reads.ts';

/** An open file of a node (a handle's descriptor is -1 when a crash lost it). */
export interface NodeHandle<N> extends MirroredHandle {
  readonly node: N;
}

/** A `Map<fh, handle>` (see {@link WorkerReadableFiles}) that also knows each node's open descriptors. */
export class OpenFiles<N, H extends NodeHandle<N>> extends WorkerReadableFiles<H> {
  /** Each node's descriptors, in the order they were opened: one as a number, more as an array. */
  readonly #byNode = new Map<N, number | number[]>();

  /** A descriptor open on `node`, if any: the earliest still open. */
  descriptorOf(node: N): number | undefined {
    const fds = this.#byNode.get(node);
    return typeof fds === 'number' ? fds : fds?.[0];
  }

  override set(fh: number, h: H): this {
    const old = super.get(fh);
    if (old !== undefined) this.#unindex(old);
    super.set(fh, h);
    if (h.fd >= 0) {
      const fds = this.#byNode.get(h.node);
      if (fds === undefined) this.#byNode.set(h.node, h.fd);
      else if (typeof fds === 'number') this.#byNode.set(h.node, [fds, h.fd]);
      else fds.push(h.fd);
    }
    return this;
  }

  override delete(fh: number): boolean {
    const h = super.get(fh);
    if (h !== undefined) this.#unindex(h);
    return super.delete(fh);
  }

  override clear(): void {
    this.#byNode.clear();
    super.clear();
  }

  #unindex(h: H): void {
    if (h.fd < 0) return;
    const fds = this.#byNode.get(h.node);
    if (fds === h.fd) this.#byNode.delete(h.node);
    else if (Array.isArray(fds)) {
      const i = fds.indexOf(h.fd);
      if (i >= 0) fds.splice(i, 1);
      if (fds.length === 1) this.#byNode.set(h.node, fds[0]!);
    }
  }
}
