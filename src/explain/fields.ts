/**
 * One struct of a frame as explained fields: each field of the layout (src/protocol/structs.ts) with its
 * offset in the frame, size, raw bytes, decoded value, and what the value means (flag words by name,
 * modes, times, errnos). Nested structs are walked with a dotted prefix (`attr.mode`); arrays of scalars
 * are one field. The walker reads only bytes that are there: a field cut off by the end of the frame is
 * reported as truncated, never read past.
 */
import type { FieldSpec, ScalarType, StructLayout } from '../protocol/layout.ts';
import { readI64, readU64 } from '../protocol/u64.ts';
import {
  AttrFlags, FsyncFlags, GetattrFlags, INVALID_UIDGID, IoctlFlags, LockFlags, NotifyCode, OpenFlags, OpenInFlags, PollFlags,
  ReadFlags, ReleaseFlags, RenameFlags, ROOT_ID, SetattrValid, SetupmappingFlags, SetxattrFlags, UNIQUE_RESEND_BIT_HI,
  WriteFlags, CuseInitFlags, InvalEntryFlags, S_IFMT, S_IFSOCK, S_IFLNK, S_IFREG, S_IFBLK, S_IFDIR, S_IFCHR, S_IFIFO,
} from '../protocol/constants.ts';
import { opcodeName } from '../protocol/opcodes.ts';
import {
  ACCESS_MASK, AT_FLAGS, FALLOC_FLAGS, LOCK_TYPES, POLL_EVENTS, SEEK_WHENCE, STATX_MASK, XATTR_FLAGS, flagWords, initFlagWords,
  openFlagWords, type FlagTable,
} from '../session/flag-names.ts';
import { errnoName } from '../errors.ts';

/** One field of an explained frame. */
export interface ExplainedField {
  /** The C field name, dotted inside nested structs (`attr.mode`), or what a name or payload is (`name`, `data`). */
  readonly name: string;
  /** The C type: `u32`, `u64`, `u32[11]`, `char[]` for a NUL-terminated name, `u8[]` for a payload. */
  readonly type: string;
  /** Offset of its first byte in the frame. */
  readonly offset: number;
  readonly size: number;
  /** Its raw bytes in hex, as they are in the frame (the first {@link HEX_LIMIT} bytes, then `…`). */
  readonly hex: string;
  /** The decoded value: an integer (a bigint above 2^53), or text for names, payloads and arrays. */
  readonly value: number | bigint | string;
  /** What the value means: flag names, a file mode, a time, an errno name. Absent: nothing beyond the value. */
  readonly meaning?: string;
}

/** The most bytes of one field kept as hex. */
export const HEX_LIMIT = 64;

/** `2e 00 00 00`, or the first {@link HEX_LIMIT} bytes then `…`. */
export function hexOf(b: Uint8Array, limit = HEX_LIMIT): string {
  const shown = b.subarray(0, limit);
  let s = '';
  for (let i = 0; i < shown.length; i++) s += (i === 0 ? '' : ' ') + (shown[i] as number).toString(16).padStart(2, '0');
  return b.length > limit ? `${s} …` : s;
}

/** What the value of one field means, given the whole frame for context. */
type Meaning = (value: number | bigint) => string | undefined;

const words = (table: FlagTable, prefix: string): Meaning => (v) => flagWords(table, v, prefix);
const open: Meaning = (v) => openFlagWords(Number(v));
const octal: Meaning = (v) => `0o${v.toString(8)}`;
const enumOf = (names: readonly string[]): Meaning => (v) => names[Number(v)] ?? `unknown (${String(v)})`;
const seconds: Meaning = (v) => `${String(v)} s`;
const nanoseconds: Meaning = (v) => `${String(v)} ns`;
const bytes: Meaning = (v) => `${String(v)} bytes`;
const padding: Meaning = (v) => (v === 0 || v === 0n ? undefined : 'padding, but not zero');
const epoch: Meaning = (v) => {
  const ms = Number(BigInt.asIntN(64, BigInt(v))) * 1000;
  return Number.isFinite(ms) && Math.abs(ms) < 8.64e15 ? new Date(ms).toISOString().replace('.000Z', 'Z') : undefined;
};

/** File types of the S_IFMT bits (<linux/stat.h>). */
const FILE_TYPES: ReadonlyMap<number, string> = new Map([
  [S_IFSOCK, 'S_IFSOCK'], [S_IFLNK, 'S_IFLNK'], [S_IFREG, 'S_IFREG'], [S_IFBLK, 'S_IFBLK'], [S_IFDIR, 'S_IFDIR'],
  [S_IFCHR, 'S_IFCHR'], [S_IFIFO, 'S_IFIFO'],
]);
/** `S_IFREG|0644`: the file type by name, then the permission bits in octal. */
export function modeWords(mode: number): string {
  const type = mode & S_IFMT;
  const perms = (mode & ~S_IFMT).toString(8).padStart(4, '0');
  if (type === 0) return `0${perms.slice(-4)}`;
  return `${FILE_TYPES.get(type) ?? `0o${type.toString(8)}`}|${perms}`;
}
const mode: Meaning = (v) => modeWords(Number(v));

/** DT_* of fuse_dirent.type (<linux/fs_types.h>). */
const DIRENT_TYPES = ['DT_UNKNOWN', 'DT_FIFO', 'DT_CHR', '', 'DT_DIR', '', 'DT_BLK', '', 'DT_REG', '', 'DT_LNK', '', 'DT_SOCK', '', 'DT_WHT'];
const NOTIFY_NAMES = Object.fromEntries(Object.entries(NotifyCode).map(([k, v]) => [v, k])) as Record<number, string>;
const uidgid: Meaning = (v) => (v === INVALID_UIDGID ? 'FUSE_INVALID_UIDGID (no mapping on an idmapped mount)' : undefined);
const fh: Meaning = (v) => (typeof v === 'bigint' || v > 0xffff_ffff ? `0x${v.toString(16)}` : undefined);

/**
 * What each field's value means, keyed `c_struct_name.field` (the struct that declares the field, also
 * when it is nested). Flag tables come from src/protocol/constants.ts and src/session/flag-names.ts.
 */
const MEANINGS: Readonly<Record<string, Meaning>> = {
  'fuse_in_header.len': bytes,
  'fuse_in_header.opcode': (v) => opcodeName(Number(v)),
  'fuse_in_header.unique': (v) => ((BigInt(v) >> 32n) & BigInt(UNIQUE_RESEND_BIT_HI)) !== 0n ? 'FUSE_UNIQUE_RESEND: resent after a RESEND notification' : undefined,
  'fuse_in_header.nodeid': (v) => (v === ROOT_ID ? 'the root directory (FUSE_ROOT_ID)' : v === 0 ? 'no node' : undefined),
  'fuse_in_header.uid': uidgid,
  'fuse_in_header.gid': uidgid,
  'fuse_in_header.total_extlen': (v) => (v === 0 ? 'no extensions' : `${Number(v) * 8} bytes of extensions at the end`),
  'fuse_out_header.len': bytes,
  'fuse_out_header.error': (v) => {
    const n = Number(v);
    if (n === 0) return 'success';
    return n < 0 ? `-${errnoName(-n)}` : `notification ${NOTIFY_NAMES[n] ?? 'unknown'}`;
  },
  'fuse_out_header.unique': (v) => (v === 0 ? 'unique 0: a notification' : undefined),
  'fuse_attr.mode': mode,
  'fuse_attr.flags': words(AttrFlags, 'FUSE_ATTR_'),
  'fuse_attr.atime': epoch,
  'fuse_attr.mtime': epoch,
  'fuse_attr.ctime': epoch,
  'fuse_attr.size': bytes,
  'fuse_attr.blocks': (v) => `${String(v)} × 512 bytes`,
  'fuse_attr.uid': uidgid,
  'fuse_attr.gid': uidgid,
  'fuse_entry_out.nodeid': (v) => (v === 0 ? 'negative entry: the name does not exist, cached for entry_valid' : undefined),
  'fuse_entry_out.entry_valid': seconds,
  'fuse_entry_out.attr_valid': seconds,
  'fuse_entry_out.entry_valid_nsec': nanoseconds,
  'fuse_entry_out.attr_valid_nsec': nanoseconds,
  'fuse_attr_out.attr_valid': seconds,
  'fuse_attr_out.attr_valid_nsec': nanoseconds,
  'fuse_statx_out.attr_valid': seconds,
  'fuse_statx_out.attr_valid_nsec': nanoseconds,
  'fuse_statx.mask': words(STATX_MASK, ''),
  'fuse_statx.mode': mode,
  'fuse_sx_time.tv_sec': epoch,
  'fuse_getattr_in.getattr_flags': words(GetattrFlags, 'FUSE_GETATTR_'),
  'fuse_getattr_in.fh': fh,
  'fuse_statx_in.getattr_flags': words(GetattrFlags, 'FUSE_GETATTR_'),
  'fuse_statx_in.sx_flags': words(AT_FLAGS, ''),
  'fuse_statx_in.sx_mask': words(STATX_MASK, ''),
  'fuse_setattr_in.valid': words(SetattrValid, 'FATTR_'),
  'fuse_setattr_in.mode': mode,
  'fuse_setattr_in.atime': epoch,
  'fuse_setattr_in.mtime': epoch,
  'fuse_setattr_in.ctime': epoch,
  'fuse_mknod_in.mode': mode,
  'fuse_mknod_in.umask': octal,
  'fuse_mkdir_in.mode': octal,
  'fuse_mkdir_in.umask': octal,
  'fuse_rename2_in.flags': words(RenameFlags, 'RENAME_'),
  'fuse_open_in.flags': open,
  'fuse_open_in.open_flags': words(OpenInFlags, 'FUSE_OPEN_'),
  'fuse_create_in.flags': open,
  'fuse_create_in.mode': mode,
  'fuse_create_in.umask': octal,
  'fuse_create_in.open_flags': words(OpenInFlags, 'FUSE_OPEN_'),
  'fuse_open_out.fh': fh,
  'fuse_open_out.open_flags': words(OpenFlags, 'FOPEN_'),
  'fuse_release_in.fh': fh,
  'fuse_release_in.flags': open,
  'fuse_release_in.release_flags': words(ReleaseFlags, 'FUSE_RELEASE_'),
  'fuse_flush_in.fh': fh,
  'fuse_read_in.fh': fh,
  'fuse_read_in.offset': bytes,
  'fuse_read_in.size': bytes,
  'fuse_read_in.read_flags': words(ReadFlags, 'FUSE_READ_'),
  'fuse_read_in.flags': open,
  'fuse_write_in.fh': fh,
  'fuse_write_in.offset': bytes,
  'fuse_write_in.size': bytes,
  'fuse_write_in.write_flags': words(WriteFlags, 'FUSE_WRITE_'),
  'fuse_write_in.flags': open,
  'fuse_write_out.size': bytes,
  'fuse_fsync_in.fsync_flags': words(FsyncFlags, 'FUSE_FSYNC_'),
  'fuse_setxattr_in.size': bytes,
  'fuse_setxattr_in.flags': words(XATTR_FLAGS, ''),
  'fuse_setxattr_in.setxattr_flags': words(SetxattrFlags, 'FUSE_SETXATTR_'),
  'fuse_getxattr_in.size': (v) => (v === 0 ? 'size probe: only the length is asked for' : `${String(v)} bytes`),
  'fuse_getxattr_out.size': bytes,
  'fuse_file_lock.type': enumOf(LOCK_TYPES),
  'fuse_lk_in.lk_flags': words(LockFlags, 'FUSE_LK_'),
  'fuse_access_in.mask': (v) => (v === 0 ? 'F_OK' : flagWords(ACCESS_MASK, v)),
  'fuse_init_in.flags': (v) => initFlagWords(Number(v)),
  'fuse_init_in.flags2': (v) => initFlagWords(0, Number(v)),
  'fuse_init_in.max_readahead': bytes,
  'fuse_init_out.flags': (v) => initFlagWords(Number(v)),
  'fuse_init_out.flags2': (v) => initFlagWords(0, Number(v)),
  'fuse_init_out.max_readahead': bytes,
  'fuse_init_out.max_write': bytes,
  'fuse_init_out.time_gran': nanoseconds,
  'fuse_init_out.max_pages': (v) => `${String(v)} pages of 4 KiB`,
  'fuse_init_out.request_timeout': (v) => (v === 0 ? 'no timeout' : `${String(v)} s`),
  'cuse_init_in.flags': words(CuseInitFlags, 'CUSE_'),
  'fuse_ioctl_in.flags': words(IoctlFlags, 'FUSE_IOCTL_'),
  'fuse_ioctl_in.cmd': (v) => `0x${v.toString(16)}`,
  'fuse_poll_in.flags': words(PollFlags, 'FUSE_POLL_'),
  'fuse_poll_in.events': words(POLL_EVENTS, ''),
  'fuse_poll_out.revents': words(POLL_EVENTS, ''),
  'fuse_fallocate_in.mode': words(FALLOC_FLAGS, ''),
  'fuse_lseek_in.whence': enumOf(SEEK_WHENCE),
  'fuse_setupmapping_in.flags': words(SetupmappingFlags, 'FUSE_SETUPMAPPING_FLAG_'),
  'fuse_dirent.type': (v) => DIRENT_TYPES[Number(v)] || `unknown (${String(v)})`,
  'fuse_dirent.namelen': bytes,
  'fuse_notify_inval_entry_out.flags': words(InvalEntryFlags, 'FUSE_'),
  'fuse_notify_inval_inode_out.off': (v) => (BigInt(v) < 0n ? 'negative: attributes only, no data' : undefined),
};

/** Field names that are padding or reserved space: zero, or worth a remark. */
const PADDING = /^(padding|dummy\d*|unused\d*|spare|__reserved|__spare\d*)$/;

function readScalar(frame: Uint8Array, at: number, type: ScalarType): number | bigint {
  const b = Buffer.from(frame.buffer, frame.byteOffset, frame.byteLength);
  switch (type) {
    case 'u8': return b.readUInt8(at);
    case 'u16': return b.readUInt16LE(at);
    case 'u32': return b.readUInt32LE(at);
    case 'i32': return b.readInt32LE(at);
    case 'u64': return readU64(frame, at);
    case 'i64': return readI64(frame, at);
  }
}

function scalarSize(type: ScalarType): number {
  return type === 'u8' ? 1 : type === 'u16' ? 2 : type === 'u32' || type === 'i32' ? 4 : 8;
}

/** What walking one struct found: its fields, and the first field cut off by the end (if any). */
export interface WalkResult {
  readonly fields: ExplainedField[];
  /** The name of the first field that did not fit before `limit`. Absent: the whole struct fit. */
  readonly truncatedAt?: string;
}

/**
 * The fields of `layout` placed at `base` in `frame`, reading no byte at or past `limit`. A field that
 * starts before `limit` but does not end before it is listed with its bytes and the value `(truncated)`.
 */
export function walkStruct(layout: StructLayout, frame: Uint8Array, base: number, limit = frame.length, prefix = ''): WalkResult {
  const fields: ExplainedField[] = [];
  const truncatedAt = walkInto(layout, frame, base, Math.min(limit, frame.length), prefix, fields);
  return truncatedAt === undefined ? { fields } : { fields, truncatedAt };
}

function walkInto(layout: StructLayout, frame: Uint8Array, base: number, limit: number, prefix: string, out: ExplainedField[]): string | undefined {
  for (const f of layout.fields) {
    const at = base + f.offset;
    const name = prefix + f.name;
    if (typeof f.type !== 'string' && f.count === 1) {
      const cut = walkInto(f.type, frame, at, limit, `${name}.`, out);
      if (cut !== undefined) return cut;
      continue;
    }
    if (at >= limit) return name;
    if (at + f.size > limit) {
      out.push({ name, type: typeName(f), offset: at, size: limit - at, hex: hexOf(frame.subarray(at, limit)), value: '(truncated)' });
      return name;
    }
    out.push(explainScalarField(layout, f, frame, at, name));
  }
  return undefined;
}

function typeName(f: FieldSpec): string {
  const t = typeof f.type === 'string' ? f.type : f.type.cName;
  return f.count === 1 ? t : `${t}[${f.count}]`;
}

function explainScalarField(layout: StructLayout, f: FieldSpec, frame: Uint8Array, at: number, name: string): ExplainedField {
  const raw = frame.subarray(at, at + f.size);
  const base = { name, type: typeName(f), offset: at, size: f.size, hex: hexOf(raw) };
  if (f.count !== 1 || typeof f.type !== 'string') {
    // An array: reserved space almost always, so say whether it is all zero.
    const zero = raw.every((b) => b === 0);
    if (zero) return { ...base, value: 0, meaning: PADDING.test(f.name) ? 'reserved, all zero' : 'all zero' };
    const type = f.type;
    const items = typeof type === 'string'
      ? Array.from({ length: f.count }, (_, i) => String(readScalar(frame, at + i * scalarSize(type), type)))
      : [];
    return { ...base, value: items.length > 0 ? `[${items.join(', ')}]` : `<${f.size} bytes>`, ...(PADDING.test(f.name) && { meaning: 'reserved, but not zero' }) };
  }
  const value = readScalar(frame, at, f.type);
  const meaningOf = MEANINGS[`${layout.cName}.${f.name}`] ?? (PADDING.test(f.name) ? padding : undefined);
  let meaning: string | undefined;
  try {
    meaning = meaningOf?.(value);
  } catch {
    meaning = undefined; // a table that cannot name a value leaves the number to speak for itself
  }
  return meaning === undefined || meaning === '' ? { ...base, value } : { ...base, value, meaning };
}

/** A run of bytes that is not a struct: a NUL-terminated name (`char[]`) or a payload (`u8[]`). */
export function bytesField(name: string, frame: Uint8Array, offset: number, size: number, kind: 'name' | 'payload', meaning?: string): ExplainedField {
  const raw = frame.subarray(offset, offset + size);
  const content = kind === 'name' && raw[raw.length - 1] === 0 ? raw.subarray(0, raw.length - 1) : raw;
  const base = { name, type: kind === 'name' ? 'char[]' : 'u8[]', offset, size, hex: hexOf(raw), value: showBytes(content) };
  return meaning === undefined ? base : { ...base, meaning };
}

/** Text in quotes when the bytes are printable UTF-8, else `<N bytes>`; long text is cut at 60 characters. */
export function showBytes(b: Uint8Array): string {
  const buf = Buffer.from(b.buffer, b.byteOffset, b.byteLength);
  const text = buf.toString('utf8');
  if (Buffer.byteLength(text) === buf.length && /^[\x20-\x7e\t\n\u00a0-\uffff]*$/.test(text) && !text.includes('\ufffd')) {
    return text.length > 60 ? `${JSON.stringify(text.slice(0, 60))}… (${buf.length} bytes)` : JSON.stringify(text);
  }
  return `<${buf.length} bytes>`;
}
