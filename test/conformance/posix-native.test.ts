// The POSIX conformance suite (posix-suite.ts) against the native target (targets.ts).
import { posixSuite } from './posix-suite.ts';

posixSuite('native');
