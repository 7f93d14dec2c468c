// The busy client of the handoff and crash-recovery tests: it must see no error and exact bytes while the
// daemon behind the mount is replaced under it.
import { randomBytes } from 'node:crypto';
import { mkdir, open, readFile, readdir, rename, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/** What the client saw: operations done, errors (with what failed), and the expected bytes. */
export interface Workload {
  /** The 4 KiB chunks appended to the held file so far. */
  readonly held: Buffer[];
  stop(): Promise<{ ops: number; errors: string[] }>;
}

/**
 * Keeps a client busy until stopped: writes and reads back whole files, appends to and reads a file it
 * holds open the whole time, lists the directory, renames and stats. Every failure is recorded.
 */
export async function startWorkload(dir: string): Promise<Workload> {
  const errors: string[] = [];
  const heldChunks: Buffer[] = [];
  await mkdir(join(dir, 'sub'));
  const held = await open(join(dir, 'held.bin'), 'w+');
  let ops = 0;
  let running = true;
  const files = new Map<string, Buffer>();
  const loop = (async () => {
    for (let i = 0; running; i++) {
      const step = async (what: string, f: () => Promise<void>): Promise<void> => {
        try { await f(); ops++; } catch (e) { errors.push(`${what} (iteration ${i}): ${(e as Error).message}`); }
      };
      const name = `f${i % 8}`;
      const data = randomBytes(1 + ((i * 7919) % 70_000));
      await step(`write ${name}`, async () => { await writeFile(join(dir, 'sub', name), data); files.set(name, data); });
      await step(`read ${name}`, async () => {
        const back = await readFile(join(dir, 'sub', name));
        if (!back.equals(data)) throw new Error(`read ${back.length} bytes that differ from the ${data.length} written`);
      });
      await step('append to the held file', async () => {
        const chunk = Buffer.alloc(4096, i & 0xff);
        const offset = heldChunks.length * 4096;
        const { bytesWritten } = await held.write(chunk, 0, chunk.length, offset);
        if (bytesWritten !== chunk.length) throw new Error(`short write ${bytesWritten}`);
        heldChunks.push(chunk);
      });
      await step('read the held file', async () => {
        const k = i % heldChunks.length;
        const back = Buffer.alloc(4096);
        const { bytesRead } = await held.read(back, 0, 4096, k * 4096);
        if (bytesRead !== 4096 || !back.equals(heldChunks[k]!)) throw new Error(`chunk ${k} came back different`);
      });
      await step('list', async () => {
        const names = await readdir(join(dir, 'sub'));
        for (const n of files.keys()) if (!names.includes(n)) throw new Error(`${n} missing from the listing ${names.join(',')}`);
      });
      await step('rename and stat', async () => {
        await rename(join(dir, 'sub', name), join(dir, 'sub', `${name}.moved`));
        const st = await stat(join(dir, 'sub', `${name}.moved`));
        if (st.size !== data.length) throw new Error(`size ${st.size}, want ${data.length}`);
        await rename(join(dir, 'sub', `${name}.moved`), join(dir, 'sub', name));
      });
    }
  })();
  return {
    held: heldChunks,
    async stop() {
      running = false;
      await loop;
      // The held file, through the descriptor held across every handoff and through a fresh open.
      const expected = Buffer.concat(heldChunks);
      const through = Buffer.alloc(expected.length);
      await held.read(through, 0, expected.length, 0);
      if (!through.equals(expected)) errors.push('the held file read through its old descriptor differs');
      await held.close();
      const fresh = await readFile(join(dir, 'held.bin'));
      if (!fresh.equals(expected)) errors.push(`the held file (${fresh.length} bytes) differs from the ${expected.length} written`);
      for (const [name, data] of files) {
        const back = await readFile(join(dir, 'sub', name)).catch((e: Error) => Buffer.from(e.message));
        if (!back.equals(data)) errors.push(`${name} differs at the end`);
      }
      return { ops, errors };
    },
  };
}
