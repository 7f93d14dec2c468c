/**
 * The passthrough's crash-recovery records (src/handoff/supervisor-journal.ts keeps them): what a daemon
 * restarted after a crash needs to serve the node ids and file handles the kernel still holds.
 *
 *  - NODE: an id and the newest (parent id, name) it is known by, with its (st_dev, st_ino) key:
 *    written before the reply that carries the id or the name (a LOOKUP, a create, a link, a rename),
 *    so the kernel never holds an id the journal cannot resolve. The restarted daemon resolves ids
 *    lazily, on the first request that names one (./nodes.ts NodeTable.recover), by name below the
 *    parent and checked against the key.
 *  - FORGOT: the id was dropped (lazily written: a lost one only leaves a record that resolves to
 *    nothing the kernel asks for).
 *  - OPEN: a file or directory handle, the node it opened and the kernel-passthrough backing id (0 for
 *    none), written before the OPEN reply. File handles carry their open flags (passthrough.ts
 *    fileHandleOf), so the restarted daemon opens the file again as it was opened (never with O_TRUNC
 *    or O_CREAT); a directory handle starts a new listing snapshot at the offset asked.
 *  - RELEASE: the handle was released (lazily written, like FORGOT).
 *
 * Little-endian; ids and handles as float64 (they are exact integers below 2^53).
 */
import type { JournaledNode, PassthroughNode } from './nodes.ts';

const NODE = 1;
const FORGOT = 2;
const OPEN = 3;
const RELEASE = 4;
export const HANDLE_FILE = 0;
export const HANDLE_DIR = 1;

/** A handle that may still be open in the kernel. */
export interface JournaledHandle { readonly kind: number; readonly fh: number; readonly node: number; readonly backingId: number }

/** What a journal says is still the kernel's. */
export interface JournalReplay {
  readonly nodes: Map<number, JournaledNode>;
  readonly handles: Map<string, JournaledHandle>;
}

export function nodeRecord(id: number, parent: number, key: string, name: Buffer): Buffer {
  const keyBytes = Buffer.from(key, 'latin1');
  const r = Buffer.allocUnsafe(18 + keyBytes.length + name.length);
  r[0] = NODE;
  r.writeDoubleLE(id, 1);
  r.writeDoubleLE(parent, 9);
  r[17] = keyBytes.length;
  keyBytes.copy(r, 18);
  name.copy(r, 18 + keyBytes.length);
  return r;
}

/** The NODE record of a live node, or undefined for the root and a node with no name known. */
export function recordOfNode(node: PassthroughNode): Buffer | undefined {
  if (node.id === 1 || node.parent === undefined || node.name === undefined) return undefined;
  return nodeRecord(node.id, node.parent.id, node.key, node.name);
}

export function forgotRecord(id: number): Buffer {
  const r = Buffer.allocUnsafe(9);
  r[0] = FORGOT;
  r.writeDoubleLE(id, 1);
  return r;
}

export function openRecord(kind: number, fh: number, node: number, backingId: number): Buffer {
  const r = Buffer.allocUnsafe(22);
  r[0] = OPEN;
  r[1] = kind;
  r.writeDoubleLE(fh, 2);
  r.writeDoubleLE(node, 10);
  r.writeUInt32LE(backingId >>> 0, 18);
  return r;
}

export function releaseRecord(kind: number, fh: number): Buffer {
  const r = Buffer.allocUnsafe(10);
  r[0] = RELEASE;
  r[1] = kind;
  r.writeDoubleLE(fh, 2);
  return r;
}

/** Replays records, oldest first: the latest NODE record of each id wins; a malformed record is skipped. */
export function replayJournal(records: readonly Buffer[]): JournalReplay {
  const nodes = new Map<number, JournaledNode>();
  const handles = new Map<string, JournaledHandle>();
  for (const r of records) {
    const type = r[0];
    if (type === NODE && r.length >= 18 && r.length >= 18 + r[17]!) {
      const keyLength = r[17]!;
      const id = r.readDoubleLE(1);
      nodes.set(id, {
        id, parent: r.readDoubleLE(9), key: r.toString('latin1', 18, 18 + keyLength),
        name: Buffer.from(r.subarray(18 + keyLength)),
      });
    } else if (type === FORGOT && r.length === 9) {
      nodes.delete(r.readDoubleLE(1));
    } else if (type === OPEN && r.length === 22) {
      const kind = r[1]!;
      const fh = r.readDoubleLE(2);
      handles.set(`${kind}:${fh}`, { kind, fh, node: r.readDoubleLE(10), backingId: r.readUInt32LE(18) });
    } else if (type === RELEASE && r.length === 10) {
      handles.delete(`${r[1]!}:${r.readDoubleLE(2)}`);
    }
  }
  return { nodes, handles };
}
