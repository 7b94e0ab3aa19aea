/*
 * The daemon's counters, as the status op reports them. Only the loop
 * thread updates them.
 */
#ifndef GATHERD_STATUS_H
#define GATHERD_STATUS_H

#include <stdint.h>

#include <jansson.h>

#include "hist.h"

struct config;

#define STATUS_MAX_TYPES	8

struct type_stats {
	uint64_t	done;
	uint64_t	failed;
	struct hist	hist;		/* running time of jobs that started */
};

struct status {
	uint64_t	start_ns;
	uint64_t	conns_open;
	uint64_t	conns_total;
	uint64_t	batches_in_flight;
	uint64_t	batches_done;
	uint64_t	batches_failed;
	uint64_t	jobs_running;
	uint64_t	jobs_waiting;
	uint64_t	jobs_retrying;	/* between tries */
	uint64_t	jobs_done;
	uint64_t	jobs_failed;
	struct type_stats types[STATUS_MAX_TYPES];
};

extern struct status status;

void	 status_init(void);
json_t	*status_json(const struct config *);

#endif
