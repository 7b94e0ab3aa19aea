/*
 * The daemon's counters, as the status and metrics ops report them. Only
 * the loop thread updates them.
 *
 * Three kinds of figure: gauges (what is in flight now), lifetime
 * counters and histograms (since start-up, for Prometheus, which makes
 * rates of them itself), and a recent window (the last 10 to 20 seconds,
 * for people: a percentile over the lifetime mixes every workload ever
 * run). The window is two slots of STATUS_SLOT_NS: the current one and
 * the one before; a slot older than both is cleared as time passes.
 */
#ifndef GATHERD_STATUS_H
#define GATHERD_STATUS_H

#include <stdint.h>

#include <jansson.h>

#include "error.h"
#include "hist.h"

struct config;

#define STATUS_MAX_TYPES	8
#define STATUS_OUTCOMES		4	/* enum job_outcome */
#define STATUS_SLOT_NS		(UINT64_C(10) * 1000000000u)

/*
 * The upper bounds of the Prometheus histograms' buckets, in
 * microseconds (a job's running time): status_le_us[], STATUS_LE of them.
 */
#define STATUS_LE		19
extern const uint64_t status_le_us[STATUS_LE];

/* Why a connection was turned away, or closed by the daemon. */
enum status_refusal {
	STATUS_REFUSED_MAX_CONNECTIONS,
	STATUS_REFUSED_PER_UID,		/* max_connections_per_uid */
	STATUS_REFUSED_FORBIDDEN,	/* not in allow_uids/allow_groups */
	STATUS_CLOSED_MAX_BYTES,	/* max_connection_bytes: closed */
	STATUS_REFUSALS
};

struct type_stats {
	uint64_t	done;
	uint64_t	failed;		/* finished without success */
	uint64_t	outcomes[STATUS_OUTCOMES];	/* by enum job_outcome */
	uint64_t	le[STATUS_LE];	/* ran, within each bound */
	uint64_t	sum_us;		/* their running time, in all */
	struct hist	hist;		/* running time of jobs that started */
};

/* One slot of the recent window. */
struct status_slot {
	uint64_t	start_ns;
	uint64_t	batches_done;
	uint64_t	batches_failed;
	struct {
		uint64_t	done;
		uint64_t	failed;
		struct hist	hist;
	} types[STATUS_MAX_TYPES];
};

struct status {
	uint64_t	start_ns;
	uint64_t	conns_open;
	uint64_t	conns_total;
	uint64_t	refused[STATUS_REFUSALS];
	uint64_t	batches_in_flight;
	uint64_t	batches_done;
	uint64_t	batches_failed;
	uint64_t	jobs_running;
	uint64_t	jobs_waiting;
	uint64_t	jobs_retrying;	/* between tries (no retry yet: 0) */
	uint64_t	jobs_done;
	uint64_t	jobs_failed;	/* finished without success */
	uint64_t	jobs_timed_out;
	uint64_t	jobs_cancelled;
	uint64_t	errors[ERR_INTERNAL + 1];	/* error replies, by code */
	struct type_stats types[STATUS_MAX_TYPES];
	struct status_slot slots[2];	/* the recent window */
	unsigned	cur;		/* the current slot */
};

extern struct status status;

void	 status_init(void);
void	 status_job_done(size_t, int, int, double);
void	 status_batch_done(int);
json_t	*status_json(const struct config *);

#endif
