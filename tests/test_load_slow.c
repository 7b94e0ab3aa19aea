/*
 * Slow clients all at once (byte-at-a-time writers, half lines that never
 * end, a line that never ends, clients that send and never read): a
 * probe's latency stays low, the stalled are served once they finish, and
 * memory stays within what the limits allow.
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

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
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
 * Slow clients, all at once: byte-at-a-time writers, half lines that
 * never end, a line that never ends at all, and clients that send and
 * never read. Meanwhile a probe client's latency stays low, the stalled
 * clients are still served once they finish, and the daemon's memory
 * stays within what its (small) limits allow.
 */

#define SLOW_REQUEST_BYTES	65536
#define SLOW_OUTPUT_BYTES	262144
#define SLOW_BATCHES		4
#define SLOW_JOBS		1
#define SLOW_DRIBBLERS		10
#define SLOW_DRIBBLE_MS		50
#define SLOW_HALF_LINES		20
#define SLOW_HALF_PAD		(SLOW_REQUEST_BYTES / 2)
#define SLOW_NON_READERS	4
#define SLOW_NR_LINES		128
#define SLOW_NR_PAD		16000
#define SLOW_FIREHOSE_RATE	(1024 * 1024)	/* bytes per 100 ms */
#define SLOW_PROBE_EVERY_MS	100
/*
 * The probe's worst case: its read waits for a worker behind the others'
 * reads, and at a load average of 11 (builds beside the suite) one took
 * 668 ms. A loop stalled by a slow client would hold the probe for the
 * rest of the test, seconds, so 2 s still tells the two apart.
 */
#define SLOW_PROBE_MAX_MS	(8 * HARNESS_PROMPT_MS)
#define SLOW_PROBE_P50_MS	50
#define SLOW_ALLOWANCE_KB	(24 * 1024)	/* allocator, arenas, libevent */

#define SLOW_CONF \
	"[limits]\nmax_request_bytes = %d\nmax_output_bytes = %d\n" \
	"max_batches_per_connection = %d\nmax_jobs_per_batch = %d\n" \
	"[read]\nroots = %s\nmax_bytes = %d\n"

/* A client that writes its request one byte at a time. */
struct dribbler {
	int		 fd;
	char		*req;
	size_t		 off;
	json_t		*reply;
	struct reader	 in;
};

/* A client that pipelines large-reply requests and never reads. */
struct non_reader {
	int	 fd;
	char	*out;		/* SLOW_NR_LINES request lines */
	size_t	 len;
	size_t	 off;		/* written so far */
	bool	 blocked;	/* a write found the socket full */
};

static int
cmp_double(const void *a, const void *b)
{
	double	x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

Test(load, slow_clients_do_not_slow_others_or_grow_memory)
{
	struct dribbler		 dr[SLOW_DRIBBLERS];
	struct non_reader	 nr[SLOW_NON_READERS];
	int			 half[SLOW_HALF_LINES];
	double			 lat[512];
	struct reader		 fh_in;
	json_t			*st, *r, *v;
	char			*conf, *pad, *fh_buf, *line;
	double			 t0, next_drip, next_probe, next_hose, p50;
	double			 pmax = 0;
	long			 rss0, hwm, growth, bound;
	size_t			 hosed = 0;
	ssize_t			 n;
	int			 nlat = 0, dribbling, i, j, fh, pfd, sfd;
	int			 too_large = 0, rc;

	cpu_lock(CPU_LOCK_ALONE);

	fixture();
	conf = harness_fmt(SLOW_CONF, SLOW_REQUEST_BYTES, SLOW_OUTPUT_BYTES,
	    SLOW_BATCHES, SLOW_JOBS, fixdir, BIG_BYTES);
	daemon_start(&d, conf, NULL);
	free(conf);
	sfd = client_connect(d.sock);
	pfd = client_connect(d.sock);
	json_decref(await_idle(sfd, 2, 2000));
	/* Warm up the pool and the reply path before the baseline. */
	json_decref(daemon_request_ms(&d, "{\"jobs\":[{\"type\":\"read\","
	    "\"path\":\"" BIG_FILE "\"}]}", slack_ms(5000)));
	rss0 = proc_kb(d.pid, "VmRSS");

	/* Half lines: a start and some padding, then nothing. */
	pad = harness_fill(' ', SLOW_HALF_PAD);
	for (i = 0; i < SLOW_HALF_LINES; i++) {
		half[i] = client_connect(d.sock);
		line = harness_fmt("{\"id\":\"half%d\",\"jobs\":[%s", i, pad);
		client_write(half[i], line, strlen(line));
		free(line);
	}

	/* Non-readers: requests padded to SLOW_NR_PAD, a 1 MB reply each. */
	for (i = 0; i < SLOW_NON_READERS; i++) {
		memset(&nr[i], 0, sizeof nr[i]);
		nr[i].fd = client_connect(d.sock);
		cr_assert_neq(fcntl(nr[i].fd, F_SETFL, O_NONBLOCK), -1);
		for (j = 0; j < SLOW_NR_LINES; j++) {
			line = harness_fmt("{\"id\":%d,\"jobs\":[{\"type\":"
			    "\"read\",\"path\":\"" BIG_FILE "\"}]%.*s}\n", j,
			    SLOW_NR_PAD, pad);
			nr[i].out = realloc(nr[i].out, nr[i].len +
			    strlen(line));
			cr_assert_not_null(nr[i].out);
			memcpy(nr[i].out + nr[i].len, line, strlen(line));
			nr[i].len += strlen(line);
			free(line);
		}
	}

	/* Dribblers: one byte every SLOW_DRIBBLE_MS. */
	for (i = 0; i < SLOW_DRIBBLERS; i++) {
		memset(&dr[i], 0, sizeof dr[i]);
		dr[i].fd = client_connect(d.sock);
		reader_init(&dr[i].in, dr[i].fd);
		cr_assert_neq(fcntl(dr[i].fd, F_SETFL, O_NONBLOCK), -1);
		dr[i].req = harness_fmt("{\"id\":\"drip%d\",\"jobs\":[{\"type\":"
		    "\"sleep\",\"ms\":1,\"value\":%d}]}\n", i, i);
	}

	/* The firehose: one line that never ends, a megabyte a tick. */
	fh = client_connect(d.sock);
	reader_init(&fh_in, fh);
	cr_assert_neq(fcntl(fh, F_SETFL, O_NONBLOCK), -1);
	fh_buf = malloc(SLOW_FIREHOSE_RATE);
	cr_assert_not_null(fh_buf);
	memset(fh_buf, ' ', SLOW_FIREHOSE_RATE);

	t0 = now_ms();
	next_drip = next_probe = next_hose = t0;
	do {
		double	now = now_ms();

		cr_assert_lt(now - t0, slack_ms(30000), "the slow clients"
		    " were not answered in time");
		if (now >= next_drip) {
			next_drip += SLOW_DRIBBLE_MS;
			for (i = 0; i < SLOW_DRIBBLERS; i++) {
				if (dr[i].req[dr[i].off] == '\0')
					continue;
				n = write(dr[i].fd, dr[i].req + dr[i].off, 1);
				cr_assert_eq(n, 1, "dribbler %d: %s", i,
				    strerror(errno));
				dr[i].off++;
			}
		}
		for (i = 0; i < SLOW_NON_READERS; i++) {
			if (nr[i].off == nr[i].len)
				continue;
			n = write(nr[i].fd, nr[i].out + nr[i].off,
			    nr[i].len - nr[i].off);
			if (n > 0)
				nr[i].off += (size_t)n;
			else {
				cr_assert(errno == EAGAIN, "non-reader %d: %s",
				    i, strerror(errno));
				nr[i].blocked = true;
			}
		}
		if (now >= next_hose) {
			next_hose += 100;
			n = write(fh, fh_buf, SLOW_FIREHOSE_RATE);
			if (n > 0)
				hosed += (size_t)n;
			while ((rc = reader_fill(&fh_in, 0)) == 1)
				;
			cr_assert_neq(rc, 0, "the firehose was closed");
			while ((v = reader_next_json(&fh_in)) != NULL) {
				jstr_is(v, "error.code", "too_large");
				jeq(v, "id", "null");
				too_large++;
				json_decref(v);
			}
		}
		if (now >= next_probe && nlat + 2 <= (int)(sizeof lat /
		    sizeof lat[0])) {
			next_probe += SLOW_PROBE_EVERY_MS;
			lat[nlat++] = probe(pfd, "{\"op\":\"ping\"}", "pong",
			    "true");
			lat[nlat++] = probe(pfd, "{\"jobs\":[{\"type\":\"read\","
			    "\"path\":\"" SMALL_FILE "\"}]}",
			    "results[0].value.data", "\"hello\\n\"");
		}
		dribbling = 0;
		for (i = 0; i < SLOW_DRIBBLERS; i++) {
			if (dr[i].reply != NULL)
				continue;
			dribbling++;
			while ((rc = reader_fill(&dr[i].in, 0)) == 1)
				;
			cr_assert_neq(rc, 0, "dribbler %d was closed", i);
			dr[i].reply = reader_next_json(&dr[i].in);
		}
		sleep_ms(5);
	} while (dribbling > 0);
	hwm = proc_kb(d.pid, "VmHWM");

	/* Every dribbler got its own answer. */
	for (i = 0; i < SLOW_DRIBBLERS; i++) {
		char	id[32], val[16];

		snprintf(id, sizeof id, "\"drip%d\"", i);
		snprintf(val, sizeof val, "%d", i);
		jeq(dr[i].reply, "id", id);
		jeq(dr[i].reply, "results[0].value", val);
		json_decref(dr[i].reply);
		reader_free(&dr[i].in);
		free(dr[i].req);
		close(dr[i].fd);
	}
	/* The firehose was refused once and its line skipped since. */
	cr_assert_gt(hosed, (size_t)SLOW_REQUEST_BYTES * 4);
	cr_assert_neq(fcntl(fh, F_SETFL, 0), -1);
	client_send(fh, "\n{\"op\":\"ping\",\"id\":\"hose\"}");
	cr_assert_neq(fcntl(fh, F_SETFL, O_NONBLOCK), -1);
	t0 = now_ms();
	for (r = NULL; r == NULL;) {
		struct pollfd	pl = { .fd = fh, .events = POLLIN };

		cr_assert_lt(now_ms() - t0, slack_ms(5000), "no pong after"
		    " the endless line ended");
		poll(&pl, 1, 100);
		cr_assert_neq(reader_fill(&fh_in, 0), 0, "firehose closed");
		while (r == NULL && (v = reader_next_json(&fh_in)) != NULL) {
			if (json_is_string(jget(v, "id")))
				r = v;
			else {
				jstr_is(v, "error.code", "too_large");
				too_large++;
				json_decref(v);
			}
		}
	}
	jeq(r, "id", "\"hose\"");
	jbool_is(r, "pong", true);
	json_decref(r);
	cr_assert_eq(too_large, 1, "%d too_large replies to one line",
	    too_large);
	free(fh_buf);
	reader_free(&fh_in);
	close(fh);
	/* The half lines end at last, and are answered. */
	for (i = 0; i < SLOW_HALF_LINES; i++) {
		char	id[32];

		snprintf(id, sizeof id, "\"half%d\"", i);
		r = rpc(half[i], "]}");
		jeq(r, "id", id);
		jbool_is(r, "ok", true);
		jeq(r, "results", "[]");
		json_decref(r);
		close(half[i]);
	}
	free(pad);
	st = status_on(sfd);
	fprintf(stderr, "load: slow clients: %d non-readers paused after"
	    " %zu, %zu, ... of %zu bytes; %d dribblers at one byte per"
	    " %d ms, %d half lines, %zu MB of one endless line\n",
	    SLOW_NON_READERS, nr[0].off, nr[1].off, nr[0].len,
	    SLOW_DRIBBLERS, SLOW_DRIBBLE_MS, SLOW_HALF_LINES,
	    hosed / (1024 * 1024));
	json_decref(st);
	for (i = 0; i < SLOW_NON_READERS; i++) {
		close(nr[i].fd);
		free(nr[i].out);
	}

	/* Latency of the probe meanwhile. */
	qsort(lat, (size_t)nlat, sizeof lat[0], cmp_double);
	p50 = lat[nlat / 2];
	pmax = lat[nlat - 1];
	/*
	 * Memory: every non-reader may hold its batches' replies (each
	 * at most max_jobs_per_batch reads of read max_bytes) plus the
	 * output mark; every other client at most a request line.
	 */
	growth = hwm - rss0;
	bound = SLOW_NON_READERS * ((long)SLOW_BATCHES * SLOW_JOBS *
	    (BIG_BYTES + 4096) + SLOW_OUTPUT_BYTES) / 1024 +
	    (SLOW_DRIBBLERS + SLOW_HALF_LINES + 1) * SLOW_REQUEST_BYTES /
	    1024 + SLOW_ALLOWANCE_KB;
	fprintf(stderr, "load: slow clients: probe latency p50 %.1f ms, max"
	    " %.1f ms over %d requests; daemon RSS %ld kB before, peak %ld kB"
	    " (+%ld kB, bound +%ld kB from the limits)\n", p50, pmax, nlat,
	    rss0, hwm, growth, bound);
	cr_assert_lt(p50, slack_ms(SLOW_PROBE_P50_MS), "probe p50 %.1f ms",
	    p50);
	cr_assert_lt(pmax, slack_ms(SLOW_PROBE_MAX_MS), "probe max %.1f ms",
	    pmax);
	if (harness_rss_meaningful())
		cr_assert_lt(growth, bound, "daemon RSS grew by %ld kB, over"
		    " the %ld kB its limits allow", growth, bound);
	/* The non-readers were paused: their writes stalled. */
	for (i = 0; i < SLOW_NON_READERS; i++) {
		cr_assert(nr[i].blocked && nr[i].off < nr[i].len,
		    "non-reader %d was never paused (%zu of %zu bytes read)",
		    i, nr[i].off, nr[i].len);
	}

	/* Everyone gone: idle, and still serving. */
	json_decref(await_idle(sfd, 2, 5000));
	rpc_pong(pfd, "{\"op\":\"ping\",\"id\":\"end\"}", "\"end\"");
	close(pfd);
	close(sfd);
	daemon_stop(&d);
}
