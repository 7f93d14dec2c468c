import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Harness } from './harness.ts';
import { hello } from '../../examples/hello-path.ts';
test('smoke', async () => {
  const h = await Harness.start(hello);
  const e = await h.lookup(1, 'hello');
  console.log(e);
  const o = await h.open(e.nodeid, 0);
  const r = await h.read(e.nodeid, o.fh, 0, 100);
  console.log(r.error, r.body.toString());
  const d = await h.open(1, 0, 'OPENDIR');
  console.log(await h.readdir(1, d.fh, 0), await h.readdirplus(1, d.fh, 0));
  console.log(h.warnings, h.nodes);
});
