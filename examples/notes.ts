// A writable filesystem in about 30 lines: notes kept in memory, one file each, in a single directory.
import { FuseError, type PathFilesystem } from '../src/index.ts';

const notes = new Map<string, Buffer>();
const name = (path: string) => path.slice(1); // "/todo.txt" → "todo.txt"
const note = (path: string) => notes.get(name(path)) ?? (() => { throw new FuseError('ENOENT'); })();

export const notesFs: PathFilesystem = {
  getattr(path) {
    if (path === '/') return { mode: 0o040755, nlink: 2 };
    return { mode: 0o100644, size: note(path).length };
  },
  readdir: () => [...notes.keys()],
  create(path) { notes.set(name(path), Buffer.alloc(0)); },
  read: (path, _fh, length, position) => note(path).subarray(position, position + length),
  write(path, _fh, data, position) {
    const old = note(path);
    const grown = Buffer.alloc(Math.max(old.length, position + data.length));
    old.copy(grown);
    grown.set(data, position);
    notes.set(name(path), grown);
    return data.length;
  },
  truncate(path, size) { notes.set(name(path), Buffer.concat([note(path), Buffer.alloc(size)]).subarray(0, size)); },
  utimens() {}, // times are not kept: `touch` works, and changes nothing
  unlink(path) { note(path); notes.delete(name(path)); },
  rename(from, to) {
    if (to.lastIndexOf('/') !== 0) throw new FuseError('EXDEV');
    notes.set(name(to), note(from));
    notes.delete(name(from));
  },
};
