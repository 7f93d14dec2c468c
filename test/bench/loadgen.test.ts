// The bench's load generator (bench/lib/loadgen.ts) against a real mount: the memory workload's `lookups`
// mode, in C and in python3, looks each file up once and does not revalidate the directory per file
// (which would make it two LOOKUPs a file under daemons with an entry timeout of 0, one under
// passthrough_ll, whose one timeout is 1 s in that phase).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { mount, FuseError, ROOT_ID, type FuseMount, type LowLevelOperations } from '../../src/index.ts';
import { buildLoadGen } from '../../bench/lib/loadgen.ts';
import { mountSkip, freshMountpoint, safeUnmount } from '../support/mount-helpers.ts';

const FILES = 40;
const DIR_INO = 2;
const FIRST_FILE_INO = 100;

/** `/many/f0` … `/many/f39`; entry timeout 0 and attr timeout 1 s, as in the bench's phase 2. Counts LOOKUPs by name. */
function manyFiles(lookups: Map<string, number>): LowLevelOperations {
  const dirAttr = { mode: 0o040755, nlink: 2 };
  return {
    lookup: ({ parent, name }) => {
      const n = name.toString();
      lookups.set(n, (lookups.get(n) ?? 0) + 1);
      if (parent === ROOT_ID && n === 'many') return { ino: DIR_INO, attr: { ino: DIR_INO, ...dirAttr }, entryTimeout: 0, attrTimeout: 1 };
      const i = /^f(\d+)$/.exec(n);
      if (Number(parent) !== DIR_INO || i === null || Number(i[1]) >= FILES) throw new FuseError('ENOENT');
      const ino = FIRST_FILE_INO + Number(i[1]);
      return { ino, attr: { ino, mode: 0o100644, nlink: 1, size: 0 }, entryTimeout: 0, attrTimeout: 1 };
    },
    getattr: ({ ino }) => (Number(ino) >= FIRST_FILE_INO ? { attr: { ino: Number(ino), mode: 0o100644, nlink: 1, size: 0 }, timeout: 1 } : { attr: { ino: Number(ino), ...dirAttr }, timeout: 1 }),
  };
}

const clients = [
  { name: 'c', python3: false, skip: spawnSync('cc', ['--version']).status !== 0 ? 'needs a C compiler (apt-get install -y gcc)' : undefined },
  { name: 'python3', python3: true, skip: spawnSync('python3', ['--version']).status !== 0 ? 'needs python3 (apt-get install -y python3)' : undefined },
];

for (const client of clients) {
  test(`loadgen lookups (${client.name}): one LOOKUP per file, the directory looked up once, not per file`, { skip: mountSkip() ?? client.skip, timeout: 60_000 }, async () => {
    const dir = freshMountpoint();
    const lookups = new Map<string, number>();
    const lg = buildLoadGen({ python3: client.python3 });
    let m: FuseMount | undefined;
    try {
      assert.equal(lg.kind, client.name);
      m = await mount(dir, manyFiles(lookups));
      const r = await lg.run(['lookups', join(dir, 'many'), FILES], 30_000);
      assert.equal(r.values[0], FILES);
      assert.ok(r.values[1]! > 0, `elapsed ns: ${r.values[1]}`);
      for (let i = 0; i < FILES; i++) assert.equal(lookups.get(`f${i}`), 1, `f${i}`);
      // Opening the directory is its one LOOKUP (entry timeout 0: a path per file would add one per file).
      assert.equal(lookups.get('many'), 1);
      assert.equal(lookups.size, FILES + 1);
      // A file that is not there fails the run, naming it.
      await assert.rejects(lg.run(['lookups', join(dir, 'many'), FILES + 1], 30_000), new RegExp(`f${FILES}`));
    } finally {
      await safeUnmount(m, dir);
      lg.dispose();
    }
  });
}
