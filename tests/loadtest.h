/*
 * The load suites' fixture (loadtest.c): files to read in a private
 * directory, request lines of many sleeps, and waits and probes through a
 * status or probe connection. Under a slow wrapper (valgrind, ASan) sizes
 * shrink through load_scale. Every helper asserts (Criterion) instead of
 * returning errors.
 */
#ifndef GATHERD_LOADTEST_H
#define GATHERD_LOADTEST_H

#include <stddef.h>

#include <jansson.h>

/* The files fixture() makes in fixdir. */
#define BIG_FILE	"big.txt"	/* BIG_BYTES of 'x' */
#define BIG_BYTES	(1024 * 1024)
#define HUGE_FILE	"huge.txt"	/* HUGE_BYTES of 'y' */
#define HUGE_BYTES	(4 * 1024 * 1024)
#define SMALL_FILE	"small.txt"
#define SMALL_TEXT	"hello\n"

/*
 * Options for a PostgreSQL cluster (tests/pgtest.c) under load: its
 * server checks every 100 ms whether a query's client is still there, so
 * a query the daemon abandons (by closing its connection) does not hold a
 * server process for long.
 */
#define PG_OPTIONS	"-c client_connection_check_interval=100"

/* Files and databases of this test, or "" before fixture(). */
extern char	fixdir[256];

/* n bare, n / 10 (at least 1) under a slow wrapper. */
int	 load_scale(int n);
/* Write a file of n bytes c (or text if not NULL) in fixdir. */
void	 fixture_file(const char *name, int c, size_t n, const char *text);
/* Make fixdir (removed by harness_suite_fini) with the files above. */
void	 fixture(void);
/* A batch of n sleeps of ms as a request line with id; caller frees. */
char	*sleeps(const char *id, int n, int ms);
/*
 * Poll status on fd until nothing is in flight or waiting, the pool is
 * idle (work abandoned on a worker included) and exactly conns
 * connections are open, within ms (stretched). Returns that status.
 * Caller decrefs.
 */
json_t	*await_idle(int fd, json_int_t conns, int ms);
/*
 * One probe round trip on fd: its latency in ms; asserts path of the
 * reply is want.
 */
double	 probe(int fd, const char *line, const char *path, const char *want);

#endif
