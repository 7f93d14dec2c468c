/**
 * The control socket a daemon owns while it serves a mount with statistics on, which `tsfuse stats
 * MOUNTPOINT` asks for a snapshot.
 *
 * Where: one private directory per user (`$XDG_RUNTIME_DIR/tsfuse/`, else `/run/tsfuse/` for root, else
 * `$TMPDIR/tsfuse-UID/`; mode 0700, refused if another user owns it or others can enter it), holding
 * `fuse-N.sock` for FUSE connection N: the minor device number of the mount, which
 * /proc/self/mountinfo shows for the mountpoint. So a client finds the socket from the mountpoint
 * without touching the mount (a stat there would wait on a hung daemon), and a stacked or bind-mounted
 * path leads to the daemon that actually serves it.
 *
 * Lifetime: created at mount, removed at unmount (SIGINT/SIGTERM unmount first; an exiting process
 * removes it too), with the directory once it is empty. A SIGKILLed daemon leaves the file behind: connecting to it is refused, and both the
 * next daemon given the same connection number and the client remove such a stale socket.
 *
 * Protocol: newline-delimited JSON. The client sends `{"op":"stats"}`; the daemon answers
 * `{"ok":true,"stats":{…}}` (a {@link StatsSnapshot}) or `{"ok":false,"error":"…"}`. `{"op":"handoff"}`
 * (`tsfuse restart`) hands the mount to a successor process (src/handoff) and answers, once the
 * successor serves, `{"ok":true,"handoff":{…}}` (a HandoffResult) or `{"ok":false,"error":"…"}`. The
 * successor inherits the listening socket, so the path stays the same and is never missing.
 */
import { existsSync, linkSync, lstatSync, renameSync, rmdirSync, unlinkSync } from 'node:fs';
import { lstat, mkdir, unlink } from 'node:fs/promises';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, isAbsolute, join } from 'node:path';
import { TsfuseError } from '../errors.ts';
import { defaultEnvironment } from '../mount/environment.ts';
import { topFuseMount } from '../mount/stale.ts';
import { resolveWithoutFollowing } from '../mount/unmount.ts';
import { StatsCollector, type StatsSnapshot } from './stats.ts';

/** Requests longer than this close the connection (a snapshot request is a dozen bytes). */
const MAX_REQUEST_LINE = 4096;
/** How long a client waits for an answer before calling the daemon unresponsive. */
export const CONTROL_TIMEOUT_MS = 5000;

/** The directory of this user's control sockets (see the module comment); not created here. */
export function controlSocketDir(env: NodeJS.ProcessEnv = process.env, uid: number = process.getuid?.() ?? 0): string {
  const runtime = env['XDG_RUNTIME_DIR'];
  if (runtime !== undefined && isAbsolute(runtime)) return join(runtime, 'tsfuse');
  if (uid === 0 && existsSync('/run')) return '/run/tsfuse';
  return join(tmpdir(), `tsfuse-${uid}`);
}

/** The control socket of FUSE connection `connection` (the mount's minor device number). */
export function controlSocketPath(connection: number, dir: string = controlSocketDir()): string {
  return join(dir, `fuse-${connection}.sock`);
}

/**
 * Creates the socket directory 0700 if needed, and refuses one that is not a real directory owned by
 * this user and closed to others (in a shared /tmp someone else could have made it first).
 */
export async function ensurePrivateDir(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const st = await lstat(dir);
  const uid = process.getuid?.() ?? 0;
  if (!st.isDirectory()) throw new Error(`${dir} is not a directory`);
  if (st.uid !== uid) throw new Error(`${dir} belongs to uid ${st.uid}, not to this user (uid ${uid})`);
  if ((st.mode & 0o077) !== 0) throw new Error(`${dir} is open to other users (mode ${(st.mode & 0o777).toString(8)}; want 700)`);
}

/** What is at a socket path: a live listener, a stale file nobody listens on, or nothing. */
export function probeSocket(path: string, timeoutMs: number = CONTROL_TIMEOUT_MS): Promise<'live' | 'stale' | 'missing'> {
  return new Promise((done) => {
    const socket = createConnection(path);
    const timer = setTimeout(() => { socket.destroy(); done('live'); }, timeoutMs); // accepted late: someone is there
    socket.once('connect', () => { clearTimeout(timer); socket.destroy(); done('live'); });
    socket.once('error', (e: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      done(e.code === 'ENOENT' ? 'missing' : 'stale');
    });
  });
}

/** Listens on `path`, replacing a stale socket there; refuses to take over a live one. */
async function listenReplacingStale(path: string, onConnection: (socket: Socket) => void): Promise<Server> {
  for (let attempt = 0; ; attempt++) {
    const server = createServer(onConnection);
    try {
      await new Promise<void>((ok, fail) => {
        server.once('error', fail);
        server.listen(path, () => { server.off('error', fail); ok(); });
      });
      return server;
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (attempt > 2 || (code !== 'EADDRINUSE' && code !== 'ENOENT')) throw e;
      if (code === 'ENOENT') {
        // Another daemon removed the (then empty) directory just after this one made sure of it.
        await ensurePrivateDir(dirname(path));
        continue;
      }
      if ((await probeSocket(path)) === 'live') throw new Error(`${path} is in use by another live process`);
      await unlink(path).catch(() => {});
    }
  }
}

/** Statistics for one mount: the collector and the control socket serving its snapshots. */
export interface StatsService {
  readonly collector: StatsCollector;
  /** The control socket, or undefined when it could not be created (a warning said why). */
  readonly socketPath: string | undefined;
  /** Stops collecting and removes the socket. Idempotent and synchronous (runs at unmount and exit). */
  stop(): void;
  /** What `{"op":"handoff"}` runs; set by the mount. Absent: the op is refused. */
  handoff: (() => Promise<unknown>) | undefined;
  /** The listening socket's descriptor, for a successor to inherit; undefined without a socket. */
  listeningFd(): number | undefined;
  /**
   * Stops collecting and accepting, without removing the socket, which a successor now listens on;
   * connections already open stay (the one that asked for the handoff gets its answer). Idempotent.
   */
  detach(): void;
}

/**
 * Starts collecting and serves snapshots on the control socket of `device`'s connection. A socket that
 * cannot be created is a warning, not a failed mount: the statistics stay available in-process.
 */
export async function startStatsService(
  device: { readonly mountpoint: string; readonly connection: number },
  onWarning: (message: string) => void,
  dir: string = controlSocketDir(),
  inheritedFd?: number,
): Promise<StatsService> {
  const collector = new StatsCollector({ mountpoint: device.mountpoint }).start();
  const path = controlSocketPath(device.connection, dir);
  const connections = new Set<Socket>();
  let server: Server | undefined;
  let ino: number | undefined;
  const service: StatsService = {
    collector, socketPath: undefined, stop: () => stop(), handoff: undefined, detach: () => detach(),
    listeningFd: () => (server as unknown as { _handle?: { fd?: number } } | undefined)?._handle?.fd,
  };
  const onConnection = (socket: Socket): void => serveConnection(socket, service, connections);
  try {
    if (inheritedFd === undefined) {
      await ensurePrivateDir(dir);
      server = await listenReplacingStale(path, onConnection);
    } else {
      // The predecessor's listening socket (src/handoff): the same file at the same path.
      const inherited = createServer(onConnection);
      server = inherited;
      await new Promise<void>((ok, fail) => {
        inherited.once('error', fail);
        inherited.listen({ fd: inheritedFd }, () => { inherited.off('error', fail); ok(); });
      });
    }
    server.unref(); // the mount, not its statistics, keeps the daemon alive
    ino = lstatSync(path).ino;
  } catch (e) {
    server?.close();
    onWarning(`no statistics socket for ${device.mountpoint} (tsfuse stats will not find it): ${(e as Error).message}`);
    server = undefined;
  }
  let stopped = false;
  const stop = (): void => {
    if (stopped) return;
    stopped = true;
    process.off('exit', stop);
    collector.stop();
    if (server === undefined) return;
    // Remove the file only while it is still ours (a later daemon may have replaced a socket it
    // found unanswered, e.g. while this process was stopped).
    try {
      if (lstatSync(path).ino === ino) unlinkSync(path);
    } catch { /* already gone */ }
    for (const socket of connections) socket.destroy();
    server.close();
    // The last daemon out leaves no directory behind (ENOTEMPTY while others still serve).
    try {
      rmdirSync(dir);
    } catch { /* not empty, or already gone */ }
  };
  const detach = (): void => {
    if (stopped) return;
    stopped = true;
    process.off('exit', stop);
    collector.stop();
    if (server === undefined) return;
    // libuv unlinks the path a pipe server bound when it closes it (uv__pipe_close): keep a second link
    // and put it back, so the successor's socket keeps its name.
    const spare = `${path}.handoff-${process.pid}`;
    let linked = false;
    try {
      linkSync(path, spare);
      linked = true;
    } catch { /* no socket file (removed by hand): nothing to keep */ }
    server.close();
    if (linked) {
      // rename(2) between two links of one file does nothing: a server that did not bind (it inherited
      // the socket) left the path, and only the spare goes.
      const kept = lstatSync(path, { throwIfNoEntry: false }) !== undefined;
      try {
        if (kept) unlinkSync(spare);
        else renameSync(spare, path);
      } catch { try { unlinkSync(spare); } catch { /* gone */ } }
    }
  };
  if (server !== undefined) process.on('exit', stop);
  return Object.assign(service, { socketPath: server === undefined ? undefined : path });
}

function serveConnection(socket: Socket, service: StatsService, connections: Set<Socket>): void {
  connections.add(socket);
  socket.unref();
  socket.setEncoding('utf8');
  let pending = '';
  socket.on('data', (chunk: string) => {
    pending += chunk;
    for (let newline = pending.indexOf('\n'); newline !== -1; newline = pending.indexOf('\n')) {
      const line = pending.slice(0, newline);
      pending = pending.slice(newline + 1);
      if (isHandoff(line)) {
        const run = service.handoff;
        if (run === undefined) socket.write(`${JSON.stringify({ ok: false, error: 'this mount cannot be handed off (it was not mounted by a process that supports it)' })}\n`);
        else void run().then((handoff) => ({ ok: true, handoff }), (e: unknown) => ({ ok: false, error: (e as Error)?.message ?? String(e) }))
          .then((reply) => { if (!socket.destroyed) socket.write(`${JSON.stringify(reply)}\n`); });
        continue;
      }
      socket.write(`${JSON.stringify(answer(line, service.collector))}\n`);
    }
    if (pending.length > MAX_REQUEST_LINE) socket.destroy();
  });
  socket.on('error', () => socket.destroy());
  socket.on('close', () => connections.delete(socket));
}

function isHandoff(line: string): boolean {
  try {
    return (JSON.parse(line) as { op?: unknown } | null)?.op === 'handoff';
  } catch {
    return false;
  }
}

function answer(line: string, collector: StatsCollector): { ok: true; stats: StatsSnapshot } | { ok: false; error: string } {
  let request: unknown;
  try {
    request = JSON.parse(line);
  } catch {
    return { ok: false, error: 'a request is one line of JSON, like {"op":"stats"}' };
  }
  const op = (request as { op?: unknown } | null)?.op;
  if (op === 'stats') return { ok: true, stats: collector.snapshot() };
  return { ok: false, error: `unknown op ${JSON.stringify(op)}; the ops are: stats, handoff` };
}

// ---------------------------------------------------------------------------------------------------
// The client side

/** Where a mountpoint's control socket is: the canonical mountpoint and the socket path. */
export interface StatsSocketLocation {
  readonly mountpoint: string;
  readonly socketPath: string;
}

/**
 * The control socket of the FUSE filesystem mounted at `mountpoint`, found through mountinfo (the
 * mount is not touched). Throws ERR_FUSE_MOUNTPOINT when no FUSE filesystem is mounted there.
 */
export async function locateStatsSocket(mountpoint: string, dir: string = controlSocketDir()): Promise<StatsSocketLocation> {
  const path = await resolveWithoutFollowing(mountpoint);
  const top = await topFuseMount(defaultEnvironment(), path);
  if (top === undefined) throw new TsfuseError('ERR_FUSE_MOUNTPOINT', `no FUSE filesystem is mounted at ${path}`);
  return { mountpoint: path, socketPath: controlSocketPath(Number(top.device.split(':')[1]), dir) };
}

/** A connection to a control socket, for one or many requests. */
export class ControlClient {
  readonly #socket: Socket;
  readonly #waiting: { ok: (line: string) => void; fail: (e: Error) => void }[] = [];
  #buffer = '';
  #error: Error | undefined;

  private constructor(socket: Socket) {
    this.#socket = socket;
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      this.#buffer += chunk;
      for (let newline = this.#buffer.indexOf('\n'); newline !== -1; newline = this.#buffer.indexOf('\n')) {
        const line = this.#buffer.slice(0, newline);
        this.#buffer = this.#buffer.slice(newline + 1);
        this.#waiting.shift()?.ok(line);
      }
    });
    const fail = (e: Error) => {
      this.#error ??= e;
      for (const w of this.#waiting.splice(0)) w.fail(this.#error);
    };
    socket.on('error', fail);
    socket.on('close', () => fail(Object.assign(new Error('the daemon closed the control socket'), { code: 'ECONNRESET' })));
  }

  /** Connects; rejects with the socket error (`ENOENT`: no socket; `ECONNREFUSED`: a stale one). */
  static connect(path: string): Promise<ControlClient> {
    return new Promise((ok, fail) => {
      const socket = createConnection(path);
      socket.once('error', fail);
      socket.once('connect', () => {
        socket.off('error', fail);
        ok(new ControlClient(socket));
      });
    });
  }

  /** Asks for a snapshot; rejects if the daemon goes away or does not answer within `timeoutMs`. */
  async stats(timeoutMs: number = CONTROL_TIMEOUT_MS): Promise<StatsSnapshot> {
    if (this.#error !== undefined) throw this.#error;
    const line = await new Promise<string>((ok, fail) => {
      const timer = setTimeout(() => fail(Object.assign(new Error(`the daemon did not answer within ${timeoutMs} ms`), { code: 'ETIMEDOUT' })), timeoutMs);
      this.#waiting.push({
        ok: (l) => { clearTimeout(timer); ok(l); },
        fail: (e) => { clearTimeout(timer); fail(e); },
      });
      this.#socket.write('{"op":"stats"}\n');
    });
    const reply = JSON.parse(line) as { ok: boolean; stats?: StatsSnapshot; error?: string };
    if (!reply.ok || reply.stats === undefined) throw new Error(`the daemon refused: ${reply.error ?? 'no reason given'}`);
    return reply.stats;
  }

  /**
   * Asks the daemon to hand the mount to a successor (`tsfuse restart`); resolves with what it reports
   * (a HandoffResult), rejects with its refusal or after `timeoutMs`.
   */
  async handoff(timeoutMs: number = 120_000): Promise<unknown> {
    if (this.#error !== undefined) throw this.#error;
    const line = await new Promise<string>((ok, fail) => {
      const timer = setTimeout(() => fail(Object.assign(new Error(`the daemon did not finish the handoff within ${timeoutMs} ms`), { code: 'ETIMEDOUT' })), timeoutMs);
      this.#waiting.push({
        ok: (l) => { clearTimeout(timer); ok(l); },
        fail: (e) => { clearTimeout(timer); fail(e); },
      });
      this.#socket.write('{"op":"handoff"}\n');
    });
    const reply = JSON.parse(line) as { ok: boolean; handoff?: unknown; error?: string };
    if (!reply.ok) throw new TsfuseError('ERR_FUSE_HANDOFF', reply.error ?? 'the daemon refused without a reason');
    return reply.handoff;
  }

  close(): void { this.#socket.destroy(); }
}
