/**
 * `tsfuse/protocol`: the FUSE kernel ABI (7.27 … 7.45) for experimenters. Every request decoder and type,
 * every reply encoder, the opcode table, INIT negotiation, notifications and struct layouts, as pure
 * functions over bytes; and the transport-free session core that drives a filesystem with them
 * (`handleFrame(bytes)` in, reply frames out), for new transports, recorders and replayers.
 * A filesystem author needs only the root export (`tsfuse`).
 */
export * from './protocol/index.ts';
export {
  SessionCore, deriveCapabilities, REQUEST_CHANNEL, REPLY_CHANNEL,
  type SessionCoreOptions, type CoreOutput, type RequestMessage, type ReplyMessage, type SessionClock,
} from './session/core.ts';
export type { RequestSink } from './session/context.ts';
// Explain mode's codec: a frame's every byte, named and annotated, and its text form.
export { explainFrame, type ExplainedFrame, type ExplainedPart, type ExplainedField, type ExplainOptions } from './explain/explain.ts';
export { formatExplained } from './explain/format.ts';
