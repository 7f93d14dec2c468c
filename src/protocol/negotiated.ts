/**
 * The settings both sides agreed on in INIT. Immutable; produced by `negotiateInit` (init.ts) and read by
 * the decoders and encoders whose layout depends on it.
 */
import { INIT_FLAG_BY_NAME, KERNEL_MAJOR, KERNEL_MINOR, type InitFlagName } from './constants.ts';

export interface Negotiated {
  readonly major: number;
  /** The protocol minor in use: the smaller of the kernel's and ours. */
  readonly minor: number;
  /** Granted INIT flags, word 1 and word 2 (flags2 = bits 32..63). */
  readonly flags: number;
  readonly flags2: number;
  readonly maxReadahead: number;
  readonly maxWrite: number;
  readonly maxPages: number;
  readonly maxBackground: number;
  readonly congestionThreshold: number;
  readonly timeGran: number;
  readonly mapAlignment: number;
  readonly maxStackDepth: number;
  readonly requestTimeout: number;
  /** SETXATTR_EXT granted: fuse_setxattr_in is 16 bytes. */
  readonly setxattrExt: boolean;
}

/** Whether an INIT flag was granted. */
export function hasFlag(n: Pick<Negotiated, 'flags' | 'flags2'>, name: InitFlagName): boolean {
  const info = INIT_FLAG_BY_NAME.get(name)!;
  return info.bit < 32 ? ((n.flags >>> info.bit) & 1) === 1 : ((n.flags2 >>> (info.bit - 32)) & 1) === 1;
}

/**
 * What decoders assume before INIT has been answered (and what tests use by default): the newest minor,
 * no optional layouts.
 */
export const PRE_INIT: Negotiated = Object.freeze({
  major: KERNEL_MAJOR, minor: KERNEL_MINOR, flags: 0, flags2: 0, maxReadahead: 0, maxWrite: 4096, maxPages: 1,
  maxBackground: 0, congestionThreshold: 0, timeGran: 1, mapAlignment: 0, maxStackDepth: 0, requestTimeout: 0,
  setxattrExt: false,
});
