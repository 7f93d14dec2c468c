/**
 * The recording subcommands: `tsfuse record`, `show`, `replay` and `timeline`. Built by functions that
 * take what they need from src/cli.ts (its `main`, its filesystem table), so that this module imports
 * nothing from the CLI at run time and the CLI keeps a one-way dependency on it.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { extname, resolve } from 'node:path';
import type { FilesystemCommand, Io, Subcommand } from '../cli.ts';
import { decodeRecording, type Recording } from './format.ts';
import { dissect } from './dissect.ts';
import { formatRecording, parseShowFilter } from './show.ts';
import { formatReplayReport, replay } from './replay.ts';
import { timelineHtml, timelineSvg } from './timeline.ts';

/** Reads and decodes a recording; a string says why it cannot be used. */
export async function loadRecording(path: string): Promise<Recording | string> {
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (e) {
    return `cannot read ${path}: ${(e as Error).message}`;
  }
  const r = decodeRecording(bytes);
  return 'error' in r ? `${path}: ${r.error.message}` : r;
}

/** `tsfuse record FILE -- FS ARGS…`: runs the filesystem command with `--record FILE`. */
export function recordCommand(runMain: (argv: readonly string[], io: Io) => Promise<number>): Subcommand {
  return {
    name: 'record',
    summary: 'mount a filesystem and record every frame both ways to FILE',
    usage: 'FILE -- FILESYSTEM [SOURCE…] MOUNTPOINT [mount options]',
    synopsis: 'FILE -- FS MOUNTPOINT',
    args: {},
    positionals: ['FILE', 'FILESYSTEM'],
    variadic: true,
    help: `Mounts FILESYSTEM as \`tsfuse FILESYSTEM …\` would, and records every frame between the kernel and the
filesystem (requests, replies, notifications, with their times) to FILE, in the .tsfr format
(docs/recording-format.md). The recording is complete once the filesystem is unmounted. Read it with
\`tsfuse show\`, \`tsfuse replay\` and \`tsfuse timeline\`. Same as \`tsfuse FILESYSTEM … --record FILE\`.`,
    optionsHelp: '',
    notes: 'Example: tsfuse record /tmp/session.tsfr -- memfs /tmp/mnt -f\nA recording holds the names and contents of the files touched: FILE is created mode 0600.',
    async run({ positionals }, io) {
      const [file, ...command] = positionals as string[];
      return runMain([...command, '--record', resolve(file!)], io);
    },
  };
}

export const SHOW_COMMAND: Subcommand = {
  name: 'show',
  summary: 'print a recording, one line per frame (--explain: every field)',
  usage: 'FILE [--explain] [--op LOOKUP,READ] [--node N] [--errno ENOENT]',
  synopsis: 'FILE',
  args: { explain: { type: 'boolean' }, op: { type: 'string' }, node: { type: 'string' }, errno: { type: 'string' } },
  positionals: ['FILE'],
  help: `Prints a recording (from \`tsfuse record\` or mount()'s record option) like a packet dissector: one line
per frame with its time since the first frame, the request with its arguments, the reply with its
errno, size, latency and a summary of its body, and notifications.`,
  optionsHelp: `  --explain         under each line, every field of the frame: offset, size, raw bytes, value, meaning
  --op OPS          only these opcodes (comma-separated: LOOKUP,READ), or notifications (INVAL_ENTRY)
  --node N          only requests to node id N, with their replies
  --errno ERR       only requests answered with ERR (ENOENT, 2, or OK), with their replies`,
  async run({ values, positionals }, io) {
    const filter = parseShowFilter({
      ...(typeof values['op'] === 'string' && { op: values['op'] }),
      ...(typeof values['node'] === 'string' && { node: values['node'] }),
      ...(typeof values['errno'] === 'string' && { errno: values['errno'] }),
    });
    if (typeof filter === 'string') { io.err(`tsfuse show: ${filter}\n`); return 2; }
    const r = await loadRecording(positionals[0]!);
    if (typeof r === 'string') { io.err(`tsfuse show: ${r}\n`); return 1; }
    const lines = formatRecording(dissect(r), filter, values['explain'] === true);
    if (lines.length > 0) io.out(`${lines.join('\n')}\n`);
    if (r.truncated !== undefined) io.err(`tsfuse show: the recording is cut short (${r.truncated}); shown up to there\n`);
    return 0;
  },
};

/** `tsfuse replay FILE [FS [SOURCE…]]`: every filesystem's own options are accepted after its name. */
export function replayCommand(filesystems: readonly FilesystemCommand[]): Subcommand {
  const fsOptions = Object.assign({}, ...filesystems.map((f) => f.options ?? {})) as Subcommand['args'];
  return {
    name: 'replay',
    summary: 'replay a recording against a filesystem, without a mount, and report differing replies',
    usage: `FILE [FILESYSTEM [SOURCE…]] [--strict] [--timeout MS]`,
    synopsis: 'FILE [FS]',
    args: { ...fsOptions, strict: { type: 'boolean' }, timeout: { type: 'string' } },
    positionals: ['FILE'],
    variadic: true,
    help: `Drives FILESYSTEM (${filesystems.map((f) => f.name).join(', ')}; default: the one the recording names) with the
recorded requests, in recorded order and with recorded timing, through the protocol core with no
kernel, no mount and no root, and compares every reply with the recorded one, field by field. The
filesystem gets the recorded mount options. Exit status 0 when every reply is the same, 1 otherwise.

Times (atime, mtime, ctime and their nanoseconds, btime) and generation numbers are not compared
unless --strict: two correct runs differ there. Node ids are compared: the filesystem must hand out
the same ids for the same requests (memfs does).`,
    optionsHelp: `  --strict          compare every field, times and generations too
  --timeout MS      wait this long for a reply the recording has before calling it missing (default 5000)
  Options of the filesystem (memfs --size, …) follow its name.`,
    async run({ values, positionals }, io) {
      const [file, name, ...sources] = positionals as string[];
      const r = await loadRecording(file!);
      if (typeof r === 'string') { io.err(`tsfuse replay: ${r}\n`); return 1; }
      const fsName = name ?? (typeof r.metadata.filesystem === 'string' ? r.metadata.filesystem : undefined);
      if (fsName === undefined) { io.err(`tsfuse replay: the recording names no filesystem; say which: ${filesystems.map((f) => f.name).join(', ')}\n`); return 2; }
      const fs = filesystems.find((f) => f.name === fsName);
      if (fs === undefined) { io.err(`tsfuse replay: unknown filesystem '${fsName}' (${filesystems.map((f) => f.name).join(', ')})\n`); return 2; }
      const wanted = fs.sources ?? [];
      if (sources.length !== wanted.length) { io.err(`tsfuse replay: ${fs.name} takes ${wanted.length === 0 ? 'no arguments' : wanted.join(' ')}\n`); return 2; }
      let timeoutMs: number | undefined;
      if (typeof values['timeout'] === 'string') {
        timeoutMs = Number(values['timeout']);
        if (!Number.isInteger(timeoutMs) || timeoutMs <= 0) { io.err(`tsfuse replay: --timeout takes a number of milliseconds, got '${values['timeout']}'\n`); return 2; }
      }
      const strict = values['strict'] === true;
      if (r.truncated !== undefined) io.err(`tsfuse replay: the recording is cut short (${r.truncated}); replaying up to there\n`);
      try {
        const ops = await fs.create({ sources: sources.map((s) => resolve(s)), values });
        const started = performance.now();
        const report = await replay(r, ops, { strict, ...(timeoutMs !== undefined && { replyTimeoutMs: timeoutMs }) });
        const ms = performance.now() - started;
        io.out(formatReplayReport(report, strict));
        io.err(`tsfuse replay: ${(ms / 1000).toFixed(2)} s${report.warnings.length > 0 ? `; the session warned ${report.warnings.length} time(s), first: ${report.warnings[0]}` : ''}\n`);
        return report.differences.length === 0 ? 0 : 1;
      } catch (e) {
        io.err(`tsfuse replay: ${(e as Error).message}\n`);
        return 1;
      }
    },
  };
}

export const TIMELINE_COMMAND: Subcommand = {
  name: 'timeline',
  summary: 'draw a recording as a timeline: a swimlane per opcode, a bar per request (HTML or SVG)',
  usage: 'FILE -o OUT.html|OUT.svg [--title TEXT]',
  synopsis: 'FILE -o OUT',
  args: { output: { type: 'string', short: 'o' }, title: { type: 'string' } },
  positionals: ['FILE'],
  help: `Draws a recording: one swimlane per opcode, each request a bar from its arrival to its reply, coloured
by its outcome (OK, ENOENT, another errno, no reply), over an axis in milliseconds; hovering a bar
shows the request. OUT.html adds a table of counts and latency percentiles per opcode; OUT.svg is the
picture alone. Open either in a browser.`,
  optionsHelp: `  -o, --output OUT  the file to write: .html or .svg
  --title TEXT      the picture's title (default: tsfuse timeline of FILE)`,
  async run({ values, positionals }, io) {
    const out = values['output'];
    if (typeof out !== 'string') { io.err('tsfuse timeline: -o OUT.html or -o OUT.svg is required\n'); return 2; }
    const ext = extname(out).toLowerCase();
    if (ext !== '.html' && ext !== '.htm' && ext !== '.svg') { io.err(`tsfuse timeline: ${out}: the output must end in .html or .svg\n`); return 2; }
    const file = positionals[0]!;
    const r = await loadRecording(file);
    if (typeof r === 'string') { io.err(`tsfuse timeline: ${r}\n`); return 1; }
    const title = typeof values['title'] === 'string' ? values['title'] : `tsfuse timeline of ${file}`;
    const d = dissect(r);
    try {
      await writeFile(out, ext === '.svg' ? timelineSvg(d, r.metadata, title) : timelineHtml(d, r.metadata, title));
    } catch (e) {
      io.err(`tsfuse timeline: cannot write ${out}: ${(e as Error).message}\n`);
      return 1;
    }
    io.err(`tsfuse timeline: ${d.exchanges.length} requests drawn to ${resolve(out)}\n`);
    return 0;
  },
};
