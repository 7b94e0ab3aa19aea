/*
 * Load and fault tests (issue 7, item 3): real gatherd processes held
 * under many connections, slow and stalled clients, clients that vanish
 * mid-job, SIGTERM with thousands of jobs in flight, a PostgreSQL server
 * that crashes, and every limit reached at once. Each test checks that
 * the daemon keeps serving others, loses no reply, returns to idle and
 * exits 0 (under valgrind, in scripts/test's pass, that also means it
 * leaked nothing).
 *
 * What test_daemon and test_postgres already cover (one client per limit,
 * a half line, a client that never reads, one SIGTERM drain, one clean
 * PostgreSQL stop) is not repeated: these tests do the same at scale, all
 * at once, and with the faults those suites do not make.
 *
 * Clients that must be many are non-blocking sockets driven by epoll or
 * poll from this one process, not threads. Figures (connections held,
 * RSS, rounds, replies counted) are printed on stderr as "load: ...".
 *
 * Under GATHERD_TEST_WRAPPER (valgrind) the daemon is 10 to 50 times
 * slower: sizes shrink (LOAD_SCALE), upper bounds, latencies and waits
 * are stretched by harness_slack() through slack_ms(), and RSS bounds
 * (valgrind's memory, or ASan's, not the daemon's) are skipped; the
 * behaviour checked is otherwise the same. The tests that keep the CPUs
 * busy for seconds take the CPU lock shared; the one that measures
 * latency takes it alone.
 */

#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <jansson.h>

#include "dbtest.h"
#include "harness.h"
#include "jsonpath.h"
#include "loadtest.h"
#include "pgtest.h"

#define PG_SKIPPED	"PostgreSQL is not installed: PostgreSQL load tests skipped"

/* How long a reply that should come "at once" may take, generously. */
#define PROMPT_MS	1000

static struct daemon	d;		/* this test's daemon */

static void
suite_init(void)
{
	struct rlimit	rl;

	harness_suite_init();
	/* Thousands of clients are thousands of descriptors here too. */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

TestSuite(load, .init = suite_init, .fini = harness_suite_fini, .timeout = 240);

/*
 * Clients.
 */

/*
 * Write a line that must fit at once: on a socket with nothing unread
 * queued, a short line always does.
 */
static void
nb_send(int fd, const char *line)
{
	size_t	len = strlen(line);
	ssize_t	n;

	n = write(fd, line, len);
	cr_assert_eq(n, (ssize_t)len, "write %zu bytes: %zd (%s)", len, n,
	    n == -1 ? strerror(errno) : "short");
}

/*
 * nb_send to a client the daemon may already have refused (busy) and
 * closed: a broken pipe is fine, its line is still there to read.
 */
static void
nb_send_refusable(int fd, const char *line)
{
	size_t	len = strlen(line);
	ssize_t	n;

	n = write(fd, line, len);
	if (n == -1 && (errno == EPIPE || errno == ECONNRESET))
		return;
	cr_assert_eq(n, (ssize_t)len, "write %zu bytes: %zd (%s)", len, n,
	    n == -1 ? strerror(errno) : "short");
}

/*
 * Make room for n clients (and the daemon's n connections, which count
 * against the same hard limit): fewer if the hard limit is lower, said
 * loudly, so the test still holds as many as the machine allows.
 */
static int
fit_nofile(int n)
{
	struct rlimit	rl;
	int		fit;

	cr_assert_eq(getrlimit(RLIMIT_NOFILE, &rl), 0);
	if (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur >= (rlim_t)n + 256)
		return n;
	fit = (int)rl.rlim_cur - 256;
	cr_assert_gt(fit, 100, "RLIMIT_NOFILE %ld is too low for a load test",
	    (long)rl.rlim_cur);
	fprintf(stderr, "\n*** load: RLIMIT_NOFILE is %ld: %d connections"
	    " instead of %d ***\n\n", (long)rl.rlim_cur, fit, n);
	return fit;
}

/*
 * Many connections at once.
 */

#define MANY_CONNS	10000

/* One of many clients: its socket, what it has had, its input. */
struct peer {
	int		fd;
	int		pongs;
	int		replies;
	struct reader	in;
};

/*
 * Read every ready peer and hand each whole line to on_line; wait up to
 * ms for the first event. Asserts no peer sees EOF.
 */
static void
peers_pump(int ep, struct peer *peers, int ms,
    void (*on_line)(struct peer *, int, json_t *))
{
	struct epoll_event	 evs[256];
	struct peer		*p;
	json_t			*v;
	int			 nev, i, rc;

	nev = epoll_wait(ep, evs, 256, ms);
	cr_assert_neq(nev, -1, "epoll_wait: %s", strerror(errno));
	for (i = 0; i < nev; i++) {
		p = &peers[evs[i].data.u32];
		while ((rc = reader_fill(&p->in, 0)) == 1)
			;
		while ((v = reader_next_json(&p->in)) != NULL) {
			on_line(p, (int)evs[i].data.u32, v);
			json_decref(v);
		}
		cr_assert_neq(rc, 0, "connection %d closed by the daemon"
		    " (after %d pongs, %d replies)", (int)evs[i].data.u32,
		    p->pongs, p->replies);
	}
}

/* A many-connections line: a pong, then the reply to batch i. */
static void
many_on_line(struct peer *p, int i, json_t *v)
{
	char	want[32];

	if (p->pongs == 0) {
		cr_assert(json_is_true(jget(v, "pong")), "connection %d: %s",
		    i, jtext(v));
		p->pongs++;
		return;
	}
	snprintf(want, sizeof want, "%d", i);
	jeq(v, "id", want);
	jbool_is(v, "ok", true);
	jeq(v, "results[0].value", want);
	cr_assert_eq(p->replies, 0, "connection %d: a second reply", i);
	p->replies++;
}

/* How many peers have had what counts. */
static int
peers_count(const struct peer *peers, int n, bool replies)
{
	int	i, k = 0;

	for (i = 0; i < n; i++)
		k += replies ? peers[i].replies : peers[i].pongs;
	return k;
}

/*
 * 10,000 clients connected at once, each pinged, then each with a batch
 * (a 300 ms sleep, so thousands are in flight together): every one is
 * answered, status counts them honestly, and all is released after.
 */
Test(load, ten_thousand_connections_each_answered)
{
	struct epoll_event	 ev;
	struct peer		*peers;
	json_t			*st;
	char			*conf, *line;
	double			 t0, t_conn, t_batch, deadline;
	long			 rss0, rss1;
	json_int_t		 done0, inflight;
	int			 n, ep, opened = 0, sfd, i;

	cpu_lock(CPU_LOCK_SHARED);

	n = fit_nofile(load_scale(MANY_CONNS));
	conf = harness_fmt("[limits]\nmax_connections = %d\n", n + 16);
	daemon_start(&d, conf, NULL);
	free(conf);
	rss0 = proc_kb(d.pid, "VmRSS");
	sfd = client_connect(d.sock);
	/* The harness's probe connection may not be reaped yet. */
	json_decref(await_idle(sfd, 1, 2000));
	st = status_on(sfd);
	cr_assert_eq(jint(st, "limits.max_connections"), n + 16, "%s",
	    jtext(st));
	done0 = jint(st, "jobs.done");
	json_decref(st);

	cr_assert_not_null(peers = calloc((size_t)n, sizeof *peers));
	cr_assert_neq(ep = epoll_create1(EPOLL_CLOEXEC), -1);

	/* Everyone connects and pings; nobody leaves. */
	t0 = now_ms();
	deadline = t0 + slack_ms(60000);
	while (peers_count(peers, n, false) < n) {
		cr_assert_lt(now_ms(), deadline, "%d of %d connected, %d"
		    " answered", opened, n, peers_count(peers, n, false));
		while (opened < n) {
			if ((peers[opened].fd = nb_connect(d.sock)) == -1)
				break;
			reader_init(&peers[opened].in, peers[opened].fd);
			nb_send_refusable(peers[opened].fd,
			    "{\"op\":\"ping\"}\n");
			ev.events = EPOLLIN;
			ev.data.u32 = (uint32_t)opened;
			cr_assert_eq(epoll_ctl(ep, EPOLL_CTL_ADD,
			    peers[opened].fd, &ev), 0);
			opened++;
		}
		peers_pump(ep, peers, 10, many_on_line);
	}
	t_conn = now_ms() - t0;
	st = status_on(sfd);
	cr_assert_eq(jint(st, "connections.open"), n + 1, "%s", jtext(st));
	json_decref(st);

	/* Each sends a batch; thousands of sleeps run together. */
	t0 = now_ms();
	for (i = 0; i < n; i++) {
		line = harness_fmt("{\"id\":%d,\"jobs\":[{\"type\":\"sleep\","
		    "\"ms\":300,\"value\":%d}]}\n", i, i);
		nb_send(peers[i].fd, line);
		free(line);
	}
	st = status_on(sfd);
	inflight = jint(st, "jobs.in_flight");
	json_decref(st);
	deadline = t0 + slack_ms(60000);
	while (peers_count(peers, n, true) < n) {
		cr_assert_lt(now_ms(), deadline, "%d of %d batches answered",
		    peers_count(peers, n, true), n);
		peers_pump(ep, peers, 10, many_on_line);
	}
	t_batch = now_ms() - t0;
	rss1 = proc_kb(d.pid, "VmRSS");

	/* All leave: back to the baseline. */
	for (i = 0; i < n; i++) {
		close(peers[i].fd);
		reader_free(&peers[i].in);
	}
	close(ep);
	free(peers);
	st = await_idle(sfd, 1, 10000);
	cr_assert_eq(jint(st, "jobs.done") - done0, n, "%s", jtext(st));
	json_decref(st);
	fprintf(stderr, "load: %d connections held at once: all connected and"
	    " pinged in %.0f ms, %d batches answered in %.0f ms (%lld sleeps"
	    " in flight together at most seen), daemon RSS %ld kB idle, %ld kB"
	    " holding them\n", n, t_conn, n, t_batch, (long long)inflight,
	    rss0, rss1);
	close(sfd);
	daemon_stop(&d);
}

/*
 * max_connections above what the descriptor limit allows is not honest:
 * the daemon can never hold that many, and the clients past its last
 * descriptor are neither served nor told busy. The hard limit here is
 * LOW_NOFILE, so the daemon cannot raise it: it must report (and apply)
 * a max_connections that fits, and every client must get a line.
 */

#define LOW_NOFILE	128
#define LOW_CLIENTS	300

static void
child_low_nofile(const struct daemon *dm)
{
	struct rlimit	rl = { LOW_NOFILE, LOW_NOFILE };

	(void)dm;
	if (setrlimit(RLIMIT_NOFILE, &rl) == -1)
		_exit(126);
}

/* A line for a low-limit client: a pong or busy, once. */
static void
low_on_line(struct peer *p, int i, json_t *v)
{
	cr_assert_eq(p->pongs + p->replies, 0, "client %d: a second line %s",
	    i, jtext(v));
	if (json_is_true(jget(v, "pong")))
		p->pongs++;
	else {
		jstr_is(v, "error.code", "busy");
		p->replies++;
	}
}

/*
 * Read every ready low-limit client; one that is closed (after its busy
 * line) is removed from the set.
 */
static void
low_pump(int ep, struct peer *peers, int ms)
{
	struct epoll_event	 evs[64];
	struct peer		*p;
	json_t			*v;
	int			 nev, i, rc;

	nev = epoll_wait(ep, evs, 64, ms);
	for (i = 0; i < nev; i++) {
		p = &peers[evs[i].data.u32];
		while ((rc = reader_fill(&p->in, 0)) == 1)
			;
		while ((v = reader_next_json(&p->in)) != NULL) {
			low_on_line(p, (int)evs[i].data.u32, v);
			json_decref(v);
		}
		if (rc == 0)
			epoll_ctl(ep, EPOLL_CTL_DEL, p->fd, NULL);
	}
}

Test(load, max_connections_is_honest_about_the_descriptor_limit)
{
	struct daemon_opts	 opts = { .child = child_low_nofile };
	struct epoll_event	 ev;
	struct peer		*peers;
	json_t			*st, *r;
	double			 deadline;
	json_int_t		 max;
	int			 ep, opened = 0, pongs, busy, i;

	daemon_start_opts(&d, NULL, NULL, &opts);
	r = daemon_request(&d, "{\"op\":\"status\"}");
	max = jint(r, "status.limits.max_connections");
	json_decref(r);

	cr_assert_not_null(peers = calloc(LOW_CLIENTS, sizeof *peers));
	cr_assert_neq(ep = epoll_create1(EPOLL_CLOEXEC), -1);
	/* Stretched less than usual: a few hundred pings are quick. */
	deadline = now_ms() + (harness_slowed() ? 15000 : 5000);
	while (now_ms() < deadline) {
		while (opened < LOW_CLIENTS) {
			if ((peers[opened].fd = nb_connect(d.sock)) == -1)
				break;
			reader_init(&peers[opened].in, peers[opened].fd);
			nb_send_refusable(peers[opened].fd,
			    "{\"op\":\"ping\"}\n");
			ev.events = EPOLLIN;
			ev.data.u32 = (uint32_t)opened;
			cr_assert_eq(epoll_ctl(ep, EPOLL_CTL_ADD,
			    peers[opened].fd, &ev), 0);
			opened++;
		}
		if (peers_count(peers, LOW_CLIENTS, false) +
		    peers_count(peers, LOW_CLIENTS, true) == LOW_CLIENTS)
			break;
		low_pump(ep, peers, 10);
	}
	pongs = peers_count(peers, LOW_CLIENTS, false);
	busy = peers_count(peers, LOW_CLIENTS, true);
	fprintf(stderr, "load: descriptor limit %d, status max_connections"
	    " %lld: of %d clients %d served, %d told busy, %d left without"
	    " an answer\n", LOW_NOFILE, (long long)max, LOW_CLIENTS, pongs,
	    busy, LOW_CLIENTS - pongs - busy);
	for (i = 0; i < opened; i++) {
		close(peers[i].fd);
		reader_free(&peers[i].in);
	}
	close(ep);
	free(peers);

	/* Whatever happened, the daemon still serves once they are gone. */
	deadline = now_ms() + slack_ms(5000);
	for (;;) {
		r = daemon_request(&d, "{\"op\":\"status\"}");
		if (json_is_true(jget(r, "ok")) &&
		    jint(r, "status.connections.open") == 1)
			break;
		cr_assert_lt(now_ms(), deadline, "%s", jtext(r));
		json_decref(r);
		sleep_ms(20);
	}
	st = jget(r, "status");
	jeq(st, "batches.in_flight", "0");

	cr_assert_eq(pongs + busy, LOW_CLIENTS, "%d of %d clients got no"
	    " line (neither served nor busy): the daemon ran out of"
	    " descriptors below max_connections (%lld)",
	    LOW_CLIENTS - pongs - busy, LOW_CLIENTS, (long long)max);
	cr_assert_lt(max, LOW_NOFILE, "status reports max_connections %lld"
	    " with a descriptor limit of %d", (long long)max, LOW_NOFILE);
	cr_assert_leq(pongs, max, "%d served over max_connections %lld",
	    pongs, (long long)max);
	json_decref(r);
	daemon_stop(&d);
}

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
#define SLOW_PROBE_MAX_MS	(2 * HARNESS_PROMPT_MS)	/* a read waits for a worker */
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
	pad = malloc(SLOW_HALF_PAD + 1);
	cr_assert_not_null(pad);
	memset(pad, ' ', SLOW_HALF_PAD);
	pad[SLOW_HALF_PAD] = '\0';
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
	r = rpc(pfd, "{\"op\":\"ping\",\"id\":\"end\"}");
	jeq(r, "id", "\"end\"");
	json_decref(r);
	close(pfd);
	close(sfd);
	daemon_stop(&d);
}

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
			cr_assert_null(reader_next_json(&amp_in), "the amplifier got"
			    " a reply");
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

/*
 * Clients that leave in the middle of every kind of job, round after
 * round: at once, after a few milliseconds, once output has begun to come
 * (a reset, unread data in the way), or after a half-close. The daemon
 * never crashes, returns to idle (nothing in flight, the pool idle, work
 * abandoned on workers drained) and serves a full batch of every kind
 * afterwards; under valgrind its exit also proves nothing leaked.
 */

#define DISC_ROUNDS	200
#define DISC_CTE_ROWS	300000	/* about 50 ms of SQLite, bare */

/* A SQLite query that runs a while (shorter under a slow wrapper). */
static char *
disc_cte(void)
{
	return harness_fmt("with recursive c(x) as (select 1 union all"
	    " select x + 1 from c where x < %d) select count(*) from c",
	    (int)(DISC_CTE_ROWS / harness_slack()));
}

/* The jobs of one round, as JSON text: one of every kind. */
static char *
disc_jobs(int ms, const char *cte, bool pg)
{
	return harness_fmt("{\"type\":\"sleep\",\"ms\":%d},"
	    "{\"type\":\"read\",\"path\":\"" HUGE_FILE "\"},"
	    "{\"type\":\"query\",\"sql\":\"%s\"}%s", ms, cte,
	    pg ? ",{\"type\":\"query\",\"db\":\"pg\","
	    "\"sql\":\"select pg_sleep(2)\"}" : "");
}

Test(load, disconnect_mid_job_of_every_kind_many_times)
{
	struct pollfd	 pl;
	json_t		*st, *r;
	char		*conf, *pgsec = NULL, *cte, *jobs, *line, *stream;
	double		 t0;
	bool		 pg;
	int		 rounds = load_scale(DISC_ROUNDS), round, fd, sfd, wfd;
	int		 resets = 0, half = 0;

	cpu_lock(CPU_LOCK_SHARED);

	fixture();
	if ((pg = pgtest_installed())) {
		pgtest_prepare();
	pgtest_start();
		pgsec = pgtest_section("pg", 2, PG_OPTIONS);
	} else
		fprintf(stderr, "\n*** %s: disconnects without PostgreSQL"
		    " ***\n\n", PG_SKIPPED);
	conf = harness_fmt("[read]\nroots = %s\n"
	    "[db.default]\ndriver = sqlite\npath = %s/main.db\n"
	    "writable = true\n%s", fixdir, fixdir, pg ? pgsec : "");
	daemon_start(&d, conf, NULL);
	free(conf);
	free(pgsec);
	cte = disc_cte();
	jobs = disc_jobs(5000, cte, pg);
	line = harness_fmt("{\"id\":\"all\",\"jobs\":[%s]}", jobs);
	stream = harness_fmt("{\"id\":\"stream\",\"stream\":true,"
	    "\"concurrency\":2,\"jobs\":[{\"type\":\"read\",\"path\":\""
	    HUGE_FILE "\"},{\"type\":\"sleep\",\"ms\":1},%s]}", jobs);
	sfd = client_connect(d.sock);
	wfd = client_connect(d.sock);
	json_decref(await_idle(sfd, 2, 2000));

	t0 = now_ms();
	for (round = 0; round < rounds; round++) {
		fd = client_connect(d.sock);
		client_send(fd, line);
		client_send(fd, stream);
		switch (round % 6) {
		case 0:		/* at once */
			break;
		case 1:
			sleep_ms(1);
			break;
		case 2:
			sleep_ms(5);
			break;
		case 3:		/* anywhere in the first 50 ms */
			sleep_ms(round % 50);
			break;
		case 4:		/* once output comes: unread, so a reset */
			pl.fd = fd;
			pl.events = POLLIN;
			if (poll(&pl, 1, slack_ms(2000)) > 0)
				resets++;
			break;
		case 5:		/* a half-close first, then the full close */
			shutdown(fd, SHUT_WR);
			sleep_ms(round % 20);
			half++;
			break;
		}
		close(fd);
		/* Meanwhile the daemon serves others. */
		if (round % 20 == 19) {
			r = rpc(wfd, "{\"op\":\"ping\",\"id\":\"w\"}");
			jeq(r, "id", "\"w\"");
			json_decref(r);
		}
	}
	st = await_idle(sfd, 2, 20000);
	fprintf(stderr, "load: %d rounds of disconnects mid-job (%d after"
	    " output began, %d after a half-close; sleep, read, SQLite%s) in"
	    " %.0f ms; then idle: %lld jobs done, %lld batches done\n", rounds,
	    resets, half, pg ? ", PostgreSQL" : "", now_ms() - t0,
	    (long long)jint(st, "jobs.done"),
	    (long long)jint(st, "batches.done"));
	json_decref(st);

	/* Whole again: a batch of every kind succeeds. */
	free(line);
	free(jobs);
	jobs = disc_jobs(1, "select 42", false);
	line = harness_fmt("{\"id\":\"after\",\"jobs\":[%s%s]}", jobs,
	    pg ? ",{\"type\":\"query\",\"db\":\"pg\",\"sql\":"
	    "\"select pg_sleep(0.01), 7 as n\"}" : "");
	r = daemon_request_ms(&d, line, slack_ms(30000));
	jeq(r, "id", "\"after\"");
	jbool_is(r, "ok", true);
	cr_assert_eq(jint(r, "results[1].value.bytes"), HUGE_BYTES);
	jeq(r, "results[2].value.rows", "[[42]]");
	if (pg)
		jeq(r, "results[3].value.rows[0][1]", "7");
	json_decref(r);
	free(line);
	free(jobs);
	free(stream);
	free(cte);
	json_decref(await_idle(sfd, 2, 5000));
	close(wfd);
	close(sfd);
	daemon_stop(&d);
}

/*
 * SIGTERM with thousands of jobs in flight on many connections: every
 * batch gets its final reply (short ones finished, long ones cancelled
 * at shutdown_timeout_ms), a late batch gets shutting_down, every client
 * is closed, and the daemon exits 0 in time, even with a client that
 * never reads its (large) reply, which gets the 2 s flush grace.
 */

#define TERM_CONNS		50
#define TERM_LONG		100	/* 30 s sleeps per connection */
#define TERM_TIMEOUT_MS		1000
#define TERM_GRACE_MS		2000	/* SERVER_FLUSH_GRACE_MS */
#define TERM_BIG_VALUE		(1024 * 1024)

/* One SIGTERM client: its socket, its input, the replies it has had. */
struct term_conn {
	int		fd;
	int		replies;
	bool		eof;
	struct reader	in;
};

/* Check one reply on connection i; counts cancelled jobs into *cancelled. */
static void
term_check(json_t *v, int i, int nlong, double since, int *cancelled)
{
	const char	*id = json_string_value(jget(v, "id"));
	char		 want[32];
	double		 dt = now_ms() - since;

	cr_assert_not_null(id, "connection %d: %s", i, jtext(v));
	snprintf(want, sizeof want, "%c%d", id[0], i);
	if (strcmp(id, "late") == 0) {
		jstr_is(v, "error.code", "shutting_down");
		return;
	}
	cr_assert_str_eq(id, want, "connection %d: %s", i, jtext(v));
	switch (id[0]) {
	case 'S':	/* short: finished */
		jbool_is(v, "ok", true);
		break;
	case 'M':	/* mixed: the short one finished, the long cancelled */
		jbool_is(v, "results[0].ok", true);
		jstr_is(v, "results[1].error.code", "cancelled");
		*cancelled += 1;
		break;
	case 'L':	/* long: cancelled at the shutdown time-out, not before */
		jbool_is(v, "ok", false);
		cr_assert_eq(jint(v, "stats.cancelled"), nlong, "%s", jtext(v));
		jstr_is(v, "results[0].error.code", "cancelled");
		cr_assert_geq(dt, TERM_TIMEOUT_MS - 20, "cancelled %.0f ms"
		    " after SIGTERM", dt);
		*cancelled += nlong;
		break;
	default:
		cr_assert_fail("connection %d: %s", i, jtext(v));
	}
}

Test(load, sigterm_with_thousands_in_flight_answers_every_batch)
{
	struct term_conn	*tc;
	struct pollfd		*pl;
	json_t			*st, *v;
	char			*conf, *line, *big;
	double			 t0, t_last = 0, t_exit, deadline;
	int			 nconn = load_scale(TERM_CONNS);
	int			 nlong = load_scale(TERM_LONG);
	char			 id[32];
	int			 i, open_, replies = 0, cancelled = 0, status;
	int			 nrd, sfd;

	cpu_lock(CPU_LOCK_SHARED);

	conf = harness_fmt("shutdown_timeout_ms = %d\n", TERM_TIMEOUT_MS);
	daemon_start(&d, conf, NULL);
	free(conf);
	cr_assert_not_null(tc = calloc((size_t)nconn, sizeof *tc));
	cr_assert_not_null(pl = calloc((size_t)nconn, sizeof *pl));
	/* A client that never reads a reply larger than its socket holds. */
	cr_assert_not_null(big = malloc(TERM_BIG_VALUE + 1));
	memset(big, 'b', TERM_BIG_VALUE);
	big[TERM_BIG_VALUE] = '\0';
	line = harness_fmt("{\"id\":\"nr\",\"jobs\":[{\"type\":\"sleep\","
	    "\"ms\":0,\"value\":\"%s\"}]}", big);
	nrd = client_connect(d.sock);
	client_send(nrd, line);
	free(line);
	free(big);
	/* Its batch is done and its reply stuck before the others start. */
	sfd = client_connect(d.sock);
	deadline = now_ms() + slack_ms(5000);
	for (;;) {
		st = status_on(sfd);
		if (jint(st, "batches.done") == 1)
			break;
		cr_assert_lt(now_ms(), deadline, "%s", jtext(st));
		json_decref(st);
		sleep_ms(10);
	}
	json_decref(st);

	for (i = 0; i < nconn; i++) {
		tc[i].fd = client_connect(d.sock);
		reader_init(&tc[i].in, tc[i].fd);
		snprintf(id, sizeof id, "L%d", i);
		line = sleeps(id, nlong, 30000);
		client_send(tc[i].fd, line);
		free(line);
		line = harness_fmt("{\"id\":\"S%d\",\"jobs\":[{\"type\":"
		    "\"sleep\",\"ms\":200}]}\n{\"id\":\"M%d\",\"jobs\":["
		    "{\"type\":\"sleep\",\"ms\":300},{\"type\":\"sleep\","
		    "\"ms\":30000}]}", i, i);
		client_send(tc[i].fd, line);
		free(line);
	}
	/* Everything is in flight. */
	deadline = now_ms() + slack_ms(5000);
	for (;;) {
		st = status_on(sfd);
		if (jint(st, "jobs.in_flight") >= nconn * (nlong + 1))
			break;
		cr_assert_lt(now_ms(), deadline, "%s", jtext(st));
		json_decref(st);
		sleep_ms(10);
	}
	fprintf(stderr, "load: SIGTERM with %lld jobs in %lld batches on %d"
	    " connections in flight\n", (long long)jint(st, "jobs.in_flight"),
	    (long long)jint(st, "batches.in_flight"), nconn + 1);
	json_decref(st);
	close(sfd);

	t0 = now_ms();
	cr_assert_eq(kill(d.pid, SIGTERM), 0);
	/* A batch sent while draining is refused. */
	for (;;) {
		cr_assert_lt(now_ms() - t0, slack_ms(2000), "still listening");
		if ((sfd = nb_try_connect(d.sock)) == -1 && errno != EAGAIN)
			break;
		if (sfd != -1)
			close(sfd);
		sleep_ms(2);
	}
	client_send(tc[0].fd, "{\"id\":\"late\",\"jobs\":[{\"type\":\"sleep\","
	    "\"ms\":0}]}");
	for (i = 0; i < nconn; i++)
		cr_assert_neq(fcntl(tc[i].fd, F_SETFL, O_NONBLOCK), -1);

	/* Every reply, then EOF on every connection. */
	deadline = t0 + TERM_TIMEOUT_MS + TERM_GRACE_MS + slack_ms(5000);
	for (open_ = nconn; open_ > 0;) {
		cr_assert_lt(now_ms(), deadline, "%d connections still open,"
		    " %d replies", open_, replies);
		for (i = 0; i < nconn; i++) {
			pl[i].fd = tc[i].eof ? -1 : tc[i].fd;
			pl[i].events = POLLIN;
		}
		poll(pl, (nfds_t)nconn, 100);
		for (i = 0; i < nconn; i++) {
			int	rc;

			if (tc[i].eof || !(pl[i].revents & (POLLIN | POLLHUP)))
				continue;
			while ((rc = reader_fill(&tc[i].in, 0)) == 1)
				;
			while ((v = reader_next_json(&tc[i].in)) != NULL) {
				term_check(v, i, nlong, t0, &cancelled);
				tc[i].replies++;
				replies++;
				t_last = now_ms() - t0;
				json_decref(v);
			}
			if (rc == 0) {
				cr_assert_eq(tc[i].replies, i == 0 ? 4 : 3,
				    "connection %d closed after %d replies", i,
				    tc[i].replies);
				tc[i].eof = true;
				open_--;
			}
		}
	}
	status = daemon_wait(&d, slack_ms(TERM_TIMEOUT_MS + TERM_GRACE_MS +
	    5000));
	t_exit = now_ms() - t0;
	cr_assert_neq(status, -1, "gatherd did not exit");
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	    "gatherd exited with status 0x%x, see %s", status, d.log);
	fprintf(stderr, "load: SIGTERM: %d replies (%d batches, %d jobs"
	    " cancelled at the %d ms shutdown time-out, 1 shutting_down), the"
	    " last %.0f ms after the signal; exit 0 after %.0f ms (a client"
	    " that never reads held it for the %d ms flush grace)\n",
	    replies, 3 * nconn, cancelled, TERM_TIMEOUT_MS, t_last, t_exit,
	    TERM_GRACE_MS);
	cr_assert_eq(replies, 3 * nconn + 1);
	cr_assert_eq(cancelled, nconn * (nlong + 1));
	cr_assert_lt(t_last, TERM_TIMEOUT_MS + slack_ms(1000), "last reply"
	    " %.0f ms after SIGTERM", t_last);
	cr_assert_geq(t_exit, TERM_TIMEOUT_MS + TERM_GRACE_MS - 50, "exit"
	    " %.0f ms after SIGTERM: the client that never reads was not"
	    " given its grace", t_exit);
	cr_assert_lt(t_exit, TERM_TIMEOUT_MS + TERM_GRACE_MS +
	    slack_ms(1000), "exit %.0f ms after SIGTERM", t_exit);
	for (i = 0; i < nconn; i++) {
		close(tc[i].fd);
		reader_free(&tc[i].in);
	}
	close(nrd);
	free(tc);
	free(pl);
	daemon_stop(&d);
}

/*
 * PostgreSQL dies under running queries, again and again: stopped as if
 * it crashed (pg_ctl stop -m immediate, so no clean goodbye on any
 * connection) and restarted, or one of its server processes killed with
 * SIGKILL (the postmaster then ends every other one and recovers by
 * itself). Each time the running jobs fail promptly with db_error, the
 * daemon keeps answering, and service resumes without any help. A clean
 * stop (pg_ctl -m fast) is test_postgres's server_stopped_mid_batch_then_back.
 */

#define PG_CYCLES	4
#define PG_POOL		4

/* Until a query works again: how long it took, in ms. */
static double
pg_await_back(void)
{
	json_t	*r;
	double	 t0 = now_ms();
	bool	 ok = false;

	while (!ok) {
		cr_assert_lt(now_ms() - t0, slack_ms(20000), "queries did not"
		    " work again");
		r = dbtest_query(&d, NULL, "select 'back'", NULL);
		if ((ok = json_is_true(jget(r, "ok"))))
			jeq(r, "results[0].value.rows", "[[\"back\"]]");
		else
			jstr_is(r, "results[0].error.code", "db_error");
		json_decref(r);
		if (!ok)
			sleep_ms(50);
	}
	return now_ms() - t0;
}

Test(load, postgres_crashes_again_and_again_and_service_resumes)
{
	json_t	*jobs, *r, *st;
	char	*a, *b, *conf, *line, path[64];
	double	 t0, took, back;
	int	 cycle, fd, i;
	long	 victim;

	pgtest_new();
	a = pgtest_section("default", PG_POOL, PG_OPTIONS);
	b = pgtest_section("probe", 1, PG_OPTIONS);
	conf = harness_fmt("%s%s", a, b);
	daemon_start(&d, conf, NULL);
	free(a);
	free(b);
	free(conf);
	json_decref(dbtest_query_ok(&d, NULL, "select 1", NULL));

	for (cycle = 0; cycle < PG_CYCLES; cycle++) {
		bool	crash = cycle % 2 == 0;

		jobs = dbtest_qjobs(NULL, "select pg_sleep(5)", PG_POOL);
		json_array_append_new(jobs, json_pack("{s:s, s:i}", "type",
		    "sleep", "ms", 10));
		line = dbtest_batch_line(jobs, "id", json_integer(cycle));
		fd = client_connect(d.sock);
		client_send(fd, line);
		free(line);
		pgtest_await(&d, "probe", "select count(*) from pg_stat_activity where"
		    " query = 'select pg_sleep(5)' and state = 'active'", "4",
		    slack_ms(15000));

		t0 = now_ms();
		if (crash)
			pgtest_do("crash");
		else {
			r = dbtest_query(&d, "probe", "select pid from"
			    " pg_stat_activity where query = 'select"
			    " pg_sleep(5)' limit 1", NULL);
			victim = (long)jint(r, "results[0].value.rows[0][0]");
			json_decref(r);
			cr_assert_eq(kill((pid_t)victim, SIGKILL), 0,
			    "kill %ld: %s", victim, strerror(errno));
		}
		r = client_recv_json(fd, slack_ms(5000));
		took = now_ms() - t0;
		close(fd);
		jeq(r, "stats.failed", "4");
		for (i = 0; i < PG_POOL; i++) {
			snprintf(path, sizeof path, "results[%d].error.code", i);
			jstr_is(r, path, "db_error");
		}
		jbool_is(r, "results[4].ok", true);
		json_decref(r);
		cr_assert_lt(took, slack_ms(2000), "cycle %d: answered %.0f ms"
		    " after the server %s", cycle, took,
		    crash ? "crashed" : "lost a process");

		/* Down: the daemon answers, queries fail, nothing hangs. */
		r = daemon_request(&d, "{\"op\":\"ping\"}");
		jbool_is(r, "pong", true);
		json_decref(r);
		if (crash) {
			t0 = now_ms();
			free(dbtest_query_fails(&d, NULL, "select 1", NULL,
			    "db_error"));
			cr_assert_lt(now_ms() - t0, slack_ms(6000), "a query on"
			    " a crashed server took %.0f ms", now_ms() - t0);
			pgtest_do("start-again");
		}
		back = pg_await_back();
		fprintf(stderr, "load: postgres cycle %d (%s): the batch failed"
		    " %.0f ms after, queries worked again %.0f ms after %s\n",
		    cycle, crash ? "crash, restart" : "a server process"
		    " killed", took, back, crash ? "the restart" : "that");

		/* The whole pool again: four at once. */
		jobs = dbtest_qjobs(NULL, "select pg_sleep(0.1)", PG_POOL);
		r = dbtest_run_batch(&d, jobs);
		jbool_is(r, "ok", true);
		json_decref(r);
		r = dbtest_request(&d, "{\"op\":\"status\"}");
		st = jget(r, "status");
		jeq(st, "jobs.in_flight", "0");
		jeq(st, "batches.in_flight", "0");
		json_decref(r);
	}
	daemon_stop(&d);
}

/*
 * Every limit reached at once, at scale: more clients than
 * max_connections, more pipelined batches than max_batches_per_connection,
 * more jobs from many clients than max_inflight_jobs. What is over a
 * limit gets busy at once and starts nothing (status counts exactly what
 * was accepted, during and after), the limits are exact (a batch that
 * brings the total to max_inflight_jobs fits), and the daemon serves
 * everyone normally afterwards. test_daemon checks each limit with one
 * or two clients.
 */

#define LIM_CONNS	64
#define LIM_CLIENTS	100
#define LIM_BATCHES	8
#define LIM_PIPELINED	20
#define LIM_INFLIGHT	1000
#define LIM_JOBS	30
#define LIM_LONG_MS	60000	/* never ends by itself: cancelled */
#define LIM_BUSY_MS	500	/* busy comes within this (stretched) */

#define LIM_CONF \
	"[limits]\nmax_connections = %d\nmax_batches_per_connection = %d\n" \
	"max_inflight_jobs = %d\n"

/* Assert status on fd shows exactly these in flight and done. */
static void
lim_expect(int fd, int jobs, int batches, json_int_t jobs_done,
    json_int_t batches_done)
{
	json_t	*st = status_on(fd);

	cr_assert_eq(jint(st, "jobs.in_flight") + jint(st, "jobs.waiting"),
	    jobs, "want %d jobs in flight: %s", jobs, jtext(st));
	cr_assert_eq(jint(st, "batches.in_flight"), batches, "want %d"
	    " batches in flight: %s", batches, jtext(st));
	cr_assert_eq(jint(st, "jobs.done"), jobs_done, "%s", jtext(st));
	cr_assert_eq(jint(st, "batches.done"), batches_done, "%s", jtext(st));
	json_decref(st);
}

/* Assert r is a busy error whose message names limit. */
static void
expect_busy(json_t *r, const char *limit)
{
	jbool_is(r, "ok", false);
	jstr_is(r, "error.code", "busy");
	jstr_has(r, "error.message", limit);
}

/*
 * Cancel every batch with id target, on any connection, from fd; assert
 * want were. A batch of fd's own may reply before or after the cancel:
 * such replies are checked (all cancelled) and counted into *own.
 */
static void
lim_cancel(int fd, const char *target, int want, int *own)
{
	json_t	*r;
	char	*line;

	line = harness_fmt("{\"op\":\"cancel\",\"id\":\"c\",\"target\":"
	    "\"%s\",\"conn\":\"any\"}", target);
	client_send(fd, line);
	free(line);
	for (;;) {
		r = client_recv_json(fd, slack_ms(5000));
		if (json_is_string(jget(r, "id")) &&
		    strcmp(jstr(r, "id"), "c") == 0)
			break;
		jstr_is(r, "results[0].error.code", "cancelled");
		(*own)++;
		json_decref(r);
	}
	cr_assert_eq(jint(r, "cancelled"), want, "%s", jtext(r));
	json_decref(r);
}

Test(load, every_limit_reached_at_once_is_busy_and_starts_nothing)
{
	struct pollfd	 pl[LIM_CLIENTS];
	int		 fds[LIM_CLIENTS];
	bool		 busy[LIM_CLIENTS];
	json_t		*r, *st;
	char		*conf, *line;
	int		 sfd, i, j, nserved = 0, nbusy = 0;
	int		 accepted, cand = 0, inflight, pipe_i = -1, own = 0;
	json_int_t	 jdone0, bdone0;
	double		 t0, dt;

	cpu_lock(CPU_LOCK_SHARED);

	conf = harness_fmt(LIM_CONF, LIM_CONNS, LIM_BATCHES, LIM_INFLIGHT);
	daemon_start(&d, conf, NULL);
	free(conf);
	sfd = client_connect(d.sock);
	st = await_idle(sfd, 1, 2000);
	jdone0 = jint(st, "jobs.done");
	bdone0 = jint(st, "batches.done");
	json_decref(st);

	/*
	 * max_connections: of 100 clients, exactly 63 fit beside sfd. One
	 * refused may be closed before its ping is written: its busy line
	 * is there to read all the same.
	 */
	for (i = 0; i < LIM_CLIENTS; i++) {
		fds[i] = client_connect(d.sock);
		if (write(fds[i], "{\"op\":\"ping\"}\n", 14) != 14)
			cr_assert_eq(errno, EPIPE, "write: %s", strerror(errno));
		r = client_recv_json(fds[i], slack_ms(5000));
		if (json_is_true(jget(r, "pong")))
			nserved++;
		else {
			expect_busy(r, "max_connections");
			nbusy++;
			cr_assert_null(client_recv(fds[i], slack_ms(2000)),
			    "a busy client was not closed");
			close(fds[i]);
			fds[i] = -1;
		}
		json_decref(r);
	}
	cr_assert_eq(nserved, LIM_CONNS - 1, "%d served", nserved);
	cr_assert_eq(nbusy, LIM_CLIENTS - LIM_CONNS + 1, "%d busy", nbusy);
	st = status_on(sfd);
	cr_assert_eq(jint(st, "connections.open"), LIM_CONNS, "%s", jtext(st));
	json_decref(st);

	/*
	 * max_batches_per_connection: of 20 pipelined batches, 8 start and
	 * 12 are busy at once.
	 */
	for (pipe_i = 0; fds[pipe_i] == -1; pipe_i++)
		;
	line = sleeps("p", 1, LIM_LONG_MS);
	for (i = 0; i < LIM_PIPELINED; i++)
		client_send(fds[pipe_i], line);
	free(line);
	for (i = 0; i < LIM_PIPELINED - LIM_BATCHES; i++) {
		r = client_recv_json(fds[pipe_i], slack_ms(2000));
		expect_busy(r, "max_batches_per_connection");
		json_decref(r);
	}
	lim_expect(sfd, LIM_BATCHES, LIM_BATCHES, jdone0, bdone0);

	/*
	 * max_inflight_jobs: every other served client asks for 30 jobs at
	 * once; exactly as many batches as fit start, the rest are busy
	 * (within LIM_BUSY_MS; an accepted batch never ends by itself).
	 */
	line = sleeps("j", LIM_JOBS, LIM_LONG_MS);
	for (i = 0; i < LIM_CLIENTS; i++) {
		busy[i] = false;
		if (fds[i] == -1 || i == pipe_i)
			continue;
		client_send(fds[i], line);
		cand++;
	}
	free(line);
	t0 = now_ms();
	for (nbusy = 0; (dt = now_ms() - t0) < slack_ms(LIM_BUSY_MS);) {
		for (i = 0; i < LIM_CLIENTS; i++) {
			pl[i].fd = fds[i] == -1 || i == pipe_i || busy[i] ?
			    -1 : fds[i];
			pl[i].events = POLLIN;
			pl[i].revents = 0;
		}
		if (poll(pl, LIM_CLIENTS, 50) <= 0)
			continue;
		for (i = 0; i < LIM_CLIENTS; i++) {
			if (!(pl[i].revents & POLLIN))
				continue;
			r = client_recv_json(fds[i], slack_ms(1000));
			expect_busy(r, "max_inflight_jobs");
			json_decref(r);
			busy[i] = true;
			nbusy++;
		}
	}
	accepted = cand - nbusy;
	inflight = LIM_BATCHES + accepted * LIM_JOBS;
	cr_assert_eq(accepted, (LIM_INFLIGHT - LIM_BATCHES) / LIM_JOBS,
	    "%d of %d batches of %d jobs accepted beside %d", accepted, cand,
	    LIM_JOBS, LIM_BATCHES);
	lim_expect(sfd, inflight, LIM_BATCHES + accepted, jdone0, bdone0);

	/* One job over the limit does not fit; exactly up to it does. */
	r = rpc(sfd, (line = sleeps("over", LIM_INFLIGHT - inflight + 1, 0)));
	free(line);
	expect_busy(r, "max_inflight_jobs");
	json_decref(r);
	lim_expect(sfd, inflight, LIM_BATCHES + accepted, jdone0, bdone0);
	line = sleeps("exact", LIM_INFLIGHT - inflight, LIM_LONG_MS);
	client_send(sfd, line);
	free(line);
	lim_expect(sfd, LIM_INFLIGHT, LIM_BATCHES + accepted + 1, jdone0,
	    bdone0);

	/* Full everywhere, yet other requests are served at once. */
	t0 = now_ms();
	r = rpc(fds[pipe_i], "{\"op\":\"ping\",\"id\":\"full\"}");
	dt = now_ms() - t0;
	jeq(r, "id", "\"full\"");
	json_decref(r);
	cr_assert_lt(dt, slack_ms(HARNESS_PROMPT_MS), "a ping took %.0f ms"
	    " when full", dt);
	fprintf(stderr, "load: limits: %d of %d clients served, %d told busy;"
	    " %d of %d pipelined batches busy; %d of %d batches of %d jobs"
	    " busy beside %d jobs in flight, then exactly %d; nothing extra"
	    " started\n", nserved, LIM_CLIENTS, LIM_CLIENTS - nserved,
	    LIM_PIPELINED - LIM_BATCHES, LIM_PIPELINED, nbusy, cand,
	    LIM_JOBS, inflight, LIM_INFLIGHT);

	/* Cancel them all: each accepted batch replies, whole. */
	lim_cancel(sfd, "j", accepted, &own);
	lim_cancel(sfd, "p", LIM_BATCHES, &own);
	lim_cancel(sfd, "exact", 1, &own);
	if (own == 0) {
		r = client_recv_json(sfd, slack_ms(5000));
		jstr_is(r, "results[0].error.code", "cancelled");
		json_decref(r);
	}
	for (i = 0; i < LIM_CLIENTS; i++) {
		if (fds[i] == -1 || busy[i])
			continue;
		for (j = 0; j < (i == pipe_i ? LIM_BATCHES : 1); j++) {
			r = client_recv_json(fds[i], slack_ms(5000));
			jeq(r, "id", i == pipe_i ? "\"p\"" : "\"j\"");
			cr_assert_eq(jint(r, "stats.cancelled"),
			    i == pipe_i ? 1 : LIM_JOBS, "%s", jtext(r));
			json_decref(r);
		}
	}
	/* Only what was accepted ran: the counters hold nothing else. */
	st = await_idle(sfd, LIM_CONNS, 5000);
	cr_assert_eq(jint(st, "jobs.done") - jdone0, LIM_INFLIGHT, "%s",
	    jtext(st));
	cr_assert_eq(jint(st, "batches.done") - bdone0, LIM_BATCHES +
	    accepted + 1, "%s", jtext(st));
	json_decref(st);

	/* Healthy: every client is served in full again. */
	line = sleeps("again", LIM_JOBS, 1);
	for (i = 0; i < LIM_CLIENTS; i++) {
		if (fds[i] == -1)
			continue;
		r = rpc(fds[i], line);
		jbool_is(r, "ok", true);
		cr_assert_eq(jint(r, "stats.ok"), LIM_JOBS);
		json_decref(r);
		close(fds[i]);
	}
	free(line);
	json_decref(await_idle(sfd, 1, 5000));
	close(sfd);
	daemon_stop(&d);
}
