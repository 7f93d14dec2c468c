// The "Testing your filesystem" example of the README is test/testing/readme-example.test.ts, which runs
// with the other tests: the README block must be that file, with the package's import specifiers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';

const read = (path: string): string => readFileSync(new URL(path, import.meta.url), 'utf8');

test('the README\'s testing example is the tested file, imports aside', () => {
  const readme = read('../../README.md');
  const section = readme.split('\n## Testing your filesystem\n')[1];
  assert.ok(section !== undefined, 'the README has a "Testing your filesystem" section');
  const block = /```ts\n([\s\S]*?)```/.exec(section.split('\n## ')[0]!)?.[1];
  assert.ok(block !== undefined, 'the section has a ts code block');
  const file = read('./readme-example.test.ts')
    .replace("'../../src/index.ts'", "'tsfuse'")
    .replace("'../../src/testing.ts'", "'tsfuse/testing'");
  assert.equal(block, file);
});

test('the package exports what the example imports', async () => {
  const pkg = JSON.parse(read('../../package.json')) as { exports: Record<string, unknown> };
  assert.ok('./testing' in pkg.exports);
  const testing = await import('../../src/testing.ts');
  for (const name of ['mountFake', 'FakeKernel', 'build', 'reply', 'FakeMount', 'FakeStats']) assert.ok(name in testing, name);
});
