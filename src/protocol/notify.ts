/**
 * Notifications: messages the daemon sends without a request (unique = 0, the code in the error
 * field). Each encoder returns the framed iovecs, ready for one writev.
 */
import { NotifyCode, InvalEntryFlags } from './constants.ts';
import { frameNotify } from './header.ts';
import {
  NotifyPollWakeupOut, NotifyInvalInodeOut, NotifyInvalEntryOut, NotifyStoreOut, NotifyRetrieveOut, NotifyDeleteOut,
  NotifyPruneOut,
} from './structs.ts';
import { writeU64, writeI64, type U64 } from './u64.ts';
import { asBytes, type BytesLike } from './replies.ts';

const NUL = Buffer.alloc(1);

/** POLL (7.11): wake up the poller that sent `kh`. */
export function encodeNotifyPoll(kh: U64): Uint8Array[] {
  const b = Buffer.alloc(NotifyPollWakeupOut.size);
  writeU64(b, NotifyPollWakeupOut.off.kh, kh);
  return frameNotify(NotifyCode.POLL, [b]);
}

/**
 * INVAL_INODE (7.12): drop cached attributes, and cached data in [offset, offset + length). An offset
 * < 0 invalidates attributes only; length 0 means to the end of the file.
 */
export function encodeNotifyInvalInode(ino: U64, offset: number | bigint = 0, length: number | bigint = 0): Uint8Array[] {
  const b = Buffer.alloc(NotifyInvalInodeOut.size);
  writeU64(b, NotifyInvalInodeOut.off.ino, ino);
  writeI64(b, NotifyInvalInodeOut.off.off, offset);
  writeI64(b, NotifyInvalInodeOut.off.len, length);
  return frameNotify(NotifyCode.INVAL_INODE, [b]);
}

/** INVAL_ENTRY (7.12): drop the cached name in `parent`; with `expireOnly` (7.38) just mark it expired. */
export function encodeNotifyInvalEntry(parent: U64, name: BytesLike, expireOnly = false): Uint8Array[] {
  const n = asBytes(name);
  const b = Buffer.alloc(NotifyInvalEntryOut.size);
  writeU64(b, NotifyInvalEntryOut.off.parent, parent);
  b.writeUInt32LE(n.byteLength, NotifyInvalEntryOut.off.namelen);
  b.writeUInt32LE(expireOnly ? InvalEntryFlags.EXPIRE_ONLY : 0, NotifyInvalEntryOut.off.flags);
  return frameNotify(NotifyCode.INVAL_ENTRY, [b, n, NUL]);
}

/** STORE (7.15): put data into the kernel's page cache for `ino` at `offset`. */
export function encodeNotifyStore(ino: U64, offset: U64, data: Uint8Array): Uint8Array[] {
  const b = Buffer.alloc(NotifyStoreOut.size);
  writeU64(b, NotifyStoreOut.off.nodeid, ino);
  writeU64(b, NotifyStoreOut.off.offset, offset);
  b.writeUInt32LE(data.byteLength, NotifyStoreOut.off.size);
  return frameNotify(NotifyCode.STORE, [b, data]);
}

/** RETRIEVE (7.15): ask for cached data; the kernel answers with a NOTIFY_REPLY request carrying `notifyUnique`. */
export function encodeNotifyRetrieve(notifyUnique: U64, ino: U64, offset: U64, size: number): Uint8Array[] {
  const b = Buffer.alloc(NotifyRetrieveOut.size);
  writeU64(b, NotifyRetrieveOut.off.notify_unique, notifyUnique);
  writeU64(b, NotifyRetrieveOut.off.nodeid, ino);
  writeU64(b, NotifyRetrieveOut.off.offset, offset);
  b.writeUInt32LE(size >>> 0, NotifyRetrieveOut.off.size);
  return frameNotify(NotifyCode.RETRIEVE, [b]);
}

/** DELETE (7.18): `name` in `parent`, which was `child`, is gone (invalidates and d_deletes the dentry). */
export function encodeNotifyDelete(parent: U64, child: U64, name: BytesLike): Uint8Array[] {
  const n = asBytes(name);
  const b = Buffer.alloc(NotifyDeleteOut.size);
  writeU64(b, NotifyDeleteOut.off.parent, parent);
  writeU64(b, NotifyDeleteOut.off.child, child);
  b.writeUInt32LE(n.byteLength, NotifyDeleteOut.off.namelen);
  return frameNotify(NotifyCode.DELETE, [b, n, NUL]);
}

/** RESEND (7.40): the kernel resends every request still waiting for a reply. No body. */
export function encodeNotifyResend(): Uint8Array[] {
  return frameNotify(NotifyCode.RESEND, []);
}

/** INC_EPOCH (7.44): bump the connection epoch, so every cached dentry is revalidated. No body. */
export function encodeNotifyIncEpoch(): Uint8Array[] {
  return frameNotify(NotifyCode.INC_EPOCH, []);
}

/** PRUNE (7.45): ask the kernel to drop unused inodes (and their dentries) for these node ids. */
export function encodeNotifyPrune(inos: readonly U64[]): Uint8Array[] {
  const b = Buffer.alloc(NotifyPruneOut.size + inos.length * 8);
  b.writeUInt32LE(inos.length, NotifyPruneOut.off.count);
  for (let i = 0; i < inos.length; i++) writeU64(b, NotifyPruneOut.size + 8 * i, inos[i]!);
  return frameNotify(NotifyCode.PRUNE, [b]);
}
