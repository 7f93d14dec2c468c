// Which descriptors go to fs.close (libuv's thread pool) and which to fs.closeSync while a test body runs:
// where the passthrough closes a node's descriptor (src/passthrough/nodes.ts lastLinkRemoved).
import fs from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';

export interface WatchedCloses { readonly pool: number[]; readonly inLine: number[] }

/** Runs `body` with fs.close and fs.closeSync recording their descriptors, then puts them back. */
export async function watchingCloses(body: (closes: WatchedCloses) => Promise<void>): Promise<void> {
  const closes: WatchedCloses = { pool: [], inLine: [] };
  const { close, closeSync } = fs;
  fs.close = ((fd: number, cb: (err: NodeJS.ErrnoException | null) => void) => { closes.pool.push(fd); close(fd, cb); }) as typeof fs.close;
  fs.closeSync = (fd: number) => { closes.inLine.push(fd); closeSync(fd); };
  // ESM named imports of node:fs (the sources') follow the patched properties only after this.
  syncBuiltinESMExports();
  try {
    await body(closes);
  } finally {
    fs.close = close;
    fs.closeSync = closeSync;
    syncBuiltinESMExports();
  }
}
