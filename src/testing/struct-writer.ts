/**
 * Writes a kernel struct from its layout in src/protocol/structs.ts, field by field, as the kernel fills
 * its `fuse_*_in` structs. This is the only code the request builders share with the protocol core (the
 * layouts, which the C layout test checks against `<linux/fuse.h>`); the decoders read the same bytes
 * with their own cursor, so a builder/decoder round trip tests the decoders, not this file.
 */
import type { StructLayout } from '../protocol/layout.ts';
import { writeI64, writeU64 } from '../protocol/u64.ts';
import { TsfuseError } from '../errors.ts';

/** A field's value: a scalar, or the fields of a nested struct. Absent fields are written as 0. */
export type FieldValue = number | bigint | FieldValues | undefined;
export interface FieldValues { readonly [field: string]: FieldValue }

const RANGES = {
  u8: [0, 0xff], u16: [0, 0xffff], u32: [0, 0xffff_ffff], i32: [-0x8000_0000, 0x7fff_ffff],
} as const;

function invalid(where: string, expected: string, got: unknown): never {
  throw new TsfuseError('ERR_INVALID_ARG_VALUE', `${where}: expected ${expected}, got ${typeof got === 'bigint' ? `${got}n` : String(got)}`);
}

/** Writes `values` into `buf` at `base` by `layout`; unknown field names are refused (a typo would silently write 0). */
function writeFields(buf: Buffer, base: number, layout: StructLayout, values: FieldValues, where: string): void {
  for (const key of Object.keys(values)) {
    if (values[key] !== undefined && !layout.fields.some((f) => f.name === key)) {
      throw new TsfuseError('ERR_INVALID_ARG_VALUE', `${where}: ${layout.cName} has no field ${key}`);
    }
  }
  for (const f of layout.fields) {
    const v = values[f.name];
    if (v === undefined) continue;
    const at = base + f.offset;
    const name = `${where}.${f.name}`;
    if (typeof f.type !== 'string') {
      if (typeof v !== 'object') invalid(name, `the fields of ${f.type.cName}`, v);
      writeFields(buf, at, f.type, v, name);
      continue;
    }
    if (f.count !== 1) invalid(name, 'nothing (array fields are padding)', v);
    if (typeof v === 'object') invalid(name, `a ${f.type}`, v);
    switch (f.type) {
      case 'u64':
        try { writeU64(buf, at, v); } catch { invalid(name, 'an integer 0..2^64 − 1 (a bigint above 2^53 − 1)', v); }
        break;
      case 'i64':
        try { writeI64(buf, at, v); } catch { invalid(name, 'an integer −2^63..2^63 − 1', v); }
        break;
      default: {
        const [lo, hi] = RANGES[f.type];
        if (typeof v !== 'number' || !Number.isInteger(v) || v < lo || v > hi) invalid(name, `an integer ${lo}..${hi}`, v);
        if (f.type === 'u8') buf.writeUInt8(v, at);
        else if (f.type === 'u16') buf.writeUInt16LE(v, at);
        else if (f.type === 'u32') buf.writeUInt32LE(v, at);
        else buf.writeInt32LE(v, at);
      }
    }
  }
}

/**
 * A zeroed buffer of `layout.size` bytes (or `size`, for the shorter compat forms older kernels send)
 * with `values` written into it. Throws ERR_INVALID_ARG_VALUE for a value out of its field's range or
 * a field the struct does not have.
 */
export function writeStruct(layout: StructLayout, values: FieldValues, size = layout.size): Buffer {
  const buf = Buffer.alloc(layout.size);
  writeFields(buf, 0, layout, values, layout.cName);
  return size === layout.size ? buf : buf.subarray(0, size);
}
