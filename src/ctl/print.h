/*
 * gatherctl's printer: the daemon's replies as they are (--json, or when
 * stdout is not a terminal) or as text for people.
 */
#ifndef GATHERD_CTL_PRINT_H
#define GATHERD_CTL_PRINT_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

/* How replies are printed, and what the human form mentions. */
struct print {
	int		 json;		/* print replies verbatim */
	int		 raw;		/* -r: job values only */
	int		 tty;		/* stdout is a terminal */
	int		 streamed;	/* this reply's results were shown */
	int		 detail;	/* status: the batches in flight */
	const char	*sock;		/* borrowed: named by status */
	size_t		 nreqs;		/* requests sent: name ids if > 1 */
	uint64_t	 started;	/* clock_ns() at sending: ping's time */
};

/*
 * Copy text from the daemon for a terminal: control characters become
 * '?', and more than max bytes (0: no limit) are cut and end with an
 * ellipsis. The copy is newly allocated.
 */
char	*print_clean(const char *, size_t);

/* Formats for people: a latency in ms, bytes, an uptime in seconds. */
const char *print_fmt_ms(const json_t *, char *, size_t);
const char *print_fmt_bytes(double, char *, size_t);
const char *print_fmt_uptime(const json_t *, char *, size_t);

/*
 * Write a usage error to stderr on one line: "WHO: ", the message fmt
 * formats with ap, and " (see HELP)": the whole usage would bury the one
 * thing that is wrong.
 */
void	 print_usage_error(const char *who, const char *help, const char *fmt,
	    va_list ap) __attribute__((format(printf, 3, 0)));

/* Write a terminal's control sequence to fp and flush it out at once. */
void	 print_control(FILE *, const char *);

/*
 * Print one reply line (its text, and parsed) and flush it out; jobs are
 * those of the batch it answers (NULL when unknown), which tell a group's
 * results from a value.
 */
void	 print_reply(const struct print *, const json_t *, const json_t *,
	    const char *, size_t);

#endif
