/*
 * Jobs and JSON values written on gatherctl's command line: the job
 * shorthands of "run" and "bench --job", shared by both as Redis's
 * cli_common.c serves redis-cli and redis-benchmark.
 */
#ifndef GATHERD_CTL_JOBSPEC_H
#define GATHERD_CTL_JOBSPEC_H

#include <stdio.h>

#include <jansson.h>

/*
 * Build a job object from its shorthand (sleep:MS[:VALUE], read:PATH,
 * query[@DB]:SQL, http:[METHOD:]URL, or a JSON object); NULL with *cause
 * set when malformed.
 */
json_t	*jobspec_parse(const char *, char **);

/*
 * The jobs array of run from its words: shorthands, JSON objects, and
 * TYPE[ ... ] nesting groups and sequences ("group:any[ sleep:1 ]"), each
 * job made given to the callback with its word's index; NULL with *cause
 * set when malformed or the callback fails.
 */
json_t	*jobspec_parse_list(char **, size_t,
	    int (*)(json_t *, size_t, void *, char **), void *, char **);
/* Apply an option given after a job (-p VALUE, --offset N...) to it. */
int	 jobspec_option(json_t *, const char *, const char *, char **);

/* A JSON text of any kind, or else the text as a string; NULL if not UTF-8. */
json_t	*jobspec_value(const char *);

/* Print the shorthands on one or more lines, each starting with indent. */
void	 jobspec_help(FILE *, const char *);

#endif
