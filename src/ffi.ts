/**
 * libc through `node:ffi` (Node >= 26), for tsfuse's bindings: the part of the module they use, typed
 * once here because @types/node 20 does not describe it, and {@link bindLibc}, which loads the module and
 * binds functions with the one set of explanations for why it cannot. src/mount/ffi.ts has the facts
 * about node:ffi these rely on. Each binding calls bindLibc itself, on first use.
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

/** A libc function as node:ffi calls it. */
export type LibcFunction = (...args: unknown[]) => unknown;

/** What {@link bindLibc} binds: the functions by name, and errno. */
export interface LibcBinding<N extends string> {
  readonly ffi: FfiModule;
  readonly fn: Readonly<Record<N, LibcFunction>>;
  /**
   * errno after a failed call. Its address is per thread, asked once: a module instance, with what it
   * binds, lives on one thread (the main one or a worker, which loads modules of its own).
   */
  errno(): number;
}

/**
 * A zero-filled buffer and its address, for a binding that passes the same buffer to libc on every call
 * as a 'pointer' argument: a Buffer argument costs node:ffi a conversion and a BigInt per call (heap
 * sampling of a LOOKUP loop: ~120 bytes per call). The buffer is an ArrayBuffer of its own
 * (allocUnsafeSlow: never on V8's heap, where a small typed array's bytes could move), and must stay
 * reachable as long as the address is used: keep the pair, not the address alone (the GC sees no address).
 */
export function pinnedBuffer(ffi: FfiModule, size: number): [Buffer, bigint] {
  const b = Buffer.allocUnsafeSlow(size).fill(0);
  return [b, ffi.getRawPointer(b)];
}

/** The node:ffi module once a binding of {@link bindLibcFrom} has used it. */
let usedFfi: FfiModule | undefined;

/**
 * node:ffi if this process binds libc through it already, else undefined: for optional speed-ups that
 * are not worth loading it for, as loading it prints an ExperimentalWarning (Node 26) that a daemon
 * without node:ffi features should not show.
 */
export function ffiInUse(): FfiModule | undefined {
  return usedFfi;
}

/**
 * Loads node:ffi and binds `definitions` from the process image (which links libc). Returns the
 * functions, or a sentence saying why not that starts with `needs`, the subject and its verb (e.g.
 * "kernel passthrough needs"): Node < 26 (then `why`, what the module is for, follows "(Node >= 26)"),
 * a Node 26 without the module (--no-experimental-ffi), the permission model (--allow-ffi), or a
 * function libc lacks.
 */
export function bindLibc<N extends string>(needs: string, definitions: Readonly<Record<N, FfiSignature>>, why = ''): LibcBinding<N> | string {
  let ffi: FfiModule | undefined;
  try {
    // Synchronous, and undefined (not a throw) for a module this Node does not have.
    ffi = process.getBuiltinModule?.('node:ffi') as FfiModule | undefined;
  } catch (e) {
    return `${needs} node:ffi, which could not be loaded: ${(e as Error).message}`;
  }
  if (ffi === undefined) {
    return Number(process.versions.node.split('.')[0]) >= 26
      ? `${needs} node:ffi, which this Node ${process.version} lacks: it was started with --no-experimental-ffi (remove that flag) or built without FFI`
      : `${needs} node:ffi (Node >= 26)${why === '' ? '' : ` ${why}`}; this is Node ${process.version}`;
  }
  return bindLibcFrom(ffi, needs, definitions);
}

/**
 * The binding half of {@link bindLibc}, for a node:ffi module already loaded (src/mount/ffi.ts imports it
 * asynchronously): the functions and errno, or why not (the permission model, a function libc lacks).
 */
export function bindLibcFrom<N extends string>(ffi: FfiModule, needs: string, definitions: Readonly<Record<N, FfiSignature>>): LibcBinding<N> | string {
  let functions: Record<string, LibcFunction | undefined>;
  try {
    ({ functions } = ffi.dlopen(null, { ...definitions, __errno_location: signature([], 'pointer') }));
    usedFfi = ffi;
  } catch (e) {
    return (e as { code?: unknown }).code === 'ERR_ACCESS_DENIED'
      ? `${needs} node:ffi, which the permission model blocks: add --allow-ffi next to --permission`
      : `${needs} node:ffi, but binding libc failed: ${(e as Error).message}`;
  }
  const missing = [...Object.keys(definitions), '__errno_location'].filter((name) => functions[name] === undefined);
  if (missing.length > 0) return `${needs} ${missing.join(', ')} from libc, which node:ffi did not find`;
  const address = (functions['__errno_location'] as LibcFunction)() as bigint;
  return { ffi, fn: functions as Record<N, LibcFunction>, errno: () => ffi.getInt32(address) };
}
