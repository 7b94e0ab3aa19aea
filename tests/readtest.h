/*
 * The read suites' fixture (readtest.c): files in a private directory,
 * daemons reading beneath roots there in either mode of path resolution,
 * and read jobs run and checked. Every test of path resolution runs twice:
 * once as the daemon runs by default (openat2(RESOLVE_BENEATH) on any
 * kernel from 5.6), once with GATHERD_NO_OPENAT2=1 in the daemon's
 * environment, which makes it walk paths itself one component at a time.
 * Criterion runs every test in its own process, so start_in sets that
 * variable before daemon_start and the forked daemon inherits it; it then
 * checks the daemon's /proc/PID/environ, so a mode cannot silently not be
 * tested. Every helper asserts (Criterion) instead of returning errors.
 */
#ifndef GATHERD_READTEST_H
#define GATHERD_READTEST_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "harness.h"

/* How the daemon opens paths beneath a root. */
enum mode {
	MODE_DEFAULT,	/* openat2 where the kernel has it */
	MODE_WALK,	/* GATHERD_NO_OPENAT2=1: the O_NOFOLLOW walk */
};

/* This test's files (a real path), or "" before files_init. */
extern char	fdir[256];
/* This test's daemon, and a second for the few tests that need one. */
extern struct daemon	d, d2;

/* How long a reply may take: longer under valgrind. */
int	 reply_ms(void);
/*
 * Poll status until only the status connection is open, no job is in
 * flight or waiting, no batch is in flight and the pool has nothing
 * queued; assert it takes < within_ms. Returns the time it took.
 */
double	 expect_settles(struct daemon *, double within_ms, const char *what);

/*
 * Make fdir, with root/, outside/ and outside/secret.txt (whose content,
 * "SECRET", no read may return).
 */
void	 files_init(void);
/*
 * rel's absolute path (rel is beneath fdir unless absolute), in one of 8
 * static buffers.
 */
const char *fpath(const char *rel);
/* Write a file of len bytes at rel. */
void	 put(const char *rel, const void *data, size_t len);
/* Write a file holding s at rel. */
void	 put_str(const char *rel, const char *s);
/* Make a directory at rel. */
void	 mk_dir(const char *rel);
/* A symbolic link at rel whose body is target, verbatim. */
void	 mk_link(const char *target, const char *rel);
/* A Unix socket file at rel (bound, then closed: the file stays). */
void	 mk_socket(const char *rel);

/* Whether the kernel lets this process use openat2(RESOLVE_BENEATH). */
bool	 kernel_has_openat2(void);
/*
 * Start dm with threads workers, read roots (space-separated; a word
 * without a leading slash is relative to fdir), extra config text and
 * command line arguments (may be NULL), in a mode. The read helpers below
 * run their jobs through the daemon started last.
 */
void	 start_in(struct daemon *dm, enum mode mode, unsigned threads,
	    const char *roots, const char *extra, const char *const *args);

/* start_in(&d, ...) without arguments. */
void	 start(enum mode mode, unsigned threads, const char *roots,
	    const char *extra);

/*
 * A read job object for path with extra fields (JSON text, may be "");
 * caller frees.
 */
char	*read_job(const char *path, const char *fields);
/* Run a one-job batch; return its one result. Caller decrefs. */
json_t	*read_result(const char *path, const char *fields);
/* Assert a result is ok with exactly data (len bytes) and this size. */
void	 expect_data(json_t *res, const char *data, size_t len,
	    json_int_t size);
/* Read path (with fields) and expect data and size. */
void	 expect_read(const char *path, const char *fields, const char *data,
	    json_int_t size);
/*
 * Assert a result failed with code and a message naming the path and
 * holding also (when not NULL).
 */
void	 expect_failure(json_t *res, const char *code, const char *path,
	    const char *also);
/* Read path (with fields) and expect it to fail with code. */
void	 expect_read_error(const char *path, const char *fields,
	    const char *code, const char *also);
/*
 * Base64 of our own (RFC 4648, padded), so the daemon's encoder is not
 * checked against itself: encode len bytes into out (room for
 * 4 * ((len + 2) / 3) + 1); returns the length.
 */
size_t	 b64_encode(const unsigned char *in, size_t len, char *out);
/*
 * Assert a whole read of each path that follows code, up to a NULL,
 * fails with code.
 */
void	 expect_reads_fail(const char *code, ...)
	    __attribute__((sentinel));
/* Read path as base64 (with more fields) and expect data, len bytes. */
void	 expect_read_b64(const char *path, const char *fields,
	    const void *data, size_t len, json_int_t size);

#endif
