/**
 * `tsfuse demo NAME`: small experiments that show how FUSE behaves. Each demo is a row of {@link DEMOS}.
 */
import { writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { Io, ParsedCommand, Subcommand } from '../cli.ts';
import { DEFAULT_BUDGET, QUICK_BUDGET, latencyChart, latencyTable, measureLatency } from './latency.ts';

interface Demo {
  readonly name: string;
  readonly summary: string;
  run(parsed: ParsedCommand, io: Io): Promise<number>;
}

const DEFAULT_SVG = 'tsfuse-latency.svg';

const DEMOS: readonly Demo[] = [
  {
    name: 'latency',
    summary: 'fstat and 4 KiB pread latency through FUSE as the handler\'s work grows (0–1000 µs), next to a native directory',
    async run({ values }, io) {
      const quick = values['quick'] === true;
      const json = values['json'] === true;
      const svgPath = resolve(typeof values['svg'] === 'string' ? values['svg'] : DEFAULT_SVG);
      const controller = new AbortController();
      const onSignal = () => controller.abort();
      process.once('SIGINT', onSignal);
      process.once('SIGTERM', onSignal);
      try {
        io.err(`tsfuse demo latency: about ${quick ? 'a few' : Math.round((12 * DEFAULT_BUDGET.seriesMs) / 1000)} seconds${quick ? '' : ' (--quick: a few)'}\n`);
        const results = await measureLatency({
          budget: quick ? QUICK_BUDGET : DEFAULT_BUDGET,
          onProgress: (line) => io.err(`${line}\n`),
          signal: controller.signal,
        });
        await writeFile(svgPath, latencyChart(results));
        if (json) io.out(`${JSON.stringify(results, null, 2)}\n`);
        else io.out(`\n${latencyTable(results)}\nChart: ${svgPath}\n`);
        if (json) io.err(`chart: ${svgPath}\n`);
        return 0;
      } catch (e) {
        io.err(`tsfuse demo latency: ${controller.signal.aborted ? 'interrupted' : (e as Error).message}\n`);
        return 1;
      } finally {
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
      }
    },
  },
];

export const DEMO_COMMAND: Subcommand = {
  name: 'demo',
  summary: 'run a demo: latency (the cost of the FUSE boundary)',
  usage: 'NAME [--quick] [--svg FILE] [--json]',
  synopsis: 'NAME',
  args: { quick: { type: 'boolean' }, svg: { type: 'string' }, json: { type: 'boolean' } },
  positionals: ['NAME'],
  help: `Runs a demo that mounts a filesystem of its own on a temporary directory (as root, or with
fusermount3 and Node >= 26), measures, and unmounts. Demos:
${DEMOS.map((d) => `  ${d.name.padEnd(10)}${d.summary}`).join('\n')}`,
  optionsHelp: `  --quick           measure briefly (a few seconds instead of about half a minute)
  --svg FILE        where to write the chart (default: ./${DEFAULT_SVG})
  --json            print the measurements as JSON instead of the table`,
  async run(parsed, io) {
    const name = parsed.positionals[0];
    const demo = DEMOS.find((d) => d.name === name);
    if (demo === undefined) {
      io.err(`tsfuse demo: unknown demo '${name ?? ''}'; the demos are: ${DEMOS.map((d) => d.name).join(', ')}\n`);
      return 2;
    }
    return demo.run(parsed, io);
  },
};
