/*
 * Reads and the worker pool: a thousand files in one batch in job order,
 * the loop answering pings while the workers read hundreds of megabytes,
 * status.pool's counts, the threads option, and a root missing at
 * start-up.
 *
 * End-to-end: real gatherd processes reading real files, directories,
 * symbolic links, FIFOs and sockets that each test builds in its own
 * directory (readtest.h); the read suites share the suite name read.
 * Timing bounds are wide and say what they tell apart; under
 * GATHERD_TEST_WRAPPER (valgrind) loops run fewer rounds and time-outs
 * are longer: there the point is memory errors and leaks, not speed.
 */

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>
#include <jansson.h>

#include "harness.h"
#include "jsonpath.h"
#include "readtest.h"

HARNESS_SUITE(read, 180);

/*
 * 5. Many files in one batch.
 */

Test(read, thousand_files_in_one_batch_in_order)
{
	json_t		*r;
	char		*jobs, *p, name[32], want[64];
	size_t		 i, len = 0, cap = 65536;
	const int	 n = 1000;

	cpu_lock(CPU_LOCK_SHARED);
	files_init();
	mk_dir("root/many");
	for (i = 0; i < (size_t)n; i++) {
		snprintf(name, sizeof name, "root/many/f%04zu", i);
		snprintf(want, sizeof want, "this is file %zu\n", i);
		put_str(name, want);
	}
	start(MODE_DEFAULT, 4, "root", NULL);

	jobs = malloc(cap);
	cr_assert_not_null(jobs);
	len += (size_t)sprintf(jobs, "{\"id\":\"many\",\"jobs\":[");
	for (i = 0; i < (size_t)n; i++) {
		len += (size_t)sprintf(jobs + len, "%s{\"type\":\"read\","
		    "\"path\":\"many/f%04zu\"}", i > 0 ? "," : "", i);
		cr_assert_lt(len, cap - 100);
	}
	strcpy(jobs + len, "]}");

	r = daemon_request_ms(&d, jobs, reply_ms());
	jstr_is(r, "id", "many");
	jbool_is(r, "ok", true);
	cr_assert_eq(jint(r, "stats.ok"), n, "%s", jtext(jget(r, "stats")));
	cr_assert_eq(json_array_size(jget(r, "results")), (size_t)n);
	for (i = 0; i < (size_t)n; i++) {
		snprintf(want, sizeof want, "this is file %zu\n", i);
		p = harness_fmt("results[%zu]", i);
		expect_data(jget(r, p), want, strlen(want),
		    (json_int_t)strlen(want));
		free(p);
	}
	json_decref(r);
	free(jobs);
	daemon_stop(&d);
}

/*
 * 7. The loop answers while workers are busy with big reads.
 */

#define BUSY_FILES	64

/* File i's content: lines naming the file and the line, len bytes. */
static void
fill_busy_file(char *buf, size_t len, int i)
{
	size_t	off;
	int	n;

	for (off = 0; off < len; off += (size_t)n) {
		n = snprintf(buf + off, len - off, "file %02d line %08zu\n", i,
		    off / 23);
		if ((size_t)n >= len - off)
			break;
	}
}

/*
 * Check a batch reply holding BUSY_FILES base64 reads of size bytes each,
 * in order, without handing hundreds of megabytes to jansson: each data
 * string is compared with the expected encoding and cut out, and what is
 * left (a few kilobytes) is parsed.
 */
static void
check_busy_reply(char *reply, size_t len, size_t size)
{
	static const char	 key[] = "\"data\":\"";
	char			*buf, *exp, *p, *end, *q, *small, *at;
	size_t			 i, elen, left;
	json_t			*r, *res;

	buf = malloc(size);
	exp = malloc(size / 3 * 4 + 8);
	small = malloc(1024 * 1024);
	cr_assert(buf != NULL && exp != NULL && small != NULL);
	p = reply;
	end = reply + len;
	q = small;
	for (i = 0; i < BUSY_FILES; i++) {
		fill_busy_file(buf, size, (int)i);
		elen = b64_encode((unsigned char *)buf, size, exp);
		left = (size_t)(end - p);
		at = memmem(p, left, key, sizeof key - 1);
		cr_assert_not_null(at, "no data for results[%zu]", i);
		at += sizeof key - 1;
		cr_assert_lt((size_t)(at - p), 4096);
		memcpy(q, p, (size_t)(at - p));
		q += at - p;
		cr_assert_geq((size_t)(end - at), elen + 1);
		cr_assert(memcmp(at, exp, elen) == 0 && at[elen] == '"',
		    "results[%zu]: data is not file %zu in base64", i, i);
		p = at + elen;
	}
	cr_assert_lt((size_t)(end - p), 4096);
	memcpy(q, p, (size_t)(end - p));
	q += end - p;
	*q = '\0';
	r = jparse(small, strlen(small));
	jstr_is(r, "id", "busy");
	jbool_is(r, "ok", true);
	cr_assert_eq(json_array_size(jget(r, "results")), BUSY_FILES);
	for (i = 0; i < BUSY_FILES; i++) {
		res = json_array_get(jget(r, "results"), i);
		jbool_is(res, "ok", true);
		jstr_is(res, "value.data", "");
		cr_assert_eq(jint(res, "value.bytes"), (json_int_t)size);
		cr_assert_eq(jint(res, "value.size"), (json_int_t)size);
	}
	json_decref(r);
	free(buf);
	free(exp);
	free(small);
}

Test(read, loop_answers_pings_while_workers_read)
{
	struct reader	 bc, pc;
	json_t		*r;
	char		*buf, name[32], *line, *p;
	size_t		 size = harness_wrapped() ? 256 * 1024 :
			     4 * 1024 * 1024;
	double		 bound = slack_ms(HARNESS_PROMPT_MS);
	double		 t0, tsent, tfirst = 0, tdone = 0, last_ping = 0;
	double		 dt, max_before = 0, max_after = 0;
	size_t		 npings = 0, nbefore = 0, len;
	ssize_t		 nl = -1;
	int		 i;

	files_init();
	buf = malloc(size);
	cr_assert_not_null(buf);
	for (i = 0; i < BUSY_FILES; i++) {
		fill_busy_file(buf, size, i);
		snprintf(name, sizeof name, "root/busy%02d", i);
		put(name, buf, size);
	}
	free(buf);
	/* The reply (358 MB) is over the default max_connection_bytes. */
	start(MODE_DEFAULT, 2, "root",
	    "[limits]\nmax_connection_bytes = 536870912\n");

	line = strdup("{\"id\":\"busy\",\"jobs\":[");
	for (i = 0; i < BUSY_FILES; i++) {
		p = harness_fmt("%s%s{\"type\":\"read\",\"path\":\"busy%02d\","
		    "\"encoding\":\"base64\"}", line, i > 0 ? "," : "", i);
		free(line);
		line = p;
	}
	p = harness_fmt("%s]}", line);
	free(line);
	line = p;

	cpu_lock(CPU_LOCK_ALONE);
	reader_open(&bc, d.sock);
	reader_open(&pc, d.sock);
	client_send(bc.fd, line);
	tsent = now_ms();
	/*
	 * Ping every 2 ms, each waiting for its reply, until the batch's
	 * whole reply is read; between pings, take what the batch
	 * connection has. Latencies before the reply's first byte are while
	 * workers read; after, while the loop sends the reply.
	 */
	while (nl < 0) {
		if (now_ms() - last_ping >= 2) {
			last_ping = t0 = now_ms();
			client_send(pc.fd, "{\"op\":\"ping\"}");
			r = reader_json(&pc, 10000);
			dt = now_ms() - t0;
			jbool_is(r, "pong", true);
			json_decref(r);
			npings++;
			if (tfirst == 0) {
				nbefore++;
				max_before = dt > max_before ? dt : max_before;
			} else
				max_after = dt > max_after ? dt : max_after;
		}
		cr_assert_lt(now_ms() - tsent,
		    harness_wrapped() ? 120000 : 30000,
		    "no whole batch reply yet (%zu bytes)", bc.len);
		if (reader_fill(&bc, 1) == 0)
			cr_assert_fail("EOF on the batch connection");
		if (bc.len > 0 && tfirst == 0)
			tfirst = now_ms();
		nl = reader_has_line(&bc);
	}
	tdone = now_ms();
	cr_log_info("ping while reading %d x %zu KiB (base64, 2 threads):"
	    " %zu pings before the reply (%.0f ms), max %.2f ms; %zu while"
	    " it was sent (%.0f ms), max %.2f ms", BUSY_FILES, size / 1024,
	    nbefore, tfirst - tsent, max_before, npings - nbefore,
	    tdone - tfirst, max_after);
	/* The pings did overlap the reads, or this proved nothing. */
	cr_assert_geq(nbefore, 20, "only %zu pings before the reply came",
	    nbefore);
	cr_assert_lt(max_before, bound, "a ping took %.1f ms while workers"
	    " read", max_before);
	cr_assert_lt(max_after, bound, "a ping took %.1f ms while the reply"
	    " was sent", max_after);

	len = (size_t)nl;
	bc.buf[len] = '\0';
	check_busy_reply(bc.buf, len, size);
	reader_close(&bc);
	reader_close(&pc);
	free(line);
	daemon_stop(&d);
}

/*
 * 8. status.pool.
 */

Test(read, status_pool_counts_threads_busy_and_queued)
{
	struct reader	 c;
	json_t		*st, *r;
	char		*buf, *line;
	json_int_t	 busy, queued, max_busy = 0, max_queued = 0;
	size_t		 size = 2 * 1024 * 1024, len, cap;
	int		 i, n = harness_wrapped() ? 100 : 1000, samples = 0;
	ssize_t		 nl;

	cpu_lock(CPU_LOCK_SHARED);
	files_init();
	/*
	 * Work that keeps the workers busy with a small reply: each read
	 * takes in 2 MiB and checks it is UTF-8, to find a bad last byte.
	 */
	buf = malloc(size);
	cr_assert_not_null(buf);
	memset(buf, 'z', size);
	buf[size - 1] = (char)0xff;
	put("root/heavy", buf, size);
	free(buf);
	start(MODE_DEFAULT, 3, "root", NULL);

	st = status_of(&d);
	jhas(st, "", "{\"pool\":{\"threads\":3,\"busy\":0,\"queued\":0}}");
	json_decref(st);

	cap = (size_t)n * 48 + 64;
	line = malloc(cap);
	cr_assert_not_null(line);
	len = (size_t)snprintf(line, cap, "{\"jobs\":[");
	for (i = 0; i < n; i++)
		len += (size_t)snprintf(line + len, cap - len,
		    "%s{\"type\":\"read\",\"path\":\"heavy\"}",
		    i > 0 ? "," : "");
	snprintf(line + len, cap - len, "]}");
	reader_open(&c, d.sock);
	client_send(c.fd, line);
	while ((nl = reader_has_line(&c)) < 0) {
		st = status_of(&d);
		busy = jint(st, "pool.busy");
		queued = jint(st, "pool.queued");
		cr_assert_leq(busy, 3, "%s", jtext(st));
		cr_assert_leq(queued, n, "%s", jtext(st));
		cr_assert_eq(jint(st, "pool.threads"), 3, "%s", jtext(st));
		max_busy = busy > max_busy ? busy : max_busy;
		max_queued = queued > max_queued ? queued : max_queued;
		samples++;
		json_decref(st);
		cr_assert_neq(reader_fill(&c, 2), 0, "EOF");
	}
	cr_log_info("pool: %d samples, max busy %lld, max queued %lld",
	    samples, (long long)max_busy, (long long)max_queued);
	cr_assert_gt(max_busy, 0, "never saw a busy worker in %d samples",
	    samples);
	/* Queued counts what waits for a worker, not only what was handed. */
	cr_assert_geq(max_queued, n / 2, "max queued %lld in %d samples",
	    (long long)max_queued, samples);
	r = reader_json(&c, reply_ms());
	cr_assert_eq(jint(r, "stats.failed"), n, "%s", jtext(jget(r, "stats")));
	jstr_is(r, "results[0].error.code", "bad_encoding");
	json_decref(r);
	reader_close(&c);

	/* After the reply nothing is left with the pool. */
	st = status_of(&d);
	cr_assert_eq(jint(st, "pool.busy"), 0, "%s", jtext(st));
	cr_assert_eq(jint(st, "pool.queued"), 0, "%s", jtext(st));
	json_decref(st);
	free(line);
	daemon_stop(&d);
}

Test(read, threads_option_overrides_the_config)
{
	static const char *const args[] = { "-t", "2", NULL };
	json_t	*st;

	files_init();
	start_in(&d, MODE_DEFAULT, 3, "root", NULL, args);
	st = status_of(&d);
	cr_assert_eq(jint(st, "pool.threads"), 2, "%s", jtext(st));
	json_decref(st);

	start_in(&d2, MODE_DEFAULT, 1, "root", NULL, NULL);
	st = status_of(&d2);
	cr_assert_eq(jint(st, "pool.threads"), 1, "%s", jtext(st));
	json_decref(st);
	daemon_stop(&d2);
	daemon_stop(&d);
}

/*
 * 9. A root missing at start-up.
 */

Test(read, missing_root_is_io_error_naming_it)
{
	json_t	*res;

	files_init();
	put_str("root/f.txt", "F");
	start(MODE_DEFAULT, 2, "missing root", NULL);

	res = read_result("f.txt", "");
	expect_failure(res, "io_error", "f.txt", fpath("missing"));
	json_decref(res);
	res = read_result(fpath("missing/f.txt"), "");
	expect_failure(res, "io_error", fpath("missing/f.txt"),
	    fpath("missing"));
	json_decref(res);
	/* The other root still works. */
	expect_read(fpath("root/f.txt"), "", "F", 1);
	daemon_ping(&d, reply_ms());
	daemon_stop(&d);
}
