/**
 * The `tsfuse` command. Follows libfuse's conventions: `-f` stays in the foreground, `-d` prints one
 * line per request and reply (and implies `-f`), `-o` takes mount options. Without `-f` the command
 * returns once the mount is ready and the daemon runs on in the background, with its warnings in the
 * `--log` file (or discarded, which it says).
 *
 * Subcommands are rows of one table ({@link COMMANDS}); filesystems to mount are rows of
 * {@link FILESYSTEMS}, each turned into a subcommand with the mount options every filesystem shares.
 * Library errors are reworded for the command line here ({@link cliMessage}), so the library's messages can
 * keep speaking of its API.
 */
import { spawn } from 'node:child_process';
import { closeSync, createWriteStream, openSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { ParseArgsConfig } from 'node:util';
import { TsfuseError } from './errors.ts';
import { describeValue } from './protocol/replies.ts';
import { helloFilesystem } from './hello.ts';
import { createMemfs, parseMemfsSize } from './memfs/index.ts';
import { createPassthrough, passthroughMountOptions } from './passthrough/index.ts';
import { pathOperations } from './ops/path/layer.ts';
import { defaultEnvironment } from './mount/environment.ts';
import { parseMountOptions } from './mount/options.ts';
import { StaleMountError, shellQuote, topFuseMount } from './mount/stale.ts';
import { resolveWithoutFollowing, unmount } from './mount/unmount.ts';
import { mountsAt, readMountinfo } from './mount/mountinfo.ts';
import type { LowLevelOperations } from './ops/lowlevel.ts';
import { mount } from './session/fuse-mount.ts';
import { formatStats } from './session/stats-format.ts';
import { limitYoungGeneration } from './session/young-generation.ts';
import { STATS_COMMAND, watchSnapshotKey } from './cli-stats.ts';
import { DEMO_COMMAND } from './demo/command.ts';
import { RESTART_COMMAND } from './handoff/command.ts';
import { handoffCwd, isSuccessor } from './handoff/successor.ts';
import { SHOW_COMMAND, TIMELINE_COMMAND, recordCommand, replayCommand } from './record/command.ts';

/** Where the command writes; tests pass their own. */
export interface Io {
  out(text: string): void;
  err(text: string): void;
}
const stdio: Io = { out: (s) => process.stdout.write(s), err: (s) => process.stderr.write(s) };

type OptionsConfig = NonNullable<ParseArgsConfig['options']>;
type Values = Readonly<Record<string, string | boolean | (string | boolean)[] | undefined>>;

/** What a subcommand's `run` receives: its parsed options and positional arguments. */
export interface ParsedCommand {
  readonly values: Values;
  readonly positionals: readonly string[];
  /** The arguments after the subcommand's name, as given. */
  readonly argv: readonly string[];
}

/** One `tsfuse` subcommand. */
export interface Subcommand {
  readonly name: string;
  /** One line for `tsfuse --help`. */
  readonly summary: string;
  /** What follows the name in the usage line: `MOUNTPOINT [-f] [-d] [-o OPTIONS]`. */
  readonly usage: string;
  /** What follows the name in `tsfuse --help`'s list: `MOUNTPOINT`. */
  readonly synopsis: string;
  /** Its options, for node:util parseArgs (`-h, --help` is added to every command). */
  readonly args: OptionsConfig;
  /** Names of the positional arguments it requires, in order. */
  readonly positionals: readonly string[];
  /** The description in `tsfuse NAME --help`. */
  readonly help: string;
  /** One line per option (`-h, --help` is added). */
  readonly optionsHelp: string;
  /** Closing remarks in `tsfuse NAME --help`. Absent: none. */
  readonly notes?: string;
  /** Takes more positional arguments after those it requires (`tsfuse record FILE -- memfs MNT`). Absent: false. */
  readonly variadic?: boolean;
  run(parsed: ParsedCommand, io: Io): Promise<number>;
}

/** A filesystem that `tsfuse NAME [SOURCE…] MOUNTPOINT` mounts. */
export interface FilesystemCommand {
  readonly name: string;
  /** One line for `tsfuse --help`. */
  readonly summary: string;
  /** Positional arguments before MOUNTPOINT (e.g. `['SOURCE']` for a passthrough). Absent: none. */
  readonly sources?: readonly string[];
  /** Options of this filesystem beyond the mount options every filesystem command has. Absent: none. */
  readonly options?: OptionsConfig;
  /** Help lines for {@link options}, formatted like the others. Absent: none. */
  readonly optionsHelp?: string;
  /**
   * Builds the filesystem, before mounting, in the process that serves it. Resolve relative paths here:
   * a background daemon changes to `/` once mounted, so that it keeps no directory busy.
   */
  create(args: { readonly sources: readonly string[]; readonly values: Values }): LowLevelOperations | Promise<LowLevelOperations>;
  /** `-o` options always given before the user's. Absent: none. */
  readonly defaultOptions?: readonly string[];
  /** Completes the `-o` options given (after `defaultOptions`) with what this filesystem needs for them. Absent: as given. */
  readonly completeOptions?: (given: readonly string[]) => readonly string[];
  /**
   * Whether the daemon runs supervised (restarted after a crash, src/handoff/supervisor.ts) unless
   * `--no-supervise` is given; only for a filesystem that can rebuild its state. Absent: false.
   */
  readonly supervisedByDefault?: boolean;
}

/**
 * The filesystems the command can mount. To add one, write it under src/ (never import examples/) and
 * add a row here; it gets its subcommand, usage line, `--help` and the shared mount options.
 */
export const FILESYSTEMS: readonly FilesystemCommand[] = [
  {
    name: 'hello',
    summary: 'one read-only file, hello.txt, saying "Hello from FUSE!"',
    create: () => helloFilesystem(),
  },
  {
    name: 'memfs',
    summary: 'an empty POSIX filesystem in memory (files, directories, links, xattrs, locks)',
    options: { size: { type: 'string' } },
    optionsHelp: '  --size SIZE       bytes the files may occupy (k, m, g, t suffixes; default: half the memory)',
    create: ({ values }) => {
      const size = values['size'];
      return pathOperations(createMemfs(typeof size === 'string' ? { size: parseMemfsSize(size) } : {}));
    },
  },
  {
    name: 'passthrough',
    summary: 'SOURCE mirrored at MOUNTPOINT (like libfuse\'s passthrough_ll)',
    sources: ['SOURCE'],
    // The daemon runs as root and opens files for every caller: with allow_other or allow_root the kernel
    // must check permissions (passthroughMountOptions adds default_permissions then).
    completeOptions: (given) => passthroughMountOptions(given) as readonly string[],
    supervisedByDefault: true,
    options: { 'no-xattrs': { type: 'boolean' } },
    optionsHelp: `  --no-xattrs       serve no extended attributes (passthrough_ll's default): the kernel then stops
                    asking for security.capability before the first write(2) to each file`,
    create: ({ sources, values }) => createPassthrough(resolve(sources[0] as string), values['no-xattrs'] === true ? { xattrs: false } : {}),
  },
];

// ---------------------------------------------------------------------------------------------------
// Mounting a filesystem

const MOUNT_OPTIONS = {
  foreground: { type: 'boolean', short: 'f' },
  debug: { type: 'boolean', short: 'd' },
  explain: { type: 'boolean' },
  options: { type: 'string', short: 'o', multiple: true },
  log: { type: 'string' },
  'clean-stale': { type: 'boolean' },
  'no-watchdog': { type: 'boolean' },
  'no-stats': { type: 'boolean' },
  record: { type: 'string' },
  supervise: { type: 'boolean' },
  'no-supervise': { type: 'boolean' },
  'max-crashes': { type: 'string' },
} as const satisfies OptionsConfig;

const MOUNT_OPTIONS_HELP = `  -f, --foreground  stay in the foreground (default: return once mounted, serve in the background)
  -d, --debug       one line per request and reply with its latency (implies -f)
  --explain         every request and reply dissected field by field (offset, size, bytes, value, flag
                    names) with the time of each daemon-side stage, and the INIT negotiation audit at
                    mount (implies -f; docs/walkthrough-cat.md walks one cat through it)
  -o OPTIONS        mount options, comma-separated, as for libfuse: ro, allow_other, default_permissions,
                    fsname=NAME, subtype=NAME, attr_timeout=S, entry_timeout=S, negative_timeout=S,
                    kernel_cache, direct_io, max_write=N, uid=N, gid=N, umask=OCT, … (repeatable)
  --log FILE        append warnings (and the -d trace) to FILE; without it a background daemon
                    discards them, a foreground one writes them to stderr
  --clean-stale     first unmount a stale FUSE mount (its daemon is gone) at MOUNTPOINT
  --no-watchdog     no watchdog process: if the daemon is killed, the mount stays behind, stale
  --record FILE     record every frame both ways to FILE (for tsfuse show, replay, timeline)
  --no-stats        collect no statistics (default: collect them for \`tsfuse stats MOUNTPOINT\`, and
                    with -f on a terminal, print them when s is pressed)
  --supervise       keep a small supervisor process that restarts the daemon if it crashes, without
                    unmounting (default for passthrough; refused by filesystems that cannot rebuild
                    their state after a crash, such as memfs); --no-supervise turns it off
  --max-crashes N   a supervisor gives up (and the mount goes) after more than N crashes within a
                    minute (default: 5)`;

/** Set in the environment of the background daemon that a mount command starts. */
const DAEMON_ENV = 'TSFUSE_DAEMON';

function filesystemSubcommand(fs: FilesystemCommand): Subcommand {
  const sources = fs.sources ?? [];
  const positionals = [...sources, 'MOUNTPOINT'];
  return {
    name: fs.name,
    summary: fs.summary,
    usage: `${positionals.join(' ')} [-f] [-d] [--explain] [-o OPTIONS] [--log FILE] [--clean-stale] [--no-watchdog]`,
    synopsis: positionals.join(' '),
    args: { ...MOUNT_OPTIONS, ...fs.options },
    positionals,
    help: `Mounts the ${fs.name} filesystem: ${fs.summary}.`,
    optionsHelp: `${MOUNT_OPTIONS_HELP}${fs.optionsHelp !== undefined ? `\n${fs.optionsHelp}` : ''}`,
    notes: 'Stop a foreground daemon with Ctrl-C (it unmounts); a background one with `tsfuse umount MOUNTPOINT`.',
    run: (parsed, io) => mountCommand(fs, parsed, io),
  };
}

/** Where warnings go: a line writer and its description for the start-up message. */
interface LogDestination {
  readonly describe: string;
  write(line: string): void;
}

async function mountCommand(fs: FilesystemCommand, parsed: ParsedCommand, io: Io): Promise<number> {
  const { values } = parsed;
  const mountpoint = parsed.positionals.at(-1) as string;
  // A successor (src/handoff: `tsfuse restart`) starts in `/`: its relative arguments are the predecessor's.
  const successor = isSuccessor();
  const sources = parsed.positionals.slice(0, -1).map((s) => resolve(handoffCwd() ?? process.cwd(), s));
  const given = [...(fs.defaultOptions ?? []), ...((values['options'] as string[] | undefined) ?? [])];
  let options: readonly string[] = given;
  const debug = values['debug'] === true;
  const explain = values['explain'] === true;
  const foreground = values['foreground'] === true || debug || explain;
  const logFile = values['log'] as string | undefined;
  // A successor is a background daemon too, but nobody waits for it to be ready: its log is its stderr.
  const daemon = (process.env[DAEMON_ENV] === '1' && process.send !== undefined) || (successor && process.env[DAEMON_ENV] === '1');
  const prefix = `tsfuse ${fs.name}: `;

  try {
    parseMountOptions(given); // a bad -o is reported here, before anything starts
    options = fs.completeOptions?.(given) ?? given;
  } catch (e) {
    io.err(`${prefix}${cliMessage(e)}\n`);
    return 1;
  }
  const maxCrashes = values['max-crashes'];
  if (typeof maxCrashes === 'string' && !/^\d+$/.test(maxCrashes)) {
    io.err(`${prefix}--max-crashes takes a whole number, not ${JSON.stringify(maxCrashes)}\n`);
    return 1;
  }
  if (!foreground && !daemon) return startBackground(fs.name, parsed, logFile, io);
  // From here this process serves the filesystem until it unmounts: its node table should not grow V8's
  // young generation for good (src/session/young-generation.ts).
  limitYoungGeneration();

  // The daemon's stderr already is the log file (or /dev/null): the parent opened it.
  let log: LogDestination;
  if (logFile !== undefined && !daemon) {
    const stream = createWriteStream(resolve(logFile), { flags: 'a', mode: 0o600 });
    const opened = await new Promise<Error | undefined>((done) => {
      stream.once('open', () => done(undefined));
      stream.once('error', done);
    });
    if (opened !== undefined) {
      io.err(`${prefix}cannot open the log file ${logFile}: ${opened.message}\n`);
      return 1;
    }
    log = { describe: resolve(logFile), write: (line) => stream.write(`${new Date().toISOString()} ${line}\n`) };
    // Warnings from anywhere in the process (not only the session's) go to the file instead of stderr.
    process.removeAllListeners('warning');
    process.on('warning', (w) => log.write(`${w.name}: ${w.message}`));
  } else if (daemon) {
    log = { describe: 'the log file', write: (line) => io.err(`${new Date().toISOString()} ${line}\n`) };
  } else {
    log = { describe: 'stderr', write: (line) => io.err(`${line}\n`) };
  }

  try {
    const m = await mount(mountpoint, await fs.create({ sources, values }), {
      options,
      debug: debug ? (line) => log.write(line) : false,
      explain: explain ? (text) => log.write(`${text}\n`) : false,
      // The cause too: "the ready() handler failed" alone says nothing of why.
      onWarning: (message, cause) => log.write(`warning: ${message}${cause === undefined ? '' : `: ${cause instanceof Error ? cause.message : describeValue(cause)}`}`),
      handleSignals: true,
      cleanStale: values['clean-stale'] === true,
      watchdog: values['no-watchdog'] !== true,
      stats: values['no-stats'] !== true,
      supervise: values['no-supervise'] !== true && (values['supervise'] === true || fs.supervisedByDefault === true)
        && (typeof values['max-crashes'] === 'string' ? { maxCrashes: Number(values['max-crashes']) } : true),
      ...(typeof values['record'] === 'string' && { record: resolve(values['record']), recordMetadata: { filesystem: fs.name, sources: sources.map((s) => resolve(s)) } }),
    });
    if (daemon) {
      log.write(`${prefix}${successor ? 'took over' : 'serving'} ${m.mountpoint} (pid ${process.pid})`);
      process.chdir('/'); // keep no directory busy, as a daemon should
      process.send?.({ ready: m.mountpoint, pid: process.pid });
      process.disconnect?.();
    } else {
      const keys = values['no-stats'] !== true && process.stdin.isTTY === true;
      io.err(`${prefix}mounted at ${m.mountpoint}; warnings go to ${log.describe}; ${keys ? 's for statistics, ' : ''}Ctrl-C to unmount\n`);
      if (keys) {
        const stopKeys = watchSnapshotKey(process.stdin, () => {
          const snapshot = m.statistics();
          if (snapshot !== undefined) io.err(`\n${formatStats(snapshot)}\n`);
        });
        void m.closed.finally(stopKeys);
      }
    }
    await m.closed;
    const handedOver = m.handedOver;
    if (handedOver !== undefined) {
      log.write(`${prefix}handed ${m.mountpoint} over to pid ${handedOver.pid} (nobody read for ${handedOver.pausedMs.toFixed(2)} ms` +
        `${handedOver.gapMs === undefined ? '' : `, ${handedOver.gapMs.toFixed(2)} ms from the last reply here to the first there`}, state ${handedOver.stateBytes} bytes); exiting`);
    } else if (daemon) log.write(`${prefix}${m.mountpoint} unmounted; exiting`);
    return 0;
  } catch (e) {
    const message = cliMessage(e);
    if (daemon) {
      process.send?.({ error: message });
      process.disconnect?.();
    } else {
      io.err(`${prefix}${message}\n`);
    }
    return 1;
  }
}

/** Node's own flags to pass on to the daemon (`--import tsx` from sources), without the test runner's. */
function daemonExecArgv(): string[] {
  return process.execArgv.filter((a) => !a.startsWith('--test'));
}

/**
 * Re-runs this command in a detached child and returns once it reports the mount ready. The child's
 * stdout and stderr are the log file (opened here, so that a bad path is reported now) or /dev/null.
 */
async function startBackground(name: string, parsed: ParsedCommand, logFile: string | undefined, io: Io): Promise<number> {
  const prefix = `tsfuse ${name}: `;
  let logFd: number | 'ignore' = 'ignore';
  if (logFile !== undefined) {
    try {
      logFd = openSync(resolve(logFile), 'a', 0o600);
    } catch (e) {
      io.err(`${prefix}cannot open the log file ${logFile}: ${(e as Error).message}\n`);
      return 1;
    }
  }
  const where = logFile !== undefined
    ? `warnings go to ${resolve(logFile)}`
    : 'warnings are discarded (use --log FILE to keep them)';
  const child = spawn(process.execPath, [...daemonExecArgv(), fileURLToPath(import.meta.url), name, ...parsed.argv], {
    detached: true,
    stdio: ['ignore', logFd, logFd, 'ipc'],
    env: { ...process.env, [DAEMON_ENV]: '1' },
  });
  if (typeof logFd === 'number') closeSync(logFd);
  return new Promise((done) => {
    let finished = false;
    const finish = (code: number) => {
      if (finished) return;
      finished = true;
      child.removeAllListeners();
      if (child.connected) child.disconnect();
      child.unref();
      done(code);
    };
    child.on('message', (m: { ready?: string; pid?: number; error?: string }) => {
      if (m.ready !== undefined) {
        io.out(`${m.ready}\n`);
        io.err(`${prefix}serving ${m.ready} in the background (pid ${m.pid ?? child.pid}); ${where}\n`);
        finish(0);
      } else {
        io.err(`${prefix}${m.error ?? 'failed'}\n`);
        finish(1);
      }
    });
    child.on('exit', (code, signal) => {
      io.err(`${prefix}the daemon exited (${signal ?? code}) before the mount was ready${logFile !== undefined ? `; see ${resolve(logFile)}` : ''}\n`);
      finish(1);
    });
    child.on('error', (e) => {
      io.err(`${prefix}${e.message}\n`);
      finish(1);
    });
  });
}

// ---------------------------------------------------------------------------------------------------
// umount

const UMOUNT: Subcommand = {
  name: 'umount',
  summary: 'unmount a FUSE filesystem (-z: lazily)',
  usage: '[-z] MOUNTPOINT',
  synopsis: '[-z] MOUNTPOINT',
  args: { lazy: { type: 'boolean', short: 'z' } },
  positionals: ['MOUNTPOINT'],
  help: `Unmounts a FUSE filesystem (umount(8) as root, fusermount3 -u otherwise); anything else at
MOUNTPOINT is left alone.`,
  optionsHelp: '  -z, --lazy        detach now, finish when the mount is no longer busy',
  async run({ values, positionals }, io) {
    const given = positionals[0] as string;
    const lazy = values['lazy'] === true;
    try {
      // Resolved without looking at the mountpoint itself: a stat there would hang on a hung daemon.
      const path = await resolveWithoutFollowing(given);
      if ((await topFuseMount(defaultEnvironment(), path)) === undefined) {
        const top = mountsAt(await readMountinfo(), path).at(-1);
        io.err(`tsfuse umount: ${top === undefined ? `nothing is mounted at ${path}` : `${path} is not a FUSE mount (${top.fsType}); tsfuse umount unmounts only FUSE filesystems`}\n`);
        return 1;
      }
      await unmount(path, { lazy });
      return 0;
    } catch (e) {
      io.err(`tsfuse umount: ${cliMessage(e, given)}\n`);
      return 1;
    }
  },
};

// ---------------------------------------------------------------------------------------------------
// help, and the table

const HELP: Subcommand = {
  name: 'help',
  summary: 'show help for the command or a subcommand',
  usage: '[COMMAND]',
  synopsis: '[COMMAND]',
  args: {},
  positionals: [],
  help: 'Shows help: the list of commands, or the options of COMMAND.',
  optionsHelp: '',
  async run({ positionals }, io) {
    const topic = positionals[0];
    if (topic === undefined) {
      io.out(mainHelp());
      return 0;
    }
    const command = findCommand(topic);
    if (command === undefined) {
      io.err(`tsfuse help: unknown command '${topic}'\n\n${mainHelp()}`);
      return 2;
    }
    io.out(commandHelp(command));
    return 0;
  },
};

/** Every subcommand: one per filesystem, then the others. */
export const COMMANDS: readonly Subcommand[] = [...FILESYSTEMS.map(filesystemSubcommand), UMOUNT, STATS_COMMAND, RESTART_COMMAND, DEMO_COMMAND,
  recordCommand((argv, io) => main(argv, io)), SHOW_COMMAND, replayCommand(FILESYSTEMS), TIMELINE_COMMAND, HELP];

const ALIASES: Readonly<Record<string, string>> = { unmount: 'umount' };

function findCommand(name: string): Subcommand | undefined {
  const wanted = ALIASES[name] ?? name;
  return COMMANDS.find((c) => c.name === wanted);
}

function mainHelp(): string {
  const lines = COMMANDS.map((c) => `  ${`${c.name} ${c.synopsis}`.padEnd(24)}  ${c.summary}`);
  return `Usage: tsfuse <command> [options]

Commands:
${lines.join('\n')}

Options:
  -h, --help      show help (tsfuse COMMAND --help: that command's options)
  -V, --version   show the version

A FUSE mount needs Linux with /dev/fuse, and either root (mount(8) is used) or fusermount3 with Node >= 26,
or, on any Node, a user namespace (unshare --user --map-root-user --mount tsfuse ...).
`;
}

function commandHelp(c: Subcommand): string {
  const options = `${c.optionsHelp === '' ? '' : `${c.optionsHelp}\n`}  -h, --help        show this help`;
  return `Usage: tsfuse ${c.name} ${c.usage}\n\n${c.help}\n\nOptions:\n${options}\n${c.notes !== undefined ? `\n${c.notes}\n` : ''}`;
}

/** parseArgs' errors, in the command's words. */
function argumentError(e: unknown): string {
  const { code, message } = e as { code?: string; message: string };
  const option = /Option '([^']+?)'/.exec(message)?.[1]?.replace(/ <value>$/, '');
  switch (code) {
    case 'ERR_PARSE_ARGS_UNKNOWN_OPTION':
      return `unknown option '${/Unknown option '([^']+)'/.exec(message)?.[1] ?? '?'}'`;
    case 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE':
      return message.includes('does not take an argument') ? `option ${option} takes no value` : `option ${option} needs a value`;
    default:
      return message;
  }
}

function parseCommand(c: Subcommand, argv: readonly string[]): ParsedCommand | string {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      options: { ...c.args, help: { type: 'boolean', short: 'h' } },
      allowPositionals: true,
      strict: true,
    });
  } catch (e) {
    return argumentError(e);
  }
  const { values, positionals } = parsed;
  if (values['help'] !== true) {
    const missing = c.positionals.slice(positionals.length);
    if (missing.length > 0) return `missing ${missing.join(' ')}`;
    const max = c === HELP ? 1 : c.variadic === true ? Number.POSITIVE_INFINITY : c.positionals.length;
    if (positionals.length > max) return `unexpected argument '${positionals[max] ?? ''}'`;
  }
  return { values: values as Values, positionals, argv };
}

/** Runs the command line `argv` (without `node` and the script); resolves the exit code. */
export async function main(argv: readonly string[], io: Io = stdio): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined) {
    io.err(mainHelp());
    return 2;
  }
  if (name === '-h' || name === '--help') {
    io.out(mainHelp());
    return 0;
  }
  if (name === '-V' || name === '--version') {
    io.out(`${await version()}\n`);
    return 0;
  }
  const command = findCommand(name);
  if (command === undefined) {
    io.err(`tsfuse: unknown command '${name}'\n\n${mainHelp()}`);
    return 2;
  }
  const parsed = parseCommand(command, rest);
  if (typeof parsed === 'string') {
    io.err(`tsfuse ${command.name}: ${parsed}\n\n${commandHelp(command)}`);
    return 2;
  }
  if (parsed.values['help'] === true) {
    io.out(commandHelp(command));
    return 0;
  }
  return command.run(parsed, io);
}

// ---------------------------------------------------------------------------------------------------
// Library errors in the command's words

const BUSY = /target is busy|Device or resource busy|EBUSY/;

/** A library error as the command line says it: options and flags instead of API names. */
export function cliMessage(e: unknown, mountpoint?: string): string {
  if (e instanceof StaleMountError) {
    const q = shellQuote(e.mountpoint);
    return `${e.mountpoint} has a stale FUSE mount (its daemon is gone: "Transport endpoint is not connected"); ` +
      `run again with --clean-stale to unmount it first, or run \`tsfuse umount -z ${q}\``;
  }
  if (!(e instanceof TsfuseError)) return (e as Error).message ?? String(e);
  switch (e.code) {
    case 'ERR_FUSE_UNMOUNT_FAILED':
      if (BUSY.test(e.message)) {
        const q = shellQuote(mountpoint ?? 'MOUNTPOINT');
        return `${mountpoint ?? 'the mount'} is busy (a process has a file open or its working directory there). ` +
          `Close those, or run \`tsfuse umount -z ${q}\` to detach it now and finish when it is no longer busy ` +
          `(${e.message})`;
      }
      return e.message;
    case 'ERR_FUSE_NO_MOUNT_COMMAND':
      return 'mounting as root uses mount(8) and umount(8) from util-linux, which were not found; ' +
        'install util-linux (apt-get install mount), or run as an ordinary user with fusermount3 and Node >= 26';
    default:
      return e.message;
  }
}

async function version(): Promise<string> {
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
