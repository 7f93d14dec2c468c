/**
 * The INIT capabilities tsfuse asks for on a filesystem's behalf: a base set every filesystem benefits
 * from, plus what each implemented handler implies, read from the opcode table's `implies` column
 * (src/protocol/opcodes.ts). The kernel only offers some behaviours (locks, READDIRPLUS, directory
 * ioctls, the extended setxattr) once they are asked for, so a handler without its capability would
 * never be called.
 */
import type { LowLevelOperations } from './lowlevel.ts';
import type { InitFlagName } from '../protocol/constants.ts';
import { OPCODES } from '../protocol/opcodes.ts';

/**
 * Asked for whatever the filesystem implements: parallel reads and directory operations, large writes,
 * async direct I/O, and the notifications' newer forms.
 *
 * Not AUTO_INVAL_DATA: it makes the kernel refresh attributes before every read(2) whose cached ones have
 * expired (fs/fuse/file.c fuse_cache_read_iter → fuse_update_attributes), so with attr_timeout=0 each
 * read costs a GETATTR round trip too (bench/RESULTS.md measures it with `tsfuse+auto_cache`). It is
 * opt-in: `-o auto_cache` asks for it (src/ops/fs-options.ts initWantsFrom), as does listing it in
 * `capabilities`. Without it the page cache of a file is still dropped at each open (unless the open
 * reply keeps it), as libfuse 2 filesystems have always had it.
 */
export const BASE_CAPABILITIES: readonly InitFlagName[] = Object.freeze([
  'ASYNC_READ', 'BIG_WRITES', 'PARALLEL_DIROPS', 'ASYNC_DIO', 'HAS_EXPIRE_ONLY', 'HAS_RESEND',
] as const);

/** The capability requests tsfuse derives from which handlers a filesystem implements. */
export function deriveCapabilities(ops: LowLevelOperations): InitFlagName[] {
  const caps = new Set<InitFlagName>(BASE_CAPABILITIES);
  for (const row of OPCODES) {
    if (row.implies === undefined || row.method === undefined || ops[row.method] === undefined) continue;
    for (const c of row.implies) caps.add(c);
  }
  return [...caps];
}
