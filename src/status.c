/*
 * Counters and latency histograms, and the status op's JSON. The batch
 * list of status detail is the server's (it owns the connections), each
 * entry as the batch describes itself (batch_status).
 */

#include <string.h>
#include <unistd.h>

#include "budget.h"
#include "clock.h"
#include "config.h"
#include "job.h"
#include "pool.h"
#include "status.h"

#ifndef PACKAGE_VERSION
#define PACKAGE_VERSION "0.0.0"
#endif

struct status status;

/* Reset the counters and start the uptime clock. */
void
status_init(void)
{
	memset(&status, 0, sizeof status);
	status.start_ns = clock_ns();
}

static json_t *
status_by_type(void)
{
	const struct type_stats	*ts;
	json_t			*by_type;
	size_t			 i;

	by_type = json_object();
	for (i = 0; job_types[i] != NULL && i < STATUS_MAX_TYPES; i++) {
		ts = &status.types[i];
		json_object_set_new(by_type, job_types[i]->name, json_pack(
		    "{s:I, s:I, s:f, s:f, s:f}",
		    "done", (json_int_t)ts->done,
		    "failed", (json_int_t)ts->failed,
		    "ms_p50", hist_percentile(&ts->hist, 0.50) / 1000.0,
		    "ms_p99", hist_percentile(&ts->hist, 0.99) / 1000.0,
		    "ms_max", ts->hist.max_us / 1000.0));
	}
	return by_type;
}

/* The status object (without the detail list). Caller owns the reference. */
json_t *
status_json(const struct config *cfg)
{
	const struct limits	*l = &cfg->limits;
	struct pool_stats	 ps;
	json_t			*st;

	pool_stats(&ps);
	st = json_pack("{s:s, s:I, s:f,"
	    " s:{s:I, s:I}, s:{s:I, s:I, s:I},"
	    " s:{s:I, s:I, s:I, s:I, s:o}, s:{s:I, s:I, s:I},"
	    " s:{s:I, s:I, s:I, s:I, s:I, s:I},"
	    " s:{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}}",
	    "version", PACKAGE_VERSION,
	    "pid", (json_int_t)getpid(),
	    "uptime_s", clock_ms(status.start_ns, clock_ns()) / 1000.0,
	    "connections",
		"open", (json_int_t)status.conns_open,
		"total", (json_int_t)status.conns_total,
	    "batches",
		"in_flight", (json_int_t)status.batches_in_flight,
		"done", (json_int_t)status.batches_done,
		"failed", (json_int_t)status.batches_failed,
	    "jobs",
		"in_flight", (json_int_t)status.jobs_running,
		"waiting", (json_int_t)status.jobs_waiting,
		"done", (json_int_t)status.jobs_done,
		"failed", (json_int_t)status.jobs_failed,
		"by_type", status_by_type(),
	    "pool",
		"threads", (json_int_t)ps.threads,
		"busy", (json_int_t)ps.busy,
		"queued", (json_int_t)ps.queued,
	    "memory",
		"held_bytes", (json_int_t)(budget_all.requests +
		    budget_all.results + budget_all.output),
		"max_memory_bytes", (json_int_t)l->max_memory_bytes,
		"request_bytes", (json_int_t)budget_all.requests,
		"result_bytes", (json_int_t)budget_all.results,
		"output_bytes", (json_int_t)budget_all.output,
		"input_bytes", (json_int_t)budget_all.input,
	    "limits",
		"max_connections", (json_int_t)l->max_connections,
		"max_request_bytes", (json_int_t)l->max_request_bytes,
		"max_jobs_per_batch", (json_int_t)l->max_jobs_per_batch,
		"max_inflight_jobs", (json_int_t)l->max_inflight_jobs,
		"max_batches_per_connection",
		    (json_int_t)l->max_batches_per_connection,
		"max_output_bytes", (json_int_t)l->max_output_bytes,
		"max_connection_bytes", (json_int_t)l->max_connection_bytes,
		"max_memory_bytes", (json_int_t)l->max_memory_bytes,
		"max_connections_per_uid",
		    (json_int_t)l->max_connections_per_uid);
	/* The limits that keep one client from holding shared resources. */
	json_object_set_new(json_object_get(st, "limits"), "max_result_bytes",
	    json_integer((json_int_t)l->max_result_bytes));
	json_object_set_new(json_object_get(st, "limits"), "max_job_ms",
	    json_integer((json_int_t)l->max_job_ms));
	json_object_set_new(json_object_get(st, "jobs"), "retrying",
	    json_integer((json_int_t)status.jobs_retrying));
	job_types_status(cfg, st);
	return st;
}
