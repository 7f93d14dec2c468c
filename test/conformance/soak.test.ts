// The short soak (`npm run soak` runs the long one): 16 client processes for 30 s on each filesystem, a
// mix of metadata and data operations in private and shared directories; no error, no lost or crossed
// data, nothing left behind, and the daemon's RSS no higher at the end than in the middle (within slack).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { formatSoak, rssFlat, runSoak } from './soak.ts';
import { selectedTargets, targetSkip } from './targets.ts';

const CLIENTS = 16;
const SECONDS = 30;

describe(`soak: ${CLIENTS} clients × ${SECONDS} s`, () => {
  for (const target of selectedTargets(['memfs', 'passthrough'])) {
    test(target, { skip: targetSkip(target), timeout: (SECONDS + 240) * 1000 }, async () => {
      const r = await runSoak({ target, clients: CLIENTS, seconds: SECONDS });
      console.log(formatSoak(r));
      assert.deepEqual(r.lostClients, []);
      assert.deepEqual(r.errors, []);
      assert.deepEqual(r.verificationFailures, []);
      assert.deepEqual(r.leftover, []);
      assert.ok(r.ops > CLIENTS * 10, `the clients got work done (${r.ops} operations)`);
      if (target !== 'native') {
        assert.ok(r.rssKiB.middle !== undefined && r.rssKiB.end !== undefined, 'the daemon RSS was sampled');
        assert.ok(rssFlat(r), `daemon RSS flat from the middle to the end: ${JSON.stringify(r.rssKiB)}`);
      }
    });
  }
});
