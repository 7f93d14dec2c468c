// Builds dist/: esbuild bundles the entry points (ESM, shared chunks), tsc writes the .d.ts files.
import { build } from 'esbuild';
import { rmSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
rmSync(`${root}dist`, { recursive: true, force: true });
await build({
  absWorkingDir: root,
  // One entry per package.json "exports" subpath (plus the CLI); each .d.ts comes from tsconfig.build.json.
  entryPoints: { index: 'src/index.ts', 'protocol-entry': 'src/protocol-entry.ts', testing: 'src/testing.ts', 'fuse-native': 'src/fuse-native/index.ts', cli: 'src/cli.ts' },
  outdir: 'dist',
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  packages: 'external',
  sourcemap: true,
  logLevel: 'warning',
});
// `require('tsfuse/fuse-native')` must return the class itself, as `require('fuse-native')` does: a
// CommonJS bundle whose module.exports is the default export.
await build({
  absWorkingDir: root,
  entryPoints: ['src/fuse-native/index.ts'],
  outfile: 'dist/fuse-native.cjs',
  bundle: true,
  format: 'cjs',
  platform: 'node',
  target: 'node20',
  packages: 'external',
  sourcemap: true,
  logLevel: 'warning',
  footer: { js: 'module.exports = Object.assign(module.exports.default, { default: module.exports.default, Fuse: module.exports.default });' },
});
const tsc = spawnSync(process.execPath, [`${root}node_modules/typescript/bin/tsc`, '-p', `${root}tsconfig.build.json`], { stdio: 'inherit' });
if (tsc.status !== 0) process.exit(tsc.status ?? 1);

// Declarations keep the `.ts` specifiers of the sources; consumers resolve `.js` to the `.d.ts` beside it.
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
for (const f of readdirSync(`${root}dist`, { recursive: true }).map(String).filter((f) => f.endsWith('.d.ts'))) {
  const path = `${root}dist/${f}`;
  const text = readFileSync(path, 'utf8');
  const fixed = text.replace(/(from\s+|import\(\s*)(['"])(\.{1,2}\/[^'"]+)\.ts\2/g, '$1$2$3.js$2');
  if (fixed !== text) writeFileSync(path, fixed);
}
