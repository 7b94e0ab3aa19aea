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
 * query[@DB]:SQL, or a JSON object); NULL with *cause set when malformed.
 */
json_t	*jobspec_parse(const char *, char **);

/*
 * The jobs array of run from its words: shorthands, JSON objects, and
 * TYPE[ ... ] nesting groups and sequences ("group:any[ sleep:1 ]"); NULL
 * with *cause set when malformed.
 */
json_t	*jobspec_parse_list(char **, size_t, char **);

/* A JSON text of any kind, or else the text as a string; NULL if not UTF-8. */
json_t	*jobspec_value(const char *);

/* Print the shorthands on one or more lines, each starting with indent. */
void	 jobspec_help(FILE *, const char *);

#endif
