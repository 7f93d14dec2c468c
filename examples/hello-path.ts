// fusepy's hello on the path API: one read-only file. node --import tsx examples/hello-path.ts MOUNTPOINT
import { fileURLToPath } from 'node:url';
import { FuseError, mount, pathOperations, type PathFilesystem } from '../src/index.ts';

const text = 'Hello World!\n';
const started = new Date();

export const hello: PathFilesystem = {
  getattr(path) {
    if (path === '/') return { mode: 0o040755, nlink: 2, mtime: started };
    if (path === '/hello') return { mode: 0o100444, size: Buffer.byteLength(text), mtime: started };
    throw new FuseError('ENOENT');
  },
  readdir: () => ['hello'],
  read: (_path, _fh, length, position) => Buffer.from(text).subarray(position, position + length),
};

if (process.argv[1] === fileURLToPath(import.meta.url)) await mount(process.argv[2]!, pathOperations(hello), { handleSignals: true });
