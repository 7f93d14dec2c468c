/**
 * The recording file format (`.tsfr`), version 1: a header with session metadata, then every frame of a
 * session in the order it crossed the boundary, each with its time. Described for other tools in
 * docs/recording-format.md; test/record/format.test.ts pins it with a file built by hand.
 *
 *   file header   magic "TSFREC\r\n" (8) · version u16 · reserved u16 · metadata length u32 · metadata (UTF-8 JSON)
 *   each record   frame length u32 · kind u8 · reserved u8 · refused-write errno u16 · time u64 (ns) · frame bytes
 *
 * Integers are little-endian, like the frames themselves (FUSE frames are host-endian; tsfuse runs on
 * little-endian Linux only). Encoding is one allocation per record; decoding never throws: a damaged file
 * gives a {@link RecordingError}, and a file cut short (a daemon killed while recording) keeps every
 * whole record before the cut and says where it stopped.
 */
import { errnoFromName } from '../errors.ts';

/** "TSFREC\r\n": the CR LF catches a file mangled by a text-mode transfer, as PNG's magic does. */
const MAGIC = Buffer.from('TSFREC\r\n', 'latin1');
/** A copy of the magic (typed arrays cannot be frozen). */
export function recordingMagic(): Buffer { return Buffer.from(MAGIC); }
/** The version this code writes and the only one it reads. Bumped on any change a version-1 reader would misread. */
export const RECORDING_VERSION = 1;
/** Magic, version, reserved, metadata length. */
export const FILE_HEADER_SIZE = 16;
/** Frame length, kind, reserved, refused-write errno, time. */
export const RECORD_HEADER_SIZE = 16;
/** Larger than any FUSE frame (max_pages 256 × 4 KiB plus headers) by far: a longer record is damage. */
export const MAX_RECORD_FRAME = 64 * 1024 * 1024;
/** Metadata beyond this is damage, not a session description. */
export const MAX_METADATA = 1024 * 1024;

/** Which way a frame went, as stored in a record's kind byte. */
export const RecordKind = Object.freeze({ request: 1, reply: 2, notify: 3 } as const);
export type Direction = keyof typeof RecordKind;
const DIRECTION_OF: readonly (Direction | undefined)[] = [undefined, 'request', 'reply', 'notify'];

/**
 * What a recording says about the session it came from. Every field is optional for a reader; tsfuse
 * writes those it knows. Replay reads `filesystem`, `mountOptions` and `session` to rebuild the same
 * filesystem with the same INIT settings.
 */
export interface RecordingMetadata {
  /** `"tsfuse"` for recordings this library wrote. */
  readonly tool?: string;
  /** ISO 8601 time the recording started (wall clock; frame times are relative, from a monotonic clock). */
  readonly created?: string;
  /** The filesystem command (`memfs`, `passthrough`, …) when recorded by `tsfuse record`. */
  readonly filesystem?: string;
  /** Its positional arguments before the mountpoint (passthrough's SOURCE). */
  readonly sources?: readonly string[];
  readonly mountpoint?: string;
  /** The mount options as given to mount(): `-o` strings or an options object. */
  readonly mountOptions?: unknown;
  /** SessionCore options that change replies: extra capabilities, allow_root's owner, interrupt grace. */
  readonly session?: { readonly capabilities?: readonly string[]; readonly ownerOnly?: number; readonly interruptGraceMs?: number };
  /** Node's `process.version` and `process.arch` of the recording process. */
  readonly node?: string;
  readonly arch?: string;
  /** Anything else a writer wants to keep (readers ignore unknown keys). */
  readonly [key: string]: unknown;
}

/** One frame of a recording. */
export interface RecordedFrame {
  readonly direction: Direction;
  /** Nanoseconds since the recording's first frame. */
  readonly timeNs: bigint;
  /** The whole frame as read or written (in-header or out-header first). */
  readonly bytes: Buffer;
  /** 0, or the errno with which the kernel refused this reply or notification (the write failed). */
  readonly refusedErrno: number;
  /** Byte offset of the record in the file, for messages. */
  readonly offset: number;
}

export interface Recording {
  readonly version: number;
  readonly metadata: RecordingMetadata;
  readonly frames: readonly RecordedFrame[];
  /** Present when the file ends inside a record: what was lost. The frames before it are intact. */
  readonly truncated?: string;
}

export type RecordingError =
  | { readonly kind: 'not-a-recording'; readonly message: string }
  | { readonly kind: 'unsupported-version'; readonly version: number; readonly message: string }
  | { readonly kind: 'bad-metadata'; readonly message: string }
  | { readonly kind: 'bad-record'; readonly offset: number; readonly message: string };

/** The file header: magic, version, metadata. */
export function encodeFileHeader(metadata: RecordingMetadata): Buffer {
  const json = Buffer.from(JSON.stringify(metadata, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v)), 'utf8');
  const out = Buffer.alloc(FILE_HEADER_SIZE + json.byteLength);
  MAGIC.copy(out, 0);
  out.writeUInt16LE(RECORDING_VERSION, 8);
  out.writeUInt16LE(0, 10);
  out.writeUInt32LE(json.byteLength, 12);
  json.copy(out, FILE_HEADER_SIZE);
  return out;
}

/**
 * One record: its header and a copy of the frame's iovecs, in one new buffer (the iovecs may be lent
 * memory that the transport reuses as soon as the caller returns).
 */
export function encodeRecord(direction: Direction, timeNs: bigint, iov: readonly Uint8Array[], refused: string | 0 = 0): Buffer {
  let len = 0;
  for (const part of iov) len += part.byteLength;
  const out = Buffer.allocUnsafe(RECORD_HEADER_SIZE + len);
  out.writeUInt32LE(len, 0);
  out.writeUInt8(RecordKind[direction], 4);
  out.writeUInt8(0, 5);
  // An errno name the table does not know (a Node code such as ERR_INVALID_ARG_TYPE) is kept as EIO's 5:
  // the frame did not reach the kernel either way.
  out.writeUInt16LE(refused === 0 ? 0 : Math.min(errnoFromName(refused) ?? 5, 0xffff), 6);
  out.writeBigUInt64LE(timeNs < 0n ? 0n : BigInt.asUintN(64, timeNs), 8);
  let at = RECORD_HEADER_SIZE;
  for (const part of iov) {
    out.set(part, at);
    at += part.byteLength;
  }
  return out;
}

/**
 * Reads a whole recording. Never throws. The frames are views of `file` (no copy): keep `file` alive
 * and unchanged while using them.
 */
export function decodeRecording(file: Uint8Array): Recording | { readonly error: RecordingError } {
  const buf = Buffer.from(file.buffer, file.byteOffset, file.byteLength);
  if (buf.byteLength < FILE_HEADER_SIZE || !buf.subarray(0, 8).equals(MAGIC)) {
    const looksText = buf.byteLength >= 6 && buf.subarray(0, 6).toString('latin1') === 'TSFREC';
    return { error: { kind: 'not-a-recording', message: looksText ? 'the magic is damaged (a text-mode transfer changed its CR LF?)' : 'not a tsfuse recording (no "TSFREC" magic at the start)' } };
  }
  const version = buf.readUInt16LE(8);
  if (version !== RECORDING_VERSION) {
    return { error: { kind: 'unsupported-version', version, message: `recording format version ${version}; this tsfuse reads version ${RECORDING_VERSION}` } };
  }
  const metaLen = buf.readUInt32LE(12);
  if (metaLen > MAX_METADATA || FILE_HEADER_SIZE + metaLen > buf.byteLength) {
    return { error: { kind: 'bad-metadata', message: `metadata length ${metaLen} exceeds the file (${buf.byteLength} bytes)` } };
  }
  let metadata: RecordingMetadata;
  try {
    const parsed: unknown = JSON.parse(buf.subarray(FILE_HEADER_SIZE, FILE_HEADER_SIZE + metaLen).toString('utf8'));
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error('not a JSON object');
    metadata = parsed as RecordingMetadata;
  } catch (e) {
    return { error: { kind: 'bad-metadata', message: `metadata is not a JSON object: ${(e as Error).message}` } };
  }
  const frames: RecordedFrame[] = [];
  let at = FILE_HEADER_SIZE + metaLen;
  while (at < buf.byteLength) {
    if (buf.byteLength - at < RECORD_HEADER_SIZE) {
      return { version, metadata, frames, truncated: `the file ends inside the header of record ${frames.length + 1} (offset ${at}): ${buf.byteLength - at} of ${RECORD_HEADER_SIZE} bytes` };
    }
    const len = buf.readUInt32LE(at);
    const direction = DIRECTION_OF[buf.readUInt8(at + 4)];
    if (direction === undefined) {
      return { error: { kind: 'bad-record', offset: at, message: `record ${frames.length + 1} at offset ${at} has unknown kind ${buf.readUInt8(at + 4)}` } };
    }
    if (len > MAX_RECORD_FRAME) {
      return { error: { kind: 'bad-record', offset: at, message: `record ${frames.length + 1} at offset ${at} claims ${len} bytes` } };
    }
    const start = at + RECORD_HEADER_SIZE;
    if (start + len > buf.byteLength) {
      return { version, metadata, frames, truncated: `the file ends inside record ${frames.length + 1} (offset ${at}): ${buf.byteLength - start} of its ${len} frame bytes` };
    }
    frames.push({ direction, timeNs: buf.readBigUInt64LE(at + 8), bytes: buf.subarray(start, start + len), refusedErrno: buf.readUInt16LE(at + 6), offset: at });
    at = start + len;
  }
  return { version, metadata, frames };
}
