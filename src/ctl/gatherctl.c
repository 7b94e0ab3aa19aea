/*
 * gatherctl: the command line client of gatherd. It connects to the
 * daemon's Unix socket, sends one or more request lines, and prints every
 * reply: verbatim JSON when stdout is not a terminal or with --json,
 * readable text otherwise. Exit status: 0 when every request and job
 * succeeded, 1 when one failed, 2 on a usage or connection error.
 *
 * The I/O is plain and blocking, with poll() only so that request lines
 * are still being sent while replies are read: a long submit cannot
 * deadlock against the daemon's output high-water mark. Replies are
 * matched to requests by id; a reply is final when it has no "event".
 * The bench command, a load generator on libevent, is in bench.c.
 */

#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>

#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "clock.h"
#include "config.h"
#include "ctl/bench.h"
#include "ctl/gatherctl.h"
#include "xmalloc.h"

#ifndef PACKAGE_VERSION
#define PACKAGE_VERSION "0.0.0"
#endif

#define CTL_EXIT_OK		0
#define CTL_EXIT_FAILED		1
#define CTL_EXIT_ERROR		2	/* usage or connection */

#define CTL_CONTROL_WAIT_MS	30000	/* ping, status and cancel */
#define CTL_VALUE_MAX		100	/* bytes of a value shown as text */
#define CTL_BAR_WIDTH		20
#define CTL_BAR_EVERY_NS	50000000u

/* Options a command takes, as bits of ctl_cmd.opts. */
#define CTL_OPT_DETAIL		0x01
#define CTL_OPT_STREAM		0x02
#define CTL_OPT_RUN		0x04
#define CTL_OPT_CONN		0x08
#define CTL_OPT_OWN		0x10	/* the command parses its options */

enum {
	OPT_DETAIL = 256,
	OPT_STREAM,
	OPT_PROGRESS,
	OPT_MODE,
	OPT_FAIL_FAST,
	OPT_TIMEOUT,
	OPT_JOB_TIMEOUT,
	OPT_CONCURRENCY,
	OPT_ID,
	OPT_CONN,
};

/* A request sent on the connection, until its final reply comes. */
struct ctl_request {
	json_t		*id;		/* owned: its id, JSON null if absent */
	size_t		 njobs;		/* jobs of a batch, 0 for other ops */
	size_t		 nevents;	/* stream events received */
	int		 show_events;	/* the user asked for stream events */
	int		 done;		/* its final reply has come */
};

struct ctl {
	const char	*sock_flag;	/* borrowed from argv: -s */
	char		*sock;		/* owned: the socket path in use */
	int		 json;		/* print replies verbatim */

	/* Command options. */
	int		 opt_json;
	int		 detail;
	int		 stream;
	int		 progress;
	const char	*mode;		/* borrowed: "all" or "fail_fast" */
	json_t		*timeout;	/* owned, NULL if unset */
	json_t		*job_timeout;	/* owned, NULL if unset */
	json_t		*concurrency;	/* owned, NULL if unset */
	json_t		*id;		/* owned, NULL if unset */
	json_t		*conn;		/* owned, NULL means "any" */

	/* The exchange with the daemon. */
	int		 fd;
	char		*out;		/* owned: request lines to send */
	size_t		 outlen;
	size_t		 outsize;
	size_t		 outoff;
	int		 send_errno;	/* why sending stopped early, or 0 */
	char		*in;		/* owned: received, not yet a line */
	size_t		 inlen;
	size_t		 insize;
	struct ctl_request *reqs;	/* owned, nreqs entries */
	size_t		 nreqs;
	size_t		 reqsize;
	size_t		 first;		/* reqs before this one are done */
	size_t		 nleft;		/* requests without a final reply */
	uint64_t	 started;	/* clock_ns() when sending began */
	int		 status;	/* exit status so far */
	json_t		*last;		/* owned: the last final reply */

	/* The progress bar on stderr. */
	int		 bar;
	int		 bar_shown;
	size_t		 bar_total;
	size_t		 bar_done;
	uint64_t	 bar_drawn;
};

/* A command: its name, synopsis, options, operand count and function. */
struct ctl_cmd {
	const char	*name;
	const char	*synopsis;
	const char	*operand;	/* named when missing */
	int		 opts;
	int		 minargs;
	int		 maxargs;	/* -1: no limit */
	int		(*exec)(struct ctl *, int, char **);
};

static int	ctl_ping(struct ctl *, int, char **);
static int	ctl_status(struct ctl *, int, char **);
static int	ctl_submit(struct ctl *, int, char **);
static int	ctl_run(struct ctl *, int, char **);
static int	ctl_cancel(struct ctl *, int, char **);
static int	ctl_bench(struct ctl *, int, char **);

static const struct ctl_cmd ctl_cmds[] = {
	{ "ping", "", NULL, 0, 0, 0, ctl_ping },
	{ "status", "[--json] [--detail]", NULL, CTL_OPT_DETAIL, 0, 0,
	    ctl_status },
	{ "submit", "[FILE|-] [--stream] [--progress]", NULL, CTL_OPT_STREAM,
	    0, 1, ctl_submit },
	{ "run", "[options] JOB...", "JOB", CTL_OPT_STREAM | CTL_OPT_RUN, 1,
	    -1, ctl_run },
	{ "cancel", "[--conn N] ID", "ID", CTL_OPT_CONN, 1, 1, ctl_cancel },
	{ "bench", "[-c N] [-n N] [-P N] [--job JOB]... [options]", NULL,
	    CTL_OPT_OWN, 0, -1, ctl_bench },
	{ NULL, NULL, NULL, 0, 0, 0, NULL },
};

/* Every command option, and the commands (CTL_OPT_* bits) taking it. */
static const struct {
	struct option	 lo;
	int		 opts;		/* 0: every command */
} ctl_options[] = {
	{ { "help", no_argument, NULL, 'h' }, 0 },
	{ { "json", no_argument, NULL, 'j' }, 0 },
	{ { "socket", required_argument, NULL, 's' }, 0 },
	{ { "detail", no_argument, NULL, OPT_DETAIL }, CTL_OPT_DETAIL },
	{ { "stream", no_argument, NULL, OPT_STREAM }, CTL_OPT_STREAM },
	{ { "progress", no_argument, NULL, OPT_PROGRESS }, CTL_OPT_STREAM },
	{ { "mode", required_argument, NULL, OPT_MODE }, CTL_OPT_RUN },
	{ { "fail-fast", no_argument, NULL, OPT_FAIL_FAST }, CTL_OPT_RUN },
	{ { "timeout", required_argument, NULL, OPT_TIMEOUT }, CTL_OPT_RUN },
	{ { "job-timeout", required_argument, NULL, OPT_JOB_TIMEOUT },
	    CTL_OPT_RUN },
	{ { "concurrency", required_argument, NULL, OPT_CONCURRENCY },
	    CTL_OPT_RUN },
	{ { "id", required_argument, NULL, OPT_ID }, CTL_OPT_RUN },
	{ { "conn", required_argument, NULL, OPT_CONN }, CTL_OPT_CONN },
};
#define CTL_NOPTIONS	(sizeof ctl_options / sizeof ctl_options[0])

static const char ctl_help[] =
    "\n"
    "Commands:\n"
    "  ping            check that gatherd answers\n"
    "  status          counters, latencies, limits; --detail lists the\n"
    "                  batches in flight\n"
    "  submit          send the JSON requests in FILE (default: stdin)\n"
    "  run             run one batch of jobs given on the command line\n"
    "  cancel          cancel the batches in flight with this id, on any\n"
    "                  connection (--conn N: on connection N only)\n"
    "  bench           load generator: -c CLIENTS, -n REQUESTS, -P PIPELINE\n"
    "                  (gatherctl bench -h for its options)\n"
    "\n"
    "Jobs for run:\n"
    "  sleep:MS[:VALUE]   read:PATH   query[@DB]:SQL   or a JSON job object\n"
    "\n"
    "Options for run:\n"
    "  --mode all|fail_fast  --fail-fast  --timeout MS  --job-timeout MS\n"
    "  --concurrency N  --id JSON  --stream  --progress\n"
    "\n"
    "Every command takes --json (print the daemon's replies verbatim, as\n"
    "when stdout is not a terminal) and -s SOCKET.\n"
    "Exit status: 0 success, 1 a request or job failed, 2 usage or\n"
    "connection error.\n";

/* Print the synopsis of every command to f. */
static void
ctl_usage(FILE *f)
{
	const struct ctl_cmd	*cmd;
	const char		*lead = "usage:";

	for (cmd = ctl_cmds; cmd->name != NULL; cmd++) {
		fprintf(f, "%s gatherctl [-s SOCKET] %s%s%s\n", lead,
		    cmd->name, cmd->synopsis[0] != '\0' ? " " : "",
		    cmd->synopsis);
		lead = "      ";
	}
	fprintf(f, "%s gatherctl -h | --help | -V | --version\n", lead);
}

/* Report a usage error with the synopsis and exit 2. */
static void __attribute__((noreturn, format(printf, 1, 2)))
ctl_usage_error(const char *fmt, ...)
{
	va_list	ap;

	if (fmt != NULL) {
		fputs("gatherctl: ", stderr);
		va_start(ap, fmt);
		vfprintf(stderr, fmt, ap);
		va_end(ap);
		fputc('\n', stderr);
	}
	ctl_usage(stderr);
	exit(CTL_EXIT_ERROR);
}

/* Report an error that ends the program (connection, input) and exit 2. */
static void __attribute__((noreturn, format(printf, 1, 2)))
ctl_fatal(const char *fmt, ...)
{
	va_list	ap;

	fflush(stdout);
	fputs("gatherctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(CTL_EXIT_ERROR);
}

/*
 * Copy text from the daemon for a terminal: control characters (C0, DEL
 * and C1) become '?', and more than max bytes are cut at a character
 * boundary and end with an ellipsis. max 0 means no limit.
 */
static char *
ctl_clean(const char *s, size_t max)
{
	const unsigned char	*p = (const unsigned char *)s;
	size_t			 len, i, n;
	char			*out;

	len = strlen(s);
	if (max != 0 && len > max) {
		len = max;
		while (len > 0 && (p[len] & 0xc0) == 0x80)
			len--;
	}
	out = xmalloc(len + sizeof "\xe2\x80\xa6");
	for (i = n = 0; i < len; i++) {
		if (p[i] < 0x20 || p[i] == 0x7f)
			out[n++] = '?';
		else if (p[i] == 0xc2 && i + 1 < len &&
		    p[i + 1] >= 0x80 && p[i + 1] < 0xa0) {
			out[n++] = '?';
			i++;
		} else
			out[n++] = (char)p[i];
	}
	out[n] = '\0';
	if (len < strlen(s))
		strcpy(out + n, "\xe2\x80\xa6");
	return out;
}

/* Compact JSON of v for a terminal, cut after max bytes; "" for NULL. */
static char *
ctl_json_text(const json_t *v, size_t max)
{
	char	*s, *out;

	if (v == NULL)
		return xstrdup("");
	if ((s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY)) == NULL)
		return xstrdup("?");
	out = ctl_clean(s, max);
	free(s);
	return out;
}

/* Format a JSON scalar of the daemon's into buf; "-" when it is missing. */
static const char *
ctl_fmt(const json_t *v, char *buf, size_t size)
{
	char	*s;
	double	 d;

	if (json_is_integer(v))
		snprintf(buf, size, "%" JSON_INTEGER_FORMAT,
		    json_integer_value(v));
	else if (json_is_real(v)) {
		d = json_real_value(v);
		if (d > -1e15 && d < 1e15 && d == (double)(long long)d)
			snprintf(buf, size, "%.0f", d);
		else
			snprintf(buf, size, "%.1f", d);
	} else if (v == NULL || json_is_null(v))
		snprintf(buf, size, "-");
	else {
		if (json_is_string(v))
			s = ctl_clean(json_string_value(v), size > 4 ?
			    size - 4 : 1);
		else
			s = ctl_json_text(v, size > 4 ? size - 4 : 1);
		snprintf(buf, size, "%s", s);
		free(s);
	}
	return buf;
}

/* Format a latency into buf: "0.05 ms", "1001.3 ms". */
static const char *
ctl_fmt_ms(const json_t *v, char *buf, size_t size)
{
	if (!json_is_number(v))
		snprintf(buf, size, "-");
	else if (json_number_value(v) < 10.0)
		snprintf(buf, size, "%.2f ms", json_number_value(v));
	else
		snprintf(buf, size, "%.1f ms", json_number_value(v));
	return buf;
}

/* Format an age in milliseconds into buf: "123.4 ms", "12.3 s", "3m 2s". */
static const char *
ctl_fmt_age(const json_t *v, char *buf, size_t size)
{
	double	 ms;

	if (!json_is_number(v))
		snprintf(buf, size, "-");
	else if ((ms = json_number_value(v)) < 1000.0)
		snprintf(buf, size, "%.1f ms", ms);
	else if (ms < 60000.0)
		snprintf(buf, size, "%.1f s", ms / 1000.0);
	else
		snprintf(buf, size, "%lldm %llds", (long long)(ms / 60000.0),
		    (long long)(ms / 1000.0) % 60);
	return buf;
}

/* Format an uptime in seconds into buf: "3h 2m 5s". */
static const char *
ctl_fmt_uptime(const json_t *v, char *buf, size_t size)
{
	long long	 s, d, h, m;

	if (!json_is_number(v) || json_number_value(v) < 0) {
		snprintf(buf, size, "-");
		return buf;
	}
	s = (long long)json_number_value(v);
	d = s / 86400;
	h = s / 3600 % 24;
	m = s / 60 % 60;
	s %= 60;
	if (d > 0)
		snprintf(buf, size, "%lldd %lldh %lldm %llds", d, h, m, s);
	else if (h > 0)
		snprintf(buf, size, "%lldh %lldm %llds", h, m, s);
	else if (m > 0)
		snprintf(buf, size, "%lldm %llds", m, s);
	else
		snprintf(buf, size, "%llds", s);
	return buf;
}

/* Draw the progress bar, at most every 50 ms unless forced. */
static void
ctl_bar_draw(struct ctl *ctl, int force)
{
	static const char	 hashes[CTL_BAR_WIDTH + 1] =
	    "####################";
	uint64_t		 now = clock_ns();
	size_t			 fill = 0;

	if (!ctl->bar || ctl->nleft == 0)
		return;
	if (!force && ctl->bar_shown && now - ctl->bar_drawn < CTL_BAR_EVERY_NS)
		return;
	if (ctl->bar_total > 0)
		fill = ctl->bar_done * CTL_BAR_WIDTH / ctl->bar_total;
	if (fill > CTL_BAR_WIDTH)
		fill = CTL_BAR_WIDTH;
	fprintf(stderr, "\r[%.*s%*s] %zu/%zu jobs  %.1f s\033[K", (int)fill,
	    hashes, (int)(CTL_BAR_WIDTH - fill), "", ctl->bar_done,
	    ctl->bar_total, clock_ms(ctl->started, now) / 1000.0);
	fflush(stderr);
	ctl->bar_shown = 1;
	ctl->bar_drawn = now;
}

/* Erase the progress bar before other output. */
static void
ctl_bar_clear(struct ctl *ctl)
{
	if (!ctl->bar_shown)
		return;
	fputs("\r\033[K", stderr);
	fflush(stderr);
	ctl->bar_shown = 0;
}

/* Print one job result: "  [0] ok        1000.4 ms  "Hello 1!"". */
static void
ctl_print_result(const char *indent, json_int_t index, int width,
    const json_t *result)
{
	const json_t	*ms, *error;
	const char	*code;
	char		*what, *text, msbuf[32];

	ms = json_object_get(result, "ms");
	if (json_is_number(ms))
		snprintf(msbuf, sizeof msbuf, "%.1f", json_number_value(ms));
	else
		snprintf(msbuf, sizeof msbuf, "-");
	if (json_is_true(json_object_get(result, "ok"))) {
		what = xstrdup("ok");
		text = ctl_json_text(json_object_get(result, "value"),
		    CTL_VALUE_MAX);
	} else {
		error = json_object_get(result, "error");
		code = json_string_value(json_object_get(error, "code"));
		what = ctl_clean(code != NULL ? code : "failed", 32);
		code = json_string_value(json_object_get(error, "message"));
		text = ctl_clean(code != NULL ? code : "", 0);
	}
	printf("%s[%*" JSON_INTEGER_FORMAT "] %-9s %6s ms  %s\n", indent,
	    width, index, what, msbuf, text);
	free(what);
	free(text);
}

/* The number in obj[key] if there is one, else fallback. */
static double
ctl_number_or(const json_t *obj, const char *key, double fallback)
{
	const json_t	*v = json_object_get(obj, key);

	return json_is_number(v) ? json_number_value(v) : fallback;
}

/* Print a final batch reply: a header line, then one line per result. */
static void
ctl_print_batch(const json_t *reply)
{
	const json_t	*results, *stats, *r, *id;
	const char	*code;
	double		 ok = 0, failed = 0, cancelled = 0, timed_out = 0;
	double		 sum = 0;
	size_t		 i, n;
	int		 width;
	char		*idtext, elapsed[32];

	results = json_object_get(reply, "results");
	stats = json_object_get(reply, "stats");
	n = json_array_size(results);
	json_array_foreach(results, i, r) {
		code = json_string_value(json_object_get(json_object_get(r,
		    "error"), "code"));
		if (json_is_true(json_object_get(r, "ok")))
			ok++;
		else if (code != NULL && strcmp(code, "cancelled") == 0)
			cancelled++;
		else if (code != NULL && strcmp(code, "timeout") == 0)
			timed_out++;
		else
			failed++;
		sum += ctl_number_or(r, "ms", 0);
	}

	id = json_object_get(reply, "id");
	idtext = id == NULL || json_is_null(id) ? xstrdup("") :
	    ctl_json_text(id, 40);
	snprintf(elapsed, sizeof elapsed, "%.1f ms",
	    ctl_number_or(reply, "elapsed_ms", 0));
	printf("batch%s%s: %s, %.0f job%s in %s (%.0f ok, %.0f failed, "
	    "%.0f cancelled, %.0f timed out; sum %.1f ms)\n",
	    idtext[0] != '\0' ? " " : "", idtext,
	    json_is_true(json_object_get(reply, "ok")) ? "ok" : "failed",
	    ctl_number_or(stats, "jobs", (double)n),
	    ctl_number_or(stats, "jobs", (double)n) == 1 ? "" : "s",
	    json_is_number(json_object_get(reply, "elapsed_ms")) ?
	    elapsed : "-",
	    ctl_number_or(stats, "ok", ok),
	    ctl_number_or(stats, "failed", failed),
	    ctl_number_or(stats, "cancelled", cancelled),
	    ctl_number_or(stats, "timed_out", timed_out),
	    ctl_number_or(stats, "sum_ms", sum));
	free(idtext);

	for (width = 1, n = n > 0 ? n - 1 : 0; n >= 10; n /= 10)
		width++;
	json_array_foreach(results, i, r)
		ctl_print_result("  ", (json_int_t)i, width, r);
}

/* Print the status object as labelled lines and tables. */
static void
ctl_print_status(struct ctl *ctl, const json_t *st)
{
	static const char *const units[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	const json_t	*c, *b, *j, *p, *types, *limits, *list, *v, *e;
	const char	*key;
	char		 a[64], x[64], y[64], z[64], *name, *s;
	size_t		 w, i;
	double		 bytes;

	if (!json_is_object(st)) {
		s = ctl_json_text(st, 0);
		printf("status: %s\n", s);
		free(s);
		return;
	}
	c = json_object_get(st, "connections");
	b = json_object_get(st, "batches");
	j = json_object_get(st, "jobs");
	p = json_object_get(st, "pool");
	s = ctl_clean(ctl->sock, 0);
	printf("gatherd %s at %s\n", ctl_fmt(json_object_get(st, "version"),
	    a, sizeof a), s);
	free(s);
	printf("  %-13s%s\n", "PID:", ctl_fmt(json_object_get(st, "pid"),
	    a, sizeof a));
	printf("  %-13s%s\n", "Uptime:",
	    ctl_fmt_uptime(json_object_get(st, "uptime_s"), a, sizeof a));
	printf("  %-13s%s open, %s total\n", "Connections:",
	    ctl_fmt(json_object_get(c, "open"), a, sizeof a),
	    ctl_fmt(json_object_get(c, "total"), x, sizeof x));
	printf("  %-13s%s in flight, %s done, %s failed\n", "Batches:",
	    ctl_fmt(json_object_get(b, "in_flight"), a, sizeof a),
	    ctl_fmt(json_object_get(b, "done"), x, sizeof x),
	    ctl_fmt(json_object_get(b, "failed"), y, sizeof y));
	printf("  %-13s%s running, %s waiting, %s done, %s failed\n", "Jobs:",
	    ctl_fmt(json_object_get(j, "in_flight"), a, sizeof a),
	    ctl_fmt(json_object_get(j, "waiting"), x, sizeof x),
	    ctl_fmt(json_object_get(j, "done"), y, sizeof y),
	    ctl_fmt(json_object_get(j, "failed"), z, sizeof z));
	printf("  %-13s%s threads, %s busy, %s queued\n", "Pool:",
	    ctl_fmt(json_object_get(p, "threads"), a, sizeof a),
	    ctl_fmt(json_object_get(p, "busy"), x, sizeof x),
	    ctl_fmt(json_object_get(p, "queued"), y, sizeof y));

	types = json_object_get(j, "by_type");
	if (json_object_size(types) > 0) {
		w = 4;
		json_object_foreach((json_t *)types, key, v) {
			if (strlen(key) > w)
				w = strlen(key) > 24 ? 24 : strlen(key);
		}
		printf("\nJobs by type:\n  %-*s %8s %8s %10s %10s %10s\n",
		    (int)w, "TYPE", "DONE", "FAILED", "P50", "P99", "MAX");
		json_object_foreach((json_t *)types, key, v) {
			name = ctl_clean(key, 24);
			printf("  %-*s", (int)w, name);
			printf(" %8s", ctl_fmt(json_object_get(v, "done"),
			    a, sizeof a));
			printf(" %8s", ctl_fmt(json_object_get(v, "failed"),
			    a, sizeof a));
			printf(" %10s", ctl_fmt_ms(json_object_get(v,
			    "ms_p50"), a, sizeof a));
			printf(" %10s", ctl_fmt_ms(json_object_get(v,
			    "ms_p99"), a, sizeof a));
			printf(" %10s\n", ctl_fmt_ms(json_object_get(v,
			    "ms_max"), a, sizeof a));
			free(name);
		}
	}

	limits = json_object_get(st, "limits");
	if (json_object_size(limits) > 0) {
		w = 0;
		json_object_foreach((json_t *)limits, key, v) {
			if (strlen(key) > w)
				w = strlen(key) > 32 ? 32 : strlen(key);
		}
		printf("\nLimits:\n");
		json_object_foreach((json_t *)limits, key, v) {
			name = ctl_clean(key, 32);
			printf("  %-*s  %s", (int)w, name,
			    ctl_fmt(v, a, sizeof a));
			bytes = json_is_number(v) ? json_number_value(v) : 0;
			if (strlen(key) > 6 &&
			    strcmp(key + strlen(key) - 6, "_bytes") == 0 &&
			    bytes >= 1024) {
				for (i = 0; bytes >= 1024 && i < 4; i++)
					bytes /= 1024;
				printf(" (%.*f %s)",
				    bytes == (double)(long long)bytes ? 0 : 1,
				    bytes, units[i]);
			}
			putchar('\n');
			free(name);
		}
	}

	if (!ctl->detail)
		return;
	list = json_object_get(b, "list");
	if (!json_is_array(list))
		printf("\nBatches in flight: not reported\n");
	else if (json_array_size(list) == 0)
		printf("\nBatches in flight: none\n");
	else {
		printf("\nBatches in flight:\n  %6s  %-20s %8s %8s %10s\n",
		    "CONN", "ID", "JOBS", "DONE", "AGE");
		json_array_foreach(list, i, e) {
			s = ctl_json_text(json_object_get(e, "id"), 17);
			printf("  %6s  %-20s", ctl_fmt(json_object_get(e,
			    "conn"), a, sizeof a), s);
			printf(" %8s", ctl_fmt(json_object_get(e, "jobs"),
			    a, sizeof a));
			printf(" %8s", ctl_fmt(json_object_get(e, "done"),
			    a, sizeof a));
			printf(" %10s\n", ctl_fmt_age(json_object_get(e,
			    "age_ms"), a, sizeof a));
			free(s);
		}
	}
}

/* Print a final reply for a terminal, by its shape. */
static void
ctl_print_final(struct ctl *ctl, const json_t *reply)
{
	const json_t	*error;
	const char	*text;
	char		*code, *msg, *id, *s, a[64], x[64];

	error = json_object_get(reply, "error");
	if (json_object_get(reply, "results") != NULL)
		ctl_print_batch(reply);
	else if (error != NULL) {
		text = json_string_value(json_object_get(error, "code"));
		code = ctl_clean(text != NULL ? text : "unknown", 32);
		text = json_string_value(json_object_get(error, "message"));
		msg = ctl_clean(text != NULL ? text : "", 0);
		fflush(stdout);
		if (ctl->nreqs > 1 &&
		    !json_is_null(json_object_get(reply, "id"))) {
			id = ctl_json_text(json_object_get(reply, "id"), 40);
			fprintf(stderr, "error: %s: %s (id %s)\n", code, msg,
			    id);
			free(id);
		} else
			fprintf(stderr, "error: %s: %s\n", code, msg);
		free(code);
		free(msg);
	} else if (json_object_get(reply, "pong") != NULL) {
		printf("PONG from gatherd %s (protocol %s) in %.3f ms\n",
		    ctl_fmt(json_object_get(reply, "version"), a, sizeof a),
		    ctl_fmt(json_object_get(reply, "protocol"), x, sizeof x),
		    clock_ms(ctl->started, clock_ns()));
	} else if (json_object_get(reply, "status") != NULL)
		ctl_print_status(ctl, json_object_get(reply, "status"));
	else if (json_object_get(reply, "cancelled") != NULL) {
		printf("cancelled %s batch(es)\n",
		    ctl_fmt(json_object_get(reply, "cancelled"), a, sizeof a));
	} else {
		s = ctl_json_text(reply, 0);
		printf("%s\n", s);
		free(s);
	}
	fflush(stdout);
}

/*
 * The request a reply answers: the oldest without a final reply whose id
 * is equal. A final reply with no such id (a too_large or bad_json reply
 * carries a null id) is taken to answer the oldest request left.
 */
static struct ctl_request *
ctl_match(struct ctl *ctl, const json_t *id, int final)
{
	size_t	i;

	while (ctl->first < ctl->nreqs && ctl->reqs[ctl->first].done)
		ctl->first++;
	if (id == NULL)
		id = json_null();
	for (i = ctl->first; i < ctl->nreqs; i++) {
		if (!ctl->reqs[i].done && json_equal(ctl->reqs[i].id,
		    (json_t *)id))
			return &ctl->reqs[i];
	}
	if (!final || ctl->first == ctl->nreqs)
		return NULL;
	return &ctl->reqs[ctl->first];
}

/* Handle one reply line from the daemon. */
static void
ctl_line(struct ctl *ctl, const char *line, size_t len)
{
	struct ctl_request	*req;
	json_t			*msg, *result;
	json_error_t		 error;
	char			*s;
	int			 show;

	while (len > 0 && (line[len - 1] == '\r' || line[len - 1] == ' ' ||
	    line[len - 1] == '\t'))
		len--;
	if (len == 0)
		return;
	msg = json_loadb(line, len, 0, &error);
	if (msg == NULL || !json_is_object(msg)) {
		ctl_bar_clear(ctl);
		s = xstrndup(line, len);
		ctl_fatal("bad reply from gatherd: %s", ctl_clean(s, 200));
	}

	if (json_object_get(msg, "event") != NULL) {
		req = ctl_match(ctl, json_object_get(msg, "id"), 0);
		show = req == NULL || req->show_events;
		if (req != NULL && req->nevents < req->njobs) {
			req->nevents++;
			ctl->bar_done++;
		}
		if (show) {
			ctl_bar_clear(ctl);
			result = json_object_get(msg, "result");
			if (ctl->json) {
				fwrite(line, 1, len, stdout);
				putchar('\n');
			} else if (result != NULL && json_is_integer(
			    json_object_get(msg, "index"))) {
				s = ctl->nreqs > 1 ? ctl_json_text(
				    json_object_get(msg, "id"), 40) : NULL;
				if (s != NULL)
					printf("batch %s ", s);
				free(s);
				ctl_print_result("", json_integer_value(
				    json_object_get(msg, "index")), 0, result);
			} else {
				s = ctl_json_text(msg, 0);
				printf("%s\n", s);
				free(s);
			}
			fflush(stdout);
		}
		ctl_bar_draw(ctl, show);
		json_decref(msg);
		return;
	}

	if ((req = ctl_match(ctl, json_object_get(msg, "id"), 1)) != NULL) {
		req->done = 1;
		ctl->nleft--;
		ctl->bar_done += req->njobs - req->nevents;
	}
	if (!json_is_true(json_object_get(msg, "ok")) &&
	    ctl->status < CTL_EXIT_FAILED)
		ctl->status = CTL_EXIT_FAILED;
	ctl_bar_clear(ctl);
	if (ctl->json) {
		fwrite(line, 1, len, stdout);
		putchar('\n');
		fflush(stdout);
	} else
		ctl_print_final(ctl, msg);
	ctl_bar_draw(ctl, 1);
	json_decref(ctl->last);
	ctl->last = msg;
}

/* Queue one request line to send, and remember what answers it. */
static void
ctl_add_request(struct ctl *ctl, json_t *req, int show_events)
{
	struct ctl_request	*r;
	const json_t		*op;
	char			*line;
	size_t			 len;

	if ((line = json_dumps(req, JSON_COMPACT)) == NULL)
		ctl_fatal("cannot encode request %zu", ctl->nreqs + 1);
	len = strlen(line);
	if (ctl->outsize - ctl->outlen < len + 1) {
		while (ctl->outsize - ctl->outlen < len + 1)
			ctl->outsize = ctl->outsize == 0 ? 65536 :
			    ctl->outsize * 2;
		ctl->out = xrealloc(ctl->out, ctl->outsize);
	}
	memcpy(ctl->out + ctl->outlen, line, len);
	ctl->out[ctl->outlen + len] = '\n';
	ctl->outlen += len + 1;
	free(line);

	if (ctl->nreqs == ctl->reqsize) {
		ctl->reqsize = ctl->reqsize == 0 ? 16 : ctl->reqsize * 2;
		ctl->reqs = xreallocarray(ctl->reqs, ctl->reqsize,
		    sizeof *ctl->reqs);
	}
	r = &ctl->reqs[ctl->nreqs++];
	memset(r, 0, sizeof *r);
	r->id = json_object_get(req, "id");
	r->id = json_incref(r->id != NULL ? r->id : json_null());
	op = json_object_get(req, "op");
	if (op == NULL || json_is_null(op) ||
	    (json_is_string(op) && strcmp(json_string_value(op), "batch") == 0))
		r->njobs = json_array_size(json_object_get(req, "jobs"));
	r->show_events = show_events;
	ctl->bar_total += r->njobs;
	ctl->nleft++;
}

/* Connect to the daemon's socket, or exit 2 saying it is not there. */
static void
ctl_connect(struct ctl *ctl)
{
	struct sockaddr_un	sun;
	struct timeval		tv = { CTL_CONTROL_WAIT_MS / 1000, 0 };

	memset(&sun, 0, sizeof sun);
	sun.sun_family = AF_UNIX;
	if (strlen(ctl->sock) >= sizeof sun.sun_path)
		ctl_fatal("socket path too long: %s", ctl->sock);
	strcpy(sun.sun_path, ctl->sock);
	if ((ctl->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		ctl_fatal("socket: %s", strerror(errno));
	/*
	 * A Unix connect waits while the listen queue is full, for at most
	 * SO_SNDTIMEO: a wedged daemon must not hang us there. Sends use
	 * MSG_DONTWAIT, so the timeout matters for nothing else. No signal
	 * handler is installed, so EINTR cannot interrupt the connect.
	 */
	setsockopt(ctl->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
	if (connect(ctl->fd, (struct sockaddr *)&sun, sizeof sun) == -1) {
		if (errno == EAGAIN || errno == EINPROGRESS)
			ctl_fatal("gatherd at %s accepts no connection "
			    "(listen queue full for %d s)", ctl->sock,
			    CTL_CONTROL_WAIT_MS / 1000);
		ctl_fatal("cannot connect to gatherd at %s: %s "
		    "(is gatherd running?)", ctl->sock, strerror(errno));
	}
}

/* The daemon closed the connection: fatal if replies are still missing. */
static void
ctl_closed(struct ctl *ctl, int errnum)
{
	if (ctl->nleft == 0)
		return;
	ctl_bar_clear(ctl);
	if (errnum == 0)
		errnum = ctl->send_errno;
	ctl_fatal("gatherd closed the connection before replying "
	    "(%zu of %zu repl%s missing)%s%s", ctl->nleft, ctl->nreqs,
	    ctl->nreqs == 1 ? "y" : "ies", errnum != 0 ? ": " : "",
	    errnum != 0 ? strerror(errnum) : "");
}

/* Send what the socket takes of the request lines. */
static void
ctl_send(struct ctl *ctl)
{
	ssize_t	n;

	n = send(ctl->fd, ctl->out + ctl->outoff, ctl->outlen - ctl->outoff,
	    MSG_DONTWAIT | MSG_NOSIGNAL);
	if (n == -1) {
		if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)
			return;
		/*
		 * The daemon may have answered before it closed (a busy line
		 * when over max_connections): read that before reporting.
		 */
		ctl->send_errno = errno;
		ctl->outoff = ctl->outlen;
		return;
	}
	ctl->outoff += (size_t)n;
	if (ctl->outoff == ctl->outlen)
		shutdown(ctl->fd, SHUT_WR);
}

/* Read what the daemon sent and handle every complete line. */
static void
ctl_recv(struct ctl *ctl)
{
	ssize_t	 n;
	size_t	 start, i;
	char	*nl;

	if (ctl->insize - ctl->inlen < 4096) {
		ctl->insize = ctl->insize == 0 ? 65536 : ctl->insize * 2;
		ctl->in = xrealloc(ctl->in, ctl->insize);
	}
	n = recv(ctl->fd, ctl->in + ctl->inlen, ctl->insize - ctl->inlen,
	    MSG_DONTWAIT);
	if (n == -1 && (errno == EINTR || errno == EAGAIN ||
	    errno == EWOULDBLOCK))
		return;
	if (n <= 0) {
		/* A last line without its newline is still a reply. */
		if (ctl->inlen > 0) {
			ctl_line(ctl, ctl->in, ctl->inlen);
			ctl->inlen = 0;
		}
		ctl_closed(ctl, n == -1 ? errno : 0);
		return;
	}

	i = ctl->inlen;
	ctl->inlen += (size_t)n;
	start = 0;
	while ((nl = memchr(ctl->in + i, '\n', ctl->inlen - i)) != NULL) {
		i = (size_t)(nl - ctl->in);
		ctl_line(ctl, ctl->in + start, i - start);
		start = ++i;
	}
	memmove(ctl->in, ctl->in + start, ctl->inlen - start);
	ctl->inlen -= start;
}

/*
 * Send every queued request and read until each has its final reply.
 * wait_ms bounds the whole exchange (-1: no bound, a batch has its own
 * timeout_ms).
 */
static void
ctl_exchange(struct ctl *ctl, int wait_ms)
{
	struct pollfd	 pfd;
	uint64_t	 now, left, deadline = 0;
	int		 n, timeout;

	ctl_connect(ctl);
	ctl->started = clock_ns();
	if (wait_ms >= 0)
		deadline = ctl->started + (uint64_t)wait_ms * 1000000u;
	ctl_bar_draw(ctl, 1);
	while (ctl->nleft > 0) {
		pfd.fd = ctl->fd;
		pfd.events = POLLIN;
		if (ctl->outoff < ctl->outlen)
			pfd.events |= POLLOUT;
		pfd.revents = 0;
		timeout = ctl->bar ? 250 : -1;
		if (deadline != 0) {
			if ((now = clock_ns()) >= deadline) {
				ctl_bar_clear(ctl);
				ctl_fatal("no reply from gatherd at %s within "
				    "%d s", ctl->sock, wait_ms / 1000);
			}
			left = (deadline - now) / 1000000u + 1;
			if (timeout == -1 || left < (uint64_t)timeout)
				timeout = (int)left;
		}
		if ((n = poll(&pfd, 1, timeout)) == -1) {
			if (errno == EINTR)
				continue;
			ctl_fatal("poll: %s", strerror(errno));
		}
		if (n == 0) {
			ctl_bar_draw(ctl, 1);
			continue;
		}
		if (pfd.revents & POLLOUT)
			ctl_send(ctl);
		if (pfd.revents & (POLLIN | POLLHUP | POLLERR | POLLNVAL))
			ctl_recv(ctl);
	}
	ctl_bar_clear(ctl);
	close(ctl->fd);
	ctl->fd = -1;
}

/* Send one control request (ping, status, cancel) and print its reply. */
static int
ctl_control(struct ctl *ctl, json_t *req)
{
	ctl_add_request(ctl, req, 0);
	json_decref(req);
	ctl_exchange(ctl, CTL_CONTROL_WAIT_MS);
	return ctl->status;
}

/* Parse a JSON text of any kind, or take the text as a string. */
static json_t *
ctl_parse_any(const char *s)
{
	json_t	*v;

	if ((v = json_loads(s, JSON_DECODE_ANY, NULL)) != NULL)
		return v;
	return json_string(s);	/* NULL if s is not UTF-8 */
}

/* Parse a non-negative JSON number (ms, timeout_ms), or NULL. */
static json_t *
ctl_parse_ms(const char *s)
{
	json_t	*v;

	if ((v = json_loads(s, JSON_DECODE_ANY, NULL)) == NULL)
		return NULL;
	if (!json_is_number(v) || json_number_value(v) < 0) {
		json_decref(v);
		return NULL;
	}
	return v;
}

/*
 * Build a job object from its shorthand: sleep:MS[:VALUE], read:PATH,
 * query[@DB]:SQL, or a JSON object. NULL with *cause set when malformed.
 */
json_t *
ctl_parse_job(const char *arg, char **cause)
{
	json_t		*job, *v;
	json_error_t	 error;
	const char	*colon, *rest, *sep;
	char		*type, *ms;

	if (arg[0] == '{') {
		if ((job = json_loads(arg, 0, &error)) == NULL) {
			*cause = xasprintf("bad JSON: %s", error.text);
			return NULL;
		}
		return job;
	}
	if ((colon = strchr(arg, ':')) == NULL) {
		*cause = xstrdup("expected TYPE:ARGUMENTS");
		return NULL;
	}
	type = xstrndup(arg, (size_t)(colon - arg));
	rest = colon + 1;
	job = json_object();
	if (strcmp(type, "sleep") == 0) {
		sep = strchr(rest, ':');
		ms = sep != NULL ? xstrndup(rest, (size_t)(sep - rest)) :
		    xstrdup(rest);
		v = ctl_parse_ms(ms);
		if (v == NULL)
			*cause = xasprintf("sleep: '%s' is not a non-negative "
			    "number of milliseconds", ms);
		free(ms);
		if (v == NULL)
			goto fail;
		json_object_set_new(job, "type", json_string("sleep"));
		json_object_set_new(job, "ms", v);
		if (sep != NULL) {
			if ((v = ctl_parse_any(sep + 1)) == NULL) {
				*cause = xstrdup("sleep: value is not UTF-8");
				goto fail;
			}
			json_object_set_new(job, "value", v);
		}
	} else if (strcmp(type, "read") == 0) {
		if (*rest == '\0' || (v = json_string(rest)) == NULL) {
			*cause = xstrdup("read: expected a UTF-8 PATH");
			goto fail;
		}
		json_object_set_new(job, "type", json_string("read"));
		json_object_set_new(job, "path", v);
	} else if (strcmp(type, "query") == 0 ||
	    strncmp(type, "query@", 6) == 0) {
		if (type[5] == '@' && type[6] == '\0') {
			*cause = xstrdup("query@DB: empty database name");
			goto fail;
		}
		if (*rest == '\0' || (v = json_string(rest)) == NULL) {
			*cause = xstrdup("query: expected UTF-8 SQL");
			goto fail;
		}
		json_object_set_new(job, "type", json_string("query"));
		if (type[5] == '@') {
			json_object_set_new(job, "db", json_string(type + 6));
			if (json_object_get(job, "db") == NULL) {
				json_decref(v);
				*cause = xstrdup("query@DB: DB is not UTF-8");
				goto fail;
			}
		}
		json_object_set_new(job, "sql", v);
	} else {
		*cause = xasprintf("unknown job type '%s' (expected "
		    "sleep:MS[:VALUE], read:PATH, query[@DB]:SQL or a JSON "
		    "object)", type);
		goto fail;
	}
	free(type);
	return job;

fail:
	free(type);
	json_decref(job);
	return NULL;
}

/* Turn on the progress bar when asked for and stdout and stderr are ttys. */
static void
ctl_progress_setup(struct ctl *ctl)
{
	ctl->bar = ctl->progress && isatty(STDOUT_FILENO) &&
	    isatty(STDERR_FILENO);
}

/* ping: check that the daemon answers, and how fast. */
static int
ctl_ping(struct ctl *ctl, int argc, char **argv)
{
	(void)argc;
	(void)argv;
	return ctl_control(ctl, json_pack("{s:s}", "op", "ping"));
}

/* status: the daemon's counters, latencies and limits. */
static int
ctl_status(struct ctl *ctl, int argc, char **argv)
{
	json_t	*req;

	(void)argc;
	(void)argv;
	req = json_pack("{s:s}", "op", "status");
	if (ctl->detail)
		json_object_set_new(req, "detail", json_true());
	return ctl_control(ctl, req);
}

/* Read a whole file, or stdin for "-"; exits 2 when it cannot. */
static char *
ctl_read_file(const char *path, size_t *lenp)
{
	FILE	*f;
	char	*buf = NULL;
	size_t	 len = 0, size = 0, n;

	if (strcmp(path, "-") == 0)
		f = stdin;
	else if ((f = fopen(path, "r")) == NULL)
		ctl_fatal("%s: %s", path, strerror(errno));
	for (;;) {
		if (size - len < 65536) {
			size = size == 0 ? 65536 : size * 2;
			buf = xrealloc(buf, size);
		}
		n = fread(buf + len, 1, size - len, f);
		len += n;
		if (n == 0)
			break;
	}
	if (ferror(f))
		ctl_fatal("%s: read error", strcmp(path, "-") == 0 ?
		    "stdin" : path);
	if (f != stdin)
		fclose(f);
	*lenp = len;
	return buf;
}

/* Set "stream" on a batch request when asked; 1 if it streams for the user. */
static int
ctl_set_stream(struct ctl *ctl, json_t *req)
{
	const json_t	*op = json_object_get(req, "op");
	int		 show;

	if (op != NULL && !json_is_null(op) && !(json_is_string(op) &&
	    strcmp(json_string_value(op), "batch") == 0))
		return 0;
	show = ctl->stream || json_is_true(json_object_get(req, "stream"));
	if (ctl->stream || ctl->bar)
		json_object_set_new(req, "stream", json_true());
	return show;
}

/* submit: send every request of a file (or stdin) and print the replies. */
static int
ctl_submit(struct ctl *ctl, int argc, char **argv)
{
	const char	*path = argc > 0 ? argv[0] : "-";
	const char	*name = strcmp(path, "-") == 0 ? "stdin" : path;
	json_t		*req;
	json_error_t	 error;
	char		*buf;
	size_t		 len, off = 0, i, line, col0;

	ctl_progress_setup(ctl);
	buf = ctl_read_file(path, &len);
	if (len >= 3 && memcmp(buf, "\xef\xbb\xbf", 3) == 0)
		off = 3;	/* a UTF-8 byte order mark */
	for (;;) {
		while (off < len && (buf[off] == ' ' || buf[off] == '\t' ||
		    buf[off] == '\n' || buf[off] == '\r'))
			off++;
		if (off == len)
			break;
		req = json_loadb(buf + off, len - off, JSON_DISABLE_EOF_CHECK,
		    &error);
		if (req == NULL) {
			line = 0;
			col0 = 0;
			for (i = 0; i < off; i++) {
				if (buf[i] == '\n') {
					line++;
					col0 = 0;
				} else
					col0++;
			}
			ctl_fatal("%s:%zu:%zu: %s", name,
			    line + (size_t)error.line,
			    (error.line == 1 ? col0 : 0) +
			    (size_t)error.column, error.text);
		}
		off += (size_t)error.position;
		if (!json_is_object(req))
			ctl_fatal("%s: request %zu is not a JSON object",
			    name, ctl->nreqs + 1);
		ctl_add_request(ctl, req, ctl_set_stream(ctl, req));
		json_decref(req);
	}
	free(buf);
	if (ctl->nreqs == 0)
		ctl_fatal("%s: no request to submit", name);
	ctl_exchange(ctl, -1);
	return ctl->status;
}

/* run: build one batch from shorthand jobs, then behave as submit. */
static int
ctl_run(struct ctl *ctl, int argc, char **argv)
{
	json_t	*req, *jobs, *job;
	char	*cause;
	int	 i;

	ctl_progress_setup(ctl);
	req = json_object();
	if (ctl->id != NULL)
		json_object_set(req, "id", ctl->id);
	if (ctl->mode != NULL)
		json_object_set_new(req, "mode", json_string(ctl->mode));
	if (ctl->timeout != NULL)
		json_object_set(req, "timeout_ms", ctl->timeout);
	if (ctl->concurrency != NULL)
		json_object_set(req, "concurrency", ctl->concurrency);
	jobs = json_array();
	for (i = 0; i < argc; i++) {
		if ((job = ctl_parse_job(argv[i], &cause)) == NULL)
			ctl_usage_error("run: bad job '%s': %s", argv[i],
			    cause);
		if (ctl->job_timeout != NULL)
			json_object_set(job, "timeout_ms", ctl->job_timeout);
		json_array_append_new(jobs, job);
	}
	json_object_set_new(req, "jobs", jobs);
	ctl_add_request(ctl, req, ctl_set_stream(ctl, req));
	json_decref(req);
	ctl_exchange(ctl, -1);
	return ctl->status;
}

/* cancel: cancel in-flight batches by id; 1 when none matched. */
static int
ctl_cancel(struct ctl *ctl, int argc, char **argv)
{
	json_t	*req, *target;

	(void)argc;
	if ((target = ctl_parse_any(argv[0])) == NULL)
		ctl_usage_error("cancel: ID is not UTF-8");
	req = json_object();
	json_object_set_new(req, "op", json_string("cancel"));
	json_object_set_new(req, "target", target);
	if (ctl->conn != NULL)
		json_object_set(req, "conn", ctl->conn);
	else
		json_object_set_new(req, "conn", json_string("any"));
	ctl_control(ctl, req);
	if (ctl->status == CTL_EXIT_OK && json_is_integer(json_object_get(
	    ctl->last, "cancelled")) && json_integer_value(json_object_get(
	    ctl->last, "cancelled")) == 0)
		ctl->status = CTL_EXIT_FAILED;
	return ctl->status;
}

/* bench: the load generator of bench.c, with its own options. */
static int
ctl_bench(struct ctl *ctl, int argc, char **argv)
{
	return bench_main(ctl->sock, argc, argv);
}

/* Parse an option's number (JSON), or exit 2 naming the option. */
static json_t *
ctl_opt_number(const char *name, const char *arg, int integer, double min)
{
	json_t	*v;

	v = json_loads(arg, JSON_DECODE_ANY, NULL);
	if (v == NULL || !(integer ? json_is_integer(v) : json_is_number(v)) ||
	    json_number_value(v) < min) {
		json_decref(v);
		ctl_usage_error("--%s: '%s' is not %s >= %.0f", name, arg,
		    integer ? "an integer" : "a number", min);
	}
	return v;
}

/* Parse the options of a command into ctl; returns the first operand. */
static int
ctl_parse_options(struct ctl *ctl, const struct ctl_cmd *cmd, int argc,
    char **argv)
{
	struct option	 longopts[CTL_NOPTIONS + 1];
	size_t		 i, n = 0;
	int		 ch;

	if (cmd->opts & CTL_OPT_OWN)
		return 0;	/* argv[0] names the command for getopt */
	for (i = 0; i < CTL_NOPTIONS; i++) {
		if (ctl_options[i].opts == 0 ||
		    (ctl_options[i].opts & cmd->opts) != 0)
			longopts[n++] = ctl_options[i].lo;
	}
	memset(&longopts[n], 0, sizeof longopts[n]);

	optind = 0;	/* glibc: start over, and permute operands */
	while ((ch = getopt_long(argc, argv, "hjs:", longopts, NULL)) != -1) {
		switch (ch) {
		case 'h':
			ctl_usage(stdout);
			fputs(ctl_help, stdout);
			exit(CTL_EXIT_OK);
		case 'j':
			ctl->opt_json = 1;
			break;
		case 's':
			ctl->sock_flag = optarg;
			break;
		case OPT_DETAIL:
			ctl->detail = 1;
			break;
		case OPT_STREAM:
			ctl->stream = 1;
			break;
		case OPT_PROGRESS:
			ctl->progress = 1;
			break;
		case OPT_MODE:
			if (strcmp(optarg, "all") == 0)
				ctl->mode = "all";
			else if (strcmp(optarg, "fail_fast") == 0 ||
			    strcmp(optarg, "fail-fast") == 0)
				ctl->mode = "fail_fast";
			else
				ctl_usage_error("--mode: expected all or "
				    "fail_fast, not '%s'", optarg);
			break;
		case OPT_FAIL_FAST:
			ctl->mode = "fail_fast";
			break;
		case OPT_TIMEOUT:
			json_decref(ctl->timeout);
			ctl->timeout = ctl_opt_number("timeout", optarg, 0, 0);
			break;
		case OPT_JOB_TIMEOUT:
			json_decref(ctl->job_timeout);
			ctl->job_timeout = ctl_opt_number("job-timeout", optarg,
			    0, 0);
			break;
		case OPT_CONCURRENCY:
			json_decref(ctl->concurrency);
			ctl->concurrency = ctl_opt_number("concurrency", optarg,
			    1, 1);
			break;
		case OPT_ID:
			json_decref(ctl->id);
			if ((ctl->id = ctl_parse_any(optarg)) == NULL)
				ctl_usage_error("--id: not UTF-8");
			break;
		case OPT_CONN:
			json_decref(ctl->conn);
			if (strcmp(optarg, "any") == 0)
				ctl->conn = json_string("any");
			else
				ctl->conn = ctl_opt_number("conn", optarg, 1,
				    0);
			break;
		default:
			ctl_usage_error(NULL);
		}
	}
	if (argc - optind < cmd->minargs)
		ctl_usage_error("%s: missing %s", cmd->name, cmd->operand);
	if (cmd->maxargs >= 0 && argc - optind > cmd->maxargs)
		ctl_usage_error("%s: unexpected argument '%s'", cmd->name,
		    argv[optind + cmd->maxargs]);
	return optind;
}

/* Free what a ctl owns. */
static void
ctl_free(struct ctl *ctl)
{
	size_t	i;

	for (i = 0; i < ctl->nreqs; i++)
		json_decref(ctl->reqs[i].id);
	free(ctl->reqs);
	free(ctl->out);
	free(ctl->in);
	free(ctl->sock);
	json_decref(ctl->timeout);
	json_decref(ctl->job_timeout);
	json_decref(ctl->concurrency);
	json_decref(ctl->id);
	json_decref(ctl->conn);
	json_decref(ctl->last);
}

int
main(int argc, char **argv)
{
	static const struct option	 longopts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "socket", required_argument, NULL, 's' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	const struct ctl_cmd		*cmd;
	struct ctl			 ctl;
	char				*name;
	int				 ch, first, status;

	memset(&ctl, 0, sizeof ctl);
	ctl.fd = -1;
	while ((ch = getopt_long(argc, argv, "+hs:V", longopts, NULL)) != -1) {
		switch (ch) {
		case 'h':
			ctl_usage(stdout);
			fputs(ctl_help, stdout);
			return CTL_EXIT_OK;
		case 's':
			ctl.sock_flag = optarg;
			break;
		case 'V':
			printf("gatherctl %s\n", PACKAGE_VERSION);
			return CTL_EXIT_OK;
		default:
			ctl_usage_error(NULL);
		}
	}
	argc -= optind;
	argv += optind;
	if (argc == 0)
		ctl_usage_error("missing command");
	for (cmd = ctl_cmds; cmd->name != NULL; cmd++) {
		if (strcmp(argv[0], cmd->name) == 0)
			break;
	}
	if (cmd->name == NULL)
		ctl_usage_error("unknown command '%s'", argv[0]);

	/* getopt names argv[0] in its messages: "gatherctl run: ...". */
	name = xasprintf("gatherctl %s", cmd->name);
	argv[0] = name;
	first = ctl_parse_options(&ctl, cmd, argc, argv);
	ctl.json = ctl.opt_json || !isatty(STDOUT_FILENO);
	ctl.sock = config_socket_path(ctl.sock_flag, NULL);

	status = cmd->exec(&ctl, argc - first, argv + first);
	if (fflush(stdout) == EOF || ferror(stdout)) {
		fprintf(stderr, "gatherctl: stdout: %s\n", strerror(errno));
		status = CTL_EXIT_ERROR;
	}
	ctl_free(&ctl);
	free(name);
	return status;
}
