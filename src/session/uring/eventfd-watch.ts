/**
 * Waking the main thread when the kernel completes io_uring work: the ring signals an eventfd, which is
 * wrapped in a libuv pipe handle (the way the epoll transport wraps /dev/fuse, src/session/transport.ts),
 * so libuv's epoll reads it and calls back on the main thread. Reading the eventfd resets its counter
 * before the callback drains the CQ ring, so a completion posted while draining signals it again and
 * none is missed.
 */
import net from 'node:net';
import { TsfuseError } from '../../errors.ts';

interface PipeHandle { open(fd: number): number }
type PipeCtor = new (type: number) => PipeHandle;

/** A started watch; `close()` stops it and closes the eventfd (idempotent). */
export interface EventFdWatch { close(): void }

/**
 * Calls `onSignal` on the main thread each time `eventFd` becomes readable, and `onError` once if reading
 * it fails. Throws ERR_FUSE_URING_UNAVAILABLE when this Node lacks `process.binding('pipe_wrap')`.
 */
export function watchEventFd(eventFd: number, onSignal: () => void, onError: (err: Error) => void): EventFdWatch {
  let Pipe: PipeCtor;
  let SOCKET: number;
  try {
    const binding = (process as unknown as { binding(name: string): { Pipe: PipeCtor; constants: { SOCKET: number } } }).binding('pipe_wrap');
    Pipe = binding.Pipe;
    SOCKET = binding.constants.SOCKET;
  } catch (cause) {
    throw new TsfuseError('ERR_FUSE_URING_UNAVAILABLE', 'the io_uring transport watches an eventfd through process.binding("pipe_wrap"), which this Node lacks', { cause });
  }
  const handle = new Pipe(SOCKET);
  const r = handle.open(eventFd);
  if (r !== 0) throw new TsfuseError('ERR_FUSE_URING_UNAVAILABLE', `libuv could not watch the io_uring eventfd (error ${r})`);
  // An eventfd read returns its 8-byte counter; the value does not matter, only that it was signalled.
  const counter = Buffer.alloc(64);
  const socket = new net.Socket({
    handle: handle as never,
    readable: true,
    writable: false,
    onread: { buffer: counter, callback: () => { onSignal(); return true; } },
  } as net.SocketConstructorOpts);
  let closed = false;
  socket.on('error', (err) => { if (!closed) onError(err); });
  return {
    close(): void {
      if (closed) return;
      closed = true;
      // Destroying the socket closes the libuv handle, which closes the eventfd.
      socket.destroy();
    },
  };
}
