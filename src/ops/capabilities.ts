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
 * cache invalidation on mtime/size changes, async direct I/O, and the notifications' newer forms.
 */
export const BASE_CAPABILITIES: readonly InitFlagName[] = Object.freeze([
  'ASYNC_READ', 'BIG_WRITES', 'PARALLEL_DIROPS', 'AUTO_INVAL_DATA', 'ASYNC_DIO', 'HAS_EXPIRE_ONLY', 'HAS_RESEND',
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
