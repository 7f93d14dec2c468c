/**
 * Explain mode while serving: a subscriber of the `tsfuse:explain` diagnostics channel that prints every
 * request as it arrives and every reply as it goes out, fully dissected, with the time each daemon-side
 * stage took. The session publishes on that channel only while someone subscribes (one check per frame),
 * so a mount without explain mode pays nothing.
 */
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { EXPLAIN_CHANNEL, type ExplainMessage } from '../session/core.ts';
import { explainFrame } from './explain.ts';
import { formatExplained, formatStages } from './format.ts';

/** Where explained frames go: one call per frame, a block of lines without the final newline. */
export type ExplainSink = (text: string) => void;

const toStderr: ExplainSink = (text) => { process.stderr.write(`${text}\n\n`); };

/** A reply written as iovecs, as one buffer (the explainer reads it whole). */
function joined(iov: readonly Uint8Array[]): Buffer {
  return Buffer.concat(iov.map((b) => Buffer.from(b.buffer, b.byteOffset, b.byteLength)));
}

/** The text of one explain message: the frame dissected, and for a reply the stage times. */
export function formatExplainMessage(m: ExplainMessage): string {
  if (m.kind === 'request') return formatExplained(explainFrame(m.request, { direction: 'request', negotiated: m.negotiated }));
  const stages = m.stages === undefined ? '' : `\n${formatStages(m.stages, m.reply === undefined)}`;
  if (m.reply === undefined) {
    const name = explainFrame(m.request, { direction: 'request', negotiated: m.negotiated }).name;
    return `daemon → kernel  (${name} gets no reply)${stages}`;
  }
  const e = explainFrame(joined(m.reply), { direction: 'reply', negotiated: m.negotiated, request: m.request });
  return `${formatExplained(e)}${stages}`;
}

/**
 * Starts printing every frame of every session in this process, explained, through `sink` (default:
 * stderr, a blank line between frames). Returns a function that stops it. `session` restricts it to
 * the session with that {@link SessionCore.id}.
 */
export function startExplain(sink: ExplainSink = toStderr, options: { readonly session?: number } = {}): () => void {
  const onMessage = (message: unknown): void => {
    const m = message as ExplainMessage;
    if (options.session !== undefined && m.session !== options.session) return;
    let text: string;
    try {
      text = formatExplainMessage(m);
    } catch (e) {
      text = `explain: could not format a ${m.kind}: ${(e as Error)?.message ?? String(e)}`;
    }
    // The sink is the user's: its failure must not reach the session that published.
    try { sink(text); } catch { /* nowhere to report it */ }
  };
  subscribe(EXPLAIN_CHANNEL, onMessage);
  return () => { unsubscribe(EXPLAIN_CHANNEL, onMessage); };
}
