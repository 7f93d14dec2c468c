/**
 * Explain mode: every frame between the kernel and the filesystem, dissected field by field. Pure
 * functions for one frame ({@link explainFrame}, {@link formatExplained}), the INIT audit as a table
 * ({@link formatAudit}), and the live subscriber `mount(…, { explain })` and `--explain` use ({@link startExplain}).
 */
export { explainFrame } from './explain.ts';
export type { ExplainedFrame, ExplainedPart, ExplainedField, ExplainOptions } from './explain.ts';
export { formatExplained, formatStages, formatAudit } from './format.ts';
export type { StageDurations } from './format.ts';
export { startExplain, formatExplainMessage } from './live.ts';
export type { ExplainSink } from './live.ts';
export { modeWords } from './fields.ts';
