/**
 * Planned handoff for a low-level filesystem: a root directory with one file, counter.txt, whose content
 * is the number of writes it has received. The count lives only in this process's memory, so the two
 * hooks hand it over, with what the kernel holds (here: the open handles), to the process that takes
 * the mount over. Run it as root, then restart it without unmounting:
 *
 *   node --import tsx examples/handoff.ts /tmp/counter &        # serves until unmounted
 *   echo x > /tmp/counter/counter.txt; cat /tmp/counter/counter.txt     # 1
 *   kill -USR2 %1                 # this program starts again (the code on disk now) and takes over
 *   echo x > /tmp/counter/counter.txt; cat /tmp/counter/counter.txt     # 2: nothing was lost
 *   umount /tmp/counter
 *
 * (`tsfuse restart MOUNTPOINT` does the same through the control socket, here turned on by `stats`.)
 * The new process runs this same file with the same arguments: its `mount()` call sees that it was
 * started to take over and adopts the mount, the session (no new INIT) and the state from importState.
 *
 * What to hand over: everything the kernel may still name. Node ids it looked up (with their lookup
 * counts: FORGET will come for them), file handles it was given (it passes them back in READ, RELEASE, …),
 * and whatever the filesystem keeps in memory. Descriptors go through `ctx.passFd(fd)` / `ctx.fd(token)`.
 * The state is carried by v8.serialize: plain objects, arrays, Maps, bigints, typed arrays.
 */
import { fileURLToPath } from 'node:url';
import { mount, FuseError, ROOT_ID, type LowLevelOperations, type HandoffHooks, type Attr } from '../src/index.ts';

const COUNTER_INO = 2;
const COUNTER_NAME = 'counter.txt';
const S_IFDIR = 0o040000;
const S_IFREG = 0o100000;

/** What travels: the count, and the open handles with the write counts seen through each. */
interface CounterState { readonly count: number; readonly nextFh: number; readonly handles: readonly (readonly [number, number])[] }

export function counterFilesystem(): LowLevelOperations & Required<HandoffHooks> {
  let count = 0;
  let nextFh = 1;
  const handles = new Map<number, number>(); // fh → writes through it
  const text = (): Buffer => Buffer.from(`${count}\n`);
  const attrOf = (ino: number | bigint): Attr => {
    if (ino === ROOT_ID) return { ino, mode: S_IFDIR | 0o755, nlink: 2 };
    if (ino === COUNTER_INO) return { ino, mode: S_IFREG | 0o666, nlink: 1, size: text().length };
    throw new FuseError('ENOENT');
  };
  return {
    lookup({ parent, name }) {
      if (parent !== ROOT_ID || Buffer.from(name).toString() !== COUNTER_NAME) throw new FuseError('ENOENT');
      // attr_timeout 0: the size changes with every write.
      return { ino: COUNTER_INO, attr: attrOf(COUNTER_INO), attrTimeout: 0 };
    },
    getattr({ ino }) { return { attr: attrOf(ino), attrTimeout: 0 }; },
    setattr({ ino }) { return { attr: attrOf(ino), attrTimeout: 0 }; }, // truncation by `>` is ignored
    readdir({ offset }) {
      const all = [{ ino: ROOT_ID, name: '.', mode: S_IFDIR }, { ino: ROOT_ID, name: '..', mode: S_IFDIR }, { ino: COUNTER_INO, name: COUNTER_NAME, mode: S_IFREG }];
      return all.slice(Number(offset)).map((e, i) => ({ ...e, offset: Number(offset) + i + 1 }));
    },
    open({ ino }) {
      if (ino !== COUNTER_INO) throw new FuseError('EISDIR');
      const fh = nextFh++;
      handles.set(fh, 0);
      return { fh, directIo: true }; // every read comes here, so it sees the current count
    },
    read({ offset, size }) { return text().subarray(Number(offset), Number(offset) + size); },
    write({ fh, data }) {
      count++;
      handles.set(Number(fh), (handles.get(Number(fh)) ?? 0) + 1);
      return data.length;
    },
    release({ fh }) { handles.delete(Number(fh)); },

    // The two handoff hooks. exportState runs once this process has stopped reading and answered every
    // request it read; importState runs in the new process before its first request.
    exportState(): CounterState {
      return { count, nextFh, handles: [...handles] };
    },
    importState(state) {
      const s = state as CounterState;
      count = s.count;
      nextFh = s.nextFh;
      for (const [fh, writes] of s.handles) handles.set(fh, writes);
    },
  };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const mountpoint = process.argv[2] ?? '/tmp/counter';
  // handleSignals: Ctrl-C/SIGTERM unmount, SIGUSR2 hands over. stats: the control socket for `tsfuse restart`.
  const m = await mount(mountpoint, counterFilesystem(), { handleSignals: true, stats: true });
  await m.closed;
  console.error(m.handedOver !== undefined ? `handed over to pid ${m.handedOver.pid}` : 'unmounted');
}
