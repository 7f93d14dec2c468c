// The POSIX conformance suite (posix-suite.ts) against the passthrough without node:ffi (targets.ts):
// what users of Node 20, 22 and 24 get. Run again under Node >= 26 with node:ffi turned off, whose
// libuv (>= 1.52) sets times to the nanosecond a double holds, where Node 20's truncates to the
// microsecond (src/passthrough/attr.ts utimeArg): Node 24 ships such a libuv too.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { NODE26_SKIP, mountSkip, passUnderNode26 } from '../support/mount-helpers.ts';
import { LIBUV_KEEPS_NS } from '../../src/passthrough/attr.ts';
import { posixSuite } from './posix-suite.ts';

posixSuite('passthrough-noffi');

test('under Node >= 26 (TSFUSE_NODE26, node:ffi off): the suite passes with a libuv that keeps nanoseconds', {
  skip: mountSkip() ?? (LIBUV_KEEPS_NS ? `this Node's libuv (${process.versions.uv}) keeps nanoseconds: run above` : NODE26_SKIP),
  timeout: 120_000,
}, () => {
  assert.match(passUnderNode26(fileURLToPath(import.meta.url)), /^# skipped 1$/m, 'only this re-run skips there');
});
