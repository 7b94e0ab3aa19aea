/*
 * Memory under amplification: a small request whose values are huge and
 * a client that never reads are closed at max_connection_bytes, and the
 * daemon's RSS stays under the bound README's "Memory" section gives.
 *
 * Load and fault tests: real gatherd processes under what the protocol
 * suites do once, done at scale and all at once. Each checks that the
 * daemon keeps serving others, loses no reply, returns to idle and exits
 * 0 (under valgrind, in scripts/test, that it leaked nothing either).
 * Clients that must be many are non-blocking sockets driven by epoll or
 * poll from this one process, not threads; figures are printed on stderr
 * as "load: ...". Under a slow wrapper (valgrind, ASan) sizes shrink
 * (load_scale), upper bounds, latencies and waits are stretched
 * (slack_ms), and RSS bounds are skipped; the behaviour checked is the
 * same. A test that keeps the CPUs busy for seconds takes the CPU lock
 * shared, one that measures latency takes it alone. The load suites share
 * the suite name load.
 */

#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <jansson.h>

#include "dbtest.h"
#include "harness.h"
#include "jsonpath.h"
#include "loadtest.h"
#include "pgtest.h"

static struct daemon	d;		/* this test's daemon */

HARNESS_SUITE(load, 240);

/*
 * Memory under amplification (issue 12): one small request whose values
 * are huge (a thousand queries of four megabytes each), and a client that
 * never reads, with two hundred reads of a 4 MiB file pipelined. Both are
 * closed at max_connection_bytes; the daemon's RSS stays under the bound
 * README's "Memory" section gives from the limits, and another client is
 * answered throughout.
 */

#define MEM_THREADS		2
#define MEM_CONN_BYTES		(24 * 1024 * 1024)
#define MEM_ALL_BYTES		(64 * 1024 * 1024)
#define MEM_OUTPUT_BYTES	(8 * 1024 * 1024)
#define MEM_REQUEST_BYTES	(128 * 1024)
#define MEM_INFLIGHT		2000
#define MEM_CONNECTIONS		64
#define MEM_AMP_JOBS		1000
#define MEM_AMP_SQL		"select hex(randomblob(2000000))"
#define MEM_AMP_VALUE		4000000		/* hex: two characters a byte */
#define MEM_NR_BATCHES		200
#define MEM_PROBE_EVERY_MS	5
#define MEM_PROBE_MAX_MS	1000
/* The bound's terms (README, "Memory"), in bytes. */
#define MEM_READ_CHUNK		(1024 * 1024)	/* conn.c's CONN_READ_MAX */
#define MEM_JOB_BYTES		256
#define MEM_CONN_OVERHEAD	4096
#define MEM_SMALL_LINE		(16 * 1024)	/* budget.c's BUDGET_INPUT_SMALL */
#define MEM_PARSE_FACTOR	80
#define MEM_ALLOCATOR_KB	(16 * 1024)	/* what malloc keeps besides */

#define MEM_CONF \
	"threads = %d\n[limits]\nmax_connection_bytes = %d\n" \
	"max_memory_bytes = %d\nmax_output_bytes = %d\n" \
	"max_request_bytes = %d\nmax_inflight_jobs = %d\n" \
	"max_connections = %d\n[read]\nroots = %s\nmax_bytes = %d\n" \
	"[db.default]\ndriver = sqlite\npath = %s/amp.db\nwritable = true\n"

/*
 * README's bound on the daemon's RSS beyond its idle size, in kB, for the
 * limits above and values of at most value bytes of text.
 */
static long
mem_bound_kb(long value)
{
	double	b;

	b = (double)MEM_ALL_BYTES +
	    (double)MEM_ALL_BYTES / MEM_OUTPUT_BYTES * MEM_READ_CHUNK +
	    (double)MEM_THREADS * 4 * (double)value +
	    (double)MEM_INFLIGHT * MEM_JOB_BYTES +
	    (double)MEM_CONNECTIONS * (MEM_CONN_OVERHEAD + MEM_SMALL_LINE) +
	    (double)MEM_PARSE_FACTOR * MEM_REQUEST_BYTES;
	return (long)(b / 1024) + MEM_ALLOCATOR_KB;
}

Test(load, amplification_and_a_non_reader_stay_within_the_memory_bound)
{
	struct reader	 amp_in;
	json_t		*jobs, *st, *r;
	char		*conf, *line, *want;
	double		 t0, dt, pmax = 0;
	long		 rss0, hwm, growth, bound, held, max_held = 0;
	size_t		 nr_len = 0, amp_len;
	int		 amp, nr, pfd, sfd, rfd, i, probes = 0, rc, open_;
	bool		 amp_gone = false;

	cpu_lock(CPU_LOCK_SHARED);

	fixture();
	conf = harness_fmt(MEM_CONF, MEM_THREADS, MEM_CONN_BYTES,
	    MEM_ALL_BYTES, MEM_OUTPUT_BYTES, MEM_REQUEST_BYTES, MEM_INFLIGHT,
	    MEM_CONNECTIONS, fixdir, HUGE_BYTES, fixdir);
	daemon_start(&d, conf, NULL);
	free(conf);
	sfd = client_connect(d.sock);
	pfd = client_connect(d.sock);
	/* Warm up: both workers' SQLite connections, a read, a reply. */
	jobs = dbtest_qjobs(NULL, "select 1", 8);
	json_decref(dbtest_run_batch(&d, jobs));
	json_decref(daemon_request_ms(&d, "{\"jobs\":[{\"type\":\"read\","
	    "\"path\":\"" BIG_FILE "\"}]}", slack_ms(5000)));
	json_decref(await_idle(sfd, 2, 2000));
	rss0 = proc_kb(d.pid, "VmRSS");

	/* A thousand values of 4 MB, from one request of some 57 KB. */
	jobs = dbtest_qjobs(NULL, MEM_AMP_SQL, MEM_AMP_JOBS);
	line = dbtest_batch_line(jobs, "id", json_string("amp"));
	amp_len = strlen(line);
	cr_assert_lt(amp_len, MEM_REQUEST_BYTES);
	amp = client_connect(d.sock);
	reader_init(&amp_in, amp);
	client_send(amp, line);
	free(line);
	cr_assert_neq(fcntl(amp, F_SETFL, O_NONBLOCK), -1);
	/* Two hundred reads of 4 MiB, pipelined, never read. */
	nr = client_connect(d.sock);
	for (i = 0; i < MEM_NR_BATCHES; i++) {
		line = harness_fmt("{\"id\":%d,\"jobs\":[{\"type\":\"read\","
		    "\"path\":\"" HUGE_FILE "\"}]}", i);
		client_send(nr, line);
		nr_len += strlen(line) + 1;
		free(line);
	}

	/*
	 * Meanwhile another client reads a small file (its read waits for a
	 * worker behind theirs), and pings, and status is watched, until
	 * both are closed.
	 */
	rfd = client_connect(d.sock);
	client_send(rfd, "{\"id\":\"small\",\"jobs\":[{\"type\":\"read\","
	    "\"path\":\"" SMALL_FILE "\"}]}");
	t0 = now_ms();
	for (;;) {
		cr_assert_lt(now_ms() - t0, slack_ms(60000), "the abusers"
		    " were not closed in time");
		dt = probe(pfd, "{\"op\":\"ping\"}", "pong", "true");
		pmax = dt > pmax ? dt : pmax;
		probes++;
		if (!amp_gone) {
			while ((rc = reader_fill(&amp_in, 0)) == 1)
				;
			cr_assert_null(reader_next_json(&amp_in),
			    "the amplifier got a reply");
			amp_gone = rc == 0;
		}
		st = status_on(sfd);
		held = (long)(jint(st, "memory.held_bytes") +
		    jint(st, "memory.input_bytes"));
		max_held = held > max_held ? held : max_held;
		open_ = (int)jint(st, "connections.open");
		json_decref(st);
		if (open_ == 3 && amp_gone)
			break;
		sleep_ms(MEM_PROBE_EVERY_MS);
	}
	hwm = proc_kb(d.pid, "VmHWM");

	/* Both were closed for max_connection_bytes, and it was logged. */
	want = harness_fmt("past max_connection_bytes (%d)", MEM_CONN_BYTES);
	cr_assert_eq(daemon_log_wait(&d, want, 2, slack_ms(2000)), 2,
	    "not two warnings \"%s\"", want);
	free(want);
	drain_to_eof(nr, 5000);
	close(nr);
	close(amp);
	reader_free(&amp_in);
	r = client_recv_json(rfd, slack_ms(10000));
	jeq(r, "id", "\"small\"");
	jeq(r, "results[0].value.data", "\"hello\\n\"");
	json_decref(r);
	close(rfd);
	st = await_idle(sfd, 2, 10000);
	cr_assert_eq(jint(st, "memory.held_bytes"), 0, "%s",
	    jtext(jget(st, "memory")));
	json_decref(st);

	growth = hwm - rss0;
	bound = mem_bound_kb(HUGE_BYTES > MEM_AMP_VALUE ? HUGE_BYTES :
	    MEM_AMP_VALUE);
	fprintf(stderr, "load: memory: %d queries of %d bytes of text in one"
	    " %zu-byte request, and %d reads of %d bytes pipelined and never"
	    " read (%zu bytes): both closed at max_connection_bytes %d in"
	    " %.0f ms; held at most %ld bytes (max_memory_bytes %d); daemon"
	    " RSS %ld kB idle, peak %ld kB (+%ld kB, bound +%ld kB); %d pings,"
	    " slowest %.1f ms\n", MEM_AMP_JOBS, MEM_AMP_VALUE,
	    amp_len, MEM_NR_BATCHES, HUGE_BYTES,
	    nr_len, MEM_CONN_BYTES, now_ms() - t0, max_held, MEM_ALL_BYTES,
	    rss0, hwm, growth, bound, probes, pmax);
	cr_assert_leq(max_held, MEM_ALL_BYTES + MEM_READ_CHUNK,
	    "status said %ld bytes held", max_held);
	cr_assert_lt(pmax, slack_ms(MEM_PROBE_MAX_MS), "a probe took %.1f ms",
	    pmax);
	if (harness_rss_meaningful())
		cr_assert_lt(growth, bound, "daemon RSS grew by %ld kB, over"
		    " the %ld kB its limits allow", growth, bound);
	close(pfd);
	close(sfd);
	daemon_stop(&d);
}
