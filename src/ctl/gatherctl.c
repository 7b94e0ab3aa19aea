/*
 * gatherctl: the command line client of gatherd. It connects to the
 * daemon's Unix socket, sends one or more request lines, and prints every
 * reply: verbatim JSON when stdout is not a terminal or with --json,
 * readable text otherwise. Exit status: 0 when every request and job
 * succeeded, 1 when one failed, 2 on a usage or connection error.
 *
 * This file is main, the options and the commands. A command is a
 * function and one entry in ctl_cmds[] (name, synopsis, help, options,
 * operands), as tmux's cmd_table[]; the usage and the help are made from
 * the table. The other files of src/ctl/ each do one thing for it:
 * exchange.c talks to the daemon, print.c prints the replies, jobspec.c
 * reads job shorthands, and bench.c is the load generator behind "bench".
 */

#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "config.h"
#include "ctl/bench.h"
#include "ctl/exchange.h"
#include "ctl/jobspec.h"
#include "ctl/print.h"
#include "xmalloc.h"

#ifndef PACKAGE_VERSION
#define PACKAGE_VERSION "0.0.0"
#endif

#define CTL_EXIT_OK		0
#define CTL_EXIT_FAILED		1
#define CTL_EXIT_ERROR		2	/* usage or connection */

#define CTL_CONTROL_WAIT_MS	30000	/* ping, status and cancel */

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
	OPT_RETRY,
};

struct ctl {
	const char	*sock_flag;	/* borrowed from argv: -s */
	char		*sock;		/* owned: the socket path in use */

	/* Command options. */
	int		 opt_json;
	int		 detail;
	int		 stream;
	int		 progress;
	const char	*mode;		/* borrowed: a mode's name */
	json_t		*timeout;	/* owned, NULL if unset */
	json_t		*job_timeout;	/* owned, NULL if unset */
	json_t		*concurrency;	/* owned, NULL if unset */
	json_t		*retry;		/* owned: a job's "retry", or NULL */
	json_t		*id;		/* owned, NULL if unset */
	json_t		*conn;		/* owned, NULL means "any" */

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
static int	ctl_bench(struct ctl *, int, char **);

static const struct ctl_cmd ctl_cmds[] = {
	{ .name = "ping", .synopsis = "", .exec = ctl_ping,
	  .help = "check that gatherd answers" },
	{ .name = "status", .synopsis = "[--json] [--detail]",
	  .opts = CTL_OPT_DETAIL, .exec = ctl_status,
	  .help = "counters, latencies, limits; --detail lists the\n"
	      "batches in flight" },
	{ .name = "submit", .synopsis = "[FILE|-] [--stream] [--progress]",
	  .opts = CTL_OPT_STREAM, .maxargs = 1, .exec = ctl_submit,
	  .help = "send the JSON requests in FILE (default: stdin)" },
	{ .name = "run", .synopsis = "[options] JOB...", .operand = "JOB",
	  .opts = CTL_OPT_STREAM | CTL_OPT_RUN, .minargs = 1, .maxargs = -1,
	  .exec = ctl_run,
	  .help = "run one batch of jobs given on the command line" },
	{ .name = "cancel", .synopsis = "[--conn N] ID", .operand = "ID",
	  .opts = CTL_OPT_CONN, .minargs = 1, .maxargs = 1,
	  .exec = ctl_cancel,
	  .help = "cancel the batches in flight with this id, on any\n"
	      "connection (--conn N: on connection N only)" },
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
	{ { "retry", required_argument, NULL, OPT_RETRY }, CTL_OPT_RUN },
	{ { "conn", required_argument, NULL, OPT_CONN }, CTL_OPT_CONN },
};
#define CTL_NOPTIONS	(sizeof ctl_options / sizeof ctl_options[0])

/* The end of the help, after the commands and the job shorthands. */
static const char ctl_help_options[] =
    "\n"
    "Options for run:\n"
    "  --mode all|fail_fast|any|first  --fail-fast  --timeout MS\n"
    "  --job-timeout MS  --retry N[:BACKOFF_MS]  --concurrency N  --id JSON\n"
    "  --stream  --progress\n"
    "  (--job-timeout and --retry: every job but groups and sequences)\n"
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

/* Print a reply line for the user; the exchange's show callback. */
static void
ctl_show(void *arg, const json_t *jobs, const json_t *msg, const char *line,
    size_t len)
{
	struct ctl	*ctl = arg;

	ctl->pr.nreqs = ctl->ex.nreqs;
	ctl->pr.started = ctl->ex.started;
	print_reply(&ctl->pr, jobs, msg, line, len);
}

/* Queue a request on the exchange, or exit 2. */
static void
ctl_add(struct ctl *ctl, json_t *req, int show_events)
{
	char	*cause;

	if (exchange_add(&ctl->ex, req, show_events, &cause) != 0)
		ctl_fatal("%s", cause);
}

/*
 * Send what is queued and print the replies (wait_ms: see exchange_run),
 * or exit 2; the exit status.
 */
static int
ctl_exchange(struct ctl *ctl, int wait_ms)
{
	char	*cause;

	if (exchange_run(&ctl->ex, ctl->sock, wait_ms, &cause) != 0)
		ctl_fatal("%s", cause);
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

/* run: build one batch from shorthand jobs, then behave as submit. */
static int
ctl_run(struct ctl *ctl, int argc, char **argv)
{
	json_t	*req, *jobs;
	char	*cause;

	ctl_progress_setup(ctl);
	if ((jobs = jobspec_parse_list(argv, (size_t)argc, &cause)) == NULL)
		ctl_usage_error("run: %s", cause);
	ctl_run_leaves(ctl, jobs);
	req = json_object();
	if (ctl->id != NULL)
		json_object_set(req, "id", ctl->id);
	if (ctl->mode != NULL)
		json_object_set_new(req, "mode", json_string(ctl->mode));
	if (ctl->timeout != NULL)
		json_object_set(req, "timeout_ms", ctl->timeout);
	if (ctl->concurrency != NULL)
		json_object_set(req, "concurrency", ctl->concurrency);
	json_object_set_new(req, "jobs", jobs);
	ctl_add(ctl, req, ctl_set_stream(ctl, req));
	json_decref(req);
	return ctl_exchange(ctl, -1);
}

/* cancel: cancel in-flight batches by id; 1 when none matched. */
static int
ctl_cancel(struct ctl *ctl, int argc, char **argv)
{
	const json_t	*cancelled;
	json_t		*req, *target;
	int		 status;

	(void)argc;
	if ((target = jobspec_value(argv[0])) == NULL)
		ctl_usage_error("cancel: ID is not UTF-8");
	req = json_object();
	json_object_set_new(req, "op", json_string("cancel"));
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
			ctl_help();
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
			ctl->mode = ctl_opt_mode(optarg);
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
		case OPT_RETRY:
			json_decref(ctl->retry);
			ctl->retry = ctl_opt_retry(optarg);
			break;
		case OPT_ID:
			json_decref(ctl->id);
			if ((ctl->id = jobspec_value(optarg)) == NULL)
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
	exchange_free(&ctl->ex);
	free(ctl->sock);
	json_decref(ctl->timeout);
	json_decref(ctl->job_timeout);
	json_decref(ctl->concurrency);
	json_decref(ctl->retry);
	json_decref(ctl->id);
	json_decref(ctl->conn);
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
	exchange_init(&ctl.ex, ctl_show, &ctl);
	while ((ch = getopt_long(argc, argv, "+hs:V", longopts, NULL)) != -1) {
		switch (ch) {
		case 'h':
			ctl_help();
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
	ctl.sock = config_socket_path(ctl.sock_flag, NULL);
	ctl.pr.json = ctl.opt_json || !isatty(STDOUT_FILENO);
	ctl.pr.detail = ctl.detail;
	ctl.pr.sock = ctl.sock;

	status = cmd->exec(&ctl, argc - first, argv + first);
	if (fflush(stdout) == EOF || ferror(stdout)) {
		fprintf(stderr, "gatherctl: stdout: %s\n", strerror(errno));
		status = CTL_EXIT_ERROR;
	}
	ctl_free(&ctl);
	free(name);
	return status;
}
