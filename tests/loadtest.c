/*
 * The load suites' fixture; see loadtest.h.
 */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>
#include <jansson.h>

#include "harness.h"
#include "jsonpath.h"
#include "loadtest.h"

char	fixdir[256];

/* n bare, n / 10 (at least 1) under a slow wrapper. */
int
load_scale(int n)
{
	return harness_slowed() ? (n / 10 > 0 ? n / 10 : 1) : n;
}

/* Write a file of n bytes c (or text if not NULL) in fixdir. */
void
fixture_file(const char *name, int c, size_t n, const char *text)
{
	char	*path = harness_fmt("%s/%s", fixdir, name), *buf;
	FILE	*fp;

	cr_assert_not_null(fp = fopen(path, "w"), "%s: %s", path,
	    strerror(errno));
	if (text != NULL)
		fputs(text, fp);
	else {
		cr_assert_not_null(buf = malloc(n));
		memset(buf, c, n);
		cr_assert_eq(fwrite(buf, 1, n, fp), n);
		free(buf);
	}
	cr_assert_eq(fclose(fp), 0);
	free(path);
}

/* Make fixdir with the files every test may read. */
void
fixture(void)
{
	harness_tmpdir(fixdir, sizeof fixdir, "gatherd-load");
	fixture_file(SMALL_FILE, 0, 0, SMALL_TEXT);
	fixture_file(BIG_FILE, 'x', BIG_BYTES, NULL);
	fixture_file(HUGE_FILE, 'y', HUGE_BYTES, NULL);
}

/* A batch of n sleeps of ms as a request line with id; caller frees. */
char *
sleeps(const char *id, int n, int ms)
{
	char	*line;
	int	 i;

	line = harness_fmt("{\"id\":\"%s\",\"jobs\":[", id);
	for (i = 0; i < n; i++)
		harness_append(&line, "%s{\"type\":\"sleep\",\"ms\":%d}",
		    i > 0 ? "," : "", ms);
	harness_append(&line, "]}");
	return line;
}

/*
 * Poll status on fd until nothing is in flight or waiting, the pool is
 * idle (work abandoned on a worker included) and exactly conns
 * connections are open, within ms (stretched). Returns that status.
 * Caller decrefs.
 */
json_t *
await_idle(int fd, json_int_t conns, int ms)
{
	struct settled	want = { .conns = conns, .pool = SETTLED_POOL };

	return await_settled(NULL, fd, &want, now_ms(), slack_ms(ms), "idle");
}

/* One probe round trip: its latency in ms; asserts the reply. */
double
probe(int fd, const char *line, const char *path, const char *want)
{
	json_t	*r;
	double	 t0 = now_ms(), dt;

	r = rpc(fd, line);
	dt = now_ms() - t0;
	jeq(r, path, want);
	json_decref(r);
	return dt;
}
