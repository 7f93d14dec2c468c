/**
 * Self-access probe, run in its own process by bench/transport.ts: mount the stat tree over one transport,
 * then have THIS process (the daemon) issue `concurrency` concurrent `fs.promises.stat` calls on its own
 * mount, each caller doing `perCaller` stats in sequence. Prints one JSON line: finished or stalled.
 *
 * A stall is bounded: after `timeoutMs` the probe force-unmounts (`umount -f -l` aborts the connection,
 * so the blocked pool threads get an error back) and exits. The parent kills it and cleans up if even
 * that does not happen.
 *
 *   node --import tsx bench/lib/selfaccess-child.ts '{"mountpoint":…,"transport":"pool1","concurrency":4,"perCaller":50,"timeoutMs":2000}'
 */
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { serve, forceUnmount, type BenchTransport, type Served } from './serve.ts';
import { statTree } from './filesystems.ts';

interface Args { mountpoint: string; transport: BenchTransport; concurrency: number; perCaller: number; timeoutMs: number }
const args = JSON.parse(process.argv[2] ?? '{}') as Args;

let served: Served | undefined;
let exitCode = 0;
try {
  served = await serve(args.transport, args.mountpoint, statTree().ops);
  const target = join(args.mountpoint, 'file');
  let done = 0;
  const t0 = performance.now();
  const callers = Array.from({ length: args.concurrency }, async () => {
    for (let i = 0; i < args.perCaller; i++) {
      await fsp.stat(target);
      done++;
    }
  });
  let timer: NodeJS.Timeout | undefined;
  const outcome = await Promise.race([
    Promise.all(callers).then(() => 'finished' as const),
    new Promise<'stalled'>((resolve) => { timer = setTimeout(() => resolve('stalled'), args.timeoutMs); }),
  ]);
  clearTimeout(timer);
  const ms = performance.now() - t0;
  process.stdout.write(`${JSON.stringify({ outcome, done, expected: args.concurrency * args.perCaller, ms: Math.round(ms), threadpool: process.env['UV_THREADPOOL_SIZE'] ?? '4 (default)' })}\n`);
  if (outcome === 'stalled') {
    // Pool threads are parked in stat(2) on our own mount and in read(2) on /dev/fuse: abort the connection.
    for (const p of callers) p.catch(() => {});
    await forceUnmount(args.mountpoint);
    served = undefined;
  }
} catch (e) {
  process.stdout.write(`${JSON.stringify({ outcome: 'error', error: (e as Error).message })}\n`);
  exitCode = 1;
} finally {
  if (served) await Promise.race([served.unmount(), new Promise((r) => setTimeout(r, 5000))]).catch(() => {});
  await forceUnmount(args.mountpoint);
  process.exit(exitCode);
}
