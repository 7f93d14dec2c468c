// `npm test` (scripts/test.mjs) counts the coverage of Node 26 runs that import tsx, merged with this
// Node's: c8 merges V8's byte ranges per file, which is only right if tsx turns each file of src/ into
// the same JavaScript under both Nodes. This checks that it does, by the source maps V8 records
// (NODE_V8_COVERAGE's source-map-cache): if a tsx or esbuild update makes the output depend on the Node
// version, this fails, and those runs must drop their coverage again.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { NODE26, NODE26_SKIP } from './support/mount-helpers.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const IMPORTER = fileURLToPath(new URL('./fixtures/import-src.mjs', import.meta.url));

/** Source maps V8 recorded for src/ files: file URL → the map's JSON and the generated code's line lengths. */
function sourceMaps(node: string): Map<string, string> {
  const dir = mkdtempSync(join(tmpdir(), 'tsfuse-coverage-transform-'));
  try {
    const r = spawnSync(node, ['--no-warnings', '--import', 'tsx', IMPORTER], {
      cwd: ROOT, encoding: 'utf8', timeout: 60_000, env: { ...process.env, NODE_V8_COVERAGE: dir },
    });
    assert.equal(r.status, 0, r.stderr);
    assert.ok(Number(r.stdout) > 100, `only ${r.stdout.trim()} modules of src/ imported`);
    const maps = new Map<string, string>();
    for (const f of readdirSync(dir)) {
      const cache = (JSON.parse(readFileSync(join(dir, f), 'utf8')) as { 'source-map-cache'?: Record<string, { lineLengths: number[]; data: unknown }> })['source-map-cache'] ?? {};
      for (const [url, entry] of Object.entries(cache)) {
        if (url.includes('/src/')) maps.set(url, JSON.stringify([entry.lineLengths, entry.data]));
      }
    }
    return maps;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// As another user, scripts/test.mjs drops the coverage of every Node 26 run: nothing is merged then.
const skip = process.getuid?.() !== 0 ? 'npm test keeps Node 26 runs\' coverage only as root: nothing to check' : NODE26_SKIP;

test('tsx transforms every module of src/ the same under this Node and Node 26, so their coverage can be merged', { skip, timeout: 120_000 }, () => {
  const here = sourceMaps(process.execPath);
  const there = sourceMaps(NODE26!);
  assert.ok(here.size > 100, `${here.size} source maps recorded`);
  assert.deepEqual([...there.keys()].sort(), [...here.keys()].sort(), 'the same modules loaded');
  const differing = [...here].filter(([url, map]) => there.get(url) !== map).map(([url]) => url);
  assert.deepEqual(differing, []);
});
