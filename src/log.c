/*
 * Log lines to stderr. log_warn and fatal append strerror(errno); the x
 * variants do not. fatal exits non-zero.
 *
 * When systemd connected stderr to the journal (JOURNAL_STREAM names the
 * device and inode of fd 2), a line is "<N>message" with N its syslog
 * priority, which journald strips and records, with its own time; the
 * unit already names the program. Otherwise it is "TIME gatherd: level:
 * message", TIME in ISO 8601 with milliseconds and the local offset
 * (2026-12-07T01:05:19.123+00:00), so a file or a terminal shows when.
 *
 * A line is formatted whole and written with one call: threads other than
 * the loop's (reload, PostgreSQL cancels) log too, and lines never mix.
 */

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>

#include "clock.h"
#include "log.h"

#define LOG_LIMIT_EVERY_NS	1000000000u	/* log_limited: a line a second */

static enum log_level log_level = LOG_LEVEL_INFO;
static int log_journal;		/* stderr is the journal's stream */

static const struct {
	const char	*name;
	enum log_level	 level;
} log_levels[] = {
	{ "error", LOG_LEVEL_ERROR },
	{ "warning", LOG_LEVEL_WARNING },
	{ "info", LOG_LEVEL_INFO },
	{ "debug", LOG_LEVEL_DEBUG },
};

/*
 * Find out whether stderr is the journal: JOURNAL_STREAM is "dev:ino" of
 * the stream systemd connected, and fd 2 must still be that stream (a
 * shell may have redirected it since). Call once, first thing in main.
 */
void
log_init(void)
{
	const char		*env = getenv("JOURNAL_STREAM");
	struct stat		 sb;
	unsigned long long	 dev, ino;
	int			 n = 0;

	log_journal = 0;
	/* Read the time zone now, not at the first line (from the loop). */
	tzset();
	if (env == NULL || sscanf(env, "%llu:%llu%n", &dev, &ino, &n) != 2 ||
	    env[n] != '\0')
		return;
	if (fstat(2, &sb) == 0 && (unsigned long long)sb.st_dev == dev &&
	    (unsigned long long)sb.st_ino == ino)
		log_journal = 1;
}

/* Set the most verbose level that is written. */
void
log_set_level(enum log_level level)
{
	log_level = level;
}

/* Whether lines of level are written. */
int
log_enabled(enum log_level level)
{
	return level <= log_level;
}

/* Parse a level name; 0 on success, -1 if the name is not a level. */
int
log_level_parse(const char *s, enum log_level *level)
{
	size_t	i;

	for (i = 0; i < sizeof log_levels / sizeof log_levels[0]; i++) {
		if (strcasecmp(s, log_levels[i].name) == 0) {
			*level = log_levels[i].level;
			return 0;
		}
	}
	return -1;
}

/* The name of a level, as the config file spells it. */
const char *
log_level_name(enum log_level level)
{
	size_t	i;

	for (i = 0; i < sizeof log_levels / sizeof log_levels[0]; i++) {
		if (log_levels[i].level == level)
			return log_levels[i].name;
	}
	return "unknown";
}

/*
 * The local time now as ISO 8601 with milliseconds and the offset from
 * UTC written out: 2026-12-07T01:05:19.123+00:00.
 */
static void
log_stamp(char *buf, size_t size)
{
	struct timespec	ts;
	struct tm	tm;
	long		off;
	size_t		n;

	clock_gettime(CLOCK_REALTIME, &ts);
	if (localtime_r(&ts.tv_sec, &tm) == NULL ||
	    (n = strftime(buf, size, "%Y-%m-%dT%H:%M:%S", &tm)) == 0) {
		snprintf(buf, size, "-");
		return;
	}
	off = tm.tm_gmtoff / 60;
	snprintf(buf + n, size - n, ".%03ld%c%02ld:%02ld",
	    (long)(ts.tv_nsec / 1000000), off < 0 ? '-' : '+',
	    (off < 0 ? -off : off) / 60, (off < 0 ? -off : off) % 60);
}

static void __attribute__((format(printf, 3, 0)))
log_vwrite(enum log_level level, int errnum, const char *fmt, va_list ap)
{
	char	msg[1024], line[1200], stamp[48];

	if (level > log_level)
		return;
	vsnprintf(msg, sizeof msg, fmt, ap);
	if (log_journal)
		snprintf(line, sizeof line, "<%d>%s%s%s\n", (int)level, msg,
		    errnum != 0 ? ": " : "", errnum != 0 ? strerror(errnum) : "");
	else {
		log_stamp(stamp, sizeof stamp);
		snprintf(line, sizeof line, "%s gatherd: %s: %s%s%s\n", stamp,
		    log_level_name(level), msg, errnum != 0 ? ": " : "",
		    errnum != 0 ? strerror(errnum) : "");
	}
	fputs(line, stderr);
}

/*
 * Whether a line of limit's kind is left out now (one was written less
 * than a second ago); it is counted if so. A caller that must build its
 * message at some cost asks first.
 */
int
log_limit_skip(struct log_limit *limit)
{
	if (limit->last_ns != 0 &&
	    clock_ns() - limit->last_ns < LOG_LIMIT_EVERY_NS) {
		limit->quiet++;
		return 1;
	}
	return 0;
}

/*
 * Log at info level through limit, at most one line a second: a client
 * that is refused a hundred thousand times must not write as many lines.
 * The next line written says how many were left out meanwhile. Loop
 * thread only.
 */
void
log_limited(struct log_limit *limit, const char *fmt, ...)
{
	va_list	 ap;
	char	*msg;
	int	 n;

	if (log_limit_skip(limit))
		return;
	va_start(ap, fmt);
	n = vasprintf(&msg, fmt, ap);
	va_end(ap);
	if (n == -1)
		return;
	if (limit->quiet > 0)
		log_info("%s (and %llu more like it in the last second)", msg,
		    (unsigned long long)limit->quiet);
	else
		log_info("%s", msg);
	free(msg);
	limit->last_ns = clock_ns();
	limit->quiet = 0;
}

#define LOG_FUNC(name, level, errnum)			\
void							\
name(const char *fmt, ...)				\
{							\
	va_list	ap;					\
	int	saved = errno;				\
							\
	va_start(ap, fmt);				\
	log_vwrite(level, errnum, fmt, ap);		\
	va_end(ap);					\
	errno = saved;					\
}

/* Debug detail: connections, peers, configuration. */
LOG_FUNC(log_debug, LOG_LEVEL_DEBUG, 0)
/* Events worth a line at the default level. */
LOG_FUNC(log_info, LOG_LEVEL_INFO, 0)
/* A problem that does not stop the daemon. */
LOG_FUNC(log_warnx, LOG_LEVEL_WARNING, 0)
/* A failed system call that does not stop the daemon. */
LOG_FUNC(log_warn, LOG_LEVEL_WARNING, saved)
/* An error without an errno. */
LOG_FUNC(log_errorx, LOG_LEVEL_ERROR, 0)

/* A failed system call the daemon cannot go on after. */
void
fatal(const char *fmt, ...)
{
	va_list	ap;
	int	saved = errno;

	va_start(ap, fmt);
	log_vwrite(LOG_LEVEL_ERROR, saved, fmt, ap);
	va_end(ap);
	exit(1);
}

/* An error the daemon cannot go on after. */
void
fatalx(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	log_vwrite(LOG_LEVEL_ERROR, 0, fmt, ap);
	va_end(ap);
	exit(1);
}
