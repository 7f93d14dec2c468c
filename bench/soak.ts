// `npm run soak`: N client processes for a while on each filesystem, a mix of metadata and data
// operations in private and shared directories; every client verifies its own files, and the daemon's
// RSS is sampled at the start, middle and end (test/conformance/soak.ts).
//
//   npm run soak -- [--seconds 600] [--clients 64] [--target memfs|passthrough|native] [--seed 1]
//
// Without --target it runs memfs, then passthrough. Exit code 1 if any run saw an error, a verification
// failure, a lost client, leftovers, or RSS that grew from the middle to the end.
import { parseArgs } from 'node:util';
import { formatSoak, rssFlat, runSoak } from '../test/conformance/soak.ts';
import { TARGET_NAMES, targetSkip, type TargetName } from '../test/conformance/targets.ts';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '600' },
    clients: { type: 'string', default: '64' },
    target: { type: 'string', multiple: true },
    seed: { type: 'string', default: '1' },
  },
});
const seconds = Number(values.seconds);
const clients = Number(values.clients);
const seed = Number(values.seed);
if (!(seconds > 0) || !Number.isInteger(clients) || clients < 1 || !Number.isInteger(seed)) {
  console.error('usage: npm run soak -- [--seconds S] [--clients N] [--target memfs|passthrough|native] [--seed N]');
  process.exit(2);
}
const targets = (values.target ?? ['memfs', 'passthrough']) as TargetName[];
for (const t of targets) {
  if (!TARGET_NAMES.includes(t)) {
    console.error(`unknown target ${t} (one of ${TARGET_NAMES.join(', ')})`);
    process.exit(2);
  }
  const skip = targetSkip(t);
  if (skip !== undefined) {
    console.error(`cannot mount ${t}: ${skip}`);
    process.exit(2);
  }
}
let failed = false;
for (const target of targets) {
  const r = await runSoak({ target, clients, seconds, seed, log: (line) => console.log(line) });
  console.log(formatSoak(r));
  const flat = rssFlat(r);
  console.log(`  RSS flat (end ≤ 1.25 × middle + 16 MiB): ${flat ? 'yes' : 'NO'}`);
  if (r.errors.length + r.verificationFailures.length + r.lostClients.length + r.leftover.length > 0 || !flat) failed = true;
}
process.exitCode = failed ? 1 : 0;
