/*
 * gatherctl: the command line client of gatherd. It finds the daemon's
 * Unix socket, sends one or more request lines, and prints every reply:
 * verbatim JSON when stdout is not a terminal or with --json, readable
 * text otherwise. Exit status: 0 when every request and job succeeded, 1
 * when one failed, 2 on a usage or connection error.
 *
 * This file is main, the options and the commands. A command is a
 * function and one entry in ctl_cmds[] (name, synopsis, help, options,
 * operands), as tmux's cmd_table[]; the usage and the help are made from
 * the table. The other files of src/ctl/ each do one thing for it:
 * discover.c finds the socket, exchange.c talks to the daemon, print.c
 * prints the replies, jobspec.c reads job shorthands, bench.c is the load
 * generator behind "bench" and top.c the live view behind "top".
 *
 * Options are read in order with the operands, so that an option of a
 * job (run's -p, --offset, --length, --base64) applies to the job just
 * before it on the command line.
 */

#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "config.h"
#include "ctl/bench.h"
#include "ctl/discover.h"
#include "ctl/exchange.h"
#include "ctl/jobspec.h"
#include "ctl/print.h"
#include "ctl/top.h"
#include "xmalloc.h"

#ifndef PACKAGE_VERSION
#define PACKAGE_VERSION "0.0.0"
#endif

#define CTL_EXIT_OK		0
#define CTL_EXIT_FAILED		1
#define CTL_EXIT_ERROR		2	/* usage or connection */

#define CTL_CONTROL_WAIT_MS	30000	/* ping, status, cancel, metrics */

/* Options a command takes, as bits of ctl_cmd.opts. */
#define CTL_OPT_DETAIL		0x01
#define CTL_OPT_STREAM		0x02
#define CTL_OPT_RUN		0x04
#define CTL_OPT_CONN		0x08
#define CTL_OPT_OWN		0x10	/* the command parses its options */
#define CTL_OPT_RAW		0x20
#define CTL_OPT_TOP		0x40

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
	OPT_RETRY,
	OPT_CONFIG,
	OPT_OFFSET,
	OPT_LENGTH,
	OPT_BASE64,
	OPT_INTERVAL,
	OPT_COUNT,
};

/* An option of run that applies to the job before it (jobspec_option). */
struct ctl_jobopt {
	int		 job;		/* its index among the operands */
	const char	*name;		/* as jobspec_option knows it */
	const char	*arg;		/* borrowed from argv, or NULL */
};

struct ctl {
	const char	*sock_flag;	/* borrowed from argv: -s */
	const char	*conf_flag;	/* borrowed from argv: -c */
	struct discover	 dc;		/* the sockets to try */
	const char	*sock;		/* the one in use (dc's), once found */

	/* Command options. */
	int		 opt_json;
	int		 detail;
	int		 stream;
	int		 progress;
	int		 raw;
	const char	*mode;		/* borrowed: a mode's name */
	json_t		*timeout;	/* owned, NULL if unset */
	json_t		*job_timeout;	/* owned, NULL if unset */
	json_t		*concurrency;	/* owned, NULL if unset */
	json_t		*retry;		/* owned: a job's "retry", or NULL */
	json_t		*id;		/* owned, NULL if unset */
	json_t		*conn;		/* owned, NULL means "any" */
	double		 interval;	/* top: seconds between views */
	long		 count;		/* top: views, 0 for no end */

	char		**args;		/* owned array, borrowed strings */
	int		 nargs;
	struct ctl_jobopt *jobopts;	/* owned, njobopts of them */
	size_t		 njobopts;

	struct exchange	 ex;		/* the requests and their replies */
	struct print	 pr;		/* how replies are printed */
};

/* A command: its name, synopsis, help, options, operands and function. */
struct ctl_cmd {
	const char	*name;
	const char	*synopsis;
	const char	*help;		/* for -h; a line break indents */
	const char	*operand;	/* named when missing */
	int		 opts;		/* CTL_OPT_* */
	int		 minargs;
	int		 maxargs;	/* -1: no limit */
	int		(*exec)(struct ctl *, int, char **);
};

static int	ctl_ping(struct ctl *, int, char **);
static int	ctl_status(struct ctl *, int, char **);
static int	ctl_submit(struct ctl *, int, char **);
static int	ctl_run(struct ctl *, int, char **);
static int	ctl_cancel(struct ctl *, int, char **);
static int	ctl_metrics(struct ctl *, int, char **);
static int	ctl_top(struct ctl *, int, char **);
static int	ctl_bench(struct ctl *, int, char **);

static const struct ctl_cmd ctl_cmds[] = {
	{ .name = "ping", .synopsis = "", .exec = ctl_ping,
	  .help = "check that gatherd answers" },
	{ .name = "status", .synopsis = "[--json] [--detail]",
	  .opts = CTL_OPT_DETAIL, .exec = ctl_status,
	  .help = "counters, latencies, limits; --detail lists the\n"
	      "connections and the batches in flight" },
	{ .name = "submit", .synopsis = "[FILE|-] [--stream] [--progress] [-r]",
	  .opts = CTL_OPT_STREAM | CTL_OPT_RAW, .maxargs = 1,
	  .exec = ctl_submit,
	  .help = "send the JSON requests in FILE (default: stdin)" },
	{ .name = "run", .synopsis = "[options] JOB [job options]...",
	  .operand = "JOB", .opts = CTL_OPT_STREAM | CTL_OPT_RUN | CTL_OPT_RAW,
	  .minargs = 1, .maxargs = -1, .exec = ctl_run,
	  .help = "run one batch of jobs given on the command line" },
	{ .name = "cancel", .synopsis = "[--conn N] [ID]", .operand = "ID",
	  .opts = CTL_OPT_CONN, .maxargs = 1, .exec = ctl_cancel,
	  .help = "cancel the batches in flight with this id, on any\n"
	      "connection; --conn N: on connection N only, and\n"
	      "without ID every batch of it" },
	{ .name = "metrics", .synopsis = "", .exec = ctl_metrics,
	  .help = "the Prometheus metrics text, as it is" },
	{ .name = "top", .synopsis = "[--interval S] [--count N]",
	  .opts = CTL_OPT_TOP, .exec = ctl_top,
	  .help = "a live view, refreshed every second; q quits" },
	{ .name = "bench",
	  .synopsis = "[-c N] [-n N] [-P N] [--job JOB]... [options]",
	  .opts = CTL_OPT_OWN, .maxargs = -1, .exec = ctl_bench,
	  .help = "load generator: -c CLIENTS, -n REQUESTS, -P PIPELINE\n"
	      "(gatherctl bench -h for its options)" },
	{ .name = NULL },
};

/* Every command option, and the commands (CTL_OPT_* bits) taking it. */
static const struct {
	struct option	 lo;
	int		 opts;		/* 0: every command */
} ctl_options[] = {
	{ { "help", no_argument, NULL, 'h' }, 0 },
	{ { "json", no_argument, NULL, 'j' }, 0 },
	{ { "socket", required_argument, NULL, 's' }, 0 },
	{ { "config", required_argument, NULL, OPT_CONFIG }, 0 },
	{ { "detail", no_argument, NULL, OPT_DETAIL }, CTL_OPT_DETAIL },
	{ { "stream", no_argument, NULL, OPT_STREAM }, CTL_OPT_STREAM },
	{ { "progress", no_argument, NULL, OPT_PROGRESS }, CTL_OPT_STREAM },
	{ { "raw", no_argument, NULL, 'r' }, CTL_OPT_RAW },
	{ { "mode", required_argument, NULL, OPT_MODE }, CTL_OPT_RUN },
	{ { "fail-fast", no_argument, NULL, OPT_FAIL_FAST }, CTL_OPT_RUN },
	{ { "timeout", required_argument, NULL, OPT_TIMEOUT }, CTL_OPT_RUN },
	{ { "job-timeout", required_argument, NULL, OPT_JOB_TIMEOUT },
	    CTL_OPT_RUN },
	{ { "concurrency", required_argument, NULL, OPT_CONCURRENCY },
	    CTL_OPT_RUN },
	{ { "id", required_argument, NULL, OPT_ID }, CTL_OPT_RUN },
	{ { "retry", required_argument, NULL, OPT_RETRY }, CTL_OPT_RUN },
	{ { "param", required_argument, NULL, 'p' }, CTL_OPT_RUN },
	{ { "offset", required_argument, NULL, OPT_OFFSET }, CTL_OPT_RUN },
	{ { "length", required_argument, NULL, OPT_LENGTH }, CTL_OPT_RUN },
	{ { "base64", no_argument, NULL, OPT_BASE64 }, CTL_OPT_RUN },
	{ { "conn", required_argument, NULL, OPT_CONN }, CTL_OPT_CONN },
	{ { "interval", required_argument, NULL, OPT_INTERVAL }, CTL_OPT_TOP },
	{ { "count", required_argument, NULL, OPT_COUNT }, CTL_OPT_TOP },
};
#define CTL_NOPTIONS	(sizeof ctl_options / sizeof ctl_options[0])

/* The end of the help, after the commands and the job shorthands. */
static const char ctl_help_options[] =
    "\n"
    "Options for run:\n"
    "  --mode all|fail_fast|any|first  --fail-fast  --timeout MS\n"
    "  --job-timeout MS  --retry N[:BACKOFF_MS]  --concurrency N  --id JSON\n"
    "  --stream  --progress  -r\n"
    "  (--job-timeout and --retry: every job but groups and sequences)\n"
    "  A batch without --id gets a unique one, so that it can be cancelled.\n"
    "Options of the job before them:\n"
    "  query: -p VALUE   a parameter, in order; JSON if it parses, else text\n"
    "  read:  --offset N  --length N  --base64\n"
    "-r, --raw: print each job's value alone (a string as its text), and a\n"
    "failed job's error on stderr.\n"
    "\n"
    "Every command takes --json (print the daemon's replies verbatim, as\n"
    "when stdout is not a terminal), -s SOCKET and -c FILE (the socket of\n"
    "a gatherd configuration file). Without them gatherctl tries\n"
    "$GATHERD_SOCKET, then your default socket, then\n"
    DISCOVER_SYSTEM_SOCKET ".\n"
    "Exit status: 0 success, 1 a request or job failed, 2 usage or\n"
    "connection error.\n";

/* Print the synopsis of every command to f. */
static void
ctl_usage(FILE *f)
{
	const struct ctl_cmd	*cmd;
	const char		*lead = "usage:";

	for (cmd = ctl_cmds; cmd->name != NULL; cmd++) {
		fprintf(f, "%s gatherctl [-s SOCKET | -c FILE] %s%s%s\n", lead,
		    cmd->name, cmd->synopsis[0] != '\0' ? " " : "",
		    cmd->synopsis);
		lead = "      ";
	}
	fprintf(f, "%s gatherctl -h | --help | -V | --version\n", lead);
}

/* Print the help (-h) to stdout and exit 0. */
static void __attribute__((noreturn))
ctl_help(void)
{
	const struct ctl_cmd	*cmd;
	const char		*p;

	ctl_usage(stdout);
	printf("\nCommands:\n");
	for (cmd = ctl_cmds; cmd->name != NULL; cmd++) {
		printf("  %-16s", cmd->name);
		for (p = cmd->help; *p != '\0'; p++) {
			putchar(*p);
			if (*p == '\n')
				printf("%18s", "");
		}
		putchar('\n');
	}
	printf("\nJobs for run:\n");
	jobspec_help(stdout, "  ");
	fputs(ctl_help_options, stdout);
	exit(CTL_EXIT_OK);
}

/* Report a usage error on one line, pointing at the help, and exit 2. */
static void __attribute__((noreturn, format(printf, 1, 2)))
ctl_usage_error(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	print_usage_error("gatherctl", "gatherctl --help", fmt, ap);
	va_end(ap);
	exit(CTL_EXIT_ERROR);
}

/*
 * A usage error with a message made elsewhere: "FMT: CAUSE" on one line,
 * then exit 2. cause is freed first, so that nothing is left allocated
 * (the sanitizer build counts leaks in gatherctl too).
 */
static void __attribute__((noreturn, format(printf, 2, 3)))
ctl_usage_errorc(char *cause, const char *fmt, ...)
{
	va_list	ap;

	fputs("gatherctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, ": %s (see gatherctl --help)\n", cause);
	free(cause);
	exit(CTL_EXIT_ERROR);
}

/* An error whose message (cause) is made elsewhere: print, free, exit 2. */
static void __attribute__((noreturn))
ctl_fatalc(char *cause)
{
	fflush(stdout);
	fprintf(stderr, "gatherctl: %s\n", cause);
	free(cause);
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

/* Print a reply line for the user; the exchange's show callback. */
static void
ctl_show(void *arg, const struct exchange_request *req, const json_t *msg,
    const char *line, size_t len)
{
	struct ctl	*ctl = arg;

	ctl->pr.nreqs = ctl->ex.nreqs;
	ctl->pr.started = ctl->ex.started;
	/* Results already printed as stream events are not printed again. */
	ctl->pr.streamed = req != NULL && req->show_events &&
	    req->nevents > 0;
	print_reply(&ctl->pr, req != NULL ? req->jobs : NULL, msg, line,
	    len);
}

/* Queue a request on the exchange, or exit 2. */
static void
ctl_add(struct ctl *ctl, json_t *req, int show_events)
{
	char	*cause;

	if (exchange_add(&ctl->ex, req, show_events, &cause) != 0)
		ctl_fatalc(cause);
}

/* Connect to gatherd (discover.c), or exit 2; the descriptor. */
static int
ctl_connect(struct ctl *ctl)
{
	char	*cause;
	int	 fd;

	if (ctl->dc.n == 0 && discover_init(&ctl->dc, ctl->sock_flag,
	    ctl->conf_flag, &cause) == -1)
		ctl_fatalc(cause);
	if ((fd = discover_connect(&ctl->dc, &ctl->sock, &cause)) == -1)
		ctl_fatalc(cause);
	ctl->pr.sock = ctl->sock;
	return fd;
}

/*
 * Send what is queued and print the replies (wait_ms: see exchange_run),
 * or exit 2; the exit status.
 */
static int
ctl_exchange(struct ctl *ctl, int wait_ms)
{
	char	*cause;
	int	 fd = ctl_connect(ctl);

	if (exchange_run(&ctl->ex, fd, ctl->sock, wait_ms, &cause) != 0)
		ctl_fatalc(cause);
	return ctl->ex.failed ? CTL_EXIT_FAILED : CTL_EXIT_OK;
}

/* Send one control request (ping, status, cancel) and print its reply. */
static int
ctl_control(struct ctl *ctl, json_t *req)
{
	ctl_add(ctl, req, 0);
	json_decref(req);
	return ctl_exchange(ctl, CTL_CONTROL_WAIT_MS);
}

/* Turn on the progress bar when asked for and stdout and stderr are ttys. */
static void
ctl_progress_setup(struct ctl *ctl)
{
	ctl->ex.bar = ctl->progress && isatty(STDOUT_FILENO) &&
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

/* metrics: the Prometheus text as the daemon makes it, never as JSON. */
static int
ctl_metrics(struct ctl *ctl, int argc, char **argv)
{
	(void)argc;
	(void)argv;
	ctl->pr.json = 0;
	ctl->pr.raw = 0;
	return ctl_control(ctl, json_pack("{s:s}", "op", "metrics"));
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
	if (ferror(f)) {
		free(buf);
		ctl_fatal("%s: read error", strcmp(path, "-") == 0 ?
		    "stdin" : path);
	}
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
	if (ctl->stream || ctl->ex.bar)
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
			free(buf);
			ctl_fatal("%s:%zu:%zu: %s", name,
			    line + (size_t)error.line,
			    (error.line == 1 ? col0 : 0) +
			    (size_t)error.column, error.text);
		}
		off += (size_t)error.position;
		if (!json_is_object(req)) {
			json_decref(req);
			free(buf);
			ctl_fatal("%s: request %zu is not a JSON object",
			    name, ctl->ex.nreqs + 1);
		}
		ctl_add(ctl, req, ctl_set_stream(ctl, req));
		json_decref(req);
	}
	free(buf);
	if (ctl->ex.nreqs == 0)
		ctl_fatal("%s: no request to submit", name);
	return ctl_exchange(ctl, -1);
}

/*
 * Set --job-timeout and --retry on every job of jobs but the groups and
 * sequences, at every depth: a job's own deadline and retries are the
 * leaves', a group's timeout_ms is the batch-wide one's.
 */
static void
ctl_run_leaves(const struct ctl *ctl, json_t *jobs)
{
	json_t	*job, *inner;
	size_t	 i;

	json_array_foreach(jobs, i, job) {
		if ((inner = json_object_get(job, "jobs")) != NULL &&
		    json_is_array(inner)) {
			ctl_run_leaves(ctl, inner);
			continue;
		}
		if (ctl->job_timeout != NULL)
			json_object_set(job, "timeout_ms", ctl->job_timeout);
		if (ctl->retry != NULL)
			json_object_set(job, "retry", ctl->retry);
	}
}

/*
 * A batch id no other run will have: this host's process, the time, and
 * a random part, so that "gatherctl cancel ID" finds this batch only.
 */
static json_t *
ctl_run_id(void)
{
	struct timespec	 ts;
	unsigned	 r;
	FILE		*f;

	clock_gettime(CLOCK_REALTIME, &ts);
	r = (unsigned)ts.tv_nsec ^ (unsigned)getpid() << 16;
	if ((f = fopen("/dev/urandom", "r")) != NULL) {
		if (fread(&r, sizeof r, 1, f) != 1)
			r ^= (unsigned)ts.tv_sec;
		fclose(f);
	}
	return json_sprintf("run-%ld-%08x", (long)getpid(), r);
}

/*
 * Apply the job options given after job i (-p, --offset...): 0, or -1
 * with *cause naming the option.
 */
static int
ctl_run_jobopts(struct ctl *ctl, int i, json_t *job, char **cause)
{
	struct ctl_jobopt	*o;
	char			*why;
	size_t			 k;

	for (k = 0; k < ctl->njobopts; k++) {
		o = &ctl->jobopts[k];
		if (o->job != i)
			continue;
		if (jobspec_option(job, o->name, o->arg, &why) != 0) {
			*cause = xasprintf("%s: %s", o->name, why);
			free(why);
			return -1;
		}
	}
	return 0;
}

/* The job of run's word i is made: its options (jobspec_parse_list). */
static int
ctl_run_word(json_t *job, size_t i, void *arg, char **cause)
{
	return ctl_run_jobopts(arg, (int)i, job, cause);
}

/* run: build one batch from shorthand jobs, then behave as submit. */
static int
ctl_run(struct ctl *ctl, int argc, char **argv)
{
	json_t	*req, *jobs;
	char	*cause, *s;
	size_t	 k;

	ctl_progress_setup(ctl);
	for (k = 0; k < ctl->njobopts; k++) {
		if (strcmp(argv[ctl->jobopts[k].job], "]") == 0)
			ctl_usage_error("run: %s must follow the job it is for",
			    ctl->jobopts[k].name);
	}
	if ((jobs = jobspec_parse_list(argv, (size_t)argc, ctl_run_word, ctl,
	    &cause)) == NULL)
		ctl_usage_errorc(cause, "run");
	ctl_run_leaves(ctl, jobs);
	req = json_object();
	json_object_set_new(req, "id", ctl->id != NULL ?
	    json_incref(ctl->id) : ctl_run_id());
	if (ctl->mode != NULL)
		json_object_set_new(req, "mode", json_string(ctl->mode));
	if (ctl->timeout != NULL)
		json_object_set(req, "timeout_ms", ctl->timeout);
	if (ctl->concurrency != NULL)
		json_object_set(req, "concurrency", ctl->concurrency);
	json_object_set_new(req, "jobs", jobs);
	if (ctl->progress) {
		s = json_dumps(json_object_get(req, "id"), JSON_ENCODE_ANY);
		fprintf(stderr, "gatherctl: batch %s (gatherctl cancel %s"
		    " stops it)\n", s, s);
		free(s);
	}
	ctl_add(ctl, req, ctl_set_stream(ctl, req));
	json_decref(req);
	return ctl_exchange(ctl, -1);
}

/*
 * cancel: cancel in-flight batches by id, on any connection or on one;
 * or every batch of one connection. 1 when none matched.
 */
static int
ctl_cancel(struct ctl *ctl, int argc, char **argv)
{
	const json_t	*cancelled;
	json_t		*req, *target = NULL;
	int		 status;

	if (argc == 0 && (ctl->conn == NULL || !json_is_integer(ctl->conn)))
		ctl_usage_error("cancel: missing ID (or --conn N, to cancel"
		    " every batch of connection N)");
	if (argc > 0) {
		if ((target = jobspec_value(argv[0])) == NULL)
			ctl_usage_error("cancel: ID is not UTF-8");
		if (json_is_null(target)) {
			json_decref(target);
			ctl_usage_error("cancel: null names no batch: a batch"
			    " sent without an id (or with id null) can only be"
			    " cancelled with its connection, --conn N, which"
			    " gatherctl status --detail lists");
		}
	}
	req = json_object();
	json_object_set_new(req, "op", json_string("cancel"));
	if (target != NULL)
		json_object_set_new(req, "target", target);
	if (ctl->conn != NULL)
		json_object_set(req, "conn", ctl->conn);
	else
		json_object_set_new(req, "conn", json_string("any"));
	status = ctl_control(ctl, req);
	cancelled = json_object_get(ctl->ex.last, "cancelled");
	if (status == CTL_EXIT_OK && json_is_integer(cancelled) &&
	    json_integer_value(cancelled) == 0)
		status = CTL_EXIT_FAILED;
	return status;
}

/* top: the live view of top.c, on its own connection. */
static int
ctl_top(struct ctl *ctl, int argc, char **argv)
{
	struct top_opts	opts;

	(void)argc;
	(void)argv;
	memset(&opts, 0, sizeof opts);
	opts.fd = ctl_connect(ctl);
	opts.sock = ctl->sock;
	opts.interval = ctl->interval > 0 ? ctl->interval : 1.0;
	opts.count = ctl->count;
	opts.json = ctl->opt_json;
	return top_main(&opts);
}

/*
 * bench: the load generator of bench.c, with its own options (argv[0]
 * names the command). Its own -s, if given, wins; else it loads the
 * socket found as usual, or the first one tried, whose error bench
 * reports.
 */
static int
ctl_bench(struct ctl *ctl, int argc, char **argv)
{
	const char	*sock;
	char		*cause;
	int		 fd;

	if (discover_init(&ctl->dc, ctl->sock_flag, ctl->conf_flag,
	    &cause) == -1)
		ctl_fatalc(cause);
	if ((fd = discover_connect(&ctl->dc, &sock, &cause)) != -1)
		close(fd);
	else {
		free(cause);
		sock = ctl->dc.paths[0];
	}
	return bench_main(sock, argc, argv);
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

/* The mode --mode names (fail-fast for fail_fast too), or exit 2. */
static const char *
ctl_opt_mode(const char *arg)
{
	static const char *const modes[] = { "all", "fail_fast", "any",
	    "first" };
	size_t	i;

	if (strcmp(arg, "fail-fast") == 0)
		return "fail_fast";
	for (i = 0; i < sizeof modes / sizeof modes[0]; i++) {
		if (strcmp(arg, modes[i]) == 0)
			return modes[i];
	}
	ctl_usage_error("--mode: expected all, fail_fast, any or first, not "
	    "'%s'", arg);
}

/*
 * Parse --retry N[:BACKOFF_MS] into a job's "retry" object, or exit 2. The
 * daemon checks the ranges; this only reads the numbers.
 */
static json_t *
ctl_opt_retry(const char *arg)
{
	json_t	*retry, *n;
	char	*attempts, *colon;

	attempts = xstrdup(arg);
	if ((colon = strchr(attempts, ':')) != NULL)
		*colon = '\0';
	n = ctl_opt_number("retry", attempts, 1, 1);
	retry = json_object();
	json_object_set_new(retry, "attempts", n);
	if (colon != NULL)
		json_object_set_new(retry, "backoff_ms",
		    ctl_opt_number("retry", colon + 1, 0, 0));
	free(attempts);
	return retry;
}

/* Record a job option, for the job given last. */
static void
ctl_jobopt(struct ctl *ctl, const char *name, const char *arg)
{
	struct ctl_jobopt	*o;

	if (ctl->nargs == 0)
		ctl_usage_error("run: %s must follow the job it is for", name);
	ctl->jobopts = xreallocarray(ctl->jobopts, ctl->njobopts + 1,
	    sizeof *ctl->jobopts);
	o = &ctl->jobopts[ctl->njobopts++];
	o->job = ctl->nargs - 1;
	o->name = name;
	o->arg = arg;
}

/* Set an option's value, dropping the one an earlier use gave it. */
static void
ctl_set(json_t **slot, json_t *v)
{
	json_decref(*slot);
	*slot = v;
}

/* The options that take no value and switch an int of struct ctl on. */
static const struct {
	int	ch;
	size_t	field;
} ctl_switches[] = {
	{ 'j', offsetof(struct ctl, opt_json) },
	{ 'r', offsetof(struct ctl, raw) },
	{ OPT_DETAIL, offsetof(struct ctl, detail) },
	{ OPT_STREAM, offsetof(struct ctl, stream) },
	{ OPT_PROGRESS, offsetof(struct ctl, progress) },
};

/* The options of run that belong to the job before them, as named to it. */
static const struct {
	int		 ch;
	const char	*name;
	int		 has_arg;
} ctl_jobopts[] = {
	{ 'p', "-p", 1 },
	{ OPT_OFFSET, "--offset", 1 },
	{ OPT_LENGTH, "--length", 1 },
	{ OPT_BASE64, "--base64", 0 },
};

/* Handle one option of a command (getopt's ch and optarg). */
static void
ctl_option(struct ctl *ctl, int ch, const char *arg)
{
	json_t	*v;
	size_t	 i;

	for (i = 0; i < sizeof ctl_switches / sizeof ctl_switches[0]; i++) {
		if (ctl_switches[i].ch == ch) {
			*(int *)((char *)ctl + ctl_switches[i].field) = 1;
			return;
		}
	}
	for (i = 0; i < sizeof ctl_jobopts / sizeof ctl_jobopts[0]; i++) {
		if (ctl_jobopts[i].ch == ch) {
			ctl_jobopt(ctl, ctl_jobopts[i].name,
			    ctl_jobopts[i].has_arg ? arg : NULL);
			return;
		}
	}
	switch (ch) {
	case 'h':
		ctl_help();
	case 's':
		ctl->sock_flag = arg;
		break;
	case OPT_CONFIG:
		ctl->conf_flag = arg;
		break;
	case OPT_MODE:
		ctl->mode = ctl_opt_mode(arg);
		break;
	case OPT_RETRY:
		ctl_set(&ctl->retry, ctl_opt_retry(arg));
		break;
	case OPT_FAIL_FAST:
		ctl->mode = "fail_fast";
		break;
	case OPT_TIMEOUT:
		ctl_set(&ctl->timeout, ctl_opt_number("timeout", arg, 0, 0));
		break;
	case OPT_JOB_TIMEOUT:
		ctl_set(&ctl->job_timeout, ctl_opt_number("job-timeout", arg,
		    0, 0));
		break;
	case OPT_CONCURRENCY:
		ctl_set(&ctl->concurrency, ctl_opt_number("concurrency", arg,
		    1, 1));
		break;
	case OPT_ID:
		if ((v = jobspec_value(arg)) == NULL)
			ctl_usage_error("--id: not UTF-8");
		ctl_set(&ctl->id, v);
		break;
	case OPT_CONN:
		ctl_set(&ctl->conn, strcmp(arg, "any") == 0 ?
		    json_string("any") : ctl_opt_number("conn", arg, 1, 0));
		break;
	case OPT_INTERVAL:
		v = ctl_opt_number("interval", arg, 0, 0);
		ctl->interval = json_number_value(v);
		json_decref(v);
		if (ctl->interval < 0.1 || ctl->interval > 3600)
			ctl_usage_error("--interval: expected 0.1 to 3600"
			    " seconds, not '%s'", arg);
		break;
	case OPT_COUNT:
		v = ctl_opt_number("count", arg, 1, 1);
		ctl->count = (long)json_integer_value(v);
		json_decref(v);
		break;
	}
}

/*
 * Parse the options and operands of a command into ctl, in order (an
 * option of a job follows it); the operands go to ctl->args.
 */
static void
ctl_parse_options(struct ctl *ctl, const struct ctl_cmd *cmd, int argc,
    char **argv)
{
	struct option	 longopts[CTL_NOPTIONS + 1];
	size_t		 i, n = 0;
	int		 ch;

	ctl->args = xcalloc((size_t)argc + 1, sizeof *ctl->args);
	if (cmd->opts & CTL_OPT_OWN) {
		/* argv[0] names the command for the command's getopt. */
		for (ch = 0; ch < argc; ch++)
			ctl->args[ctl->nargs++] = argv[ch];
		return;
	}
	for (i = 0; i < CTL_NOPTIONS; i++) {
		if (ctl_options[i].opts == 0 ||
		    (ctl_options[i].opts & cmd->opts) != 0)
			longopts[n++] = ctl_options[i].lo;
	}
	memset(&longopts[n], 0, sizeof longopts[n]);

	optind = 0;	/* glibc: start over */
	opterr = 0;	/* our messages, on one line */
	while ((ch = getopt_long(argc, argv, (cmd->opts & CTL_OPT_RUN) ?
	    "-:hjs:rp:" : (cmd->opts & CTL_OPT_RAW) ? "-:hjs:r" : "-:hjs:",
	    longopts, NULL)) != -1) {
		switch (ch) {
		case 1:
			ctl->args[ctl->nargs++] = optarg;
			break;
		case ':':
			ctl_usage_error("%s: %s needs a value", cmd->name,
			    argv[optind - 1]);
		case '?':
			if (optopt != 0)
				ctl_usage_error("%s: unknown option '-%c'",
				    cmd->name, optopt);
			ctl_usage_error("%s: unknown option '%s'", cmd->name,
			    argv[optind - 1]);
		default:
			ctl_option(ctl, ch, optarg);
		}
	}
	/* After "--", the rest are operands. */
	while (optind < argc)
		ctl->args[ctl->nargs++] = argv[optind++];
	if (ctl->nargs < cmd->minargs)
		ctl_usage_error("%s: missing %s", cmd->name, cmd->operand);
	if (cmd->maxargs >= 0 && ctl->nargs > cmd->maxargs)
		ctl_usage_error("%s: unexpected argument '%s'", cmd->name,
		    ctl->args[cmd->maxargs]);
}

/* Free what a ctl owns. */
static void
ctl_free(struct ctl *ctl)
{
	exchange_free(&ctl->ex);
	discover_free(&ctl->dc);
	json_decref(ctl->timeout);
	json_decref(ctl->job_timeout);
	json_decref(ctl->concurrency);
	json_decref(ctl->retry);
	json_decref(ctl->id);
	json_decref(ctl->conn);
	free(ctl->args);
	free(ctl->jobopts);
}

/* The command called name, or exit 2 listing them. */
static const struct ctl_cmd *
ctl_find(const char *name)
{
	const struct ctl_cmd	*cmd;
	char			*list = xstrdup(""), *s;

	for (cmd = ctl_cmds; cmd->name != NULL; cmd++) {
		if (name != NULL && strcmp(name, cmd->name) == 0) {
			free(list);
			return cmd;
		}
		s = xasprintf("%s%s%s", list, *list != '\0' ? ", " : "",
		    cmd->name);
		free(list);
		list = s;
	}
	if (name == NULL)
		ctl_usage_errorc(list, "missing command, one of");
	ctl_usage_errorc(list, "unknown command '%s', not one of", name);
}

int
main(int argc, char **argv)
{
	static const struct option	 longopts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "socket", required_argument, NULL, 's' },
		{ "config", required_argument, NULL, 'c' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	const struct ctl_cmd		*cmd;
	struct ctl			 ctl;
	char				*name;
	int				 ch, status;

	memset(&ctl, 0, sizeof ctl);
	exchange_init(&ctl.ex, ctl_show, &ctl);
	opterr = 0;
	while ((ch = getopt_long(argc, argv, "+:hs:c:V", longopts,
	    NULL)) != -1) {
		switch (ch) {
		case 'h':
			ctl_help();
		case 's':
			ctl.sock_flag = optarg;
			break;
		case 'c':
			ctl.conf_flag = optarg;
			break;
		case 'V':
			printf("gatherctl %s\n", PACKAGE_VERSION);
			return CTL_EXIT_OK;
		case ':':
			ctl_usage_error("%s needs a value", argv[optind - 1]);
		default:
			if (optopt != 0)
				ctl_usage_error("unknown option '-%c'", optopt);
			ctl_usage_error("unknown option '%s'",
			    argv[optind - 1]);
		}
	}
	argc -= optind;
	argv += optind;
	cmd = ctl_find(argc > 0 ? argv[0] : NULL);

	/* getopt names argv[0] in its messages: "gatherctl run: ...". */
	name = xasprintf("gatherctl %s", cmd->name);
	argv[0] = name;
	ctl_parse_options(&ctl, cmd, argc, argv);
	ctl.pr.tty = isatty(STDOUT_FILENO);
	ctl.pr.json = ctl.opt_json || !ctl.pr.tty;
	ctl.pr.raw = ctl.raw;
	ctl.pr.detail = ctl.detail;

	status = cmd->exec(&ctl, ctl.nargs, ctl.args);
	if (fflush(stdout) == EOF || ferror(stdout)) {
		fprintf(stderr, "gatherctl: stdout: %s\n", strerror(errno));
		status = CTL_EXIT_ERROR;
	}
	ctl_free(&ctl);
	free(name);
	return status;
}
