// docs/walkthrough-cat.md shows real explain output of one `cat`. This runs the page's commands again
// (hello with --explain, once with default caching and once with -o attr_timeout=0; cat from another
// process) and checks that they produce the frames the page shows, in the same order, with the same
// results, so that the page cannot rot silently. Needs root and /dev/fuse.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT, cleanupMountpoints, mountSkip } from '../support/mount-helpers.ts';
import { explainRun, frameSequence } from './explain-run.ts';

const DOC = readFileSync(join(REPO_ROOT, 'docs', 'walkthrough-cat.md'), 'utf8');

after(async () => { assert.deepEqual(await cleanupMountpoints(), [], 'no mount left behind'); });

/** The frame headings the page shows after `<!-- explain-run: NAME -->`, up to the next marker. */
function documented(name: string): string[] {
  const start = DOC.indexOf(`<!-- explain-run: ${name} -->`);
  assert.ok(start >= 0, `docs/walkthrough-cat.md has no explain-run marker ${name}`);
  const next = DOC.indexOf('<!-- explain-run:', start + 1);
  return frameSequence(DOC.slice(start, next < 0 ? undefined : next));
}

test('the page shows its commands and links back from the README', () => {
  assert.match(DOC, /npx tsfuse hello \/tmp\/hello --explain\b/);
  assert.match(DOC, /npx tsfuse hello \/tmp\/hello --explain -o attr_timeout=0/);
  assert.match(DOC, /cat \/tmp\/hello\/hello\.txt/);
  assert.match(readFileSync(join(REPO_ROOT, 'README.md'), 'utf8'), /\(docs\/walkthrough-cat\.md\)/);
  // The page's story, as documented: five requests with caching, eight (three GETATTRs) without.
  const requests = (run: string) => documented(run).filter((s) => s.endsWith('request')).map((s) => s.split(' ')[3]);
  assert.deepEqual(requests('default'), ['INIT', 'LOOKUP', 'OPEN', 'READ', 'FLUSH', 'RELEASE']);
  assert.deepEqual(requests('attr_timeout=0'), ['INIT', 'LOOKUP', 'OPEN', 'GETATTR', 'GETATTR', 'READ', 'GETATTR', 'FLUSH', 'RELEASE']);
});

for (const [name, args] of [['default', []], ['attr_timeout=0', ['-o', 'attr_timeout=0']]] as const) {
  test(`the page's ${name} run still produces the frames it shows`, { skip: mountSkip(), timeout: 120_000 }, async () => {
    const r = await explainRun('hello', args, [(mnt) => ['cat', [join(mnt, 'hello.txt')]]]);
    assert.equal(r.results[0]?.stdout, 'Hello from FUSE!\n', r.results[0]?.stderr);
    assert.equal(r.exitCode, 0, r.output.slice(-2000));
    assert.deepEqual(frameSequence(r.output), documented(name),
      'docs/walkthrough-cat.md no longer matches what its commands print: regenerate the page from a fresh run');
  });
}
