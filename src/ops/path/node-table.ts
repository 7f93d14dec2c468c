/**
 * The node table of the path layer: which node ids the kernel holds, under which names, and how often it
 * looked each one up. Every node knows its parent and its name, so a path is computed by walking up and a
 * rename (even of a directory with a million nodes below it) changes one node: every path below follows.
 *
 * A node lives while the kernel can still name it: its lookup count (LOOKUP, MKNOD, … and READDIRPLUS
 * entries, minus FORGET) or its open handles are above zero, or another live node hangs below it (its
 * path goes through this one). Node ids are never reused, so no generation numbers are needed.
 *
 * Hard links: when the filesystem reports a stable `ino` (and `useIno` is on), every name of that inode
 * maps to one node, which then carries the extra names as aliases. A name that goes away (unlink, rename
 * over it) is removed from its node; a node left without any name keeps its last one, so an open file
 * that was unlinked still has a path ("its last name") for its remaining requests. A node made by
 * O_TMPFILE never had a name: its path is `''` until LINK gives it one.
 */
import type { U64 } from '../../protocol/u64.ts';
import { ROOT_ID } from '../../protocol/constants.ts';
import { S_IFDIR, S_IFMT } from '../file-mode.ts';
import { FuseError } from '../../errors.ts';
import { childPath } from './names.ts';

/** Deeper than this, the parent chain must be a cycle (a filesystem that let a directory move into itself). */
const MAX_DEPTH = 100_000;

interface Alias { parent: PathNode; name: string }

export class PathNode {
  readonly id: number;
  /** S_IFMT bits. */
  readonly type: number;
  /** The filesystem's inode number, when it reported one and `useIno` is on. */
  readonly fsIno: U64 | undefined;
  /** The node's name: its current one when `linked`, else its last one. Undefined for the root and for a nameless (O_TMPFILE) node. */
  parent: PathNode | undefined = undefined;
  name = '';
  /** Whether (parent, name) is a live name, found in `parent.children`. */
  linked = false;
  /** Further live names (hard links). Usually undefined. */
  aliases: Alias[] | undefined = undefined;
  /** LOOKUP-style replies the kernel received, minus FORGETs. */
  lookups = 0;
  /** Open file and directory handles. */
  opens = 0;
  /** Names of other live nodes (current or last) whose parent is this node. */
  refs = 0;
  /** Live names below this directory. Created on first use, dropped when empty. */
  children: Map<string, PathNode> | undefined = undefined;
  /** Tree lock (./tree-lock.ts): requests using a path through this node, … */
  readers = 0;
  /** … whether a rename or removal of this node's name holds it, … */
  writer = false;
  /** … and such requests waiting for the readers to finish. */
  writersWaiting = 0;
  /**
   * Directories: whether READDIRPLUS pages carry attributes for entries listed without them (the path
   * layer's `statEntries`): set once names from a names-only page were then looked up, as `ls -l` does.
   */
  statsEntries = false;
  /** Directories: a names-only READDIRPLUS page went out, and LOOKUPs of new names since are counted … */
  bareListing = false;
  /** … here. */
  lookupsAfterListing = 0;

  constructor(id: number, type: number, fsIno: U64 | undefined) {
    this.id = id;
    this.type = type;
    this.fsIno = fsIno;
  }
}

export class NodeTable {
  readonly root: PathNode;
  readonly #byId = new Map<U64, PathNode>();
  readonly #byIno = new Map<U64, PathNode>();
  readonly #useIno: boolean;
  #nextId = ROOT_ID + 1;

  constructor(useIno: boolean) {
    this.#useIno = useIno;
    this.root = new PathNode(ROOT_ID, S_IFDIR, undefined);
    this.root.linked = true;
    this.#byId.set(ROOT_ID, this.root);
  }

  /** Live nodes, the root included. */
  get size(): number { return this.#byId.size; }

  /**
   * The table as plain data, for a handoff (src/handoff): every live node with its names and counts.
   * Children maps and `refs` are not stored: they follow from the names. Tree-lock state is not either:
   * a handoff exports only once no request runs.
   */
  exportNodes(): ExportedNodes {
    const nodes: ExportedNode[] = [];
    for (const n of this.#byId.values()) {
      nodes.push({
        id: n.id, type: n.type, fsIno: n.fsIno, parent: n.parent?.id, name: n.name, linked: n.linked,
        aliases: n.aliases?.map((a) => [a.parent.id, a.name] as const), lookups: n.lookups, opens: n.opens,
      });
    }
    return { nextId: this.#nextId, nodes };
  }

  /** Replaces this (fresh) table's content with an exported one. */
  importNodes(data: ExportedNodes): void {
    this.#byId.clear();
    this.#byIno.clear();
    this.#byId.set(ROOT_ID, this.root);
    const made = (e: ExportedNode): PathNode => {
      if (e.id === ROOT_ID) return this.root;
      const node = new PathNode(e.id, e.type, e.fsIno);
      this.#byId.set(node.id, node);
      if (node.fsIno !== undefined) this.#byIno.set(node.fsIno, node);
      return node;
    };
    for (const e of data.nodes) made(e);
    for (const e of data.nodes) {
      const node = this.#byId.get(e.id)!;
      node.lookups = e.lookups;
      node.opens = e.opens;
      node.linked = e.linked;
      node.name = e.name;
      node.parent = e.parent === undefined ? undefined : this.#byId.get(e.parent);
      if (node.parent !== undefined) {
        node.parent.refs++;
        if (node.linked) childrenOf(node.parent).set(node.name, node);
      }
      node.aliases = e.aliases?.map(([parent, name]) => {
        const dir = this.#byId.get(parent)!;
        dir.refs++;
        childrenOf(dir).set(name, node);
        return { parent: dir, name };
      });
    }
    this.#nextId = data.nextId;
  }

  get(id: U64): PathNode | undefined { return this.#byId.get(id); }

  /** The node's path: its current name, or its last one once it has none; `''` for a node that never had a name. */
  pathOf(node: PathNode): string {
    if (node.parent === undefined) return node === this.root ? '/' : '';
    let path = '';
    let depth = 0;
    for (let n: PathNode | undefined = node; n.parent !== undefined; n = n.parent) {
      if (++depth > MAX_DEPTH) throw new FuseError('ELOOP', `node ${n.id}: the parent chain has a cycle`);
      path = `/${n.name}${path}`;
    }
    return path;
  }

  /** The node the kernel knows under `parent`/`name`, if any. */
  child(parent: PathNode, name: string): PathNode | undefined {
    return parent.children?.get(name);
  }

  /** The node with this path (as the table knows it), if any. */
  resolve(path: string): PathNode | undefined {
    let node: PathNode | undefined = this.root;
    for (const part of path.split('/')) {
      if (part === '') continue;
      node = node.children?.get(part);
      if (node === undefined) return undefined;
    }
    return node;
  }

  /**
   * A LOOKUP-style answer for `parent`/`name` is about to go out: the node for it (the one the name
   * already had, or the inode's node for a hard link, or a new one), with its lookup count raised by one.
   */
  remember(parent: PathNode, name: string, fsIno: U64 | undefined, mode: number): PathNode {
    const type = mode & S_IFMT;
    const existing = parent.children?.get(name);
    const byIno = this.#useIno && fsIno !== undefined;
    let node: PathNode | undefined;
    if (byIno) {
      const known = this.#byIno.get(fsIno);
      if (known !== undefined && known.type === type) node = known;
      // Same number, other type: the filesystem reused the number; the old node lives on for the kernel.
      else if (known !== undefined) this.#byIno.delete(fsIno);
    } else if (existing !== undefined && existing.type === type) {
      node = existing;
    }
    // The name now belongs to another file (replaced behind the kernel's back).
    if (existing !== undefined && existing !== node) this.#dropName(existing, parent, name);
    if (node === undefined) {
      node = new PathNode(this.#nextId++, type, byIno ? fsIno : undefined);
      this.#byId.set(node.id, node);
      if (byIno) this.#byIno.set(fsIno, node);
    }
    if (parent.children?.get(name) !== node) this.#addName(node, parent, name);
    node.lookups++;
    return node;
  }

  /** TMPFILE is about to be answered: a new node without a name, with one lookup. */
  nameless(fsIno: U64 | undefined, mode: number): PathNode {
    const byIno = this.#useIno && fsIno !== undefined;
    const node = new PathNode(this.#nextId++, mode & S_IFMT, byIno ? fsIno : undefined);
    this.#byId.set(node.id, node);
    if (byIno) this.#byIno.set(fsIno, node);
    node.lookups = 1;
    return node;
  }

  /** LINK succeeded: `node` has the new name `parent`/`name` too, and one more lookup. */
  link(node: PathNode, parent: PathNode, name: string): void {
    const existing = parent.children?.get(name);
    if (existing !== undefined && existing !== node) this.#dropName(existing, parent, name);
    if (existing !== node) this.#addName(node, parent, name);
    node.lookups++;
  }

  /** UNLINK or RMDIR succeeded: the name is gone (its node keeps it as last name if it has no other). */
  unlink(parent: PathNode, name: string): void {
    const node = parent.children?.get(name);
    if (node !== undefined) this.#dropName(node, parent, name);
  }

  /** RENAME succeeded (without RENAME_EXCHANGE). */
  rename(parent: PathNode, name: string, newParent: PathNode, newName: string): void {
    const node = parent.children?.get(name);
    const target = newParent.children?.get(newName);
    // rename(2) between two names of one inode does nothing.
    if (node !== undefined && node === target) return;
    if (target !== undefined) this.#dropName(target, newParent, newName);
    if (node !== undefined) this.#moveName(node, parent, name, newParent, newName);
  }

  /** RENAME with RENAME_EXCHANGE succeeded: the two names swapped their nodes. */
  exchange(parent: PathNode, name: string, newParent: PathNode, newName: string): void {
    const a = parent.children?.get(name);
    const b = newParent.children?.get(newName);
    if (a === b) return;
    if (a !== undefined) this.#moveName(a, parent, name, newParent, newName);
    else if (b !== undefined) this.#dropName(b, newParent, newName);
    if (b !== undefined) {
      if (a !== undefined) this.#moveName(b, newParent, newName, parent, name);
      else this.#addName(b, parent, name);
    }
  }

  /** FORGET: the kernel dropped `count` lookups of node `id`. Unknown ids are ignored (as the kernel expects no reply). */
  forget(id: U64, count: number): void {
    const node = this.#byId.get(id);
    if (node === undefined || node === this.root) return;
    node.lookups = node.lookups > count ? node.lookups - count : 0;
    this.#release(node);
  }

  /** An open handle of `node` closed. */
  closed(node: PathNode): void {
    if (node.opens > 0) node.opens--;
    this.#release(node);
  }

  /* ---- names ------------------------------------------------------------------------------------ */

  #addName(node: PathNode, parent: PathNode, name: string): void {
    childrenOf(parent).set(name, node);
    parent.refs++;
    if (!node.linked) {
      // The new name replaces the last one (or is the first).
      const last = node.parent;
      node.parent = parent;
      node.name = name;
      node.linked = true;
      if (last !== undefined) { last.refs--; this.#release(last); }
    } else {
      aliasesOf(node).push({ parent, name });
    }
  }

  #dropName(node: PathNode, parent: PathNode, name: string): void {
    if (parent.children?.get(name) === node) {
      parent.children.delete(name);
      if (parent.children.size === 0) parent.children = undefined;
    }
    if (node.linked && node.parent === parent && node.name === name) {
      const alias = node.aliases?.pop();
      if (alias === undefined) {
        // No name left: keep this one as the last name (the parent stays referenced for the path).
        node.linked = false;
        return;
      }
      if (node.aliases!.length === 0) node.aliases = undefined;
      node.parent = alias.parent;
      node.name = alias.name;
      parent.refs--;
      this.#release(parent);
      return;
    }
    const aliases = node.aliases;
    if (aliases === undefined) return;
    const i = aliases.findIndex((a) => a.parent === parent && a.name === name);
    if (i < 0) return;
    aliases.splice(i, 1);
    if (aliases.length === 0) node.aliases = undefined;
    parent.refs--;
    this.#release(parent);
  }

  #moveName(node: PathNode, parent: PathNode, name: string, newParent: PathNode, newName: string): void {
    if (parent.children?.get(name) === node) {
      parent.children.delete(name);
      if (parent.children.size === 0) parent.children = undefined;
    }
    childrenOf(newParent).set(newName, node);
    if (node.parent === parent && node.name === name) {
      node.parent = newParent;
      node.name = newName;
      node.linked = true;
    } else {
      const alias = node.aliases?.find((a) => a.parent === parent && a.name === name);
      if (alias === undefined) { aliasesOf(node).push({ parent: newParent, name: newName }); newParent.refs++; return; }
      alias.parent = newParent;
      alias.name = newName;
    }
    newParent.refs++;
    parent.refs--;
    this.#release(parent);
  }

  /* ---- lifetime --------------------------------------------------------------------------------- */

  /** Frees `node` if nothing holds it any more, then its parents as they become free. */
  #release(start: PathNode): void {
    const pending: PathNode[] = [start];
    for (let node = pending.pop(); node !== undefined; node = pending.pop()) {
      if (node === this.root || node.lookups > 0 || node.opens > 0 || node.refs > 0 || this.#byId.get(node.id) !== node) continue;
      this.#byId.delete(node.id);
      if (node.fsIno !== undefined && this.#byIno.get(node.fsIno) === node) this.#byIno.delete(node.fsIno);
      if (node.parent !== undefined) pending.push(unref(node, node.parent, node.name));
      if (node.aliases !== undefined) for (const a of node.aliases) pending.push(unref(node, a.parent, a.name));
      node.aliases = undefined;
    }
  }
}

/** One node of {@link NodeTable.exportNodes}: parents by id. */
export interface ExportedNode {
  readonly id: number;
  readonly type: number;
  readonly fsIno: U64 | undefined;
  readonly parent: number | undefined;
  readonly name: string;
  readonly linked: boolean;
  readonly aliases: readonly (readonly [number, string])[] | undefined;
  readonly lookups: number;
  readonly opens: number;
}

export interface ExportedNodes {
  readonly nextId: number;
  readonly nodes: readonly ExportedNode[];
}

function childrenOf(dir: PathNode): Map<string, PathNode> {
  if (dir.children === undefined) dir.children = new Map();
  return dir.children;
}

function aliasesOf(node: PathNode): Alias[] {
  if (node.aliases === undefined) node.aliases = [];
  return node.aliases;
}

/** Removes one name of a node being freed from its parent; returns the parent, which may be free now. */
function unref(node: PathNode, parent: PathNode, name: string): PathNode {
  if (parent.children?.get(name) === node) {
    parent.children.delete(name);
    if (parent.children.size === 0) parent.children = undefined;
  }
  parent.refs--;
  return parent;
}

export { childPath };
