/**
 * tsfuse's daemons for bench/run.ts, each in a process of its own (like every other daemon in the run, so
 * its CPU time and RSS are its own):
 *
 *   node --import tsx bench/daemons/tsfuse.ts passthrough SOURCE MOUNTPOINT ENTRY_TIMEOUT ATTR_TIMEOUT [-o OPTIONS] [--no-xattrs] [--growing-young-generation]
 *   node --import tsx bench/daemons/tsfuse.ts null MOUNTPOINT
 *
 * `passthrough` is src/passthrough with its timeouts given as PassthroughOptions (the handlers put them
 * in their replies, as passthrough_ll does; the `-o attr_timeout=` wrapper of src/ops/fs-options.ts would
 * add a copy of every reply) and OPTIONS as mount options, completed by servePassthrough (default_permissions
 * only with allow_other/allow_root: mounted for root alone, like passthrough_ll, it needs none). `null` is the
 * do-nothing filesystem of bench/lib/filesystems.ts (statTree: /file, timeouts 0 in every reply).
 * Prints "ready" once mounted, unmounts on SIGTERM/SIGINT. Like the `tsfuse` command, it calls
 * limitYoungGeneration() before it mounts, unless `--growing-young-generation` (for an A/B of that call).
 */
import { mount, type FuseMount } from '../../src/session/fuse-mount.ts';
import { servePassthrough } from '../../src/passthrough/index.ts';
import { statTree } from '../lib/filesystems.ts';
import { limitYoungGeneration } from '../../src/session/young-generation.ts';

const GROWING = '--growing-young-generation';
const [kind, ...rest] = process.argv.slice(2).filter((a) => a !== GROWING);
if (!process.argv.includes(GROWING)) limitYoungGeneration();
let m: FuseMount;
if (kind === 'passthrough') {
  // --no-xattrs: PassthroughOptions.xattrs false (the bench's tsfuse-noxattr subject).
  const xattrs = !rest.includes('--no-xattrs');
  const [source, mountpoint, entry, attr, flag, options] = rest.filter((a) => a !== '--no-xattrs');
  if (source === undefined || mountpoint === undefined || entry === undefined || attr === undefined || (flag !== undefined && flag !== '-o')) {
    process.stderr.write('usage: tsfuse.ts passthrough SOURCE MOUNTPOINT ENTRY_TIMEOUT ATTR_TIMEOUT [-o OPTIONS]\n');
    process.exit(2);
  }
  m = await servePassthrough(source, mountpoint, {
    passthrough: { entryTimeout: Number(entry), attrTimeout: Number(attr), xattrs },
    mount: { handleSignals: true, ...(options !== undefined && { options }) },
  });
} else if (kind === 'null' && rest.length === 1) {
  m = await mount(rest[0]!, statTree().ops, { handleSignals: true });
} else {
  process.stderr.write('usage: tsfuse.ts passthrough SOURCE MOUNTPOINT ENTRY ATTR [-o OPTIONS] | null MOUNTPOINT\n');
  process.exit(2);
}
process.stdout.write('ready\n');
await m.closed;
