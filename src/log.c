/*
 * Log lines to stderr. log_warn and fatal append strerror(errno); the x
 * variants do not. fatal exits non-zero.
 *
 * When systemd connected stderr to the journal (JOURNAL_STREAM names the
 * device and inode of fd 2), a line is "<N>message" with N its syslog
 * priority, which journald strips and records; the unit already names the
 * program. Otherwise it is "gatherd: level: message".
 */

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "log.h"

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

static void __attribute__((format(printf, 3, 0)))
log_vwrite(enum log_level level, int errnum, const char *fmt, va_list ap)
{
	char	line[1024];

	if (level > log_level)
		return;
	vsnprintf(line, sizeof line, fmt, ap);
	if (log_journal && errnum != 0)
		fprintf(stderr, "<%d>%s: %s\n", (int)level, line,
		    strerror(errnum));
	else if (log_journal)
		fprintf(stderr, "<%d>%s\n", (int)level, line);
	else if (errnum != 0)
		fprintf(stderr, "gatherd: %s: %s: %s\n", log_level_name(level),
		    line, strerror(errnum));
	else
		fprintf(stderr, "gatherd: %s: %s\n", log_level_name(level), line);
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
