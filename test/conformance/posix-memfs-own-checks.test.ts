// The POSIX conformance suite (posix-suite.ts) against the memfs-own-checks target (targets.ts).
import { posixSuite } from './posix-suite.ts';

posixSuite('memfs-own-checks');
