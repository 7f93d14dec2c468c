// The POSIX conformance suite (posix-suite.ts) against the passthrough without node:ffi (targets.ts):
// what users of Node 20, 22 and 24 get.
import { posixSuite } from './posix-suite.ts';

posixSuite('passthrough-noffi');
