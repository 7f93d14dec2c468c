/*
 * The do-nothing libfuse 3 low-level daemon of bench/run.ts, the C counterpart of tsfuse's do-nothing
 * filesystem (bench/lib/filesystems.ts statTree): a root directory holding one 4 KiB file, /file,
 * answered from constants with entry and attribute timeouts 0, so every stat(2) reaches the daemon.
 * Built at bench time with `cc null_ll.c $(pkg-config fuse3 --cflags --libs)`.
 *
 *   null_ll [-s] [-o OPTIONS] MOUNTPOINT     (libfuse's usual command line; the bench passes -f -s)
 */
#define FUSE_USE_VERSION 34
#include <fuse_lowlevel.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static void fill(fuse_ino_t ino, struct stat *st) {
  memset(st, 0, sizeof *st);
  st->st_ino = ino;
  if (ino == FUSE_ROOT_ID) { st->st_mode = S_IFDIR | 0755; st->st_nlink = 2; }
  else { st->st_mode = S_IFREG | 0644; st->st_nlink = 1; st->st_size = 4096; st->st_blocks = 8; }
}

static void null_lookup(fuse_req_t req, fuse_ino_t parent, const char *name) {
  if (parent != FUSE_ROOT_ID || strcmp(name, "file") != 0) { fuse_reply_err(req, ENOENT); return; }
  struct fuse_entry_param e;
  memset(&e, 0, sizeof e);
  e.ino = 2;
  fill(2, &e.attr);
  fuse_reply_entry(req, &e);
}

static void null_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi) {
  (void)fi;
  if (ino != FUSE_ROOT_ID && ino != 2) { fuse_reply_err(req, ENOENT); return; }
  struct stat st;
  fill(ino, &st);
  fuse_reply_attr(req, &st, 0.0);
}

static const struct fuse_lowlevel_ops ops = { .lookup = null_lookup, .getattr = null_getattr };

int main(int argc, char *argv[]) {
  struct fuse_args args = FUSE_ARGS_INIT(argc, argv);
  struct fuse_cmdline_opts opts;
  int ret = 1;
  if (fuse_parse_cmdline(&args, &opts) != 0 || opts.mountpoint == NULL) {
    fprintf(stderr, "usage: %s [-s] [-o OPTIONS] MOUNTPOINT\n", argv[0]);
    return 2;
  }
  struct fuse_session *se = fuse_session_new(&args, &ops, sizeof ops, NULL);
  if (se == NULL) goto out;
  if (fuse_set_signal_handlers(se) != 0) goto destroy;
  if (fuse_session_mount(se, opts.mountpoint) != 0) goto handlers;
  printf("ready\n");
  fflush(stdout);
  ret = opts.singlethread ? fuse_session_loop(se) : fuse_session_loop_mt(se, NULL);
  fuse_session_unmount(se);
handlers:
  fuse_remove_signal_handlers(se);
destroy:
  fuse_session_destroy(se);
out:
  free(opts.mountpoint);
  fuse_opt_free_args(&args);
  return ret ? 1 : 0;
}
