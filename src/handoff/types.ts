/**
 * The hooks through which a filesystem takes part in a planned handoff (src/handoff/predecessor.ts): the
 * serving process exports the filesystem's state once it has stopped reading and answered everything it
 * read, and the successor imports it before it reads its first request.
 *
 * A low-level filesystem opts in by implementing both hooks; without them `FuseMount.handoff()` and
 * `tsfuse restart` refuse with ERR_FUSE_HANDOFF and the mount stays as it is. The path layer implements
 * them for its node table and handles and asks the path filesystem for its own state through the same
 * two optional methods (`PathFilesystem.exportState` / `importState`). examples/handoff.ts is a complete
 * low-level example.
 *
 * What must travel: everything the kernel may still name. Node ids with their lookup counts (the kernel
 * will send FORGET for them, and requests naming them), open file and directory handles (fh values the
 * kernel will pass back), and whatever the filesystem keeps that is not on disk. The state is carried
 * by `v8.serialize`, so it may hold plain objects, arrays, Maps, Sets, bigints, Dates and typed arrays
 * (an `Uint8Array` of the filesystem's own encoding works too), not class instances or functions.
 */

/** What `exportState` receives. */
export interface HandoffExportContext {
  /**
   * Hands descriptor `fd` of this process to the successor; returns the token to put in the state, which
   * `HandoffImportContext.fd` turns into the successor's descriptor for the same file. Use it for
   * descriptors the state refers to (O_PATH descriptors of backing inodes, open backing files).
   */
  passFd(fd: number): number;
}

/** What `importState` receives. */
export interface HandoffImportContext {
  /**
   * The successor's descriptor (close-on-exec, owned by the filesystem) for the token `passFd` returned:
   * the same inode, opened with the same flags (an O_PATH descriptor stays O_PATH; a file opened for
   * writing is open for writing). Throws if the file cannot be opened again.
   */
  fd(token: number): number;
}

/** The two hooks; see the module comment. */
export interface HandoffHooks {
  /**
   * Called in the serving process after it has stopped reading and every request it read has been
   * answered: returns the state the successor needs (v8-serializable). Nothing else runs in between.
   */
  exportState?(ctx: HandoffExportContext): unknown;
  /**
   * Called in the successor, on the freshly created filesystem, before the first request: take over
   * `state`. A throw abandons the handoff (the serving process resumes, nothing is lost).
   */
  importState?(state: unknown, ctx: HandoffImportContext): void | Promise<void>;
}

/** What a completed handoff reports. */
export interface HandoffResult {
  /** The successor's process id. */
  readonly pid: number;
  /**
   * Milliseconds during which nobody read /dev/fuse: from this process stopping (after which it answered
   * what it had read) to the successor starting to read. Requests made meanwhile waited in the kernel.
   */
  readonly pausedMs: number;
  /**
   * Milliseconds from the last reply this process wrote to the first one the successor wrote, when a
   * request came within a second of the successor starting; else undefined.
   */
  readonly gapMs: number | undefined;
  /** Size of the serialized state, in bytes. */
  readonly stateBytes: number;
}

/** Whether `ops` implements both handoff hooks. */
export function supportsHandoff(ops: object): ops is Required<HandoffHooks> {
  const o = ops as HandoffHooks;
  return typeof o.exportState === 'function' && typeof o.importState === 'function';
}
