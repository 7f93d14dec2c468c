// Data integrity under concurrency (fixtures/integrity.py): 4 processes doing a seeded random mix of
// pwrite, truncate, ftruncate, read, mmap writes, O_APPEND writes and copy_file_range on private and shared
// files, then every byte compared with an exact model, read through the page cache, with O_DIRECT (what
// the daemon holds) and, for the passthrough, from the backing files.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { run } from '../support/mount-helpers.ts';
import { mountTarget, selectedTargets, targetSkip } from './targets.ts';

const INTEGRITY_PY = fileURLToPath(new URL('./fixtures/integrity.py', import.meta.url));
const WORKERS = 4;
const OPS = 1500;

interface IntegrityReport {
  workers: number;
  ops: number;
  counts: Record<string, number>;
  errors: string[];
  bytes_checked: { cached: number; direct: number; source: number };
  direct_refused: string[];
  mismatches: unknown[];
  mismatch_count: number;
}

describe('data integrity: concurrent writers against an exact model', () => {
  for (const name of selectedTargets(['native', 'memfs', 'passthrough'])) {
    test(name, { skip: targetSkip(name), timeout: 10 * 60_000 }, async () => {
      const t = await mountTarget(name);
      const modelDir = mkdtempSync(join(tmpdir(), 'tsfuse-integrity-model-'));
      try {
        for (const seed of [1, 2]) {
          const r = await run('timeout', ['-k', '5', '400', 'python3', INTEGRITY_PY, t.dir, join(modelDir), '--workers', String(WORKERS),
            '--ops', String(OPS), '--seed', String(seed), ...(t.source !== undefined ? ['--source', t.source] : [])], { cwd: '/' });
          assert.equal(r.code, 0, r.out);
          const report = JSON.parse(r.stdout) as IntegrityReport;
          console.log(`integrity ${name} seed ${seed}: ${report.ops} ops by ${report.workers} processes, ` +
            `${report.bytes_checked.cached} bytes checked cached, ${report.bytes_checked.direct} O_DIRECT, ` +
            `${report.bytes_checked.source} in the source; ${report.mismatch_count} mismatches`);
          assert.deepEqual(report.errors, []);
          assert.deepEqual(report.mismatches, []);
          assert.equal(report.ops, WORKERS * OPS);
          for (const op of ['private truncate', 'private mmap', 'private copy', 'range mmap', 'range copy-in', 'locked truncate', 'locked copy']) {
            assert.ok((report.counts[op] ?? 0) > 0, `the mix included ${op}`);
          }
          assert.deepEqual(report.direct_refused, [], 'O_DIRECT reads work on every file');
          assert.ok(report.bytes_checked.cached > 0 && report.bytes_checked.direct === report.bytes_checked.cached);
          if (t.source !== undefined) assert.equal(report.bytes_checked.source, report.bytes_checked.cached);
          // the next seed works in a fresh directory
          await run('sh', ['-c', 'rm -rf "$1"/integrity "$2"/*', 'sh', t.dir, modelDir]);
        }
      } finally {
        rmSync(modelDir, { recursive: true, force: true });
        await t.close();
      }
    });
  }
});
