/* What gatherctl.c shares with the rest of the client (bench.c). */
#ifndef GATHERD_GATHERCTL_H
#define GATHERD_GATHERCTL_H

#include <jansson.h>

/*
 * Build a job object from its shorthand (sleep:MS[:VALUE], read:PATH,
 * query[@DB]:SQL, or a JSON object); NULL with *cause set when malformed.
 */
json_t	*ctl_parse_job(const char *, char **);

#endif
