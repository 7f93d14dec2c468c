/**
 * The `tsfuse` command. Follows libfuse's conventions: `-f` stays in the foreground, `-d` prints one
 * line per request and reply (and implies `-f`), `-o` takes mount options. Without `-f` the command
 * returns once the mount is ready and the daemon runs on in the background.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { mount } from './session/fuse-mount.ts';
import { unmount } from './mount/unmount.ts';
import { helloFilesystem } from '../examples/hello.ts';
import { TsfuseError } from './errors.ts';
import type { LowLevelOperations } from './ops/lowlevel.ts';

const FILESYSTEMS: Readonly<Record<string, { describe: string; create: () => LowLevelOperations }>> = {
  hello: { describe: 'one read-only file, hello.txt, saying "Hello from FUSE!"', create: () => helloFilesystem() },
};

const MAIN_HELP = `Usage: tsfuse <command> [options]

Commands:
  hello MOUNTPOINT [-f] [-d] [-o OPTIONS]   mount the hello filesystem
  umount MOUNTPOINT [-z]                    unmount a FUSE filesystem (-z: lazily)
  help [COMMAND]                            show help

Options:
  -h, --help      show help
  -V, --version   show the version

A FUSE mount needs Linux with /dev/fuse, and either root (mount(8) is used) or fusermount3 with Node >= 26.
`;

const MOUNT_HELP = (name: string) => `Usage: tsfuse ${name} MOUNTPOINT [-f] [-d] [-o OPTIONS]

Mounts the ${name} filesystem: ${FILESYSTEMS[name]?.describe ?? ''}.

Options:
  -f              stay in the foreground (default: return once mounted, serve in the background)
  -d              debug: one line per request and reply with its latency (implies -f)
  -o OPTIONS      mount options, comma-separated, as for libfuse: ro, allow_other, default_permissions,
                  fsname=NAME, subtype=NAME, attr_timeout=S, entry_timeout=S, negative_timeout=S,
                  kernel_cache, direct_io, max_write=N, uid=N, gid=N, umask=OCT, …
  -h, --help      show this help

Stop a foreground daemon with Ctrl-C (it unmounts); a background one with \`tsfuse umount MOUNTPOINT\`.
`;

const UMOUNT_HELP = `Usage: tsfuse umount MOUNTPOINT [-z]

Unmounts a FUSE filesystem (umount(8) as root, fusermount3 -u otherwise).

Options:
  -z, --lazy      detach now, finish when the mount is no longer busy
  -h, --help      show this help
`;

interface Io { out: (s: string) => void; err: (s: string) => void }
const stdio: Io = { out: (s) => process.stdout.write(s), err: (s) => process.stderr.write(s) };

export async function main(argv: readonly string[], io: Io = stdio): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined || command === '-h' || command === '--help') { io.out(MAIN_HELP); return command === undefined ? 1 : 0; }
  if (command === '-V' || command === '--version') { io.out(`${await version()}\n`); return 0; }
  if (command === 'help') {
    const topic = rest[0];
    io.out(topic === 'umount' ? UMOUNT_HELP : topic !== undefined && FILESYSTEMS[topic] ? MOUNT_HELP(topic) : MAIN_HELP);
    return 0;
  }
  if (command === 'umount' || command === 'unmount') return umountCommand(rest, io);
  if (Object.hasOwn(FILESYSTEMS, command)) return mountCommand(command, rest, io);
  io.err(`tsfuse: unknown command '${command}'\n\n${MAIN_HELP}`);
  return 2;
}

interface MountArgs { mountpoint: string; foreground: boolean; debug: boolean; options: string[] }

function parseMountArgs(name: string, args: readonly string[]): MountArgs | string {
  const out: MountArgs = { mountpoint: '', foreground: false, debug: false, options: [] };
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '-f') out.foreground = true;
    else if (a === '-d' || a === '--debug') { out.debug = true; out.foreground = true; }
    else if (a === '-o') {
      const v = args[++i];
      if (v === undefined) return `-o needs a value`;
      out.options.push(v);
    } else if (a.startsWith('-o')) out.options.push(a.slice(2));
    else if (a.startsWith('-')) return `unknown option '${a}' for ${name}`;
    else if (out.mountpoint === '') out.mountpoint = a;
    else return `unexpected argument '${a}'`;
  }
  if (out.mountpoint === '') return 'missing MOUNTPOINT';
  return out;
}

async function mountCommand(name: string, args: readonly string[], io: Io): Promise<number> {
  if (args.includes('-h') || args.includes('--help')) { io.out(MOUNT_HELP(name)); return 0; }
  const parsed = parseMountArgs(name, args);
  if (typeof parsed === 'string') { io.err(`tsfuse ${name}: ${parsed}\n\n${MOUNT_HELP(name)}`); return 2; }
  if (!parsed.foreground && process.env['TSFUSE_DAEMON'] !== '1') return startBackground(name, parsed, io);
  try {
    const m = await mount(parsed.mountpoint, FILESYSTEMS[name]!.create(), {
      options: parsed.options, debug: parsed.debug ? (line) => io.err(`${line}\n`) : false, handleSignals: true,
    });
    if (process.send) { process.send({ ready: m.mountpoint }); process.disconnect(); }
    else io.err(`tsfuse: ${name} mounted at ${m.mountpoint}; Ctrl-C to unmount\n`);
    await m.closed;
    return 0;
  } catch (e) {
    const message = e instanceof TsfuseError ? `${e.message} (${e.code})` : (e as Error).message;
    if (process.send) { process.send({ error: message }); process.disconnect(); }
    else io.err(`tsfuse ${name}: ${message}\n`);
    return 1;
  }
}

/** Re-runs this command in a detached child with `-f` and returns once it reports the mount ready. */
function startBackground(name: string, a: MountArgs, io: Io): Promise<number> {
  const script = process.argv[1] ?? fileURLToPath(import.meta.url);
  const args = [...process.execArgv, script, name, a.mountpoint, ...a.options.flatMap((o) => ['-o', o])];
  const child = spawn(process.execPath, args, {
    detached: true, stdio: ['ignore', 'ignore', 'ignore', 'ipc'], env: { ...process.env, TSFUSE_DAEMON: '1' },
  });
  return new Promise((resolve) => {
    let done = false;
    const finish = (code: number) => {
      if (done) return;
      done = true;
      child.removeAllListeners();
      if (child.connected) child.disconnect();
      child.unref();
      resolve(code);
    };
    child.on('message', (m: { ready?: string; error?: string }) => {
      if (m.ready !== undefined) { io.out(`${m.ready}\n`); finish(0); }
      else { io.err(`tsfuse ${name}: ${m.error ?? 'failed'}\n`); finish(1); }
    });
    child.on('exit', (code) => { io.err(`tsfuse ${name}: the daemon exited (${code}) before the mount was ready\n`); finish(1); });
    child.on('error', (e) => { io.err(`tsfuse ${name}: ${e.message}\n`); finish(1); });
  });
}

async function umountCommand(args: readonly string[], io: Io): Promise<number> {
  if (args.includes('-h') || args.includes('--help')) { io.out(UMOUNT_HELP); return 0; }
  const lazy = args.includes('-z') || args.includes('--lazy');
  const rest = args.filter((x) => x !== '-z' && x !== '--lazy');
  if (rest.length !== 1 || rest[0]!.startsWith('-')) { io.err(`tsfuse umount: expected one MOUNTPOINT\n\n${UMOUNT_HELP}`); return 2; }
  try {
    await unmount(rest[0]!, { lazy });
    return 0;
  } catch (e) {
    io.err(`tsfuse umount: ${(e as Error).message}\n`);
    return 1;
  }
}

async function version(): Promise<string> {
  const { readFile } = await import('node:fs/promises');
  for (const rel of ['../package.json', '../../package.json']) {
    try {
      return (JSON.parse(await readFile(new URL(rel, import.meta.url), 'utf8')) as { version: string }).version;
    } catch { /* try the next layout (source or dist) */ }
  }
  return 'unknown';
}

const invokedDirectly = process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1];
if (invokedDirectly) {
  main(process.argv.slice(2)).then((code) => { process.exitCode = code; }, (e: unknown) => { console.error(e); process.exitCode = 1; });
}
