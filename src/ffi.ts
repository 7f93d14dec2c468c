/**
 * The part of `node:ffi` (Node >= 26) that tsfuse's libc bindings use, typed once here because
 * @types/node 20 does not describe it; src/mount/ffi.ts has the facts about node:ffi these rely on.
 * Each binding loads the module itself, synchronously with `process.getBuiltinModule`, on first use.
 */
export interface FfiModule {
  dlopen(path: string | null, definitions: Record<string, FfiSignature>): {
    functions: Record<string, ((...args: unknown[]) => unknown) | undefined>;
  };
  getInt32(pointer: bigint): number;
  getRawPointer(view: ArrayBufferView): bigint;
  toArrayBuffer(pointer: bigint, length: number, copy: boolean): ArrayBuffer;
}

/** One function's signature, under both the names node:ffi has used for its fields. */
export interface FfiSignature { arguments: string[]; return: string; parameters: string[]; result: string }

/** The signature of a function taking `args` and returning `ret` (node:ffi type names). */
export function signature(args: string[], ret: string): FfiSignature {
  return { arguments: args, return: ret, parameters: args, result: ret };
}
