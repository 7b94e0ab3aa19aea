/*
 * Logging to stderr, one line per event. Levels follow syslog priorities:
 * when stderr is the journal, each line carries its priority as a "<N>"
 * prefix instead of the "TIME gatherd: level:" one.
 */
#ifndef GATHERD_LOG_H
#define GATHERD_LOG_H

#include <stdint.h>

enum log_level {
	LOG_LEVEL_ERROR = 3,
	LOG_LEVEL_WARNING = 4,
	LOG_LEVEL_INFO = 6,
	LOG_LEVEL_DEBUG = 7,
};

/* A kind of line logged at most once a second (log_limited). */
struct log_limit {
	uint64_t	last_ns;	/* when one was last written, or 0 */
	uint64_t	quiet;		/* left out since */
};

void	 log_init(void);
void	 log_set_level(enum log_level);
int	 log_enabled(enum log_level);
int	 log_level_parse(const char *, enum log_level *);
const char *log_level_name(enum log_level);
void	 log_debug(const char *, ...) __attribute__((format(printf, 1, 2)));
void	 log_info(const char *, ...) __attribute__((format(printf, 1, 2)));
void	 log_warnx(const char *, ...) __attribute__((format(printf, 1, 2)));
void	 log_warn(const char *, ...) __attribute__((format(printf, 1, 2)));
void	 log_errorx(const char *, ...) __attribute__((format(printf, 1, 2)));
int	 log_limit_skip(struct log_limit *);
void	 log_limited(struct log_limit *, const char *, ...)
	    __attribute__((format(printf, 2, 3)));
void	 fatal(const char *, ...) __attribute__((format(printf, 1, 2), noreturn));
void	 fatalx(const char *, ...) __attribute__((format(printf, 1, 2), noreturn));

#endif
