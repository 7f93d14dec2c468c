// Runs every test/**/*.test.ts under node:test with c8 coverage. One command, so `npm test` ends with
// node:test's summary and then the coverage table. Extra arguments narrow the files: `npm test -- codec`.
import { readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const filters = process.argv.slice(2);
const files = readdirSync(join(root, 'test'), { recursive: true })
  .map(String)
  .filter((f) => f.endsWith('.test.ts'))
  .map((f) => relative(root, join(root, 'test', f)))
  .filter((f) => filters.length === 0 || filters.some((x) => f.includes(x)))
  .sort();
if (files.length === 0) {
  console.error('no test files matched');
  process.exit(1);
}
const c8 = join(root, 'node_modules', 'c8', 'bin', 'c8.js');
const args = [
  c8, '--reporter=text', '--reporter=text-summary', '--include=src/**', '--exclude=src/**/*.d.ts',
  process.execPath, '--import', 'tsx', '--test', '--test-reporter=spec', '--test-concurrency=1', ...files,
];
const r = spawnSync(process.execPath, args, { cwd: root, stdio: 'inherit' });
process.exit(r.status ?? 1);
