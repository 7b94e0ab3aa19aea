/*
 * Prometheus metrics: the figures of the status op in the text exposition
 * format, version 0.0.4, for the metrics op and for GET /metrics on the
 * address of [metrics] listen (libevent's evhttp, on the loop).
 *
 * The text is made from the status object itself, so the two never tell
 * different stories, and from the lifetime histograms of status.c, which
 * the status object only summarises. Names follow Prometheus's
 * conventions: a gatherd_ prefix, base units in the name (_seconds,
 * _bytes), counters ending in _total, one family per meaning with labels
 * (type, outcome, code, reason, db) for the parts whose sum means
 * something.
 *
 * Parts of the status object that a configuration or a job type may leave
 * out (the PostgreSQL pools under "databases", "http" when [http] is
 * disabled) become their families only when present: a family with no
 * series is not written at all.
 *
 * What is not done: the HTTP server has no limit on its connections of
 * its own (libevent 2.1 has none); it is meant for a scraper on a
 * loopback or private address, as the README says.
 */

#include <sys/socket.h>

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/listener.h>
#include <event2/util.h>

#include "clock.h"
#include "config.h"
#include "error.h"
#include "job.h"
#include "log.h"
#include "metrics.h"
#include "server.h"
#include "status.h"
#include "xmalloc.h"

#ifndef PACKAGE_VERSION
#define PACKAGE_VERSION "0.0.0"
#endif

#define METRICS_PATH		"/metrics"
#define METRICS_CONTENT_TYPE	"text/plain; version=0.0.4; charset=utf-8"
#define METRICS_HTTP_TIMEOUT_S	10
#define METRICS_HTTP_MAX_HEADERS 8192

static struct evhttp	*metrics_http;
static char		*metrics_bound;	/* HOST:PORT served, or NULL */

/* Write the HELP and TYPE lines of a family. */
static void
metrics_family(struct evbuffer *out, const char *name, const char *type,
    const char *help)
{
	evbuffer_add_printf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help,
	    name, type);
}

/*
 * Write a label value between quotes, escaped as the format says
 * (backslash, double quote and newline).
 */
static void
metrics_label_value(struct evbuffer *out, const char *v)
{
	evbuffer_add(out, "\"", 1);
	for (; *v != '\0'; v++) {
		if (*v == '\\' || *v == '"')
			evbuffer_add_printf(out, "\\%c", *v);
		else if (*v == '\n')
			evbuffer_add(out, "\\n", 2);
		else
			evbuffer_add(out, v, 1);
	}
	evbuffer_add(out, "\"", 1);
}

/*
 * Write one sample: name, up to two labels (NULL names for none), and an
 * integer value.
 */
static void
metrics_sample(struct evbuffer *out, const char *name, const char *l1,
    const char *v1, const char *l2, const char *v2, uint64_t value)
{
	evbuffer_add_printf(out, "%s", name);
	if (l1 != NULL) {
		evbuffer_add_printf(out, "{%s=", l1);
		metrics_label_value(out, v1);
		if (l2 != NULL) {
			evbuffer_add_printf(out, ",%s=", l2);
			metrics_label_value(out, v2);
		}
		evbuffer_add(out, "}", 1);
	}
	evbuffer_add_printf(out, " %" PRIu64 "\n", value);
}

/* The integer at key of obj (0 when it is not one). */
static uint64_t
metrics_int(const json_t *obj, const char *key)
{
	const json_t	*v = json_object_get(obj, key);

	return json_is_integer(v) && json_integer_value(v) > 0 ?
	    (uint64_t)json_integer_value(v) : 0;
}

/*
 * The families of one sample without labels, each status.SECTION.KEY as
 * it is. A section that may be absent (http, until that job type exists)
 * writes its families only when it is there.
 */
static const struct metrics_plain {
	const char	*name;
	const char	*type;
	const char	*section;
	const char	*key;
	const char	*help;
} metrics_plain[] = {
	{ "gatherd_connections", "gauge", "connections", "open",
	    "Client connections open." },
	{ "gatherd_connections_total", "counter", "connections", "total",
	    "Client connections accepted." },
	{ "gatherd_batches_in_flight", "gauge", "batches", "in_flight",
	    "Batches started and not yet replied to." },
	{ "gatherd_jobs_in_flight", "gauge", "jobs", "in_flight",
	    "Jobs running." },
	{ "gatherd_jobs_waiting", "gauge", "jobs", "waiting",
	    "Jobs held back by their batch's concurrency." },
	{ "gatherd_jobs_retrying", "gauge", "jobs", "retrying",
	    "Jobs waiting between two tries." },
	{ "gatherd_pool_threads", "gauge", "pool", "threads",
	    "Worker threads (file reads, SQLite)." },
	{ "gatherd_pool_threads_busy", "gauge", "pool", "busy",
	    "Worker threads running a job's work." },
	{ "gatherd_pool_queued", "gauge", "pool", "queued",
	    "Work waiting for a worker thread." },
	{ "gatherd_memory_held_bytes", "gauge", "memory", "held_bytes",
	    "Results held and replies unsent, all connections." },
	{ "gatherd_memory_limit_bytes", "gauge", "memory", "max_memory_bytes",
	    "max_memory_bytes: what all connections may hold." },
	{ "gatherd_http_connections", "gauge", "http", "connections",
	    "HTTP connections open." },
	{ "gatherd_http_queued", "gauge", "http", "queued",
	    "HTTP requests waiting for a connection." },
};

/* Every family of metrics_plain whose section st has. */
static void
metrics_plain_families(struct evbuffer *out, const json_t *st)
{
	const struct metrics_plain	*m;
	const json_t			*obj;
	size_t				 i;

	for (i = 0; i < sizeof metrics_plain / sizeof metrics_plain[0]; i++) {
		m = &metrics_plain[i];
		if (!json_is_object(obj = json_object_get(st, m->section)))
			continue;
		metrics_family(out, m->name, m->type, m->help);
		metrics_sample(out, m->name, NULL, NULL, NULL, NULL,
		    metrics_int(obj, m->key));
	}
}

/* Build information and the start time. */
static void
metrics_process(struct evbuffer *out, const json_t *st)
{
	struct timespec	ts;
	double		uptime = json_number_value(json_object_get(st,
			    "uptime_s"));

	metrics_family(out, "gatherd_build_info", "gauge",
	    "Always 1; the labels say which gatherd and protocol run.");
	evbuffer_add_printf(out, "gatherd_build_info{version=");
	metrics_label_value(out, PACKAGE_VERSION);
	evbuffer_add_printf(out, ",protocol=\"1\"} 1\n");
	clock_gettime(CLOCK_REALTIME, &ts);
	metrics_family(out, "gatherd_start_time_seconds", "gauge",
	    "When gatherd started, in seconds since the Unix epoch.");
	evbuffer_add_printf(out, "gatherd_start_time_seconds %.3f\n",
	    (double)ts.tv_sec + (double)ts.tv_nsec / 1e9 - uptime);
}

/* Connections turned away or closed by a limit. */
static void
metrics_connections(struct evbuffer *out, const json_t *st)
{
	static const char *const reasons[] = {
		"max_connections", "max_connections_per_uid", "forbidden",
	};
	const json_t	*c = json_object_get(st, "connections");
	const json_t	*refused = json_object_get(c, "refused");
	size_t		 i;

	metrics_family(out, "gatherd_connections_refused_total", "counter",
	    "Client connections turned away at once, by the limit that did.");
	for (i = 0; i < sizeof reasons / sizeof reasons[0]; i++)
		metrics_sample(out, "gatherd_connections_refused_total",
		    "reason", reasons[i], NULL, NULL,
		    metrics_int(refused, reasons[i]));
	metrics_family(out, "gatherd_connections_closed_total", "counter",
	    "Client connections gatherd closed, by the limit they passed.");
	metrics_sample(out, "gatherd_connections_closed_total", "reason",
	    "max_connection_bytes", NULL, NULL,
	    metrics_int(refused, "max_connection_bytes"));
}

/* Batches and error replies. */
static void
metrics_batches(struct evbuffer *out, const json_t *st)
{
	/* The codes a request (not a job) can be answered with. */
	static const enum err_code codes[] = {
		ERR_BAD_JSON, ERR_BAD_REQUEST, ERR_UNKNOWN_OP, ERR_UNKNOWN_TYPE,
		ERR_UNKNOWN_DB, ERR_TOO_LARGE, ERR_BUSY, ERR_SHUTTING_DOWN,
		ERR_INTERNAL,
	};
	const json_t	*b = json_object_get(st, "batches");
	const json_t	*errors = json_object_get(st, "errors");
	uint64_t	 done = metrics_int(b, "done"), failed;
	size_t		 i;

	failed = metrics_int(b, "failed");
	metrics_family(out, "gatherd_batches_total", "counter",
	    "Batches replied to; failed: at least one job did not succeed.");
	metrics_sample(out, "gatherd_batches_total", "outcome", "ok", NULL,
	    NULL, done > failed ? done - failed : 0);
	metrics_sample(out, "gatherd_batches_total", "outcome", "failed",
	    NULL, NULL, failed);
	metrics_family(out, "gatherd_request_errors_total", "counter",
	    "Requests answered with an error instead of being served, by"
	    " code.");
	for (i = 0; i < sizeof codes / sizeof codes[0]; i++)
		metrics_sample(out, "gatherd_request_errors_total", "code",
		    err_name(codes[i]), NULL, NULL,
		    metrics_int(errors, err_name(codes[i])));
}

/* The running time histogram of one job type, from status.c's counts. */
static void
metrics_histogram(struct evbuffer *out, const char *type,
    const struct type_stats *ts)
{
	size_t	i;

	for (i = 0; i < STATUS_LE; i++) {
		evbuffer_add_printf(out, "gatherd_job_duration_seconds_bucket"
		    "{type=");
		metrics_label_value(out, type);
		evbuffer_add_printf(out, ",le=\"%g\"} %" PRIu64 "\n",
		    (double)status_le_us[i] / 1e6, ts->le[i]);
	}
	evbuffer_add_printf(out, "gatherd_job_duration_seconds_bucket{type=");
	metrics_label_value(out, type);
	evbuffer_add_printf(out, ",le=\"+Inf\"} %" PRIu64 "\n", ts->hist.count);
	evbuffer_add_printf(out, "gatherd_job_duration_seconds_sum{type=");
	metrics_label_value(out, type);
	evbuffer_add_printf(out, "} %.6f\n", (double)ts->sum_us / 1e6);
	evbuffer_add_printf(out, "gatherd_job_duration_seconds_count{type=");
	metrics_label_value(out, type);
	evbuffer_add_printf(out, "} %" PRIu64 "\n", ts->hist.count);
}

/* Jobs by outcome and type, and their running times. */
static void
metrics_jobs(struct evbuffer *out)
{
	static const struct {
		const char	*name;
		int		 outcome;
	} outcomes[] = {
		{ "ok", JOB_OK },
		{ "failed", JOB_FAILED },
		{ "cancelled", JOB_CANCELLED },
		{ "timed_out", JOB_TIMED_OUT },
	};
	size_t		 i, k;

	metrics_family(out, "gatherd_jobs_total", "counter",
	    "Jobs finished, by type and outcome (failed: an error other than"
	    " cancelled and timed_out).");
	for (i = 0; job_types[i] != NULL && i < STATUS_MAX_TYPES; i++) {
		for (k = 0; k < sizeof outcomes / sizeof outcomes[0]; k++)
			metrics_sample(out, "gatherd_jobs_total", "type",
			    job_types[i]->name, "outcome", outcomes[k].name,
			    status.types[i].outcomes[outcomes[k].outcome]);
	}
	metrics_family(out, "gatherd_job_duration_seconds", "histogram",
	    "How long jobs ran, from start to end, by type.");
	for (i = 0; job_types[i] != NULL && i < STATUS_MAX_TYPES; i++)
		metrics_histogram(out, job_types[i]->name, &status.types[i]);
}

/*
 * One gauge family over the databases of status.databases that have
 * key (the PostgreSQL pools); nothing when none has.
 */
static void
metrics_db_family(struct evbuffer *out, const json_t *dbs, const char *name,
    const char *help, const char *key)
{
	const char	*db;
	json_t		*v;
	int		 head = 0;

	json_object_foreach((json_t *)dbs, db, v) {
		if (json_object_get(v, key) == NULL)
			continue;
		if (!head++)
			metrics_family(out, name, "gauge", help);
		metrics_sample(out, name, "db", db, NULL, NULL,
		    json_is_boolean(json_object_get(v, key)) ?
		    (uint64_t)json_is_true(json_object_get(v, key)) :
		    metrics_int(v, key));
	}
}

/* The PostgreSQL pools. */
static void
metrics_pools(struct evbuffer *out, const json_t *st)
{
	const json_t	*dbs = json_object_get(st, "databases");

	metrics_db_family(out, dbs, "gatherd_db_pool_size",
	    "Connections a database may have open (its pool).", "pool");
	metrics_db_family(out, dbs, "gatherd_db_connections",
	    "Connections open to a database.", "open");
	metrics_db_family(out, dbs, "gatherd_db_connections_busy",
	    "Connections running a query.", "busy");
	metrics_db_family(out, dbs, "gatherd_db_connections_cancelling",
	    "Connections whose query is being cancelled on the server.",
	    "cancelling");
	metrics_db_family(out, dbs, "gatherd_db_up",
	    "1 when the database answers, 0 while gatherd waits to reconnect.",
	    "up");
}

/* Write the metrics text, as of now, into out. */
void
metrics_write(struct evbuffer *out, const struct config *cfg)
{
	json_t	*st = status_json(cfg);

	metrics_process(out, st);
	metrics_plain_families(out, st);
	metrics_connections(out, st);
	metrics_batches(out, st);
	metrics_jobs(out);
	metrics_pools(out, st);
	json_decref(st);
}

/*
 * Every request: GET or HEAD of /metrics gets the text (HEAD without its
 * body, which libevent 2.1 would send), another path 404, another method
 * 405 with the methods allowed (libevent's own refusal is a 501).
 */
static void
metrics_http_cb(struct evhttp_request *req, void *arg)
{
	const struct evhttp_uri	*uri = evhttp_request_get_evhttp_uri(req);
	struct evkeyvalq	*headers = evhttp_request_get_output_headers(req);
	enum evhttp_cmd_type	 cmd = evhttp_request_get_command(req);
	const char		*path = uri != NULL ? evhttp_uri_get_path(uri) :
				    NULL;
	struct evbuffer		*out;

	(void)arg;
	if (cmd != EVHTTP_REQ_GET && cmd != EVHTTP_REQ_HEAD) {
		evhttp_add_header(headers, "Allow", "GET, HEAD");
		evhttp_send_error(req, 405, "Method Not Allowed");
		return;
	}
	if ((out = evbuffer_new()) == NULL)
		fatalx("%s: evbuffer_new failed", __func__);
	if (path == NULL || strcmp(path, METRICS_PATH) != 0) {
		evbuffer_add_printf(out, "gatherd serves its metrics at %s\n",
		    METRICS_PATH);
		evhttp_add_header(headers, "Content-Type",
		    "text/plain; charset=utf-8");
		evhttp_send_reply(req, HTTP_NOTFOUND, "Not Found", out);
	} else {
		if (cmd == EVHTTP_REQ_GET)
			metrics_write(out, server_cfg);
		evhttp_add_header(headers, "Content-Type",
		    METRICS_CONTENT_TYPE);
		evhttp_send_reply(req, HTTP_OK, "OK", out);
	}
	evbuffer_free(out);
}

/* The address a listening socket is bound to, as HOST:PORT. */
static char *
metrics_address(evutil_socket_t fd)
{
	struct sockaddr_storage	 ss;
	socklen_t		 len = sizeof ss;
	char			 host[64];
	const void		*a;
	int			 port;

	if (getsockname(fd, (struct sockaddr *)&ss, &len) == -1)
		return xstrdup("?");
	if (ss.ss_family == AF_INET6) {
		a = &((struct sockaddr_in6 *)&ss)->sin6_addr;
		port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	} else {
		a = &((struct sockaddr_in *)&ss)->sin_addr;
		port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
	}
	if (evutil_inet_ntop(ss.ss_family, a, host, sizeof host) == NULL)
		return xstrdup("?");
	return xasprintf(ss.ss_family == AF_INET6 ? "[%s]:%d" : "%s:%d",
	    host, port);
}

/*
 * Serve GET /metrics on the address of cfg's [metrics] listen, if set,
 * with the figures of the configuration in force at each request. 0, or
 * -1 with *cause (the address is taken, say).
 */
int
metrics_listen(struct event_base *base, const struct config *cfg,
    char **cause)
{
	struct sockaddr_storage	 ss;
	struct evconnlistener	*l;
	int			 len;
	const char		*listen = cfg->metrics_listen;

	if (listen == NULL)
		return 0;
	if (config_listen_sockaddr(listen, &ss, &len) != 0) {
		*cause = xasprintf("[metrics] listen: bad address %s", listen);
		return -1;
	}
	l = evconnlistener_new_bind(base, NULL, NULL, LEV_OPT_CLOSE_ON_FREE |
	    LEV_OPT_CLOSE_ON_EXEC | LEV_OPT_REUSEABLE, -1,
	    (struct sockaddr *)&ss, len);
	if (l == NULL) {
		*cause = xasprintf("[metrics] listen: cannot listen on %s: %s",
		    listen, strerror(errno));
		return -1;
	}
	if ((metrics_http = evhttp_new(base)) == NULL)
		fatalx("%s: evhttp_new failed", __func__);
	/*
	 * A scraper sends a short GET; other methods get 405 from the
	 * callback, a body 413.
	 */
	evhttp_set_allowed_methods(metrics_http, EVHTTP_REQ_GET |
	    EVHTTP_REQ_HEAD | EVHTTP_REQ_POST | EVHTTP_REQ_PUT |
	    EVHTTP_REQ_DELETE | EVHTTP_REQ_OPTIONS | EVHTTP_REQ_PATCH);
	evhttp_set_timeout(metrics_http, METRICS_HTTP_TIMEOUT_S);
	evhttp_set_max_headers_size(metrics_http, METRICS_HTTP_MAX_HEADERS);
	evhttp_set_max_body_size(metrics_http, 0);
	evhttp_set_gencb(metrics_http, metrics_http_cb, NULL);
	if (evhttp_bind_listener(metrics_http, l) == NULL)
		fatalx("%s: evhttp_bind_listener failed", __func__);
	metrics_bound = metrics_address(evconnlistener_get_fd(l));
	log_info("metrics: serving http://%s%s", metrics_bound, METRICS_PATH);
	return 0;
}

/* Add where GET /metrics is served to the status object, if it is. */
void
metrics_status(json_t *st)
{
	if (metrics_bound != NULL)
		json_object_set_new(st, "metrics", json_pack("{s:s}",
		    "listen", metrics_bound));
}

/* Stop serving, and free the server. */
void
metrics_free(void)
{
	if (metrics_http != NULL) {
		evhttp_free(metrics_http);
		metrics_http = NULL;
	}
	free(metrics_bound);
	metrics_bound = NULL;
}
