// The POSIX conformance suite (posix-suite.ts) against the memfs target (targets.ts).
import { posixSuite } from './posix-suite.ts';

posixSuite('memfs');
