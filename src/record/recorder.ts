/**
 * Records a session: one subscriber of the raw-frame diagnostics channel (`tsfuse:frame`, published by
 * src/session/core.ts only while someone subscribes), writing each frame of one session as a record of
 * the `.tsfr` format (src/record/format.ts). A session that is not recorded pays one `hasSubscribers`
 * check per frame; a recorded one pays one copy per frame, which it must take anyway: request frames
 * may be lent memory that the transport reuses once the handler is done.
 */
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { createWriteStream, type WriteStream } from 'node:fs';
import { FRAME_CHANNEL, type FrameMessage } from '../session/core.ts';
import { encodeFileHeader, encodeRecord, type RecordingMetadata } from './format.ts';

/** Where records go: a file path, or anything with `write(bytes)` (a Node Writable, a test's array). */
export type RecordTarget = string | RecordingSink;

export interface RecordingSink {
  /** Takes one chunk (the file header, then one chunk per record); the chunk is the sink's to keep. */
  write(chunk: Uint8Array): unknown;
}

export interface RecorderOptions {
  /** The {@link SessionCore.id} to record; frames of other sessions in the process are ignored. */
  readonly session: number;
  /** Written into the file header. `tool`, `created`, `node` and `arch` are filled in when absent. */
  readonly metadata?: RecordingMetadata;
  /** Where a failed write to the file is reported (recording then stops; the session goes on). Defaults to process.emitWarning. */
  readonly onWarning?: (message: string) => void;
}

/** A recording in progress. */
export interface Recorder {
  /** Frames written so far. */
  readonly frames: number;
  /** Stops recording; with a file path, resolves once the file is complete on disk. Idempotent. */
  stop(): Promise<void>;
}

/**
 * Starts recording the session `options.session`. Subscribe before the session reads its first frame
 * (INIT), or the recording cannot be decoded. A sink given as an object is written to and never ended.
 */
export function startRecording(target: RecordTarget, options: RecorderOptions): Recorder {
  const warn = options.onWarning ?? ((m: string) => process.emitWarning(m, 'TsfuseWarning'));
  let stream: WriteStream | undefined;
  let sink: RecordingSink;
  let failed = false;
  if (typeof target === 'string') {
    // 0600: a recording holds file contents and names as they crossed the boundary.
    stream = createWriteStream(target, { flags: 'w', mode: 0o600 });
    stream.on('error', (e) => {
      if (failed) return;
      failed = true;
      warn(`recording to ${target} stopped: ${e.message}`);
    });
    sink = stream;
  } else {
    sink = target;
  }
  const metadata: RecordingMetadata = {
    tool: 'tsfuse', created: new Date().toISOString(), node: process.version, arch: process.arch, ...options.metadata,
  };
  const put = (chunk: Uint8Array): void => {
    if (failed) return;
    try {
      sink.write(chunk);
    } catch (e) {
      failed = true;
      warn(`recording stopped: the sink threw ${(e as Error)?.message ?? String(e)}`);
    }
  };
  put(encodeFileHeader(metadata));

  let base: bigint | undefined;
  let frames = 0;
  const onFrame = (message: unknown): void => {
    const m = message as FrameMessage;
    if (m.session !== options.session) return;
    base ??= m.time;
    put(encodeRecord(m.direction, m.time - base, m.iov, m.writeError));
    frames++;
  };
  subscribe(FRAME_CHANNEL, onFrame);

  let stopped: Promise<void> | undefined;
  return {
    get frames() { return frames; },
    stop() {
      stopped ??= new Promise<void>((resolve) => {
        unsubscribe(FRAME_CHANNEL, onFrame);
        if (stream === undefined || stream.closed) { resolve(); return; }
        stream.once('close', () => resolve());
        stream.end();
      });
      return stopped;
    },
  };
}
