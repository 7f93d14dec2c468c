/**
 * Names are bytes to the kernel and strings to a path filesystem. The policy (`nameEncoding`) is applied
 * here, in both directions, and nowhere else: `'utf8'` refuses bytes that are not UTF-8 (EINVAL, nothing
 * silently replaced); `'latin1'` maps each byte to one character, so every name round-trips.
 */
import { isUtf8 } from 'node:buffer';
import { FuseError, TsfuseError } from '../../errors.ts';

export type NameEncoding = 'utf8' | 'latin1';

export interface NameCodec {
  /** Bytes from the kernel → the filesystem's string. Throws FuseError(EINVAL) for invalid UTF-8 under 'utf8'. */
  decode(bytes: Buffer): string;
  /** A string from the filesystem → what a reply carries (a string is sent as UTF-8 by the codec). */
  encode(name: string): string | Buffer;
  /** Bytes `encode(name)` takes, without encoding it. */
  byteLength(name: string): number;
  /** Writes `encode(name)` into `buf` at `at` and returns its length (room for it is the caller's to check). */
  write(name: string, buf: Buffer, at: number): number;
}

/** Names up to this many UTF-16 units are written byte by byte when they are ASCII. */
const SHORT_NAME = 64;

const UTF8: NameCodec = {
  decode(bytes) {
    if (!isUtf8(bytes)) throw new FuseError('EINVAL', `name ${JSON.stringify(bytes.toString('latin1'))} is not valid UTF-8`);
    return bytes.toString('utf8');
  },
  encode: (name) => name,
  byteLength: (name) => Buffer.byteLength(name, 'utf8'),
  write(name, buf, at) {
    // Most names are short and ASCII: a byte loop beats Buffer#write's call overhead (Node 20 especially).
    const len = name.length;
    if (len <= SHORT_NAME) {
      let k = 0;
      for (; k < len; k++) {
        const c = name.charCodeAt(k);
        if (c >= 0x80) break;
        buf[at + k] = c;
      }
      if (k === len) return len;
    }
    return buf.write(name, at, 'utf8');
  },
};

const LATIN1: NameCodec = {
  decode: (bytes) => bytes.toString('latin1'),
  encode(name) {
    checkLatin1(name);
    return Buffer.from(name, 'latin1');
  },
  byteLength: (name) => name.length,
  write(name, buf, at) {
    checkLatin1(name);
    return buf.write(name, at, 'latin1');
  },
};

function checkLatin1(name: string): void {
  for (let i = 0; i < name.length; i++) {
    if (name.charCodeAt(i) > 0xff) throw new TypeError(`name ${JSON.stringify(name)} has characters beyond U+00FF, which nameEncoding 'latin1' cannot send`);
  }
}

export function nameCodec(encoding: NameEncoding): NameCodec {
  if (encoding === 'utf8') return UTF8;
  if (encoding === 'latin1') return LATIN1;
  throw new TsfuseError('ERR_INVALID_ARG_VALUE', `nameEncoding must be 'utf8' or 'latin1', got ${JSON.stringify(encoding)}`);
}

/** `parent` + '/' + `name`, with the root as '/'. */
export function childPath(parent: string, name: string): string {
  return parent === '/' ? `/${name}` : `${parent}/${name}`;
}
