/*
 * gatherctl top: a live view of gatherd, as redis-cli --stat and top
 * give. Every interval it asks for the status on one connection and
 * shows what changed: batches and jobs per second by type over the last
 * interval (from the lifetime counters, so nothing is missed between two
 * looks), what is in flight, the pool, the memory held, latency
 * percentiles over the daemon's recent window (status.recent, the last
 * 10 to 20 seconds, never the lifetime), the connections and the
 * database pools.
 *
 * On a terminal it takes the alternate screen, hides the cursor and
 * reads keys without echo (q quits; Ctrl-C, SIGTERM and SIGHUP too), and
 * puts everything back however it ends. Elsewhere it prints one plain
 * line per interval (a header every 20 lines, as vmstat does), or with
 * --json one JSON object per interval, for a log or a script; --count
 * ends it. The screen is drawn with a few ANSI sequences that every
 * terminal of the last forty years knows, so no curses library is needed.
 *
 * The first view has no interval before it: its rates are the recent
 * window's (done in the window over its length).
 */

#include <sys/socket.h>

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "clock.h"
#include "ctl/print.h"
#include "ctl/top.h"
#include "xmalloc.h"

#define TOP_EXIT_OK		0
#define TOP_EXIT_ERROR		2
#define TOP_REPLY_WAIT_MS	10000	/* for a status reply */
#define TOP_HEADER_EVERY	20	/* plain lines between headers */
#define TOP_TYPE_WIDTH		12

/* What a signal asked for; set by the handler, read by the loop. */
static volatile sig_atomic_t	top_quit;
static volatile sig_atomic_t	top_resized;

struct top {
	const struct top_opts	*o;
	int			 tty;		/* drawing a screen */
	struct termios		 saved;		/* the terminal as it was */
	int			 saved_ok;
	char			*in;		/* owned: reply bytes */
	size_t			 inlen, insize;
	json_int_t		 next_id;
	json_t			*prev;		/* owned: the status before */
	json_t			*cur;		/* owned: the status now */
	long			 lines;		/* plain lines printed */
};

static void
top_signal(int sig)
{
	if (sig == SIGWINCH)
		top_resized = 1;
	else
		top_quit = 1;
}

/* Catch the signals that end the view (and a resize), not restarting. */
static void
top_signals(int tty)
{
	struct sigaction	sa;

	memset(&sa, 0, sizeof sa);
	sa.sa_handler = top_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	if (tty)
		sigaction(SIGWINCH, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

/* Take the terminal: no echo, keys at once, the alternate screen. */
static void
top_term_enter(struct top *t)
{
	struct termios	raw;

	if (tcgetattr(STDIN_FILENO, &t->saved) == 0) {
		t->saved_ok = 1;
		raw = t->saved;
		raw.c_lflag &= ~(tcflag_t)(ICANON | ECHO);
		raw.c_cc[VMIN] = 0;
		raw.c_cc[VTIME] = 0;
		tcsetattr(STDIN_FILENO, TCSANOW, &raw);
	}
	/* Alternate screen, cursor hidden, no line wrap. */
	print_control(stdout, "\033[?1049h\033[?25l\033[?7l\033[H\033[2J");
}

/* Give the terminal back as it was. */
static void
top_term_leave(struct top *t)
{
	if (!t->tty)
		return;
	print_control(stdout, "\033[?7h\033[?25h\033[?1049l");
	if (t->saved_ok)
		tcsetattr(STDIN_FILENO, TCSANOW, &t->saved);
	t->tty = 0;
}

/* End with an error: the terminal back first, then the message. */
static int
top_fail(struct top *t, const char *msg)
{
	top_term_leave(t);
	fprintf(stderr, "gatherctl: top: %s\n", msg);
	return TOP_EXIT_ERROR;
}

/*
 * Milliseconds from now until the clock_ns() time when (0 if past),
 * rounded up: the clock is read once, so time passing between two
 * readings can never turn the difference around.
 */
static int
top_ms_until(uint64_t when)
{
	uint64_t	now = clock_ns(), ms;

	if (when <= now)
		return 0;
	ms = (when - now + 999999u) / 1000000u;
	return ms > INT_MAX ? INT_MAX : (int)ms;
}

/* Read keys typed; 1 if one of them quits. */
static int
top_keys(void)
{
	char	buf[64];
	ssize_t	n, i;

	while ((n = read(STDIN_FILENO, buf, sizeof buf)) > 0) {
		for (i = 0; i < n; i++) {
			if (buf[i] == 'q' || buf[i] == 'Q' || buf[i] == 3)
				return 1;
		}
	}
	return 0;
}

/*
 * Wait up to ms for fd to be readable, watching the keys on a terminal.
 * 1 readable, 0 timed out, 2 the terminal was resized, -1 to quit.
 */
static int
top_wait(struct top *t, int fd, int ms)
{
	struct pollfd	pfd[2];
	uint64_t	end = clock_ns() + (uint64_t)(ms > 0 ? ms : 0) * 1000000u;
	int		n, nfds;

	for (;;) {
		if (top_quit)
			return -1;
		if (top_resized)
			return 2;
		nfds = 0;
		if (fd != -1) {
			pfd[nfds].fd = fd;
			pfd[nfds++].events = POLLIN;
		}
		if (t->tty) {
			pfd[nfds].fd = STDIN_FILENO;
			pfd[nfds++].events = POLLIN;
		}
		if (clock_ns() >= end)
			return 0;
		n = poll(pfd, (nfds_t)nfds, top_ms_until(end));
		if (n == -1 && errno != EINTR)
			return -1;
		if (n <= 0)
			continue;
		if (t->tty && (pfd[nfds - 1].revents & POLLIN) && top_keys())
			return -1;
		if (fd != -1 && (pfd[0].revents & (POLLIN | POLLHUP | POLLERR)))
			return 1;
	}
}

/* Read what gatherd sent; -1 with *cause when it closed. */
static int
top_recv(struct top *t, char **cause)
{
	ssize_t	n;

	if (t->insize - t->inlen < 65536) {
		t->insize = t->insize == 0 ? 262144 : t->insize * 2;
		t->in = xrealloc(t->in, t->insize);
	}
	do {
		n = recv(t->o->fd, t->in + t->inlen, t->insize - t->inlen,
		    MSG_DONTWAIT);
	} while (n == -1 && errno == EINTR);
	if (n == -1 && errno == EAGAIN)
		return 0;
	if (n <= 0) {
		*cause = xasprintf("gatherd closed the connection%s%s",
		    n == -1 ? ": " : "", n == -1 ? strerror(errno) : "");
		return -1;
	}
	t->inlen += (size_t)n;
	return 0;
}

/*
 * Ask for the status and wait for its reply, into t->cur. 0, 1 to quit,
 * or -1 with *cause set.
 */
static int
top_fetch(struct top *t, char **cause)
{
	char		 req[64], *nl;
	json_t		*msg;
	json_error_t	 error;
	size_t		 len;
	int		 w;

	len = (size_t)snprintf(req, sizeof req, "{\"op\":\"status\","
	    "\"id\":%" JSON_INTEGER_FORMAT "}\n", ++t->next_id);
	if (send(t->o->fd, req, len, MSG_NOSIGNAL) != (ssize_t)len) {
		*cause = errno == EPIPE || errno == ECONNRESET ?
		    xstrdup("gatherd closed the connection") :
		    xasprintf("cannot send to gatherd: %s", strerror(errno));
		return -1;
	}
	for (;;) {
		if (t->inlen > 0 &&
		    (nl = memchr(t->in, '\n', t->inlen)) != NULL)
			break;
		if ((w = top_wait(t, t->o->fd, TOP_REPLY_WAIT_MS)) == -1)
			return 1;
		if (w == 2) {
			top_resized = 0;	/* the next view is drawn whole */
			continue;
		}
		if (w == 0) {
			*cause = xasprintf("no status from gatherd within %d s",
			    TOP_REPLY_WAIT_MS / 1000);
			return -1;
		}
		if (top_recv(t, cause) == -1)
			return -1;
	}
	len = (size_t)(nl - t->in);
	msg = json_loadb(t->in, len, 0, &error);
	memmove(t->in, nl + 1, t->inlen - len - 1);
	t->inlen -= len + 1;
	if (msg == NULL || !json_is_object(json_object_get(msg, "status"))) {
		*cause = msg != NULL && json_object_get(msg, "error") != NULL ?
		    xasprintf("gatherd refused the status: %s",
		    json_string_value(json_object_get(json_object_get(msg,
		    "error"), "message"))) :
		    xstrdup("a reply from gatherd that is not a status");
		json_decref(msg);
		return -1;
	}
	json_decref(t->prev);
	t->prev = t->cur;
	t->cur = json_incref(json_object_get(msg, "status"));
	json_decref(msg);
	return 0;
}

/* The number at a dotted path of v ("jobs.by_type"), or 0. */
static double
top_num(const json_t *v, const char *path)
{
	char	key[64];
	size_t	len;

	while (v != NULL && *path != '\0') {
		len = strcspn(path, ".");
		if (len >= sizeof key)
			return 0;
		memcpy(key, path, len);
		key[len] = '\0';
		v = json_object_get(v, key);
		path += len + (path[len] == '.');
	}
	return json_is_number(v) ? json_number_value(v) : 0;
}

/*
 * The rate of the counter at path in obj: its change since the status
 * before over the time between them, or for the first view the recent
 * window's count (at rpath in status.recent) over its length.
 */
static double
top_rate(const struct top *t, const json_t *obj, const json_t *pobj,
    const char *path, const json_t *robj, const char *rpath)
{
	double	dt, window;

	if (t->prev != NULL) {
		dt = top_num(t->cur, "uptime_s") - top_num(t->prev, "uptime_s");
		if (dt <= 0)
			return 0;
		return (top_num(obj, path) - top_num(pobj, path)) / dt;
	}
	window = top_num(t->cur, "recent.window_s");
	return window > 0 ? top_num(robj, rpath) / window : 0;
}

/* A rate for the screen: "412.0", or "1234567" when large. */
static const char *
top_fmt_rate(double r, char *buf, size_t size)
{
	snprintf(buf, size, r >= 100000 ? "%.0f" : "%.1f", r);
	return buf;
}

/* Draw one view on the terminal. */
static void
top_screen(struct top *t, FILE *f)
{
	const json_t	*st = t->cur, *types, *rtypes, *ptypes, *v, *dbs;
	const char	*name;
	char		 a[32], b[32], c[32], d[32], when[16], *s;
	time_t		 now = time(NULL);
	struct tm	 tm;
	double		 held, max;
	int		 any;

	localtime_r(&now, &tm);
	strftime(when, sizeof when, "%H:%M:%S", &tm);
	s = print_clean(t->o->sock, 40);
	fprintf(f, "gatherd %s on %s  pid %.0f  up %s  %s\033[K\n",
	    json_string_value(json_object_get(st, "version")) != NULL ?
	    json_string_value(json_object_get(st, "version")) : "?", s,
	    top_num(st, "pid"), print_fmt_uptime(json_object_get(st,
	    "uptime_s"), a, sizeof a), when);
	free(s);
	fprintf(f, "\033[K\n");
	fprintf(f, "%-9s %9s %10s %9s %9s %12s %9s\033[K\n", "", "PER SEC",
	    "IN FLIGHT", "WAITING", "RETRYING", "DONE", "FAILED");
	fprintf(f, "%-9s %9s %10.0f %9s %9s %12.0f %9.0f\033[K\n", "Batches",
	    top_fmt_rate(top_rate(t, st, t->prev, "batches.done",
	    json_object_get(st, "recent"), "batches.done"), a, sizeof a),
	    top_num(st, "batches.in_flight"), "", "",
	    top_num(st, "batches.done"), top_num(st, "batches.failed"));
	fprintf(f, "%-9s %9s %10.0f %9.0f %9.0f %12.0f %9.0f\033[K\n", "Jobs",
	    top_fmt_rate(top_rate(t, st, t->prev, "jobs.done",
	    json_object_get(st, "recent"), "jobs.done"), a, sizeof a),
	    top_num(st, "jobs.in_flight"), top_num(st, "jobs.waiting"),
	    top_num(st, "jobs.retrying"), top_num(st, "jobs.done"),
	    top_num(st, "jobs.failed"));
	fprintf(f, "\033[K\n");
	fprintf(f, "Pool     %.0f of %.0f threads busy, %.0f queued\033[K\n",
	    top_num(st, "pool.busy"), top_num(st, "pool.threads"),
	    top_num(st, "pool.queued"));
	held = top_num(st, "memory.held_bytes");
	max = top_num(st, "memory.max_memory_bytes");
	fprintf(f, "Memory   %s held of %s (%.1f%%)\033[K\n",
	    print_fmt_bytes(held, a, sizeof a), print_fmt_bytes(max, b,
	    sizeof b), max > 0 ? held * 100 / max : 0);
	fprintf(f, "Conns    %.0f open, %.0f accepted\033[K\n",
	    top_num(st, "connections.open"), top_num(st, "connections.total"));
	fprintf(f, "\033[K\n");

	types = json_object_get(json_object_get(st, "jobs"), "by_type");
	ptypes = json_object_get(json_object_get(t->prev, "jobs"), "by_type");
	rtypes = json_object_get(json_object_get(json_object_get(st,
	    "recent"), "jobs"), "by_type");
	fprintf(f, "%-*s %9s %9s %10s %10s %10s   (latency: last %.0f s)"
	    "\033[K\n", TOP_TYPE_WIDTH - 3, "TYPE", "JOBS/S", "FAILED/S",
	    "P50", "P99", "MAX", top_num(st, "recent.window_s"));
	json_object_foreach((json_t *)types, name, v) {
		s = print_clean(name, TOP_TYPE_WIDTH - 3);
		fprintf(f, "%-*s %9s %9s", TOP_TYPE_WIDTH - 3, s,
		    top_fmt_rate(top_rate(t, v, json_object_get(ptypes, name),
		    "done", json_object_get(rtypes, name), "done"), a,
		    sizeof a), top_fmt_rate(top_rate(t, v,
		    json_object_get(ptypes, name), "failed",
		    json_object_get(rtypes, name), "failed"), b, sizeof b));
		v = json_object_get(rtypes, name);
		if (top_num(v, "done") == 0)
			fprintf(f, " %10s %10s %10s\033[K\n", "-", "-", "-");
		else
			fprintf(f, " %10s %10s %10s\033[K\n",
			    print_fmt_ms(json_object_get(v, "ms_p50"), a,
			    sizeof a), print_fmt_ms(json_object_get(v, "ms_p99"),
			    b, sizeof b), print_fmt_ms(json_object_get(v,
			    "ms_max"), c, sizeof c));
		free(s);
	}

	dbs = json_object_get(st, "databases");
	any = 0;
	json_object_foreach((json_t *)dbs, name, v) {
		if (json_object_get(v, "open") == NULL)
			continue;
		if (!any++)
			fprintf(f, "\033[K\n%-*s %6s %10s %6s %11s\033[K\n",
			    TOP_TYPE_WIDTH, "DATABASE", "STATE", "OPEN/POOL",
			    "BUSY", "CANCELLING");
		s = print_clean(name, TOP_TYPE_WIDTH);
		snprintf(d, sizeof d, "%.0f/%.0f", top_num(v, "open"),
		    top_num(v, "pool"));
		fprintf(f, "%-*s %6s %10s %6.0f %11.0f\033[K\n",
		    TOP_TYPE_WIDTH, s, json_is_false(json_object_get(v, "up")) ?
		    "down" : "up", d, top_num(v, "busy"),
		    top_num(v, "cancelling"));
		free(s);
	}
	/* The http job type's pool, once it exists (status.http). */
	v = json_object_get(st, "http");
	fprintf(f, "\033[K\n");
	if (json_is_object(v))
		fprintf(f, "HTTP     %.0f connections, %.0f queued\033[K\n",
		    top_num(v, "connections"), top_num(v, "queued"));
	fprintf(f, "\033[K\nq or Ctrl-C quits; refreshed every %g s\033[K\n",
	    t->o->interval);
	fputs("\033[J", f);
}

/* The plain line's header. */
static void
top_header(struct top *t, FILE *f)
{
	const json_t	*types;
	const char	*name;
	json_t		*v;

	types = json_object_get(json_object_get(t->cur, "jobs"), "by_type");
	fprintf(f, "%-8s %9s %9s %6s %6s %5s %4s %5s %10s %5s", "time",
	    "batch/s", "jobs/s", "run", "wait", "retry", "busy", "queue",
	    "held", "conns");
	json_object_foreach((json_t *)types, name, v)
		fprintf(f, " %9.9s/s %9.9s_p99", name, name);
	fputc('\n', f);
}

/* One plain line: what the screen shows, in columns. */
static void
top_line(struct top *t, FILE *f)
{
	const json_t	*st = t->cur, *types, *ptypes, *rtypes;
	const char	*name;
	json_t		*v;
	char		 when[16], a[32], b[32];
	time_t		 now = time(NULL);
	struct tm	 tm;

	if (t->lines++ % TOP_HEADER_EVERY == 0)
		top_header(t, f);
	localtime_r(&now, &tm);
	strftime(when, sizeof when, "%H:%M:%S", &tm);
	fprintf(f, "%-8s %9s %9s %6.0f %6.0f %5.0f %4.0f %5.0f %10.0f %5.0f",
	    when, top_fmt_rate(top_rate(t, st, t->prev, "batches.done",
	    json_object_get(st, "recent"), "batches.done"), a, sizeof a),
	    top_fmt_rate(top_rate(t, st, t->prev, "jobs.done",
	    json_object_get(st, "recent"), "jobs.done"), b, sizeof b),
	    top_num(st, "jobs.in_flight"), top_num(st, "jobs.waiting"),
	    top_num(st, "jobs.retrying"), top_num(st, "pool.busy"),
	    top_num(st, "pool.queued"), top_num(st, "memory.held_bytes"),
	    top_num(st, "connections.open"));
	types = json_object_get(json_object_get(st, "jobs"), "by_type");
	ptypes = json_object_get(json_object_get(t->prev, "jobs"), "by_type");
	rtypes = json_object_get(json_object_get(json_object_get(st,
	    "recent"), "jobs"), "by_type");
	json_object_foreach((json_t *)types, name, v) {
		fprintf(f, " %11s", top_fmt_rate(top_rate(t, v,
		    json_object_get(ptypes, name), "done",
		    json_object_get(rtypes, name), "done"), a, sizeof a));
		fprintf(f, " %13.3f", top_num(json_object_get(rtypes, name),
		    "ms_p99"));
	}
	fputc('\n', f);
}

/* One JSON line: the rates and figures of the view, for a script. */
static void
top_json(struct top *t, FILE *f)
{
	const json_t	*st = t->cur, *types, *ptypes, *rtypes;
	const char	*name;
	json_t		*out, *by, *v;
	char		*s;

	types = json_object_get(json_object_get(st, "jobs"), "by_type");
	ptypes = json_object_get(json_object_get(t->prev, "jobs"), "by_type");
	rtypes = json_object_get(json_object_get(json_object_get(st,
	    "recent"), "jobs"), "by_type");
	by = json_object();
	json_object_foreach((json_t *)types, name, v) {
		json_object_set_new(by, name, json_pack("{s:f, s:f, s:f, s:f}",
		    "jobs_per_s", top_rate(t, v, json_object_get(ptypes, name),
		    "done", json_object_get(rtypes, name), "done"),
		    "failed_per_s", top_rate(t, v, json_object_get(ptypes,
		    name), "failed", json_object_get(rtypes, name), "failed"),
		    "ms_p50", top_num(json_object_get(rtypes, name), "ms_p50"),
		    "ms_p99", top_num(json_object_get(rtypes, name),
		    "ms_p99")));
	}
	out = json_pack("{s:f, s:f, s:f, s:f, s:f, s:f, s:f, s:f, s:f, s:f,"
	    " s:f, s:o, s:O}",
	    "uptime_s", top_num(st, "uptime_s"),
	    "batches_per_s", top_rate(t, st, t->prev, "batches.done",
		json_object_get(st, "recent"), "batches.done"),
	    "jobs_per_s", top_rate(t, st, t->prev, "jobs.done",
		json_object_get(st, "recent"), "jobs.done"),
	    "in_flight", top_num(st, "jobs.in_flight"),
	    "waiting", top_num(st, "jobs.waiting"),
	    "retrying", top_num(st, "jobs.retrying"),
	    "pool_busy", top_num(st, "pool.busy"),
	    "pool_queued", top_num(st, "pool.queued"),
	    "held_bytes", top_num(st, "memory.held_bytes"),
	    "connections", top_num(st, "connections.open"),
	    "window_s", top_num(st, "recent.window_s"),
	    "by_type", by,
	    "databases", json_object_get(st, "databases"));
	s = json_dumps(out, JSON_COMPACT | JSON_REAL_PRECISION(6));
	fprintf(f, "%s\n", s);
	free(s);
	json_decref(out);
}

/* Show the view now: the screen, a plain line or a JSON line. */
static void
top_show(struct top *t)
{
	char	*buf = NULL;
	size_t	 len = 0;
	FILE	*f;

	if ((f = open_memstream(&buf, &len)) == NULL)
		return;
	if (t->tty) {
		fputs("\033[H", f);
		top_screen(t, f);
	} else if (t->o->json)
		top_json(t, f);
	else
		top_line(t, f);
	fclose(f);
	fwrite(buf, 1, len, stdout);
	fflush(stdout);
	free(buf);
}

/* Run the view on o->fd (taken: closed at the end); the exit status. */
int
top_main(const struct top_opts *o)
{
	struct top	 t;
	char		*cause = NULL;
	uint64_t	 next;
	long		 shown = 0;
	int		 rc, status = TOP_EXIT_OK, w;

	memset(&t, 0, sizeof t);
	t.o = o;
	t.tty = isatty(STDOUT_FILENO) && isatty(STDIN_FILENO) && !o->json;
	top_signals(t.tty);
	if (t.tty)
		top_term_enter(&t);
	next = clock_ns();
	while (!top_quit) {
		if ((rc = top_fetch(&t, &cause)) == 1)
			break;
		if (rc == -1) {
			status = top_fail(&t, cause);
			break;
		}
		top_show(&t);
		if (o->count > 0 && ++shown >= o->count)
			break;
		next += (uint64_t)(o->interval * 1e9);
		/*
		 * Wait for the next view, redrawing on a resize; gatherd
		 * closing the connection meanwhile ends the view at once.
		 */
		while ((w = top_wait(&t, o->fd, top_ms_until(next))) != -1 &&
		    clock_ns() < next) {
			if (w == 1 && top_recv(&t, &cause) == -1)
				break;
			if (w == 2) {
				top_resized = 0;
				fputs("\033[2J", stdout);
				top_show(&t);
			}
		}
		if (cause != NULL) {
			status = top_fail(&t, cause);
			break;
		}
		if (w == -1)
			break;
		if (clock_ns() > next + (uint64_t)(o->interval * 1e9))
			next = clock_ns();	/* fell behind: no burst */
	}
	top_term_leave(&t);
	free(cause);
	free(t.in);
	json_decref(t.prev);
	json_decref(t.cur);
	close(o->fd);
	return status;
}
