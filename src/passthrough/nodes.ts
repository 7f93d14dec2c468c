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
import { close, closeSync, openSync, fstatSync, type BigIntStats } from 'node:fs';
import { constants as fsConstants } from 'node:fs';
import { toU64, type U64 } from '../protocol/u64.ts';
import { S_IFDIR, S_IFMT } from '../ops/file-mode.ts';

/** O_PATH, absent from Node's fs.constants; 010000000 on every Linux architecture Node supports. */
export const O_PATH = (fsConstants as Record<string, number | undefined>)['O_PATH'] ?? 0o10000000;

/**
 * Node ids are a function of the backing inode where they can be: st_ino + 1 for an inode on SOURCE's
 * device (st_ino 0 is never used by Linux filesystems, so ids start at 2; SOURCE itself is 1), else,
 * or when that id is taken (a table imported from an older version), one from a counter starting at
 * {@link COUNTED_IDS_FROM}. So a daemon restarted after a crash (src/handoff/supervisor.ts) answers a
 * LOOKUP with the id the kernel already holds for that inode, even one it has no journal record of.
 * An id comes back only after the kernel forgot it (FORGET), or for the same inode; `generation` stays
 * 0, as the inode behind an id the kernel holds cannot change (its O_PATH descriptor pins the inode, so
 * its number is not reused).
 */
export const DETERMINISTIC_IDS_BELOW = 2 ** 52;
export const COUNTED_IDS_FROM = 2 ** 52 + 1;
/** Directory depth up to which a journaled node's parents are resolved. */
const MAX_RESOLVE_DEPTH = 4096;

/**
 * A node id a crashed daemon handed out, known from the crash-recovery journal (./recovery.ts) and not
 * resolved yet: the kernel may still name it. Resolved on first use, by `name` below `parent`, checked
 * against `key`.
 */
export interface JournaledNode { readonly id: number; readonly parent: number; readonly key: string; readonly name: Buffer }

/** What the crash-recovery journal (./recovery.ts) is told. */
export interface NodeTableObserver {
  /** `node` was given an id or a new newest name: a restarted daemon must find it by them. */
  named(node: PassthroughNode): void;
  /** `node` is gone: the kernel forgot its id. */
  dropped(node: PassthroughNode): void;
}

/**
 * One backing inode the kernel knows about. Kept small, as the kernel may hold millions: what can be
 * derived from the descriptor or the identity (the /proc paths, the key string) is made when asked for,
 * what few nodes have (older names of a hard link) is kept by the table, and an inode of SOURCE's
 * device is found through its id (see {@link NodeTable.find}), not a second map. Each field costs 8
 * bytes per node (V8 without pointer compression, as Node builds it): 8 fields and the object's header
 * make 88 bytes, its name string ~32 more, its entry in the table's map ~30: 150 bytes of heap per node,
 * measured on Node 26, where the 11 fields it had took 173 (bench/RESULTS.md, "Memory counted private,
 * and a smaller node").
 */
export class PassthroughNode {
  /** Our node id (1 for SOURCE; see {@link DETERMINISTIC_IDS_BELOW}). */
  readonly id: number;
  /** O_PATH | O_NOFOLLOW descriptor of the backing inode; -1 once the node is dropped. */
  fd: number;
  /** st_dev and st_ino of the backing inode (canonical U64s: `===` compares them). */
  readonly dev: U64;
  readonly ino: U64;
  /** S_IFMT bits (a file's type never changes), and below them {@link newChildren}: one field for both. */
  #bits: number;
  /** Lookups the kernel holds (FORGET subtracts); the root is never dropped. */
  nlookup = 0;
  /**
   * The name this inode was last seen under (looked up, created, linked or renamed to), for the calls
   * Node can only make by name when node:ffi is missing (./by-descriptor.ts): readlink and link. Any
   * name may have been unlinked or replaced since (by another client, or in SOURCE directly): users check
   * it against the inode.
   */
  parent: PassthroughNode | undefined = undefined;
  /** The bytes of that name as a latin1 string (each byte one character): smaller than a Buffer, which is an object of its own over a slab. */
  #name: string | undefined = undefined;

  constructor(id: number, fd: number, st: Pick<InodeIdentity, 'dev' | 'ino' | 'mode'>) {
    this.id = id;
    this.fd = fd;
    this.dev = st.dev;
    this.ino = st.ino;
    this.#bits = st.mode & S_IFMT;
  }

  /** S_IFMT bits (a file's type never changes). */
  get type(): number { return this.#bits & S_IFMT; }

  /**
   * A directory's recent LOOKUPs, as a count from 0 to {@link NEW_CHILDREN_MAX}: up by one for each that
   * found an inode the table did not hold, down by one for each that found a node. passthrough.ts
   * `lookupEntry` opens the name first where it is high (a listing of new files, a tree after
   * drop_caches) and stats it first elsewhere (revalidations of known nodes).
   */
  get newChildren(): number { return this.#bits & NEW_CHILDREN_MAX; }

  /** Whether a LOOKUP in this directory opens the name first (see {@link newChildren}). */
  get opensFirst(): boolean { return (this.#bits & NEW_CHILDREN_MAX) >= OPEN_FIRST_FROM; }

  /** Counts a LOOKUP in this directory that found a new inode (`isNew`) or a node the table held. */
  countLookup(isNew: boolean): void {
    const n = this.#bits & NEW_CHILDREN_MAX;
    if (isNew) {
      if (n < NEW_CHILDREN_MAX) this.#bits++;
    } else if (n > 0) {
      this.#bits--;
    }
  }

  /** The newest name (a new Buffer per read); see {@link parent}. */
  get name(): Buffer | undefined { return this.#name === undefined ? undefined : Buffer.from(this.#name, 'latin1'); }
  set name(name: Uint8Array | undefined) { this.#name = name === undefined ? undefined : Buffer.from(name.buffer, name.byteOffset, name.byteLength).toString('latin1'); }

  /** Whether `name` in `parent` is this node's newest name (compared in place: a LOOKUP asks it each time). */
  isNamed(parent: PassthroughNode, name: Uint8Array): boolean {
    const known = this.#name;
    if (this.parent !== parent || known === undefined || known.length !== name.length) return false;
    for (let i = 0; i < name.length; i++) if (known.charCodeAt(i) !== name[i]) return false;
    return true;
  }

  /** `/proc/self/fd/N/`: prefix a name to reach an entry of this directory (Node's calls by path; see {@link fdPrefix}). */
  get prefix(): Buffer { return fdPrefix(this.fd); }
  /** `/proc/self/fd/N`: the inode itself (a magic link: following it stops at the inode, even a symlink). */
  get self(): string { return `/proc/self/fd/${this.fd}`; }
  /** `st_dev:st_ino`, as {@link keyOf} prints a stat: the crash-recovery journal's and the listing cache's name for the inode. */
  get key(): string { return `${this.dev}:${this.ino}`; }
}

/** The most {@link PassthroughNode.newChildren} counts up to; also its bits' mask (below S_IFMT's). */
const NEW_CHILDREN_MAX = 3;
/** From this {@link PassthroughNode.newChildren} up, a LOOKUP in the directory opens the name first. */
const OPEN_FIRST_FROM = 2;

/**
 * Prefixes made, by descriptor number: a prefix depends on the number alone, so one made for a closed
 * descriptor is right for the next one given that number. Numbers are small and dense (the lowest free
 * one is given), so an array; it holds one Buffer per number that was ever a prefix (directories, in
 * Node's calls by path), rather than a field in every node.
 */
const prefixes: Buffer[] = [];

/** `/proc/self/fd/N/` for descriptor `fd`. */
export function fdPrefix(fd: number): Buffer {
  let prefix = prefixes[fd];
  if (prefix === undefined) {
    prefix = Buffer.from(`/proc/self/fd/${fd}/`);
    prefixes[fd] = prefix;
  }
  return prefix;
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
  /** Journaled ids not resolved yet (a daemon restarted after a crash). Absent: none. */
  readonly journaled?: readonly JournaledNode[];
}

/** A descriptor closed on the thread pool was ours alone and open: nothing to report (EIO from a network filesystem aside, which closeSync ignores too). */
function ignoreCloseError(): void {}

/** Earlier names kept per node: enough for the usual few hard links, bounded for a file with thousands. */
const MAX_OLDER_NAMES = 8;

export function keyOf(st: BigIntStats): string {
  return `${st.dev}:${st.ino}`;
}

/**
 * What the table needs of a stat: the key, st_dev and st_ino exact (canonical U64s, so `===` compares
 * them), and st_mode. From a BigIntStats ({@link identityOf}) or from statx through node:ffi
 * (./at-calls.ts StatResult), which need not allocate a BigInt.
 */
export interface InodeIdentity { readonly key: string; readonly dev: U64; readonly ino: U64; readonly mode: number }

export function identityOf(st: BigIntStats): InodeIdentity {
  return { key: keyOf(st), dev: toU64(st.dev), ino: toU64(st.ino), mode: Number(st.mode) };
}

/** st_dev and st_ino back from a {@link keyOf} key (an exported table's). */
function splitKey(key: string): { dev: U64; ino: U64 } {
  const colon = key.indexOf(':');
  if (colon < 0) throw new Error(`not an inode key: ${key}`);
  return { dev: toU64(BigInt(key.slice(0, colon))), ino: toU64(BigInt(key.slice(colon + 1))) };
}

export class NodeTable {
  readonly #byId = new Map<number, PassthroughNode>();
  /**
   * Nodes {@link find} cannot reach through their id, by key: those whose id is not st_ino + 1 (another
   * device, or a taken id), the root aside. Usually empty: no key string is made per lookup then.
   */
  readonly #byKey = new Map<string, PassthroughNode>();
  #nextId = COUNTED_IDS_FROM;
  readonly #rootDev: U64;
  readonly #journaled = new Map<number, JournaledNode>();
  readonly #journaledByKey = new Map<string, JournaledNode>();
  /**
   * Ids of nodes whose last link was removed through the mount (see {@link lastLinkRemoved}): closing
   * their descriptor frees the inode, which can take long.
   */
  readonly #unlinked = new Set<number>();
  /**
   * Earlier names of hard-linked inodes, newest first (at most {@link MAX_OLDER_NAMES}): few nodes have
   * any, so a map here rather than a field in every node. Without them, unlinking the newest name left a
   * file that still had others unlinkable.
   */
  readonly #olderNames = new Map<PassthroughNode, KnownName[]>();
  /** Not readonly: a handoff (importNodes) brings its own. */
  root: PassthroughNode;
  /** Told of new names and dropped nodes while a crash-recovery journal is kept. */
  observer: NodeTableObserver | undefined;

  constructor(source: string) {
    const fd = openSync(source, O_PATH | fsConstants.O_DIRECTORY);
    const st = identityOf(fstatSync(fd, { bigint: true }));
    this.#rootDev = st.dev;
    this.root = this.#add(1, fd, st);
    this.root.nlookup = 1;
  }

  get size(): number { return this.#byId.size; }

  /** The node `id`; after a crash, a journaled id is resolved here, on first use. */
  get(id: number | bigint): PassthroughNode | undefined {
    if (typeof id !== 'number') return undefined;
    return this.#byId.get(id) ?? (this.#journaled.size === 0 ? undefined : this.#resolve(id, 0));
  }

  /** Takes the journaled ids a crashed daemon handed out (./recovery.ts); resolved lazily by {@link get}. */
  recover(journaled: Iterable<JournaledNode>): void {
    for (const j of journaled) {
      if (this.#byId.has(j.id) || this.find(splitKey(j.key)) !== undefined) continue;
      this.#journaled.set(j.id, j);
      this.#journaledByKey.set(j.key, j);
    }
  }

  /** The journaled ids not resolved yet (for a journal snapshot). */
  journaledNodes(): IterableIterator<JournaledNode> {
    return this.#journaled.values();
  }

  /** The node of the inode `st` (st_dev, st_ino), if the kernel knows it. */
  find(st: Pick<InodeIdentity, 'dev' | 'ino'>): PassthroughNode | undefined {
    const id = this.#deterministicId(st);
    if (id !== 0) {
      const byId = this.#byId.get(id);
      if (byId !== undefined && byId.ino === st.ino && byId.dev === st.dev) return byId;
    }
    if (st.ino === this.root.ino && st.dev === this.root.dev) return this.root;
    return this.#byKey.size === 0 ? undefined : this.#byKey.get(`${st.dev}:${st.ino}`);
  }

  /**
   * Counts one lookup of the inode behind `fd` (whose stat is `st`), found as `name` in `parent`: an
   * existing node takes the count and `fd` is closed; otherwise `fd` becomes a new node's.
   */
  adopt(fd: number, st: InodeIdentity, parent: PassthroughNode, name: Buffer): PassthroughNode {
    const known = this.find(st);
    if (known !== undefined) {
      closeSync(fd);
      return this.adoptKnown(known, parent, name);
    }
    const journaled = this.#journaledByKey.size === 0 ? undefined : this.#journaledByKey.get(st.key);
    if (journaled === undefined) return this.adoptKnown(this.#add(this.#idFor(st), fd, st), parent, name);
    // An inode a crashed daemon gave an id (a counted one: a deterministic one is recomputed anyway).
    this.#unjournal(journaled);
    const node = this.#add(journaled.id, fd, st);
    node.nlookup = 1; // see #resolve
    return this.adoptKnown(node, parent, name);
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
    if (node.isNamed(parent, name)) return;
    const older = this.#olderNames.get(node)?.filter((n) => n.parent !== parent || !n.name.equals(name)) ?? [];
    if (node.parent !== undefined && node.name !== undefined) older.unshift({ parent: node.parent, name: node.name });
    if (older.length > MAX_OLDER_NAMES) older.length = MAX_OLDER_NAMES;
    this.#setOlderNames(node, older);
    node.parent = parent;
    node.name = name;
    this.observer?.named(node);
  }

  /** `parent`/`name` no longer names `node` (unlinked, renamed away, or found to name another inode). */
  unnamed(node: PassthroughNode, parent: PassthroughNode, name: Buffer): void {
    const older = this.#olderNames.get(node);
    if (node.isNamed(parent, name)) {
      const next = older?.shift();
      node.parent = next?.parent;
      node.name = next?.name;
      if (next !== undefined) this.observer?.named(node);
      if (older !== undefined) this.#setOlderNames(node, older);
    } else if (older !== undefined) {
      this.#setOlderNames(node, older.filter((n) => n.parent !== parent || !n.name.equals(name)));
    }
  }

  /** Earlier names of a hard-linked `node`, newest first (see {@link #olderNames}); none: empty. */
  #setOlderNames(node: PassthroughNode, older: KnownName[]): void {
    if (older.length > 0) this.#olderNames.set(node, older);
    else this.#olderNames.delete(node);
  }

  /**
   * `node`'s last link is gone (an unlink of a name with st_nlink 1): its descriptor, once the kernel
   * forgets it, is the inode's last reference, and closing it frees the inode and its blocks (ext4:
   * ext4_evict_inode, with a discard of the blocks on a `discard` mount). That close is done on libuv's
   * thread pool, not in line: the FORGET that brings it has no reply, but the requests queued behind it
   * would wait. strace of an unlink loop over 2,000 written-back 4 KiB files: that close took 163 µs
   * (median) of the daemon's time per file, the unlinkat 24 µs.
   */
  lastLinkRemoved(node: PassthroughNode): void {
    if (node !== this.root && node.fd >= 0) this.#unlinked.add(node.id);
  }

  /** The names `node` was seen under, newest first (a copy: callers drop stale ones as they go). */
  namesOf(node: PassthroughNode): KnownName[] {
    const out: KnownName[] = node.parent !== undefined && node.name !== undefined ? [{ parent: node.parent, name: node.name }] : [];
    const older = this.#olderNames.get(node);
    if (older !== undefined) out.push(...older);
    return out;
  }

  /** FORGET: drops `count` lookups; the node goes (and its descriptor closes) at zero. */
  forget(id: number | bigint, count: number | bigint): void {
    // Never resolves a journaled id: forgotten, it is the kernel's no more.
    const node = typeof id === 'number' ? this.#byId.get(id) : undefined;
    if (node === undefined) {
      const journaled = typeof id === 'number' ? this.#journaled.get(id) : undefined;
      if (journaled !== undefined) this.#unjournal(journaled);
      return;
    }
    if (node === this.root) return;
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
        olderNames: this.#olderNames.get(n)?.map((k) => [k.parent.id, k.name] as const),
      });
    }
    return { nextId: this.#nextId, nodes, journaled: [...this.#journaled.values()] };
  }

  /** Replaces this (new) table's nodes, the root included, with exported ones; `fdOf` turns a token into a descriptor. */
  importNodes(data: ExportedNodes, fdOf: (token: number) => number): void {
    const fresh = [...this.#byId.values()];
    const imported = new Map<number, PassthroughNode>();
    try {
      for (const e of data.nodes) {
        const { dev, ino } = splitKey(e.key);
        const node = new PassthroughNode(e.id, fdOf(e.fd), { dev, ino, mode: e.type });
        node.nlookup = e.nlookup;
        imported.set(e.id, node);
      }
      if (!imported.has(1)) throw new Error('the exported passthrough table has no root node');
    } catch (err) {
      for (const n of imported.values()) { try { closeSync(n.fd); } catch { /* already closed */ } }
      throw err;
    }
    for (const n of fresh) this.#drop(n, false);
    this.root = imported.get(1)!;
    for (const e of data.nodes) {
      const node = imported.get(e.id)!;
      node.parent = e.parent === undefined ? undefined : imported.get(e.parent);
      node.name = e.name;
      this.#setOlderNames(node, e.olderNames?.flatMap(([parent, name]) => {
        const dir = imported.get(parent);
        return dir === undefined ? [] : [{ parent: dir, name }];
      }) ?? []);
      this.#index(node);
    }
    // Tables from before deterministic ids counted from 2: ids from the counter start above them all.
    this.#nextId = Math.max(COUNTED_IDS_FROM, data.nextId);
    if (data.journaled !== undefined) this.recover(data.journaled);
  }

  /** Closes every descriptor (unmount). */
  clear(): void {
    for (const node of this.#byId.values()) this.#drop(node, false);
  }

  /** st_ino + 1 for an inode of SOURCE's device (see {@link DETERMINISTIC_IDS_BELOW}), else 0. */
  #deterministicId(st: Pick<InodeIdentity, 'dev' | 'ino'>): number {
    return st.dev === this.#rootDev && typeof st.ino === 'number' && st.ino > 0 && st.ino < DETERMINISTIC_IDS_BELOW ? st.ino + 1 : 0;
  }

  /** A new node's id: see {@link DETERMINISTIC_IDS_BELOW}. */
  #idFor(st: InodeIdentity): number {
    const id = this.#deterministicId(st);
    if (id !== 0 && !this.#byId.has(id) && !this.#journaled.has(id)) return id;
    // Another device (a filesystem mounted inside SOURCE): its inode numbers would collide with SOURCE's.
    while (this.#byId.has(this.#nextId) || this.#journaled.has(this.#nextId)) this.#nextId++;
    return this.#nextId++;
  }

  /**
   * A journaled id resolved: its parent (resolved first), then its name there, which must still be the
   * same inode (renames and unlinks made through the mount are journaled; made in SOURCE directly while
   * no daemon ran, they make the id unresolvable, and the request that named it gets ESTALE).
   *
   * Lookup count: the kernel held at least one lookup of it when the daemon crashed, and how many is
   * unknown. The node starts at 1, and FORGETs subtract from it down to 0 (saturating, as forget()
   * drops the node at 0 or below): the kernel's partial FORGETs (a LOOKUP reply it could not use,
   * fs/fuse/dir.c fuse_lookup_name, fuse_dentry_revalidate) each undo a lookup counted since, and the
   * final one (fs/fuse/inode.c fuse_evict_inode) carries everything it held. So the node is pinned until
   * the kernel evicts the inode, at the cost of one descriptor and a table entry per such node, as for
   * any node the kernel holds.
   */
  #resolve(id: number, depth: number): PassthroughNode | undefined {
    const j = this.#journaled.get(id);
    if (j === undefined || depth > MAX_RESOLVE_DEPTH) return undefined;
    const parent = this.#byId.get(j.parent) ?? this.#resolve(j.parent, depth + 1);
    if (parent === undefined || parent.type !== S_IFDIR) return undefined;
    let fd: number;
    try {
      fd = openSync(Buffer.concat([parent.prefix, j.name]), O_PATH | fsConstants.O_NOFOLLOW);
    } catch {
      return undefined;
    }
    const st = identityOf(fstatSync(fd, { bigint: true }));
    if (st.key !== j.key || this.find(st) !== undefined) {
      closeSync(fd);
      return undefined;
    }
    this.#unjournal(j);
    const node = this.#add(id, fd, st);
    node.nlookup = 1;
    // The journal has this name already: no observer call.
    node.parent = parent;
    node.name = j.name;
    return node;
  }

  #unjournal(j: JournaledNode): void {
    this.#journaled.delete(j.id);
    if (this.#journaledByKey.get(j.key) === j) this.#journaledByKey.delete(j.key);
  }

  #add(id: number, fd: number, st: InodeIdentity): PassthroughNode {
    const node = new PassthroughNode(id, fd, st);
    this.#index(node);
    return node;
  }

  /** Whether {@link find} reaches `node` without #byKey: through its id, or as the root (id 1). */
  #foundById(node: PassthroughNode): boolean {
    return node.id === 1 || node.id === this.#deterministicId(node);
  }

  #index(node: PassthroughNode): void {
    this.#byId.set(node.id, node);
    if (!this.#foundById(node)) this.#byKey.set(node.key, node);
  }

  /** Drops `node`: forgotten by the kernel (`observed`), or the whole table going (unmount, handoff), closed in line. */
  #drop(node: PassthroughNode, observed = true): void {
    if (observed) this.observer?.dropped(node);
    this.#byId.delete(node.id);
    if (!this.#foundById(node) && this.#byKey.get(node.key) === node) this.#byKey.delete(node.key);
    const unlinked = this.#unlinked.delete(node.id);
    if (node.fd >= 0) {
      // The number stays taken until the close is done, so no descriptor opened meanwhile can be closed by it.
      if (unlinked && observed) close(node.fd, ignoreCloseError);
      else try { closeSync(node.fd); } catch { /* already closed */ }
    }
    node.fd = -1;
    node.parent = undefined;
    node.name = undefined;
    this.#olderNames.delete(node);
  }
}
