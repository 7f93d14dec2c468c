/**
 * Zero-filled bytes for reply structs, cut from a shared zeroed slab. `Buffer.alloc(n)` gives every
 * reply body an ArrayBuffer of its own, which V8 allocates off-heap for anything above 64 bytes (malloc,
 * external-memory accounting, the ArrayBuffer sweeper): bench/profile-core.ts measured it at ~15% of the
 * JavaScript of a LOOKUP/GETATTR pair. A view of a slab that is never reused costs one typed-array object.
 * The slab stays alive while any view of it does, as with Node's own Buffer pool; callers that keep a
 * reply body for long (none in tsfuse) should copy it.
 */
const SLAB_SIZE = 64 * 1024;
/** Larger requests get a buffer of their own: a slab holds at least eight of them. */
const SLAB_MAX = SLAB_SIZE / 8;

let slab = Buffer.alloc(SLAB_SIZE);
let used = 0;

/** `size` zero bytes, possibly a view of a shared slab (never handed out twice). */
export function zeroed(size: number): Buffer {
  if (size > SLAB_MAX) return Buffer.alloc(size);
  if (used + size > SLAB_SIZE) {
    slab = Buffer.alloc(SLAB_SIZE);
    used = 0;
  }
  const b = slab.subarray(used, used + size);
  // 8-byte aligned, like the kernel's structs (and so a DataView over one is aligned).
  used = (used + size + 7) & ~7;
  return b;
}
