/**
 * The passthrough's node table: our node ids, each bound to one backing inode through an O_PATH
 * descriptor, keyed by (st_dev, st_ino) and counted the way the kernel counts lookups.
 *
 * Why O_PATH descriptors rather than paths: the kernel names everything as (parent node, name), so each
 * request resolves exactly one component below a descriptor we hold (`/proc/self/fd/N/name`). No path is
 * ever rebuilt, so depth is unlimited (no PATH_MAX), renames in the backing directory cannot make a node
 * point at the wrong file, and no request can climb out of SOURCE. The descriptor also pins the inode, so
 * its (dev, ino) cannot be reused by another file while the node lives — which is what makes the
 * (dev, ino) key safe.
 */
import { closeSync, openSync, fstatSync, type BigIntStats } from 'node:fs';
import { constants as fsConstants } from 'node:fs';

/** O_PATH, absent from Node's fs.constants; 010000000 on every Linux architecture Node supports. */
export const O_PATH = (fsConstants as Record<string, number | undefined>)['O_PATH'] ?? 0o10000000;
export const S_IFMT = 0o170000;
export const S_IFDIR = 0o040000;
export const S_IFREG = 0o100000;
export const S_IFLNK = 0o120000;

/** One backing inode the kernel knows about. */
export interface PassthroughNode {
  /** Our node id (1 for SOURCE). Never reused, so `generation` stays 0. */
  readonly id: number;
  /** O_PATH | O_NOFOLLOW descriptor of the backing inode; -1 once the node is dropped. */
  fd: number;
  /** `/proc/self/fd/N/`: prefix a name to reach an entry of this directory. */
  readonly prefix: Buffer;
  /** `/proc/self/fd/N`: the inode itself (a magic link: following it stops at the inode, even a symlink). */
  readonly self: string;
  readonly key: string;
  /** S_IFMT bits (a file's type never changes). */
  readonly type: number;
  /** Lookups the kernel holds (FORGET subtracts); the root is never dropped. */
  nlookup: number;
  /**
   * The name this inode was last seen under (looked up, created, linked or renamed to), for the calls
   * Node can only make by name when node:ffi is missing (./by-descriptor.ts): readlink and link. Any
   * name may have been unlinked or replaced since (by another client, or in SOURCE directly): users check
   * it against the inode.
   */
  parent: PassthroughNode | undefined;
  name: Buffer | undefined;
  /**
   * Earlier names of a hard-linked inode, newest first (at most {@link MAX_OLDER_NAMES}); usually
   * undefined. Without them, unlinking the newest name left a file that still had others unlinkable.
   */
  olderNames: KnownName[] | undefined;
}

/** A (directory, name) an inode was seen under. */
export interface KnownName { readonly parent: PassthroughNode; readonly name: Buffer }

/** One node of {@link NodeTable.exportNodes}: its descriptor as a handoff token, other nodes by id. */
export interface ExportedNode {
  readonly id: number;
  readonly fd: number;
  readonly key: string;
  readonly type: number;
  readonly nlookup: number;
  readonly parent: number | undefined;
  readonly name: Buffer | undefined;
  readonly olderNames: readonly (readonly [number, Buffer])[] | undefined;
}

export interface ExportedNodes {
  readonly nextId: number;
  readonly nodes: readonly ExportedNode[];
}

/** Earlier names kept per node: enough for the usual few hard links, bounded for a file with thousands. */
const MAX_OLDER_NAMES = 8;

export function keyOf(st: BigIntStats): string {
  return `${st.dev}:${st.ino}`;
}

export class NodeTable {
  readonly #byId = new Map<number, PassthroughNode>();
  readonly #byKey = new Map<string, PassthroughNode>();
  #nextId = 2;
  /** Not readonly: a handoff (importNodes) brings its own. */
  root: PassthroughNode;

  constructor(source: string) {
    const fd = openSync(source, O_PATH | fsConstants.O_DIRECTORY);
    const st = fstatSync(fd, { bigint: true });
    this.root = this.#add(1, fd, st);
    this.root.nlookup = 1;
  }

  get size(): number { return this.#byId.size; }

  get(id: number | bigint): PassthroughNode | undefined {
    return typeof id === 'number' ? this.#byId.get(id) : undefined;
  }

  byKey(key: string): PassthroughNode | undefined {
    return this.#byKey.get(key);
  }

  /**
   * Counts one lookup of the inode behind `fd` (whose stat is `st`), found as `name` in `parent`: an
   * existing node takes the count and `fd` is closed; otherwise `fd` becomes a new node's.
   */
  adopt(fd: number, st: BigIntStats, parent: PassthroughNode, name: Buffer): PassthroughNode {
    const known = this.#byKey.get(keyOf(st));
    if (known !== undefined) closeSync(fd);
    return this.adoptKnown(known ?? this.#add(this.#nextId++, fd, st), parent, name);
  }

  /** Counts one lookup of a node found (again) as `name` in `parent`. */
  adoptKnown(node: PassthroughNode, parent: PassthroughNode, name: Buffer): PassthroughNode {
    node.nlookup++;
    this.rename(node, parent, name);
    return node;
  }

  /** Records a name `node` is now known by (after a lookup, a link or a rename): its newest. */
  rename(node: PassthroughNode, parent: PassthroughNode, name: Buffer): void {
    if (node === this.root) return;
    if (node.parent === parent && node.name !== undefined && node.name.equals(name)) return;
    const older = node.olderNames?.filter((n) => n.parent !== parent || !n.name.equals(name)) ?? [];
    if (node.parent !== undefined && node.name !== undefined) older.unshift({ parent: node.parent, name: node.name });
    if (older.length > MAX_OLDER_NAMES) older.length = MAX_OLDER_NAMES;
    node.olderNames = older.length > 0 ? older : undefined;
    node.parent = parent;
    node.name = Buffer.from(name);
  }

  /** `parent`/`name` no longer names `node` (unlinked, renamed away, or found to name another inode). */
  unnamed(node: PassthroughNode, parent: PassthroughNode, name: Buffer): void {
    if (node.parent === parent && node.name !== undefined && node.name.equals(name)) {
      const next = node.olderNames?.shift();
      node.parent = next?.parent;
      node.name = next?.name;
    } else if (node.olderNames !== undefined) {
      node.olderNames = node.olderNames.filter((n) => n.parent !== parent || !n.name.equals(name));
    }
    if (node.olderNames?.length === 0) node.olderNames = undefined;
  }

  /** The names `node` was seen under, newest first (a copy: callers drop stale ones as they go). */
  namesOf(node: PassthroughNode): KnownName[] {
    const out: KnownName[] = node.parent !== undefined && node.name !== undefined ? [{ parent: node.parent, name: node.name }] : [];
    if (node.olderNames !== undefined) out.push(...node.olderNames);
    return out;
  }

  /** FORGET: drops `count` lookups; the node goes (and its descriptor closes) at zero. */
  forget(id: number | bigint, count: number | bigint): void {
    const node = this.get(id);
    if (node === undefined || node === this.root) return;
    node.nlookup -= Number(count);
    if (node.nlookup > 0) return;
    this.#drop(node);
  }

  /**
   * The table as plain data for a handoff (src/handoff): each node's descriptor as the token `pass`
   * returns (the successor opens the same inode again), its counts and its known names, parents by id.
   */
  exportNodes(pass: (fd: number) => number): ExportedNodes {
    const nodes: ExportedNode[] = [];
    for (const n of this.#byId.values()) {
      nodes.push({
        id: n.id, fd: pass(n.fd), key: n.key, type: n.type, nlookup: n.nlookup, parent: n.parent?.id, name: n.name,
        olderNames: n.olderNames?.map((k) => [k.parent.id, k.name] as const),
      });
    }
    return { nextId: this.#nextId, nodes };
  }

  /** Replaces this (new) table's nodes, the root included, with exported ones; `fdOf` turns a token into a descriptor. */
  importNodes(data: ExportedNodes, fdOf: (token: number) => number): void {
    const fresh = [...this.#byId.values()];
    const imported = new Map<number, PassthroughNode>();
    try {
      for (const e of data.nodes) {
        const node: PassthroughNode = {
          id: e.id, fd: -1, prefix: Buffer.alloc(0), self: '', key: e.key, type: e.type, nlookup: e.nlookup,
          parent: undefined, name: undefined, olderNames: undefined,
        };
        const fd = fdOf(e.fd);
        Object.assign(node, { fd, prefix: Buffer.from(`/proc/self/fd/${fd}/`), self: `/proc/self/fd/${fd}` });
        imported.set(e.id, node);
      }
    } catch (err) {
      for (const n of imported.values()) { try { closeSync(n.fd); } catch { /* already closed */ } }
      throw err;
    }
    for (const n of fresh) this.#drop(n);
    for (const e of data.nodes) {
      const node = imported.get(e.id)!;
      node.parent = e.parent === undefined ? undefined : imported.get(e.parent);
      node.name = e.name;
      node.olderNames = e.olderNames?.flatMap(([parent, name]) => {
        const dir = imported.get(parent);
        return dir === undefined ? [] : [{ parent: dir, name }];
      });
      this.#byId.set(node.id, node);
      this.#byKey.set(node.key, node);
    }
    const root = imported.get(1);
    if (root === undefined) throw new Error('the exported passthrough table has no root node');
    this.root = root;
    this.#nextId = data.nextId;
  }

  /** Closes every descriptor (unmount). */
  clear(): void {
    for (const node of this.#byId.values()) this.#drop(node);
  }

  #add(id: number, fd: number, st: BigIntStats): PassthroughNode {
    const node: PassthroughNode = {
      id, fd, prefix: Buffer.from(`/proc/self/fd/${fd}/`), self: `/proc/self/fd/${fd}`, key: keyOf(st),
      type: Number(st.mode) & S_IFMT, nlookup: 0, parent: undefined, name: undefined, olderNames: undefined,
    };
    this.#byId.set(id, node);
    this.#byKey.set(node.key, node);
    return node;
  }

  #drop(node: PassthroughNode): void {
    this.#byId.delete(node.id);
    if (this.#byKey.get(node.key) === node) this.#byKey.delete(node.key);
    if (node.fd >= 0) {
      try { closeSync(node.fd); } catch { /* already closed */ }
    }
    node.fd = -1;
    node.parent = undefined;
    node.name = undefined;
    node.olderNames = undefined;
  }
}
