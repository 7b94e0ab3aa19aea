/*
 * Counters, latency histograms and the recent window, and the status op's
 * JSON. The lists of status detail (connections, batches) are the
 * server's, which owns the connections; each batch entry is as the batch
 * describes itself (batch_status).
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

/* From 100 us to 5 min, as max_job_ms is by default. */
const uint64_t status_le_us[STATUS_LE] = {
	100, 250, 500, 1000, 2500, 5000, 10000, 25000, 50000, 100000,
	250000, 500000, 1000000, 2500000, 5000000, 10000000, 30000000,
	60000000, 300000000,
};

/* Scratch for a percentile over the window: only the loop uses it. */
static struct hist	status_merged;

/* Reset the counters and start the uptime clock. */
void
status_init(void)
{
	memset(&status, 0, sizeof status);
	status.start_ns = clock_ns();
	status.slots[0].start_ns = status.start_ns;
	status.slots[1].start_ns = status.start_ns;
}

/* Empty a slot of the window, to be filled from start. */
static void
status_slot_clear(struct status_slot *s, uint64_t start)
{
	size_t	i;

	s->start_ns = start;
	s->batches_done = s->batches_failed = 0;
	for (i = 0; i < STATUS_MAX_TYPES; i++) {
		s->types[i].done = s->types[i].failed = 0;
		if (s->types[i].hist.count != 0)
			memset(&s->types[i].hist, 0, sizeof s->types[i].hist);
	}
}

/*
 * Move the window on to now: once the current slot is STATUS_SLOT_NS old
 * a new one starts (on the slot grid, so slots stay that long), and the
 * one before it is dropped. Returns the current slot.
 */
static struct status_slot *
status_window(uint64_t now)
{
	struct status_slot	*cur = &status.slots[status.cur];
	uint64_t		 start;

	if (now - cur->start_ns < STATUS_SLOT_NS)
		return cur;
	start = cur->start_ns + (now - cur->start_ns) / STATUS_SLOT_NS *
	    STATUS_SLOT_NS;
	status.cur ^= 1;
	if (now - cur->start_ns >= 2 * STATUS_SLOT_NS)
		status_slot_clear(cur, start - STATUS_SLOT_NS);
	cur = &status.slots[status.cur];
	status_slot_clear(cur, start);
	return cur;
}

/*
 * A job of the type at index finished with outcome (enum job_outcome);
 * ran: it had started, and ran for ms milliseconds.
 */
void
status_job_done(size_t index, int outcome, int ran, double ms)
{
	struct type_stats	*ts;
	struct status_slot	*slot;
	uint64_t		 us;
	size_t			 i;

	if (index >= STATUS_MAX_TYPES)
		return;
	ts = &status.types[index];
	slot = status_window(clock_ns());
	ts->done++;
	ts->outcomes[outcome]++;
	status.jobs_done++;
	slot->types[index].done++;
	if (outcome != JOB_OK) {
		ts->failed++;
		status.jobs_failed++;
		slot->types[index].failed++;
	}
	if (outcome == JOB_TIMED_OUT)
		status.jobs_timed_out++;
	else if (outcome == JOB_CANCELLED)
		status.jobs_cancelled++;
	if (!ran)
		return;
	us = ms > 0 ? (uint64_t)(ms * 1000.0) : 0;
	hist_record(&ts->hist, us);
	hist_record(&slot->types[index].hist, us);
	ts->sum_us += us;
	for (i = STATUS_LE; i > 0 && us <= status_le_us[i - 1]; i--)
		ts->le[i - 1]++;
}

/* A batch finished; ok: every job of it succeeded. */
void
status_batch_done(int ok)
{
	struct status_slot	*slot = status_window(clock_ns());

	status.batches_in_flight--;
	status.batches_done++;
	slot->batches_done++;
	if (!ok) {
		status.batches_failed++;
		slot->batches_failed++;
	}
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
		    "{s:I, s:I, s:I, s:I, s:f, s:f, s:f}",
		    "done", (json_int_t)ts->done,
		    "failed", (json_int_t)ts->failed,
		    "timed_out", (json_int_t)ts->outcomes[JOB_TIMED_OUT],
		    "cancelled", (json_int_t)ts->outcomes[JOB_CANCELLED],
		    "ms_p50", hist_percentile(&ts->hist, 0.50) / 1000.0,
		    "ms_p99", hist_percentile(&ts->hist, 0.99) / 1000.0,
		    "ms_max", ts->hist.max_us / 1000.0));
	}
	return by_type;
}

/*
 * The recent window: what finished in the last 10 to 20 seconds
 * (window_s says how long exactly), with percentiles of that time only.
 */
static json_t *
status_recent(void)
{
	const struct status_slot	*cur, *prev;
	const struct hist		*h;
	json_t				*by_type;
	uint64_t			 now = clock_ns(), done, failed;
	size_t				 i;

	cur = status_window(now);
	prev = &status.slots[status.cur ^ 1];
	by_type = json_object();
	done = failed = 0;
	for (i = 0; job_types[i] != NULL && i < STATUS_MAX_TYPES; i++) {
		status_merged = cur->types[i].hist;
		hist_add(&status_merged, &prev->types[i].hist);
		h = &status_merged;
		done += cur->types[i].done + prev->types[i].done;
		failed += cur->types[i].failed + prev->types[i].failed;
		json_object_set_new(by_type, job_types[i]->name, json_pack(
		    "{s:I, s:I, s:f, s:f, s:f}",
		    "done", (json_int_t)(cur->types[i].done +
			prev->types[i].done),
		    "failed", (json_int_t)(cur->types[i].failed +
			prev->types[i].failed),
		    "ms_p50", hist_percentile(h, 0.50) / 1000.0,
		    "ms_p99", hist_percentile(h, 0.99) / 1000.0,
		    "ms_max", h->max_us / 1000.0));
	}
	return json_pack("{s:f, s:{s:I, s:I}, s:{s:I, s:I, s:o}}",
	    "window_s", clock_ms(prev->start_ns, now) / 1000.0,
	    "batches",
		"done", (json_int_t)(cur->batches_done + prev->batches_done),
		"failed", (json_int_t)(cur->batches_failed +
		    prev->batches_failed),
	    "jobs",
		"done", (json_int_t)done,
		"failed", (json_int_t)failed,
		"by_type", by_type);
}

/* The error replies sent, by code; codes never sent are left out. */
static json_t *
status_errors(void)
{
	json_t	*errors = json_object();
	int	 code;

	for (code = ERR_NONE + 1; code <= ERR_INTERNAL; code++) {
		if (status.errors[code] != 0)
			json_object_set_new(errors, err_name(code),
			    json_integer((json_int_t)status.errors[code]));
	}
	return errors;
}

/* The status object (without the detail lists). Caller owns the reference. */
json_t *
status_json(const struct config *cfg)
{
	const struct limits	*l = &cfg->limits;
	struct pool_stats	 ps;
	json_t			*st, *o;

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
	/* Outcomes and the retries of jobs, and who was turned away. */
	o = json_object_get(st, "jobs");
	json_object_set_new(o, "timed_out",
	    json_integer((json_int_t)status.jobs_timed_out));
	json_object_set_new(o, "cancelled",
	    json_integer((json_int_t)status.jobs_cancelled));
	json_object_set_new(o, "retrying",
	    json_integer((json_int_t)status.jobs_retrying));
	json_object_set_new(json_object_get(st, "connections"), "refused",
	    json_pack("{s:I, s:I, s:I, s:I}",
	    "max_connections",
		(json_int_t)status.refused[STATUS_REFUSED_MAX_CONNECTIONS],
	    "max_connections_per_uid",
		(json_int_t)status.refused[STATUS_REFUSED_PER_UID],
	    "forbidden", (json_int_t)status.refused[STATUS_REFUSED_FORBIDDEN],
	    "max_connection_bytes",
		(json_int_t)status.refused[STATUS_CLOSED_MAX_BYTES]));
	json_object_set_new(st, "errors", status_errors());
	json_object_set_new(st, "recent", status_recent());
	job_types_status(cfg, st);
	return st;
}
