#!/usr/bin/env node
// The installed `tsfuse` command: runs the built CLI (dist/cli.js, made by `npm run build`).
import { main } from '../dist/cli.js';

process.exitCode = await main(process.argv.slice(2));
