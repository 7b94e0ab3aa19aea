/*
 * Robust by construction: input built to exhaust the daemon (nesting far
 * deeper than any parser should recurse) is refused with a clear error and
 * the daemon keeps serving; an allocation that fails inside jansson or
 * libevent is a fatal exit with a message, not a NULL that some caller
 * forgets; numbers that cannot fit are clamped, not overrun.
 *
 * The daemon tests start a real gatherd (tests/harness.c); each stops it at
 * the end of its body, which asserts a clean exit (under valgrind or ASan,
 * no leak).
 */

#include <math.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <event2/buffer.h>
#include <jansson.h>

#include "harness.h"
#include "jsonpath.h"
#include "jsonw.h"

/*
 * ASan refuses impossible allocations itself, with its own report and
 * exit, before xmalloc sees a NULL: the allocation failure tests run only
 * without it.
 */
#if defined(__SANITIZE_ADDRESS__)
#define ROBUST_ASAN	1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define ROBUST_ASAN	1
#endif
#endif
#ifndef ROBUST_ASAN
#define ROBUST_ASAN	0
#endif

/* Deeper than jansson's JSON_PARSER_MAX_DEPTH (2048) by far. */
#define DEEP		100000

static struct daemon	d;

HARNESS_SUITE(robust, 60);

/* prefix, open repeated n times, middle, close repeated n times, suffix. */
static char *
nest(const char *prefix, const char *open, int n, const char *middle,
    const char *close, const char *suffix)
{
	size_t	 lo = strlen(open), lc = strlen(close), len;
	char	*s, *p;
	int	 i;

	len = strlen(prefix) + (size_t)n * (lo + lc) + strlen(middle) +
	    strlen(suffix) + 1;
	cr_assert_not_null(s = malloc(len));
	p = stpcpy(s, prefix);
	for (i = 0; i < n; i++)
		p = (char *)memcpy(p, open, lo) + lo;
	p = stpcpy(p, middle);
	for (i = 0; i < n; i++)
		p = (char *)memcpy(p, close, lc) + lc;
	stpcpy(p, suffix);
	return s;
}

/* Send line on fd; assert a bad_json reply about the nesting depth. */
static void
expect_too_deep(int fd, const char *line)
{
	json_t	*r;

	client_send(fd, line);
	r = client_recv_json(fd, (int)(10000 * harness_slack()));
	jhas(r, "", "{\"id\":null,\"ok\":false,"
	    "\"error\":{\"code\":\"bad_json\"}}");
	jstr_has(r, "error.message", "maximum parsing depth");
	json_decref(r);
}

/* Assert the daemon still answers on fd. */
static void
expect_pong(int fd)
{
	json_t	*r;

	client_send(fd, "{\"op\":\"ping\",\"id\":\"after\"}");
	r = client_recv_json(fd, (int)(5000 * harness_slack()));
	jeq(r, "id", "\"after\"");
	jbool_is(r, "pong", true);
	json_decref(r);
}

Test(robust, hundred_thousand_deep_nesting_is_bad_json_and_harmless)
{
	const struct {
		const char	*prefix, *open, *middle, *close, *suffix;
	} shapes[] = {
		/* The bare array of the issue, then the same inside fields. */
		{ "", "[", "", "]", "" },
		{ "{\"op\":\"ping\",\"id\":", "[", "1", "]", "}" },
		{ "{\"jobs\":[{\"type\":\"sleep\",\"ms\":0,\"value\":", "{\"a\":",
		    "null", "}", "}]}" },
		{ "{\"jobs\":[{\"type\":\"query\",\"sql\":\"select 1\","
		    "\"params\":", "[", "", "]", "}]}" },
		/* Never closed: the parser must stop before the end. */
		{ "{\"id\":", "[", "", "", "" },
	};
	char	*line;
	size_t	 i;
	int	 fd;

	fd = daemon_start_client(&d, NULL);
	for (i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
		line = nest(shapes[i].prefix, shapes[i].open, DEEP,
		    shapes[i].middle, shapes[i].close, shapes[i].suffix);
		expect_too_deep(fd, line);
		free(line);
		expect_pong(fd);
	}
	close(fd);

	/* Other connections never noticed. */
	fd = client_connect(d.sock);
	expect_pong(fd);
	close(fd);
	daemon_stop(&d);
}

Test(robust, nesting_within_the_limit_is_served_verbatim)
{
	char	*line, *want;
	json_t	*r;
	int	 fd;

	/* 2000 levels: under jansson's limit, through parse, dump and free. */
	fd = daemon_start_client(&d, NULL);
	line = nest("{\"id\":1,\"jobs\":[{\"type\":\"sleep\",\"ms\":0,"
	    "\"value\":", "[", 2000, "7", "]", "}]}");
	client_send(fd, line);
	r = client_recv_json(fd, (int)(10000 * harness_slack()));
	jbool_is(r, "ok", true);
	want = nest("", "[", 2000, "7", "]", "");
	jeq(r, "results[0].value", want);
	json_decref(r);
	free(want);
	free(line);
	expect_pong(fd);
	close(fd);
	daemon_stop(&d);
}

/*
 * Allocation failure inside the libraries. A size no allocator can give
 * makes the library's malloc fail at once: through xmalloc that is an
 * abort with a message, instead of a NULL or -1 handed back.
 */

Test(xmalloc, jansson_allocation_failure_is_fatal, .signal = SIGABRT,
    .disabled = ROBUST_ASAN)
{
	static const char	s[] = "x";
	json_t			*v;

	v = json_stringn_nocheck(s, SIZE_MAX / 2);
	cr_log_error("json_stringn_nocheck returned %p", (void *)v);
}

Test(xmalloc, libevent_allocation_failure_is_fatal, .signal = SIGABRT,
    .disabled = ROBUST_ASAN)
{
	struct evbuffer	*evb;

	cr_assert_not_null(evb = evbuffer_new());
	cr_log_error("evbuffer_expand returned %d",
	    evbuffer_expand(evb, (size_t)1 << 62));
	evbuffer_free(evb);
}

/* jsonw_ms: durations as JSON numbers, whatever the double. */

static char *
ms_text(double ms)
{
	struct evbuffer	*evb;
	char		*s;

	cr_assert_not_null(evb = evbuffer_new());
	jsonw_ms(evb, ms);
	s = jsonw_take(evb, NULL);
	evbuffer_free(evb);
	return s;
}

Test(jsonw, ms_writes_three_decimals)
{
	char	*s;

	s = ms_text(1000.1234);
	cr_assert_str_eq(s, "1000.123");
	free(s);
	s = ms_text(0);
	cr_assert_str_eq(s, "0.000");
	free(s);
}

Test(jsonw, ms_out_of_range_is_clamped_not_overrun)
{
	const double	 huge[] = { 1e300, HUGE_VAL, 1e16, 1.7976931348623157e308 };
	char		*s;
	size_t		 i;

	for (i = 0; i < sizeof huge / sizeof huge[0]; i++) {
		s = ms_text(huge[i]);
		cr_assert_str_eq(s, "1000000000000000.000", "%g: %s", huge[i],
		    s);
		free(s);
	}
	s = ms_text(-HUGE_VAL);
	cr_assert_str_eq(s, "0.000");
	free(s);
	s = ms_text(NAN);
	cr_assert_str_eq(s, "0.000");
	free(s);
}
