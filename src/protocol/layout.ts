/**
 * Struct layouts as data. Each kernel struct is declared once, with C field names and types; offsets and
 * sizes are computed with C's natural alignment (x86-64/arm64 Linux), and the encoders and decoders
 * read their offsets from here. The C-compiler test compares every layout with `<linux/fuse.h>`.
 */

export type ScalarType = 'u8' | 'u16' | 'u32' | 'i32' | 'u64' | 'i64';

const SCALAR_SIZE: Readonly<Record<ScalarType, number>> = { u8: 1, u16: 2, u32: 4, i32: 4, u64: 8, i64: 8 };

export interface FieldSpec {
  readonly name: string;
  /** A scalar type, or a nested struct. */
  readonly type: ScalarType | StructLayout;
  /** Array length; 1 for a plain field. */
  readonly count: number;
  readonly offset: number;
  readonly size: number;
}

export interface StructLayout<F extends string = string> {
  /** The C struct name, e.g. `fuse_attr`. */
  readonly cName: string;
  /** The protocol minor that introduced this struct in its current form. */
  readonly minor: number;
  readonly size: number;
  readonly align: number;
  readonly fields: readonly FieldSpec[];
  /** Byte offset of each field. */
  readonly off: Readonly<Record<F, number>>;
}

type FieldDecl = readonly [name: string, type: ScalarType | StructLayout, count?: number];
type NamesOf<D extends readonly FieldDecl[]> = D[number][0];

export function defineStruct<const D extends readonly FieldDecl[]>(
  cName: string, minor: number, decls: D,
): StructLayout<NamesOf<D>> {
  let offset = 0;
  let align = 1;
  const fields: FieldSpec[] = [];
  const off: Record<string, number> = {};
  for (const [name, type, count = 1] of decls) {
    const elemSize = typeof type === 'string' ? SCALAR_SIZE[type] : type.size;
    const elemAlign = typeof type === 'string' ? SCALAR_SIZE[type] : type.align;
    offset = Math.ceil(offset / elemAlign) * elemAlign;
    align = Math.max(align, elemAlign);
    fields.push(Object.freeze({ name, type, count, offset, size: elemSize * count }));
    off[name] = offset;
    offset += elemSize * count;
  }
  const size = Math.ceil(offset / align) * align;
  return Object.freeze({ cName, minor, size, align, fields: Object.freeze(fields), off: Object.freeze(off) }) as
    StructLayout<NamesOf<D>>;
}
