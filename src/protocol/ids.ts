/**
 * Branded 64-bit ids, so an inode number cannot be passed where a file handle is expected. They are
 * `U64`s at run time (a number when exact, a bigint above 2^53 − 1). Handlers return plain `U64`s.
 */
import type { U64 } from './u64.ts';

declare const brand: unique symbol;
/** A node id (the kernel's name for an inode number of this filesystem). */
export type Ino = U64 & { readonly [brand]: 'Ino' };
/** A file handle the filesystem chose in OPEN/OPENDIR/CREATE. */
export type Fh = U64 & { readonly [brand]: 'Fh' };
/** An opaque lock owner id from the kernel. */
export type LockOwner = U64 & { readonly [brand]: 'LockOwner' };
/** A request id, unique among requests in flight. */
export type Unique = U64 & { readonly [brand]: 'Unique' };
