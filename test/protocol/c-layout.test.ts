/**
 * The TypeScript struct layouts and ABI numbers against the C compiler and the system <linux/fuse.h>.
 *
 * A C program, generated from ALL_STRUCTS, prints sizeof/offsetof of every struct and field that the
 * system header declares with the same type (nested struct members and arrays included). Structs and
 * fields the header lacks or declares differently (the machines' header is 7.38; tsfuse speaks 7.45)
 * are checked against DOC_7_45 below, a table of documented 7.45 facts, so CI needs nothing but the
 * system header. Every struct and field must be verified by one of the two. Opcode numbers, notify
 * codes, INIT bits and the small flag sets are compared with the header's enums and #defines the same way.
 *
 * Set TSFUSE_FUSE_H=/path/to/fuse_kernel.h to run the same checks against another header.
 */
import { test, describe, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  structs, OPCODES, NotifyCode, INIT_FLAGS, OpenFlags, SetattrValid, ReleaseFlags, GetattrFlags, LockFlags, WriteFlags,
  ReadFlags, FsyncFlags, PollFlags, AttrFlags, OpenInFlags, SetxattrFlags, InvalEntryFlags, IoctlFlags, CuseInitFlags,
  SetupmappingFlags, KERNEL_MAJOR, ROOT_ID, MIN_READ_BUFFER, IOCTL_MAX_IOV, INVALID_UIDGID, DevIoctl, Uring, initOutSize,
  type StructLayout,
} from '../../src/protocol/index.ts';
import { MAX_NR_SECCTX, EXT_GROUPS, UNIQUE_RESEND_BIT_HI } from '../../src/protocol/constants.ts';

/* ---------------------------------------------------------------------------------------------- */
/* Documented 7.45 facts                                                                            */

type FieldFact = readonly [offset: number, size: number];
/**
 * Facts of protocol 7.45 that a 7.38 <linux/fuse.h> lacks or declares differently.
 * Source: libfuse include/fuse_kernel.h with FUSE_KERNEL_MINOR_VERSION 45 (synced with Linux 6.18);
 * struct sizes and offsets are what gcc computes from that header on x86-64 (the same on arm64).
 */
const DOC_7_45 = {
  structs: {
    /** 7.39 */
    fuse_sx_time: { size: 16, fields: { tv_sec: [0, 8], tv_nsec: [8, 4], __reserved: [12, 4] } },
    /** 7.39 */
    fuse_statx: {
      size: 256, fields: {
        mask: [0, 4], blksize: [4, 4], attributes: [8, 8], nlink: [16, 4], uid: [20, 4], gid: [24, 4], mode: [28, 2],
        __spare0: [30, 2], ino: [32, 8], size: [40, 8], blocks: [48, 8], attributes_mask: [56, 8], atime: [64, 16],
        btime: [80, 16], ctime: [96, 16], mtime: [112, 16], rdev_major: [128, 4], rdev_minor: [132, 4], dev_major: [136, 4],
        dev_minor: [140, 4], __spare2: [144, 112],
      },
    },
    /** 7.39 */
    fuse_statx_in: { size: 24, fields: { getattr_flags: [0, 4], reserved: [4, 4], fh: [8, 8], sx_flags: [16, 4], sx_mask: [20, 4] } },
    /** 7.39 */
    fuse_statx_out: { size: 288, fields: { attr_valid: [0, 8], attr_valid_nsec: [8, 4], flags: [12, 4], spare: [16, 16], stat: [32, 256] } },
    /** 7.40: `padding` became `backing_id`. */
    fuse_open_out: { size: 16, fields: { fh: [0, 8], open_flags: [8, 4], backing_id: [12, 4] } },
    /** 7.40 max_stack_depth and 7.43 request_timeout took `unused` slots; the size stayed 64. */
    fuse_init_out: { size: 64, fields: { flags2: [32, 4], max_stack_depth: [36, 4], request_timeout: [40, 2], unused: [42, 22] } },
    /** 7.45 */
    fuse_notify_prune_out: { size: 16, fields: { count: [0, 4], padding: [4, 4], spare: [8, 8] } },
    /** 7.40 */
    fuse_backing_map: { size: 16, fields: { fd: [0, 4], flags: [4, 4], padding: [8, 8] } },
    /** 7.45 */
    fuse_copy_file_range_out: { size: 8, fields: { bytes_copied: [0, 8] } },
    /** 7.38 (Linux 6.5; absent from some 7.38 headers); `groups[]` is a flexible array. */
    fuse_supp_groups: { size: 4, fields: { nr_groups: [0, 4] } },
    /** 7.42 */
    fuse_uring_ent_in_out: { size: 32, fields: { flags: [0, 8], commit_id: [8, 8], payload_sz: [16, 4], padding: [20, 4], reserved: [24, 8] } },
    /** 7.42 */
    fuse_uring_req_header: { size: 288, fields: { in_out: [0, 128], op_in: [128, 128], ring_ent_in_out: [256, 32] } },
    /** 7.42 */
    fuse_uring_cmd_req: { size: 24, fields: { flags: [0, 8], commit_id: [8, 8], qid: [16, 2], padding: [18, 6] } },
  } as Record<string, { size: number; fields: Record<string, FieldFact> }>,
  /** enum fuse_opcode */
  opcodes: { STATX: 52, COPY_FILE_RANGE_64: 53 } as Record<string, number>,
  /** enum fuse_notify_code */
  notify: { RESEND: 7, INC_EPOCH: 8, PRUNE: 9 } as Record<string, number>,
  /** INIT flags: bit n of the 64-bit flag space (`1ULL << n`). */
  initFlags: {
    CREATE_SUPP_GROUP: 34, DIRECT_IO_ALLOW_MMAP: 36, PASSTHROUGH: 37, NO_EXPORT_SUPPORT: 38, HAS_RESEND: 39,
    ALLOW_IDMAP: 40, OVER_IO_URING: 41, REQUEST_TIMEOUT: 42,
  } as Record<string, number>,
  /** Small flag #defines. */
  flags: { FOPEN_PASSTHROUGH: 1 << 7 } as Record<string, number>,
  /** Enum values and numeric #defines. */
  scalars: {
    FUSE_EXT_GROUPS: 32, FUSE_URING_IN_OUT_HEADER_SZ: 128, FUSE_URING_OP_IN_OUT_SZ: 128, FUSE_IO_URING_CMD_INVALID: 0,
    FUSE_IO_URING_CMD_REGISTER: 1, FUSE_IO_URING_CMD_COMMIT_AND_FETCH: 2,
  } as Record<string, number>,
  /** Macros that need the compiler to evaluate (_IOR/_IOW, casts). */
  macros: {
    FUSE_DEV_IOC_BACKING_OPEN: 0x4010e501n, FUSE_DEV_IOC_BACKING_CLOSE: 0x4004e502n, FUSE_DEV_IOC_SYNC_INIT: 0xe503n,
    FUSE_INVALID_UIDGID: 0xffff_ffffn, FUSE_UNIQUE_RESEND: 1n << 63n,
  } as Record<string, bigint>,
};

/* ---------------------------------------------------------------------------------------------- */
/* The environment: a C compiler and a header                                                       */

const CC = process.env['CC'] ?? 'cc';
const OVERRIDE = process.env['TSFUSE_FUSE_H'];
const INCLUDE = OVERRIDE ? `#include "${OVERRIDE}"` : '#include <linux/fuse.h>';

interface Env { readonly headerPath: string; readonly text: string }

function findHeader(): Env | string {
  const v = spawnSync(CC, ['--version'], { encoding: 'utf8' });
  if (v.error || v.status !== 0) return `no C compiler: \`${CC} --version\` failed (${v.error?.message ?? v.stderr})`;
  // Let the compiler say which file it includes.
  const m = spawnSync(CC, ['-M', '-x', 'c', '-'], { input: `${INCLUDE}\n`, encoding: 'utf8' });
  if (m.status !== 0) return `no FUSE header: ${INCLUDE} does not compile (${m.stderr.trim().split('\n')[0]})`;
  const deps = m.stdout.replace(/\\\n/g, ' ').split(/\s+/);
  const headerPath = OVERRIDE ?? deps.find((d) => d.endsWith('linux/fuse.h'));
  if (!headerPath) return 'no FUSE header: the compiler did not report linux/fuse.h';
  return { headerPath, text: readFileSync(headerPath, 'utf8') };
}

const found = findHeader();
const SKIP: string | false = typeof found === 'string' ? found : false;
const ENV = typeof found === 'string' ? undefined : found;

/* ---------------------------------------------------------------------------------------------- */
/* Parsing the header text                                                                          */

interface CField { readonly type: string; readonly name: string; readonly count: number | 'flex' }

const C_SCALARS: Readonly<Record<string, string>> = {
  uint8_t: 'u8', char: 'u8', uint16_t: 'u16', uint32_t: 'u32', int32_t: 'i32', uint64_t: 'u64', int64_t: 'i64',
};

function stripComments(s: string): string {
  return s.replace(/\/\*[\s\S]*?\*\//g, ' ').replace(/\/\/[^\n]*/g, ' ');
}

interface Parsed {
  readonly minor: number;
  readonly structs: ReadonlyMap<string, readonly CField[]>;
  /** Numeric #defines, including `(1 << n)` / `(1ULL << n)` evaluated. */
  readonly defines: ReadonlyMap<string, bigint>;
  /** Every `NAME = value` of every enum. */
  readonly enums: ReadonlyMap<string, number>;
  readonly enumBlocks: ReadonlyMap<string, ReadonlyMap<string, number>>;
}

function parseHeader(raw: string): Parsed {
  const text = stripComments(raw);
  const defines = new Map<string, bigint>();
  for (const m of text.matchAll(/^#define\s+(\w+)\s+\(\s*1(?:ULL|ull|U|u)?\s*<<\s*(\d+)\s*\)\s*$/gm)) defines.set(m[1]!, 1n << BigInt(m[2]!));
  for (const m of text.matchAll(/^#define\s+(\w+)\s+(\d+)\s*$/gm)) defines.set(m[1]!, BigInt(m[2]!));
  const enums = new Map<string, number>();
  const enumBlocks = new Map<string, Map<string, number>>();
  for (const m of text.matchAll(/enum\s+(\w+)\s*\{([^}]*)\}/g)) {
    const block = new Map<string, number>();
    for (const e of m[2]!.matchAll(/(\w+)\s*=\s*(\d+)/g)) { block.set(e[1]!, Number(e[2])); enums.set(e[1]!, Number(e[2])); }
    enumBlocks.set(m[1]!, block);
  }
  const structsMap = new Map<string, CField[]>();
  for (const m of text.matchAll(/struct\s+(\w+)\s*\{([^}]*)\}\s*;/g)) {
    const fields: CField[] = [];
    for (const declRaw of m[2]!.split(';')) {
      const decl = declRaw.trim().replace(/\s+/g, ' ');
      if (!decl) continue;
      const d = /^(?:struct (\w+)|(\w+)) (\w+) ?(?:\[ ?(\w*) ?\])?$/.exec(decl);
      assert.ok(d, `cannot parse "${decl}" in struct ${m[1]}`);
      const type = d[1] ?? C_SCALARS[d[2]!] ?? `?${d[2]}`;
      let count: number | 'flex' = 1;
      if (d[4] !== undefined) {
        if (d[4] === '') count = 'flex';
        else if (/^\d+$/.test(d[4])) count = Number(d[4]);
        else count = Number(defines.get(d[4]) ?? NaN);
      }
      fields.push({ type, name: d[3]!, count });
    }
    structsMap.set(m[1]!, fields);
  }
  const minor = Number(defines.get('FUSE_KERNEL_MINOR_VERSION') ?? -1);
  return { minor, structs: structsMap, defines, enums, enumBlocks };
}

const HDR = ENV ? parseHeader(ENV.text) : undefined;

/* ---------------------------------------------------------------------------------------------- */
/* The C program                                                                                    */

const tsTypeName = (t: StructLayout['fields'][number]['type']): string => (typeof t === 'string' ? t : t.cName);

/** Fields of `s` the header declares with the same type and count (so the compiler can check them). */
function sameInHeader(s: StructLayout, f: StructLayout['fields'][number]): boolean {
  const c = HDR?.structs.get(s.cName)?.find((x) => x.name === f.name);
  return c !== undefined && c.type === tsTypeName(f.type) && c.count === f.count;
}

/** `[path, offset, size]` of a field and, for a nested struct the header also knows, its members. */
function paths(s: StructLayout, prefix = '', base = 0): [string, number, number][] {
  const out: [string, number, number][] = [];
  for (const f of s.fields) {
    if (!sameInHeader(s, f)) continue;
    const p = prefix + f.name;
    out.push([p, base + f.offset, f.size]);
    if (typeof f.type !== 'string' && f.count === 1 && HDR?.structs.has(f.type.cName)) out.push(...paths(f.type, `${p}.`, base + f.offset));
  }
  return out;
}

const MACROS = ['FUSE_DEV_IOC_CLONE', 'FUSE_DEV_IOC_BACKING_OPEN', 'FUSE_DEV_IOC_BACKING_CLOSE', 'FUSE_DEV_IOC_SYNC_INIT', 'FUSE_INVALID_UIDGID', 'FUSE_UNIQUE_RESEND'];

interface CResult { readonly sizes: Map<string, number>; readonly fields: Map<string, [number, number]>; readonly macros: Map<string, bigint> }

let dir: string | undefined;
after(() => { if (dir) rmSync(dir, { recursive: true, force: true }); });

function runC(): CResult {
  const lines = [
    '#include <stdio.h>', '#include <stddef.h>', '#include <sys/ioctl.h>', INCLUDE,
    '#define Z(s) printf("size %s %zu\\n", #s, sizeof(struct s));',
    '#define F(s, f) printf("field %s %s %zu %zu\\n", #s, #f, offsetof(struct s, f), sizeof(((struct s *)0)->f));',
    'int main(void) {',
  ];
  for (const s of structs.ALL_STRUCTS) {
    if (!HDR!.structs.has(s.cName)) continue;
    lines.push(`  Z(${s.cName})`);
    for (const [p] of paths(s)) lines.push(`  F(${s.cName}, ${p})`);
  }
  for (const m of MACROS) lines.push(`#ifdef ${m}`, `  printf("macro %s %llu\\n", "${m}", (unsigned long long)(${m}));`, '#endif');
  lines.push('  return 0;', '}');
  dir ??= mkdtempSync(join(tmpdir(), 'tsfuse-c-layout-'));
  writeFileSync(join(dir, 'layout.c'), lines.join('\n'));
  const cc = spawnSync(CC, ['-std=gnu11', '-Wall', '-Werror', '-o', join(dir, 'layout'), join(dir, 'layout.c')], { encoding: 'utf8' });
  assert.equal(cc.status, 0, `compile failed:\n${cc.stderr}`);
  const run = spawnSync(join(dir, 'layout'), { encoding: 'utf8' });
  assert.equal(run.status, 0, run.stderr);
  const res: CResult = { sizes: new Map(), fields: new Map(), macros: new Map() };
  for (const line of run.stdout.trim().split('\n')) {
    const w = line.split(' ');
    if (w[0] === 'size') res.sizes.set(w[1]!, Number(w[2]));
    else if (w[0] === 'field') res.fields.set(`${w[1]}.${w[2]}`, [Number(w[3]), Number(w[4])]);
    else if (w[0] === 'macro') res.macros.set(w[1]!, BigInt(w[2]!));
  }
  return res;
}

let cached: CResult | undefined;
const C = (): CResult => (cached ??= runC());

/* ---------------------------------------------------------------------------------------------- */

describe(`C layouts against ${ENV?.headerPath ?? '<linux/fuse.h>'} (protocol 7.${HDR?.minor ?? '?'})`, () => {
  test('every struct size and field offset/size the header declares matches (nested members and arrays too)', { skip: SKIP }, () => {
    const c = C();
    const problems: string[] = [];
    let checkedFields = 0;
    for (const s of structs.ALL_STRUCTS) {
      if (!HDR!.structs.has(s.cName)) continue;
      const size = c.sizes.get(s.cName);
      if (size !== s.size) problems.push(`sizeof(struct ${s.cName}) = ${size}, TS says ${s.size}`);
      for (const [p, off, sz] of paths(s)) {
        const got = c.fields.get(`${s.cName}.${p}`);
        checkedFields++;
        if (!got || got[0] !== off || got[1] !== sz) problems.push(`${s.cName}.${p}: C offset/size ${String(got)}, TS ${off}/${sz}`);
      }
    }
    assert.deepStrictEqual(problems, []);
    assert.ok(checkedFields > 300, `only ${checkedFields} fields compared`);
  });

  test('structs and fields the header lacks are in the documented 7.45 table; nothing is unverified', { skip: SKIP }, () => {
    const c = C();
    const unverified: string[] = [];
    for (const s of structs.ALL_STRUCTS) {
      const doc = DOC_7_45.structs[s.cName];
      if (!c.sizes.has(s.cName) && doc?.size !== s.size) unverified.push(`struct ${s.cName} (size ${s.size})`);
      for (const f of s.fields) {
        if (c.fields.has(`${s.cName}.${f.name}`)) continue;
        const d = doc?.fields[f.name];
        if (!d || d[0] !== f.offset || d[1] !== f.size) unverified.push(`${s.cName}.${f.name} (${f.offset}/${f.size})`);
      }
    }
    assert.deepStrictEqual(unverified, []);
  });

  test('opcode numbers match enum fuse_opcode', { skip: SKIP }, () => {
    const hdr = HDR!.enumBlocks.get('fuse_opcode');
    assert.ok(hdr && hdr.size > 40);
    for (const [cname, code] of hdr) {
      if (cname.endsWith('_BSWAP_RESERVED')) continue;
      const name = cname.replace(/^FUSE_/, '');
      const row = OPCODES.find((r) => r.name === name);
      assert.ok(row, `no OPCODES row for ${cname}`);
      assert.equal(row.code, code, cname);
    }
    for (const r of OPCODES) {
      const cname = r.name === 'CUSE_INIT' ? 'CUSE_INIT' : `FUSE_${r.name}`;
      assert.equal(hdr.get(cname) ?? DOC_7_45.opcodes[r.name], r.code, `${r.name} is in neither the header nor the table`);
    }
  });

  test('notify codes match enum fuse_notify_code', { skip: SKIP }, () => {
    const hdr = HDR!.enumBlocks.get('fuse_notify_code');
    assert.ok(hdr && hdr.size >= 6);
    for (const [cname, code] of hdr) assert.equal(NotifyCode[cname.replace(/^FUSE_NOTIFY_/, '') as keyof typeof NotifyCode], code, cname);
    for (const [name, code] of Object.entries(NotifyCode)) {
      assert.equal(hdr.get(`FUSE_NOTIFY_${name}`) ?? DOC_7_45.notify[name], code, name);
    }
  });

  test('INIT flag bits match the #defines', { skip: SKIP }, () => {
    let fromHeader = 0;
    for (const f of INIT_FLAGS) {
      const v = HDR!.defines.get(`FUSE_${f.name}`);
      if (v !== undefined) { fromHeader++; assert.equal(v, 1n << BigInt(f.bit), f.name); } else assert.equal(DOC_7_45.initFlags[f.name], f.bit, `${f.name} is in neither the header nor the table`);
    }
    assert.ok(fromHeader >= 32, `only ${fromHeader} INIT flags found in the header`);
  });

  test('small flag sets match the #defines', { skip: SKIP }, () => {
    const groups: [string, Readonly<Record<string, number>>][] = [
      ['FOPEN_', OpenFlags], ['FATTR_', SetattrValid], ['FUSE_RELEASE_', ReleaseFlags], ['FUSE_GETATTR_', GetattrFlags],
      ['FUSE_LK_', LockFlags], ['FUSE_WRITE_', WriteFlags], ['FUSE_READ_', ReadFlags], ['FUSE_FSYNC_', FsyncFlags],
      ['FUSE_POLL_', PollFlags], ['FUSE_ATTR_', AttrFlags], ['FUSE_OPEN_', OpenInFlags], ['FUSE_SETXATTR_', SetxattrFlags],
      ['FUSE_', InvalEntryFlags], ['FUSE_IOCTL_', IoctlFlags], ['CUSE_', CuseInitFlags], ['FUSE_SETUPMAPPING_FLAG_', SetupmappingFlags],
    ];
    for (const [prefix, table] of groups) {
      for (const [name, value] of Object.entries(table)) {
        const cname = prefix + name;
        const v = HDR!.defines.get(cname);
        assert.equal(v !== undefined ? Number(v) : DOC_7_45.flags[cname], value, `${cname} is in neither the header nor the table`);
      }
    }
  });

  test('scalar constants, extension types, io_uring numbers and /dev/fuse ioctls', { skip: SKIP }, () => {
    const num = (name: string): number | undefined => {
      const d = HDR!.defines.get(name);
      return d !== undefined ? Number(d) : HDR!.enums.get(name) ?? DOC_7_45.scalars[name];
    };
    const expect: [string, number][] = [
      ['FUSE_KERNEL_VERSION', KERNEL_MAJOR], ['FUSE_ROOT_ID', ROOT_ID], ['FUSE_MIN_READ_BUFFER', MIN_READ_BUFFER],
      ['FUSE_IOCTL_MAX_IOV', IOCTL_MAX_IOV], ['FUSE_COMPAT_INIT_OUT_SIZE', initOutSize(4)],
      ['FUSE_COMPAT_22_INIT_OUT_SIZE', initOutSize(22)], ['FUSE_MAX_NR_SECCTX', MAX_NR_SECCTX], ['FUSE_EXT_GROUPS', EXT_GROUPS],
      ['FUSE_URING_IN_OUT_HEADER_SZ', Uring.IN_OUT_HEADER_SZ], ['FUSE_URING_OP_IN_OUT_SZ', Uring.OP_IN_OUT_SZ],
      ['FUSE_IO_URING_CMD_INVALID', Uring.CMD_INVALID], ['FUSE_IO_URING_CMD_REGISTER', Uring.CMD_REGISTER],
      ['FUSE_IO_URING_CMD_COMMIT_AND_FETCH', Uring.CMD_COMMIT_AND_FETCH],
    ];
    for (const [name, value] of expect) assert.equal(num(name), value, name);
    const c = C();
    const macro: [string, bigint][] = [
      ['FUSE_DEV_IOC_CLONE', BigInt(DevIoctl.CLONE)], ['FUSE_DEV_IOC_BACKING_OPEN', BigInt(DevIoctl.BACKING_OPEN)],
      ['FUSE_DEV_IOC_BACKING_CLOSE', BigInt(DevIoctl.BACKING_CLOSE)], ['FUSE_DEV_IOC_SYNC_INIT', BigInt(DevIoctl.SYNC_INIT)],
      ['FUSE_INVALID_UIDGID', BigInt(INVALID_UIDGID)], ['FUSE_UNIQUE_RESEND', BigInt(UNIQUE_RESEND_BIT_HI) << 32n],
    ];
    for (const [name, value] of macro) assert.equal(c.macros.get(name) ?? DOC_7_45.macros[name], value, name);
    assert.equal(c.macros.get('FUSE_DEV_IOC_CLONE'), 0x8004e500n, 'FUSE_DEV_IOC_CLONE is in every header since 4.2');
  });
});

/* ---------------------------------------------------------------------------------------------- */
/* Checks that need neither a compiler nor a header                                                 */

test('the documented 7.45 table matches the TS layouts (sizes and every listed field)', () => {
  const byName = new Map(structs.ALL_STRUCTS.map((s) => [s.cName, s]));
  for (const [cName, doc] of Object.entries(DOC_7_45.structs)) {
    const s = byName.get(cName);
    assert.ok(s, `ALL_STRUCTS lacks ${cName}`);
    assert.equal(s.size, doc.size, `sizeof ${cName}`);
    for (const [field, [off, size]] of Object.entries(doc.fields)) {
      const f: StructLayout['fields'][number] | undefined = s.fields.find((x) => x.name === field);
      assert.ok(f, `${cName}.${field}`);
      assert.deepStrictEqual([f.offset, f.size], [off, size], `${cName}.${field}`);
    }
  }
  for (const [name, code] of Object.entries(DOC_7_45.opcodes)) assert.equal(OPCODES.find((r) => r.name === name)?.code, code, name);
  for (const [name, code] of Object.entries(DOC_7_45.notify)) assert.equal(NotifyCode[name as keyof typeof NotifyCode], code, name);
  for (const [name, b] of Object.entries(DOC_7_45.initFlags)) assert.equal(INIT_FLAGS.find((f) => f.name === name)?.bit, b, name);
  assert.equal(OpenFlags.PASSTHROUGH, DOC_7_45.flags['FOPEN_PASSTHROUGH']);
  assert.equal(BigInt(DevIoctl.BACKING_OPEN), DOC_7_45.macros['FUSE_DEV_IOC_BACKING_OPEN']);
  assert.equal(BigInt(DevIoctl.BACKING_CLOSE), DOC_7_45.macros['FUSE_DEV_IOC_BACKING_CLOSE']);
  assert.equal(BigInt(DevIoctl.SYNC_INIT), DOC_7_45.macros['FUSE_DEV_IOC_SYNC_INIT']);
  assert.equal(BigInt(INVALID_UIDGID), DOC_7_45.macros['FUSE_INVALID_UIDGID']);
  assert.equal(BigInt(UNIQUE_RESEND_BIT_HI) << 32n, DOC_7_45.macros['FUSE_UNIQUE_RESEND']);
  assert.equal(Uring.IN_OUT_HEADER_SZ, DOC_7_45.scalars['FUSE_URING_IN_OUT_HEADER_SZ']);
});

test('sizes written in the comments of structs.ts match the layouts', () => {
  const src = readFileSync(fileURLToPath(new URL('../../src/protocol/structs.ts', import.meta.url)), 'utf8');
  const byName = new Map(structs.ALL_STRUCTS.map((s) => [s.cName, s]));
  let n = 0;
  for (const m of src.matchAll(/\/\*\*((?:(?!\*\/)[\s\S])*)\*\/\s*export const \w+ = defineStruct\('(\w+)'/g)) {
    const size = /(\d+) bytes/.exec(m[1]!);
    if (!size) continue;
    const s = byName.get(m[2]!);
    assert.ok(s, m[2]);
    // "152 bytes before the name" (direntplus) and "16 bytes with FUSE_SETXATTR_EXT" are the full struct too.
    assert.equal(s.size, Number(size[1]), `${m[2]}: comment says ${size[1]} bytes`);
    n++;
  }
  assert.ok(n >= 20, `only ${n} size comments found`);
});

test('every struct in ALL_STRUCTS is a distinct C struct with C-aligned, non-overlapping fields', () => {
  const names = structs.ALL_STRUCTS.map((s) => s.cName);
  assert.equal(new Set(names).size, names.length);
  for (const s of structs.ALL_STRUCTS) {
    let end = 0;
    for (const f of s.fields) {
      const align = typeof f.type === 'string' ? { u8: 1, u16: 2, u32: 4, i32: 4, u64: 8, i64: 8 }[f.type] : f.type.align;
      assert.equal(f.offset % align, 0, `${s.cName}.${f.name} misaligned`);
      assert.ok(f.offset >= end, `${s.cName}.${f.name} overlaps`);
      end = f.offset + f.size;
    }
    assert.ok(s.size >= end && s.size % s.align === 0, s.cName);
    assert.ok(Object.isFrozen(s) && Object.isFrozen(s.fields));
  }
});
