/*
 * Requests in, replies out. A batch request is validated whole and turned
 * into a batch of compact jobs before any job runs; the JSON tree is then
 * dropped. Replies are written as text straight into an evbuffer.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "batch.h"
#include "clock.h"
#include "config.h"
#include "jarena.h"
#include "jnum.h"
#include "jread.h"
#include "jscan.h"
#include "job.h"
#include "jsonw.h"
#include "parser.h"
#include "proto.h"
#include "snapshot.h"
#include "xmalloc.h"

/* Requests this long have their tree in an arena (jarena.c). */
#define PROTO_ARENA_BYTES	(64 * 1024)

/* Values at least this long are handed over, not copied, into replies. */
#define PROTO_STEAL_MIN	65536

#ifndef PACKAGE_VERSION
#define PACKAGE_VERSION "0.0.0"
#endif

static const char *const batch_keys[] = {
	"op", "id", "jobs", "mode", "timeout_ms", "concurrency", "stream", NULL
};
static const char *const ping_keys[] = { "op", "id", NULL };
static const char *const status_keys[] = { "op", "id", "detail", NULL };
static const char *const cancel_keys[] = { "op", "id", "target", "conn", NULL };
static const char *const metrics_keys[] = { "op", "id", NULL };

static const struct {
	const char		*name;
	enum proto_op		 op;
	const char *const	*keys;
} proto_ops[] = {
	{ "batch", OP_BATCH, batch_keys },
	{ "ping", OP_PING, ping_keys },
	{ "status", OP_STATUS, status_keys },
	{ "cancel", OP_CANCEL, cancel_keys },
	{ "metrics", OP_METRICS, metrics_keys },
};

/* A field: NULL when absent or null, as the protocol treats them alike. */
static json_t *
proto_field(json_t *obj, const char *key)
{
	json_t	*v = json_object_get(obj, key);

	return v == NULL || json_is_null(v) ? NULL : v;
}

static enum err_code
proto_check_keys(json_t *obj, const char *const *keys, char **cause)
{
	const char *const	*k;
	const char		*key;
	json_t			*v;

	json_object_foreach(obj, key, v) {
		for (k = keys; *k != NULL; k++) {
			if (strcmp(*k, key) == 0)
				break;
		}
		if (*k == NULL) {
			*cause = xasprintf("%s: unknown field", key);
			return ERR_BAD_REQUEST;
		}
	}
	return ERR_NONE;
}

static enum err_code
proto_get_bool(json_t *obj, const char *key, int *out, char **cause)
{
	json_t	*v = proto_field(obj, key);

	*out = 0;
	if (v == NULL)
		return ERR_NONE;
	if (!json_is_boolean(v)) {
		*cause = xasprintf("%s: expected true or false", key);
		return ERR_BAD_REQUEST;
	}
	*out = json_is_true(v);
	return ERR_NONE;
}

/* A batch's fields besides its jobs, into b. */
static enum err_code
proto_parse_batch_fields(json_t *obj, struct batch *b, char **cause)
{
	json_t		*v;
	int64_t		 n64 = 0;
	int		 stream, mode;
	enum err_code	 err;

	if ((v = proto_field(obj, "mode")) != NULL) {
		if ((mode = batch_mode_find(jsonw_cstr(v))) < 0) {
			*cause = xstrdup("mode: expected \"all\", \"fail_fast\","
			    " \"any\" or \"first\"");
			return ERR_BAD_REQUEST;
		}
		b->mode = (uint8_t)mode;
	}
	if ((err = job_get_ms(obj, "", "timeout_ms", 0, &b->timeout_ms,
	    cause)) != ERR_NONE)
		return err;
	if ((err = job_get_int(obj, "", "concurrency", 1, &n64,
	    cause)) != ERR_NONE)
		return err;
	if (n64 > 0 && n64 < (int64_t)UINT32_MAX)
		b->concurrency = (uint32_t)n64;
	if ((err = proto_get_bool(obj, "stream", &stream, cause)) != ERR_NONE)
		return err;
	b->stream = (uint8_t)stream;
	return ERR_NONE;
}

/* Whether n jobs are too many for one batch under cfg. */
static int
proto_too_many(size_t n, const struct config *cfg)
{
	/*
	 * Jobs are counted and indexed in 32 bits; max_jobs_per_batch may be
	 * configured higher, so the smaller limit applies.
	 */
	return n > cfg->limits.max_jobs_per_batch || n > UINT32_MAX;
}

static enum err_code
proto_parse_batch(json_t *obj, const struct config *cfg, struct request *req,
    char **cause)
{
	struct batch	*b = req->batch;
	json_t		*jobs;
	size_t		 i, n;
	enum err_code	 err;

	if ((jobs = proto_field(obj, "jobs")) == NULL) {
		*cause = xstrdup("jobs: missing required field");
		return ERR_BAD_REQUEST;
	}
	if (!json_is_array(jobs)) {
		*cause = xstrdup("jobs: expected an array");
		return ERR_BAD_REQUEST;
	}
	n = json_array_size(jobs);
	if (proto_too_many(n, cfg)) {
		*cause = xasprintf("jobs: %zu jobs exceed max_jobs_per_batch"
		    " (%llu)", n,
		    (unsigned long long)cfg->limits.max_jobs_per_batch);
		return ERR_TOO_LARGE;
	}
	if ((err = proto_parse_batch_fields(obj, b, cause)) != ERR_NONE)
		return err;

	/*
	 * The jobs of groups inside are counted as they are parsed: every
	 * level together may not pass max_jobs_per_batch either.
	 */
	batch_count(b, n);
	b->jobs = xcalloc(n, sizeof *b->jobs);
	for (i = 0; i < n; i++) {
		err = job_parse(json_array_get(jobs, i), b, (uint32_t)i, cfg,
		    &b->jobs[i], cause);
		if (err != ERR_NONE)
			return err;
		b->njobs++;
	}
	return ERR_NONE;
}

/*
 * A value of the request to keep past parsing: a reference, or a copy out
 * of the arena the tree of a big request lives in (jarena.c).
 */
static json_t *
proto_keep(json_t *v, int arena)
{
	return arena ? json_deep_copy(v) : json_incref(v);
}

static enum err_code
proto_parse_cancel(json_t *obj, struct request *req, int arena,
    char **cause)
{
	json_t	*v;
	int64_t	 n;

	if ((v = proto_field(obj, "target")) != NULL)
		req->target = proto_keep(v, arena);
	req->cancel_conn = CANCEL_OWN;
	if ((v = proto_field(obj, "conn")) != NULL) {
		if (jsonw_cstr(v) != NULL && strcmp(jsonw_cstr(v), "any") == 0)
			req->cancel_conn = CANCEL_ANY;
		else if (jnum_integer(v, &n) == JNUM_INT && n >= 0)
			req->cancel_conn = n;
		else if (jnum_integer(v, &n) == JNUM_INT_RANGE) {
			*cause = xstrdup("conn: integer out of range (a signed"
			    " 64-bit integer is expected)");
			return ERR_BAD_REQUEST;
		} else {
			*cause = xstrdup("conn: expected a connection number"
			    " or \"any\"");
			return ERR_BAD_REQUEST;
		}
	}
	/*
	 * Without a target, "conn":N cancels every batch of connection N;
	 * nothing else may go without one. A batch sent without an id, or
	 * with id null, can only be reached so.
	 */
	if (req->target == NULL && req->cancel_conn < 0) {
		*cause = xstrdup("target: missing required field");
		return ERR_BAD_REQUEST;
	}
	return ERR_NONE;
}

/* The column of byte off of line, counted in characters from 1. */
static size_t
proto_column(const char *line, size_t off)
{
	size_t	i, col = 1;

	for (i = 0; i < off; i++) {
		if (((unsigned char)line[i] & 0xc0) != 0x80)
			col++;
	}
	return col;
}

/*
 * The id's text for replies, as the client wrote it but for whitespace.
 * jansson keeps no number's text (1E2 would come back 100.0, and an
 * integer past 64 bits not at all), so a number, or an array or object
 * that may hold one, is copied from the line: the value of the top-level
 * member "id" (jscan.c), whose bytes [*from, *to) of the line are. A
 * string, true or false is written from the tree (the same characters,
 * maybe other escapes). NULL id: "null".
 */
static char *
proto_id_text(const char *line, size_t len, const json_t *id, size_t *from,
    size_t *to)
{
	const char	*vs, *ve;

	*from = *to = 0;
	if (id == NULL)
		return xstrdup("null");
	if ((json_is_number(id) || json_is_array(id) || json_is_object(id)) &&
	    jscan_member(line, len, "id", &vs, &ve)) {
		*from = (size_t)(vs - line);
		*to = (size_t)(ve - line);
		return jscan_compact(vs, ve, NULL);
	}
	return jsonw_dump(id);
}

/*
 * The next element of a jobs array whose '[' is passed and whose ']' is
 * at end, from *pp (first: before any element): 1 with its text
 * [*s, *e), 0 at the end, -1 when what lies between elements is not
 * JSON's (commas and whitespace). The elements themselves are jread's
 * to judge.
 */
static int
proto_jobs_next(const char **pp, const char *end, int first, const char **s,
    const char **e)
{
	const char	*p = jscan_ws(*pp, end);

	if (p == end)
		return 0;
	if (!first) {
		if (*p != ',')
			return -1;
		p = jscan_ws(p + 1, end);
	}
	*s = p;
	*e = jscan_value_end(p, end);
	if (*e == p)
		return -1;	/* a stray bracket or comma, or nothing */
	*pp = *e;
	return 1;
}

/*
 * A big batch request the fast way: the line without its jobs array
 * through jread, then each job on its own, its tree in an arena reused
 * from one job to the next (jarena_reset), so that no tree of the whole
 * request is ever built: jansson's parse was most of the time a million
 * sleeps took, and its tree most of the peak memory. 0 with req made, or
 * -1, req cleared, when anything is unusual or wrong: then the jansson
 * way decides, as it words every error.
 *
 * Sound because the jobs array's text [js, je) is found by the same
 * string and bracket rules as jansson's, the line with "[]" in its place
 * is checked whole by jread (the "[]" must come back as the jobs
 * member), the text between elements is checked here, and each element
 * by jread.
 */
static int
proto_parse_fast(const char *line, size_t len, struct snapshot *snap,
    uint64_t recv_ns, struct request *req)
{
	const struct config	*cfg = &snap->cfg;
	const char		*js, *je, *p, *s, *e;
	char			*rest, *cause = NULL;
	json_t			*obj, *v;
	size_t			 i, n, before, after, id_from, id_to;
	struct batch		*b;
	enum err_code		 err = ERR_NONE;
	int			 more;

	if (!jscan_member(line, len, "jobs", &js, &je) || je - js < 2 ||
	    *js != '[' || je[-1] != ']')
		return -1;
	for (n = 0, p = js + 1; (more = proto_jobs_next(&p, je - 1, n == 0,
	    &s, &e)) == 1; n++)
		;
	if (more == -1 || proto_too_many(n, cfg))
		return -1;

	before = (size_t)(js - line);
	after = (size_t)(line + len - je);
	rest = xmalloc(before + 2 + after);
	memcpy(rest, line, before);
	memcpy(rest + before, "[]", 2);
	memcpy(rest + before + 2, je, after);
	obj = jread(rest, before + 2 + after);
	free(rest);
	if (obj == NULL || !json_is_object(obj) ||
	    (v = json_object_get(obj, "jobs")) == NULL || !json_is_array(v) ||
	    json_array_size(v) != 0)
		goto fail;
	if ((v = proto_field(obj, "op")) != NULL && (jsonw_cstr(v) == NULL ||
	    strcmp(jsonw_cstr(v), "batch") != 0))
		goto fail;
	if (proto_check_keys(obj, batch_keys, &cause) != ERR_NONE)
		goto fail;

	jnum_clear();
	req->op = OP_BATCH;
	req->id = json_incref(proto_field(obj, "id"));
	req->id_text = proto_id_text(line, len, req->id, &id_from, &id_to);
	req->batch = b = batch_new(req->id, req->id_text, recv_ns, snap);
	if (proto_parse_batch_fields(obj, b, &cause) != ERR_NONE)
		goto fail;
	batch_count(b, n);
	b->jobs = xcalloc(n, sizeof *b->jobs);
	jarena_begin();
	for (i = 0, p = js + 1; i < n; i++) {
		p = jscan_ws(p, je - 1);
		if (i > 0) {
			if (p == je - 1 || *p != ',')
				break;
			p = jscan_ws(p + 1, je - 1);
		}
		jarena_resume();
		v = jread_value_at(p, je - 1, &p);
		jarena_pause();	/* the job is made outside the arena */
		if (v == NULL)
			break;
		err = job_parse(v, b, (uint32_t)i, cfg, &b->jobs[i], &cause);
		jarena_reset();
		if (err != ERR_NONE)
			break;
		b->njobs++;
	}
	jarena_end();
	if (i < n || jscan_ws(p, je - 1) != je - 1)
		goto fail;
	json_decref(obj);
	return 0;

fail:
	free(cause);
	json_decref(obj);
	proto_request_clear(req);	/* what it made of req */
	return -1;
}

/*
 * Parse and validate one request line (len bytes, no newline) read at
 * recv_ns, under the configuration snap (a batch takes a reference). On
 * success req holds the request; on error req->id holds the id when one
 * could be read, and *cause the message. Either way the caller clears req
 * with proto_request_clear. A batch line of PROTO_ARENA_BYTES or more
 * goes the fast way first (proto_parse_fast); otherwise its tree is
 * parsed into an arena and dropped whole.
 */
enum err_code
proto_parse(const char *line, size_t len, struct snapshot *snap,
    uint64_t recv_ns, struct request *req, char **cause)
{
	json_error_t	 jerr;
	json_t		*obj, *v;
	const char	*name = "batch", *nul, *huge;
	char		*quoted;
	size_t		 i, id_from = 0, id_to = 0;
	enum err_code	 err;
	int		 arena = len >= PROTO_ARENA_BYTES;

	memset(req, 0, sizeof *req);
	req->bytes = len;
	*cause = NULL;
	if ((nul = memchr(line, '\0', len)) != NULL) {
		/* jansson would read past it when it follows a number. */
		*cause = xasprintf("invalid JSON at column %zu: a NUL byte"
		    " (write \\u0000 inside a string)",
		    proto_column(line, (size_t)(nul - line)));
		return ERR_BAD_JSON;
	}
	if (arena && proto_parse_fast(line, len, snap, recv_ns, req) == 0)
		return ERR_NONE;
	req->bytes = len;
	if (arena)
		jarena_begin();
	obj = jnum_loadb(line, len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
	if (arena)
		jarena_pause();	/* what is made from the tree is not in it */
	if (obj == NULL) {
		*cause = xasprintf("invalid JSON at column %d: %s",
		    jerr.column, jerr.text);
		err = ERR_BAD_JSON;
		goto out;
	}
	if (!json_is_object(obj)) {
		*cause = xstrdup("a request must be a JSON object");
		err = ERR_BAD_JSON;
		goto out;
	}
	req->id = proto_keep(proto_field(obj, "id"), arena);
	req->id_text = proto_id_text(line, len, req->id, &id_from, &id_to);

	if ((v = proto_field(obj, "op")) != NULL) {
		if (!json_is_string(v)) {
			*cause = xstrdup("op: expected a string");
			err = ERR_BAD_REQUEST;
			goto out;
		}
		if ((name = jsonw_cstr(v)) == NULL)
			name = "";	/* a NUL inside: no op has one */
	}
	for (i = 0; i < sizeof proto_ops / sizeof proto_ops[0]; i++) {
		if (strcmp(proto_ops[i].name, name) == 0)
			break;
	}
	if (i == sizeof proto_ops / sizeof proto_ops[0]) {
		quoted = jsonw_quote(v);	/* "batch" is known: v is set */
		*cause = xasprintf("op: unknown op %s", quoted);
		free(quoted);
		err = ERR_UNKNOWN_OP;
		goto out;
	}
	req->op = proto_ops[i].op;
	if ((err = proto_check_keys(obj, proto_ops[i].keys, cause)) != ERR_NONE)
		goto out;

	switch (req->op) {
	case OP_BATCH:
		req->batch = batch_new(req->id, req->id_text, recv_ns, snap);
		err = proto_parse_batch(obj, &snap->cfg, req, cause);
		break;
	case OP_STATUS:
		err = proto_get_bool(obj, "detail", &req->detail, cause);
		break;
	case OP_CANCEL:
		err = proto_parse_cancel(obj, req, arena, cause);
		break;
	case OP_PING:
	case OP_METRICS:
		break;
	}
	if (err == ERR_NONE && (huge = jnum_huge(id_from, id_to)) != NULL) {
		*cause = xasprintf("invalid JSON at column %zu: a number"
		    " beyond the range of a double", proto_column(line,
		    (size_t)(huge - line)));
		err = ERR_BAD_JSON;
		json_decref(req->id);
		req->id = NULL;
		free(req->id_text);
		req->id_text = NULL;
	}
out:
	jnum_clear();
	if (arena)
		jarena_end();
	else
		json_decref(obj);
	if (err != ERR_NONE) {
		batch_free(req->batch);
		req->batch = NULL;
	}
	return err;
}

/*
 * Free what a request owns, on the loop or on the parse thread (whose
 * fast way gives up with it): parser_release may be called from either.
 */
void
proto_request_clear(struct request *req)
{
	parser_release(req->id);
	free(req->id_text);
	parser_release(req->target);
	batch_free(req->batch);
	memset(req, 0, sizeof *req);
}

/* The start of a reply: the id's text as the request had it (NULL: null). */
static void
proto_write_id(struct evbuffer *evb, const char *id)
{
	jsonw_raw(evb, "{\"id\":");
	jsonw_raw(evb, id != NULL ? id : "null");
}

/* An error member: ,"error":{"code":...,"message":...}. */
static void
proto_write_error_member(struct evbuffer *evb, enum err_code code,
    const char *message)
{
	jsonw_raw(evb, ",\"error\":{\"code\":\"");
	jsonw_raw(evb, err_name(code));
	jsonw_raw(evb, "\",\"message\":");
	jsonw_ctext(evb, message);
	jsonw_raw(evb, "}");
}

/* An error reply line; id is the request's id text (NULL: null). */
void
proto_write_error(struct evbuffer *evb, const char *id, enum err_code code,
    const char *message)
{
	proto_write_id(evb, id);
	jsonw_raw(evb, ",\"ok\":false");
	proto_write_error_member(evb, code, message);
	jsonw_raw(evb, "}\n");
}

/* A job's name member, if it has a name. */
static void
proto_write_name(struct evbuffer *evb, const struct job *job)
{
	const char	*name = job_name(job);

	if (name != NULL) {
		jsonw_raw(evb, ",\"name\":");
		jsonw_raw(evb, name);
	}
}

/* The ping reply line. */
void
proto_write_pong(struct evbuffer *evb, const char *id)
{
	proto_write_id(evb, id);
	evbuffer_add_printf(evb, ",\"ok\":true,\"pong\":true,\"version\":\"%s\","
	    "\"protocol\":%d}\n", PACKAGE_VERSION, PROTO_VERSION);
}

/* The status reply line; status is borrowed. */
void
proto_write_status(struct evbuffer *evb, const char *id, json_t *st)
{
	proto_write_id(evb, id);
	jsonw_raw(evb, ",\"ok\":true,\"status\":");
	jsonw_value_precision(evb, st, 12);
	jsonw_raw(evb, "}\n");
}

/* The cancel reply line. */
void
proto_write_cancelled(struct evbuffer *evb, const char *id, unsigned n)
{
	proto_write_id(evb, id);
	evbuffer_add_printf(evb, ",\"ok\":true,\"cancelled\":%u}\n", n);
}

/* The metrics reply line: the text (len bytes) as a JSON string. */
void
proto_write_metrics(struct evbuffer *evb, const char *id, const char *text,
    size_t len)
{
	proto_write_id(evb, id);
	jsonw_raw(evb, ",\"ok\":true,\"metrics\":");
	jsonw_text(evb, text, len);
	jsonw_raw(evb, "}\n");
}

static void
proto_free_text(const void *data, size_t len, void *arg)
{
	(void)len;
	(void)arg;
	free((void *)(uintptr_t)data);
}

/*
 * Append a value's JSON text, then suffix. With steal, a large text is
 * handed to the evbuffer instead of copied (a read's 16 MiB must not be
 * copied on the loop), and *text becomes NULL. libevent sizes the chain
 * an evbuffer_add() appends after a reference by the reference's length:
 * the suffix goes in through reserved space instead, so that the chain
 * after each stolen value is small (64 values of 5.6 MB made 64 chains of
 * 8 MiB on the loop, 50 to 300 ms of page faults under ASan).
 */
static void
proto_write_text(struct evbuffer *evb, char **text, uint32_t known,
    int steal, const char *suffix)
{
	struct evbuffer_iovec	v;
	size_t			len, slen = strlen(suffix);

	if (*text == NULL) {
		jsonw_raw(evb, "null");
		jsonw_raw(evb, suffix);
		return;
	}
	len = known != JOB_LEN_UNKNOWN ? known : strlen(*text);
	if (steal && len >= PROTO_STEAL_MIN &&
	    evbuffer_add_reference(evb, *text, len, proto_free_text,
	    NULL) == 0) {
		*text = NULL;
		if (evbuffer_reserve_space(evb, (ev_ssize_t)slen, &v, 1) == 1) {
			memcpy(v.iov_base, suffix, slen);
			v.iov_len = slen;
			if (evbuffer_commit_space(evb, &v, 1) == 0)
				return;
		}
		jsonw_raw(evb, suffix);
		return;
	}
	evbuffer_add(evb, *text, len);
	jsonw_raw(evb, suffix);
}

/* ,"winner":K (or null) for a batch whose mode has a winner. */
static void
proto_write_winner(struct evbuffer *evb, const struct batch *b)
{
	if (b->mode != BATCH_ANY && b->mode != BATCH_FIRST)
		return;
	jsonw_raw(evb, ",\"winner\":");
	if (b->winner >= 0)
		jsonw_uint(evb, (uint64_t)b->winner);
	else
		jsonw_raw(evb, "null");
}

static void	proto_write_results(struct evbuffer *, struct batch *, int);

/*
 * One result object: ok, name and attempts where they apply, ms, and
 * the value, or the error; a job that owns a nested batch (a group) has
 * its results as value, beside its error if it failed, and a winner if
 * its mode has one.
 */
static void
proto_write_result_text(struct evbuffer *evb, struct job *job, int steal)
{
	struct batch	*nested = NULL;
	int		 attempts = job_attempts(job);

	if (job->type->nested != NULL)
		nested = job->type->nested(job);
	jsonw_raw(evb, job->outcome == JOB_OK ? "{\"ok\":true" :
	    "{\"ok\":false");
	proto_write_name(evb, job);
	jsonw_raw(evb, ",\"ms\":");
	jsonw_ms(evb, job->ms);
	if (attempts >= 0) {
		jsonw_raw(evb, ",\"attempts\":");
		jsonw_uint(evb, (uint64_t)attempts);
	}
	if (nested != NULL) {
		proto_write_winner(evb, nested);
		jsonw_raw(evb, ",\"value\":");
		proto_write_results(evb, nested, steal);
	} else if (job->outcome == JOB_OK) {
		jsonw_raw(evb, ",\"value\":");
		proto_write_text(evb, &job->text, job->text_len, steal, "}");
		return;
	}
	if (job->outcome == JOB_OK) {
		jsonw_raw(evb, "}");
		return;
	}
	proto_write_error_member(evb, (enum err_code)job->code,
	    job->text != NULL ? job->text : "");
	jsonw_raw(evb, "}");
}

/* The results of b's jobs, in order, as an array. */
static void
proto_write_results(struct evbuffer *evb, struct batch *b, int steal)
{
	uint32_t	i;

	jsonw_raw(evb, "[");
	for (i = 0; i < b->njobs; i++) {
		if (i > 0)
			jsonw_raw(evb, ",");
		proto_write_result_text(evb, b->jobs[i], steal);
	}
	jsonw_raw(evb, "]");
}

/* One job's result object. */
void
proto_write_result(struct evbuffer *evb, struct job *job)
{
	proto_write_result_text(evb, job, 0);
}

/* A stream event line for one finished job (named, if it has a name). */
void
proto_write_event(struct evbuffer *evb, const struct batch *b,
    struct job *job)
{
	proto_write_id(evb, b->id_text);
	jsonw_raw(evb, ",\"event\":\"result\",\"index\":");
	jsonw_uint(evb, job->index);
	proto_write_name(evb, job);
	jsonw_raw(evb, ",\"result\":");
	proto_write_result(evb, job);
	jsonw_raw(evb, "}\n");
}

/*
 * The final reply line of a batch, results in job order (a group's
 * inside its own). Large values move into the evbuffer: the batch is
 * being freed, nothing reads them again.
 */
void
proto_write_reply(struct evbuffer *evb, struct batch *b)
{
	proto_write_id(evb, b->id_text);
	jsonw_raw(evb, batch_ok(b) ? ",\"ok\":true" : ",\"ok\":false");
	jsonw_raw(evb, ",\"elapsed_ms\":");
	jsonw_ms(evb, clock_ms(b->recv_ns, b->done_ns));
	proto_write_winner(evb, b);
	evbuffer_add_printf(evb, ",\"stats\":{\"jobs\":%u,\"ok\":%u,"
	    "\"failed\":%u,\"cancelled\":%u,\"timed_out\":%u,\"sum_ms\":",
	    b->njobs, b->nok, b->nfailed, b->ncancelled, b->ntimedout);
	jsonw_ms(evb, b->sum_ms);
	jsonw_raw(evb, "},\"results\":");
	proto_write_results(evb, b, 1);
	jsonw_raw(evb, "}\n");
}
