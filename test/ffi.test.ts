// src/ffi.ts bindLibc: the one way tsfuse's bindings reach libc through node:ffi, and the sentences that
// say why they cannot. Without node:ffi here (Node 20); with it in a Node 26 child (TSFUSE_NODE26).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { bindLibc, signature } from '../src/ffi.ts';
import { NODE_MAJOR as MAJOR, NODE26_SKIP, passUnderNode26 } from './support/mount-helpers.ts';

const THIS_FILE = fileURLToPath(import.meta.url);
const EBADF = 9;

test('without node:ffi (Node < 26): a sentence with the subject, Node >= 26, what it is for and this Node', { skip: MAJOR < 26 ? undefined : 'this Node has node:ffi' }, () => {
  assert.equal(
    bindLibc('the frobnicator needs', { close: signature(['int32'], 'int32') }, 'to close things'),
    `the frobnicator needs node:ffi (Node >= 26) to close things; this is Node ${process.version}`,
  );
  assert.equal(bindLibc('x needs', {}), `x needs node:ffi (Node >= 26); this is Node ${process.version}`);
});

test('with node:ffi: functions by name, errno of the calling thread, and a function libc lacks named', { skip: MAJOR >= 26 ? undefined : 'needs node:ffi: run in a child under TSFUSE_NODE26 (next test)' }, () => {
  const libc = bindLibc('the test needs', { close: signature(['int32'], 'int32'), getpid: signature([], 'int32') });
  assert.notEqual(typeof libc, 'string', String(libc));
  if (typeof libc === 'string') return;
  assert.equal(libc.fn.getpid(), process.pid);
  assert.equal(libc.fn.close(-1), -1);
  assert.equal(libc.errno(), EBADF);
  // node:ffi's dlopen refuses a symbol it cannot resolve; the sentence names it.
  assert.match(
    String(bindLibc('the test needs', { close: signature(['int32'], 'int32'), no_such_function_in_libc: signature([], 'int32') })),
    /^the test needs node:ffi, but binding libc failed: .*no_such_function_in_libc/,
  );
});

test('under Node >= 26 (TSFUSE_NODE26): the node:ffi case above passes there', { skip: MAJOR >= 26 ? 'this Node has node:ffi: run above' : NODE26_SKIP, timeout: 120_000 }, () => {
  assert.match(passUnderNode26(THIS_FILE, 'with node:ffi: functions'), /^# pass 1$/m);
});
