#!/usr/bin/env node
// The `tsfuse` command. An installed package runs the built CLI (dist/cli.js, built by `npm pack`'s
// prepack). A source checkout that was never built (a fresh clone after `npm ci`: no install-time build
// script, see package.json) runs src/cli.ts through tsx, a devDependency, in a child Node that keeps
// `--import tsx` for the daemons the CLI starts.
import { existsSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const built = new URL('../dist/cli.js', import.meta.url);
if (existsSync(built)) {
  const { main } = await import(built.href);
  process.exitCode = await main(process.argv.slice(2));
} else {
  let tsx;
  try {
    tsx = import.meta.resolve('tsx');
  } catch {
    console.error('tsfuse: dist/ is not built and tsx is not installed: run `npm ci && npm run build` in the checkout');
    process.exit(1);
  }
  const source = fileURLToPath(new URL('../src/cli.ts', import.meta.url));
  const child = spawn(process.execPath, ['--import', tsx, source, ...process.argv.slice(2)], { stdio: 'inherit' });
  // The child gets Ctrl-C from the terminal itself (same process group) and unmounts before exiting:
  // wait for it rather than die first. A SIGTERM sent to this process alone is passed on.
  process.on('SIGINT', () => {});
  process.on('SIGTERM', () => child.kill('SIGTERM'));
  child.on('close', (code, signal) => {
    process.removeAllListeners('SIGINT');
    process.removeAllListeners('SIGTERM');
    if (signal !== null) process.kill(process.pid, signal); // end the same way
    process.exitCode = code ?? 1;
  });
}
