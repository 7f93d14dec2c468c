// The POSIX conformance suite (posix-suite.ts) against the passthrough target (targets.ts).
import { posixSuite } from './posix-suite.ts';

posixSuite('passthrough');
