/*
 * The http job: one HTTP request, on the loop, through libcurl's multi
 * interface (http/multi.c), to where the destination policy lets it go
 * (http/policy.c). Its value is made by http/response.c.
 *
 * A job is RUNNING with xfer set from its start: waiting for a place
 * among the transfers libcurl has (http/admit.c: per origin and in all,
 * the wait counted in its timeout_ms), then in libcurl's hands:
 * connecting, sending, receiving.
 * Its transfer ends in http_done(), called by the multi handle once
 * libcurl has returned. There the transfer either follows a redirect (a
 * new hop on the same easy handle) or ends the job: at once, or, for a
 * body over HTTP_ENCODE_ON_POOL, once a worker has encoded the value
 * (encode set meanwhile). A cancel (the job's timeout_ms, max_job_ms, the
 * batch's deadline or mode, a cancel op, a client gone) removes the easy
 * handle at once: libcurl closes a connection whose response was not
 * read to its end, so the server sees the close. No callback given to
 * libcurl ends or cancels a job: each only records why the transfer must
 * stop (fail, why) and returns the value that stops it.
 *
 * The transfer (struct http_xfer) is apart from the job, and owns all
 * that libcurl may read until its easy handle is removed (header lines,
 * the error buffer, the snapshot holding the policy and the CA bundle,
 * read with it by http/ca.c), so removing it later than the job goes
 * (http/multi.c's deferral) is safe.
 *
 * Redirects are followed here, not by libcurl: each hop's URL is parsed
 * and normalised again, must be http or https (else forbidden), and goes
 * through the policy before its easy handle is added again; the method
 * turns into GET as fetch does (303, or POST on 301 and 302, and the body
 * and its Content-* headers go); Authorization, Cookie and
 * Proxy-Authorization are dropped once a hop leaves the first origin.
 *
 * Bounds: a body past max_bytes, or past what max_result_bytes can hold
 * once encoded, stops the transfer at once (too_large), counted after
 * libcurl's decompression, whatever Content-Length said; a response's
 * header block past HTTP_HEADER_BYTES_MAX is http_error (libcurl 7.88
 * sets no bound of its own). Bodies being received count, all together,
 * with the results the budget holds: one that would take them past
 * max_memory_bytes fails busy.
 *
 * DNS: libcurl's threaded resolver runs getaddrinfo() on a thread of its
 * own, so the loop never waits on it; CURLOPT_QUICK_EXIT lets a transfer
 * removed during a lookup leave the thread behind (detached) instead of
 * joining it, which would block the loop. A hung resolver so costs the
 * job its connect_timeout_ms, and a thread until getaddrinfo() gives up
 * (resolv.conf's timeout and attempts); lookups in flight are at most
 * max_connections, since libcurl counts a connection from before its
 * lookup.
 *
 * Not done yet: request bodies streamed from the client, responses
 * streamed to it, cookies, proxies, client certificates, HTTP/3.
 */

#include <sys/socket.h>

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <curl/curl.h>
#include <event2/event.h>

#include "base64.h"
#include "batch.h"
#include "budget.h"
#include "config.h"
#include "http/ca.h"
#include "http/multi.h"
#include "http/policy.h"
#include "http/response.h"
#include "http/url.h"
#include "jnum.h"
#include "job.h"
#include "job_work.h"
#include "jobs/http.h"
#include "jsonw.h"
#include "log.h"
#include "pool.h"
#include "snapshot.h"
#include "xmalloc.h"

#define HTTP_HEADER_BYTES_MAX	(256 * 1024)	/* a response's header block */
#define HTTP_ENCODE_ON_POOL	(64 * 1024)	/* bodies a worker encodes */
#define HTTP_CONNECT_MS_MAX	1e9		/* connect_timeout_ms, at most */
#define HTTP_URL_QUOTE		200		/* bytes of a URL in a message */

enum http_method {
	HTTP_GET,
	HTTP_HEAD,
	HTTP_POST,
	HTTP_PUT,
	HTTP_PATCH,
	HTTP_DELETE,
	HTTP_OPTIONS,
	HTTP_NMETHODS
};

static const char *const http_methods[HTTP_NMETHODS] = {
	"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"
};

/* What the type keeps per configuration snapshot. */
struct http_state {
	struct http_policy	*policy;	/* owned */
	unsigned char		*ca;		/* owned: the CA bundle, ca_len */
	size_t			 ca_len;
};

/* A request header, as the job gave it. */
struct http_field {
	char		*name;		/* owned */
	char		*value;		/* owned */
};

struct http_xfer;
struct http_encode;

struct http_job {
	struct job		 job;
	struct http_url		 url;		/* owned: as asked, normalised */
	struct http_field	*fields;	/* owned, nfields */
	size_t			 nfields;
	char			*body;		/* owned: body_len bytes, or NULL */
	size_t			 body_len;
	uint64_t		 max_bytes;
	long			 connect_ms;
	uint8_t			 method;	/* enum http_method */
	uint8_t			 body_base64;	/* given as body_base64 */
	uint8_t			 base64;	/* "encoding":"base64" */
	uint8_t			 follow;
	struct http_xfer	*xfer;		/* libcurl has it, or NULL */
	struct http_encode	*encode;	/* a worker has its value, or NULL */
};

/* A transfer: the job's request, hop after hop, on one easy handle. */
struct http_xfer {
	struct http_slot	 slot;		/* its place in m's admission */
	struct http_handle	 h;		/* its easy handle: owned, once
						   first admitted */
	struct http_multi	*m;
	struct http_job		*job;		/* NULL once the job has gone */
	struct snapshot		*snap;		/* a reference: what it started with */
	const struct http_settings *s;		/* snap's */
	const struct http_state	*state;		/* snap's */
	struct http_url		 url;		/* owned: this hop's */
	struct curl_slist	*lines;		/* owned: this hop's header lines */
	struct http_response	 resp;		/* owned */
	uint64_t		 max_body;	/* the body, at most */
	uint64_t		 held;		/* counted in http_receiving */
	uint64_t		 skipped;	/* a redirect's body, dropped */
	enum err_code		 fail;		/* a callback stopped it, why: */
	char			*why;		/* owned: fail's message */
	char			*refusal;	/* owned: an address refused */
	unsigned		 redirects;
	uint8_t			 method;	/* this hop's */
	uint8_t			 send_body;	/* this hop's */
	uint8_t			 exempt;	/* this hop matched an allow prefix */
	uint8_t			 tried;		/* an allowed address was tried */
	uint8_t			 queued;	/* counted in m->queued */
	uint8_t			 skip;		/* this response is a redirect */
	uint8_t			 crossed;	/* a hop left the first origin */
	uint8_t			 in_multi;	/* easy was added to m */
	char			 errbuf[CURL_ERROR_SIZE];
};

/* A large value, encoded by a worker. */
struct http_encode {
	struct job_work		 jw;		/* its job, and the value */
	struct http_response	 resp;		/* owned */
	struct http_value_info	 info;
	char			*url;		/* owned: info.url */
	uint64_t		 held;		/* counted in http_receiving */
};

static const char *const http_keys[] = {
	"url", "method", "headers", "body", "body_base64", "encoding",
	"follow", "max_bytes", "connect_timeout_ms", NULL
};

static struct event_base	*http_base;
static TAILQ_HEAD(, http_multi)	 http_multis =
    TAILQ_HEAD_INITIALIZER(http_multis);
/* Bytes of bodies being received or encoded, every transfer's. */
static uint64_t			 http_receiving;

static void	http_done(CURL *, CURLcode);

static const struct http_settings *
http_settings(const struct config *cfg)
{
	return config_settings(cfg, &http_section);
}

/* The multi handle for cfg's connection limits, or NULL. */
static struct http_multi *
http_multi_find(const struct http_settings *s)
{
	struct http_multi	*m;

	TAILQ_FOREACH(m, &http_multis, entry) {
		if (m->max_total == (long)s->max_connections &&
		    m->max_host == (long)s->max_host_connections)
			return m;
	}
	return NULL;
}

/* Whether name is one of the NULL-ended names, in any case. */
static int
http_name_in(const char *name, const char *const *names)
{
	for (; *names != NULL; names++) {
		if (strcasecmp(name, *names) == 0)
			return 1;
	}
	return 0;
}

/* Header names that frame a request or its connection: gatherd's own. */
static const char *const http_framing[] = {
	"content-length", "transfer-encoding", "connection", "keep-alive",
	"upgrade", "te", "trailer", "proxy-connection", "http2-settings", NULL
};
/* What is not sent to another origin than the first. */
static const char *const http_credentials[] = {
	"authorization", "cookie", "proxy-authorization", NULL
};
/* What goes with the body when a redirect drops it. */
static const char *const http_body_fields[] = {
	"content-type", "content-encoding", "content-language",
	"content-location", NULL
};

/* A header name: an RFC 9110 token. */
static int
http_token(const char *s)
{
	if (*s == '\0')
		return 0;
	for (; *s != '\0'; s++) {
		if (!isalnum((unsigned char)*s) &&
		    strchr("!#$%&'*+-.^_`|~", *s) == NULL)
			return 0;
	}
	return 1;
}

static enum err_code
http_parse_headers(struct http_job *h, json_t *obj, const char *path,
    char **cause)
{
	const char	*name, *value;
	json_t		*v, *q;
	char		*quoted;
	size_t		 len;

	if (obj == NULL || json_is_null(obj))
		return ERR_NONE;
	if (!json_is_object(obj)) {
		*cause = xasprintf("%s.headers: expected an object of header"
		    " names to strings", path);
		return ERR_BAD_REQUEST;
	}
	h->fields = xcalloc(json_object_size(obj) + 1, sizeof *h->fields);
	json_object_foreach(obj, name, v) {
		q = json_string(name);
		quoted = q != NULL ? jsonw_quote(q) : xstrdup("?");
		json_decref(q);
		if (!http_token(name)) {
			*cause = xasprintf("%s.headers: %s is not a header name"
			    " (a token: letters, digits and !#$%%&'*+-.^_`|~;"
			    " no CR, LF or NUL)", path, quoted);
			free(quoted);
			return ERR_BAD_REQUEST;
		}
		if (http_name_in(name, http_framing)) {
			*cause = xasprintf("%s.headers: %s is gatherd's to set:"
			    " it frames requests on shared connections", path,
			    quoted);
			free(quoted);
			return ERR_BAD_REQUEST;
		}
		if (!json_is_string(v)) {
			*cause = xasprintf("%s.headers.%s: expected a string",
			    path, name);
			free(quoted);
			return ERR_BAD_REQUEST;
		}
		value = json_string_value(v);
		len = json_string_length(v);
		if (strlen(value) != len || strpbrk(value, "\r\n") != NULL) {
			*cause = xasprintf("%s.headers: the value of %s holds"
			    " a CR, LF or NUL", path, quoted);
			free(quoted);
			return ERR_BAD_REQUEST;
		}
		free(quoted);
		h->fields[h->nfields].name = xstrdup(name);
		h->fields[h->nfields].value = xstrdup(value);
		h->nfields++;
	}
	return ERR_NONE;
}

static enum err_code
http_parse_body(struct http_job *h, json_t *obj, const char *path,
    char **cause)
{
	json_t		*body = json_object_get(obj, "body");
	json_t		*b64 = json_object_get(obj, "body_base64");
	const char	*s;
	size_t		 len, bad;

	if (body != NULL && json_is_null(body))
		body = NULL;
	if (b64 != NULL && json_is_null(b64))
		b64 = NULL;
	if (body != NULL && b64 != NULL) {
		*cause = xasprintf("%s: give body or body_base64, not both",
		    path);
		return ERR_BAD_REQUEST;
	}
	if (body != NULL) {
		if (!json_is_string(body)) {
			*cause = xasprintf("%s.body: expected a string", path);
			return ERR_BAD_REQUEST;
		}
		len = json_string_length(body);
		h->body = xmalloc(len + 1);
		memcpy(h->body, json_string_value(body), len + 1);
		h->body_len = len;
	} else if (b64 != NULL) {
		if (!json_is_string(b64)) {
			*cause = xasprintf("%s.body_base64: expected a string",
			    path);
			return ERR_BAD_REQUEST;
		}
		s = json_string_value(b64);
		len = json_string_length(b64);
		h->body = xmalloc(len / 4 * 3 + 1);
		if (base64_decode(s, len, (unsigned char *)h->body,
		    &h->body_len, &bad) != 0) {
			*cause = xasprintf("%s.body_base64: not base64 (RFC"
			    " 4648, padded) at character %zu", path, bad);
			return ERR_BAD_REQUEST;
		}
		h->body_base64 = 1;
	}
	if (h->body != NULL && h->method == HTTP_HEAD) {
		*cause = xasprintf("%s: a HEAD request takes no body", path);
		return ERR_BAD_REQUEST;
	}
	return ERR_NONE;
}

static enum err_code
http_parse_limits(struct http_job *h, json_t *obj, const char *path,
    const struct http_settings *s, char **cause)
{
	json_t		*v;
	int64_t		 n;
	double		 ms;
	enum err_code	 err;

	h->max_bytes = s->max_response_bytes;
	v = json_object_get(obj, "max_bytes");
	if (v != NULL && !json_is_null(v)) {
		switch (jnum_integer(v, &n)) {
		case JNUM_INT:
			if (n >= 0)
				break;
			/* FALLTHROUGH */
		case JNUM_NOT_INT:
			*cause = xasprintf("%s.max_bytes: expected an integer"
			    " >= 0", path);
			return ERR_BAD_REQUEST;
		case JNUM_INT_RANGE:
			*cause = xasprintf("%s.max_bytes: integer out of range"
			    " (a signed 64-bit integer is expected)", path);
			return ERR_BAD_REQUEST;
		}
		if ((uint64_t)n > s->max_response_bytes) {
			*cause = xasprintf("%s.max_bytes: more than [http]"
			    " max_response_bytes (%llu)", path,
			    (unsigned long long)s->max_response_bytes);
			return ERR_BAD_REQUEST;
		}
		h->max_bytes = (uint64_t)n;
	}
	err = job_get_ms(obj, path, "connect_timeout_ms", 0, &ms, cause);
	if (err != ERR_NONE)
		return err;
	if (ms < 0)
		ms = (double)s->connect_timeout_ms;
	/* libcurl counts whole milliseconds, and 0 would mean its default. */
	ms = ceil(ms);
	h->connect_ms = ms < 1 ? 1 : ms > HTTP_CONNECT_MS_MAX ?
	    (long)HTTP_CONNECT_MS_MAX : (long)ms;
	return ERR_NONE;
}

/*
 * Validate an http job (any thread: the configuration is only read, the
 * URL parsed by libcurl's URL API, which has no shared state).
 */
static enum err_code
http_parse(struct job *job, json_t *obj, const char *path,
    const struct config *cfg, char **cause)
{
	struct http_job			*h = (struct http_job *)job;
	const struct http_settings	*s = http_settings(cfg);
	const char			*str;
	json_t				*v;
	char				*why;
	size_t				 i;
	enum err_code			 err;

	if (!s->enabled) {
		*cause = xasprintf("%s.type: the http job type is disabled"
		    " ([http] enabled = false)", path);
		return ERR_UNKNOWN_TYPE;
	}
	if ((v = job_require(obj, path, "url", cause)) == NULL)
		return ERR_BAD_REQUEST;
	if ((str = jsonw_cstr(v)) == NULL) {
		*cause = xasprintf("%s.url: expected a string without NUL",
		    path);
		return ERR_BAD_REQUEST;
	}
	if (http_url_parse(str, &h->url, &why) != 0) {
		*cause = xasprintf("%s.url: %s", path, why);
		free(why);
		return ERR_BAD_REQUEST;
	}
	h->method = HTTP_GET;
	v = json_object_get(obj, "method");
	if (v != NULL && !json_is_null(v)) {
		str = jsonw_cstr(v);
		for (i = 0; str != NULL && i < HTTP_NMETHODS; i++) {
			if (strcasecmp(str, http_methods[i]) == 0)
				break;
		}
		if (str == NULL || i == HTTP_NMETHODS) {
			*cause = xasprintf("%s.method: expected GET, HEAD, POST,"
			    " PUT, PATCH, DELETE or OPTIONS", path);
			return ERR_BAD_REQUEST;
		}
		h->method = (uint8_t)i;
	}
	if ((err = http_parse_headers(h, json_object_get(obj, "headers"),
	    path, cause)) != ERR_NONE)
		return err;
	if ((err = http_parse_body(h, obj, path, cause)) != ERR_NONE)
		return err;
	v = json_object_get(obj, "encoding");
	if (v != NULL && !json_is_null(v)) {
		str = jsonw_cstr(v) != NULL ? jsonw_cstr(v) : "";
		if (strcmp(str, "base64") == 0)
			h->base64 = 1;
		else if (strcmp(str, "utf8") != 0) {
			*cause = xasprintf("%s.encoding: expected \"utf8\" or"
			    " \"base64\"", path);
			return ERR_BAD_REQUEST;
		}
	}
	h->follow = 1;
	v = json_object_get(obj, "follow");
	if (v != NULL && !json_is_null(v)) {
		if (!json_is_boolean(v)) {
			*cause = xasprintf("%s.follow: expected true or false",
			    path);
			return ERR_BAD_REQUEST;
		}
		h->follow = json_is_true(v);
	}
	return http_parse_limits(h, obj, path, s, cause);
}

static void
http_free(struct job *job)
{
	struct http_job	*h = (struct http_job *)job;
	size_t		 i;

	http_url_free(&h->url);
	for (i = 0; i < h->nfields; i++) {
		free(h->fields[i].name);
		free(h->fields[i].value);
	}
	free(h->fields);
	free(h->body);
}

/* The transfer has a connection now (or has ended): no longer queued. */
static void
http_xfer_unqueue(struct http_xfer *x)
{
	if (x->queued) {
		x->queued = 0;
		x->m->queued--;
	}
}

/* Free a transfer whose easy handle has left the multi handle. */
static void
http_xfer_free(void *arg)
{
	struct http_xfer	*x = arg;

	if (x->h.easy != NULL)
		http_multi_easy_done(x->m, x->h.easy);
	curl_slist_free_all(x->lines);
	http_url_free(&x->url);
	http_response_free(&x->resp);
	http_receiving -= x->held;
	free(x->why);
	free(x->refusal);
	snapshot_unref(x->snap);
	free(x);
}

/* Record why a callback stops the transfer (the first reason counts). */
static void
http_xfer_stop(struct http_xfer *x, enum err_code code, char *why)
{
	err_keep_first(&x->fail, &x->why, code, why);
}

/*
 * "GET URL" for messages, the URL cut short, and which redirect led
 * there if one did: "GET URL (redirect 2)".
 */
static char *
http_xfer_what(const struct http_xfer *x)
{
	const char	*url = x->url.text;
	char		 hop[32] = "";

	if (x->redirects > 0)
		snprintf(hop, sizeof hop, " (redirect %u)", x->redirects);
	return xasprintf("%s %.*s%s%s", http_methods[x->method],
	    HTTP_URL_QUOTE, url, strlen(url) > HTTP_URL_QUOTE ? "..." : "",
	    hop);
}

/* CURLOPT_HEADERFUNCTION: keep the line; decide what the body is for. */
static size_t
http_header_cb(char *line, size_t size, size_t n, void *arg)
{
	struct http_xfer	*x = arg;
	size_t			 len = size * n;
	long			 status = 0;
	int			 rc;

	if (x->job == NULL)
		return 0;
	rc = http_response_header(&x->resp, line, len);
	if (x->resp.header_bytes > HTTP_HEADER_BYTES_MAX) {
		http_xfer_stop(x, ERR_HTTP_ERROR, xasprintf("protocol: the"
		    " response's header block is over %d bytes",
		    HTTP_HEADER_BYTES_MAX));
		return 0;
	}
	if (rc == 1)
		x->skip = 0;
	else if (rc == 2) {
		curl_easy_getinfo(x->h.easy, CURLINFO_RESPONSE_CODE, &status);
		x->skip = x->job->follow && x->resp.has_location &&
		    (status == 301 || status == 302 || status == 303 ||
		    status == 307 || status == 308);
	}
	return len;
}

/*
 * CURLOPT_WRITEFUNCTION: body bytes, decompressed. Past a limit the
 * transfer stops at once.
 */
static size_t
http_write_cb(char *data, size_t size, size_t n, void *arg)
{
	struct http_xfer	*x = arg;
	const struct limits	*l;
	size_t			 len = size * n;

	if (x->job == NULL)
		return 0;
	if (x->skip) {
		/* A redirect's body: read (the connection stays usable). */
		if ((x->skipped += len) > x->max_body) {
			http_xfer_stop(x, ERR_TOO_LARGE, xasprintf("a redirect's"
			    " body is over %llu bytes", (unsigned long long)
			    x->max_body));
			return 0;
		}
		return len;
	}
	if (x->resp.len + len > x->max_body) {
		l = &x->snap->cfg.limits;
		if (x->max_body == x->job->max_bytes)
			http_xfer_stop(x, ERR_TOO_LARGE, xasprintf("the body is"
			    " over max_bytes (%llu bytes)",
			    (unsigned long long)x->max_body));
		else
			http_xfer_stop(x, ERR_TOO_LARGE, xasprintf("the body"
			    " (over %llu bytes) cannot fit max_result_bytes"
			    " (%llu bytes) as %s", (unsigned long long)
			    x->max_body, (unsigned long long)
			    l->max_result_bytes, x->job->base64 ? "base64" :
			    "JSON"));
		return 0;
	}
	l = &x->snap->cfg.limits;
	if (budget_held() + http_receiving + len > l->max_memory_bytes) {
		http_xfer_stop(x, ERR_BUSY, xasprintf("max_memory_bytes (%llu)"
		    " would be exceeded: %llu bytes are held and %llu being"
		    " received", (unsigned long long)l->max_memory_bytes,
		    (unsigned long long)budget_held(),
		    (unsigned long long)http_receiving));
		return 0;
	}
	http_response_body(&x->resp, data, len, x->max_body);
	x->held += len;
	http_receiving += len;
	return len;
}

/*
 * CURLOPT_OPENSOCKETFUNCTION: the policy decides on each address libcurl
 * is about to connect to; one it refuses is never connected to, and
 * libcurl tries the name's next address.
 */
static curl_socket_t
http_open_cb(void *arg, curlsocktype purpose, struct curl_sockaddr *addr)
{
	struct http_xfer	*x = arg;
	char			*why;

	if (x->job == NULL || purpose != CURLSOCKTYPE_IPCXN)
		return CURL_SOCKET_BAD;
	if (http_policy_addr(x->state->policy, x->exempt, &addr->addr,
	    &why) != 0) {
		if (x->refusal == NULL)
			x->refusal = why;
		else
			free(why);
		return CURL_SOCKET_BAD;
	}
	x->tried = 1;
	http_xfer_unqueue(x);
	return http_multi_socket(x->m, addr);
}

/*
 * CURLOPT_PREREQFUNCTION: a connection, new or reused, is about to carry
 * this hop's request: its address must pass for this URL too (one opened
 * for a URL an allow prefix covers may not carry another).
 */
static int
http_prereq_cb(void *arg, char *ip, char *local_ip, int port, int local_port)
{
	struct http_xfer	*x = arg;
	char			*why;

	(void)local_ip;
	(void)port;
	(void)local_port;
	http_xfer_unqueue(x);
	if (x->job == NULL)
		return CURL_PREREQFUNC_ABORT;
	if (http_policy_ip(x->state->policy, x->exempt, ip, &why) != 0) {
		http_xfer_stop(x, ERR_FORBIDDEN, why);
		return CURL_PREREQFUNC_ABORT;
	}
	return CURL_PREREQFUNC_OK;
}

/* The header lines of this hop: the job's, as the hop allows, and ours. */
static struct curl_slist *
http_xfer_lines(const struct http_xfer *x)
{
	const struct http_job	*h = x->job;
	const struct http_field	*f;
	struct curl_slist	*list = NULL, *next;
	const char		*type = NULL;
	char			*line;
	int			 typed = 0, expect = 0;
	size_t			 i;

	for (i = 0; i < h->nfields; i++) {
		f = &h->fields[i];
		if (x->crossed && http_name_in(f->name, http_credentials))
			continue;
		if (!x->send_body && http_name_in(f->name, http_body_fields))
			continue;
		typed |= strcasecmp(f->name, "content-type") == 0;
		expect |= strcasecmp(f->name, "expect") == 0;
		/* "Name;" is how libcurl sends a header with no value. */
		line = *f->value != '\0' ? xasprintf("%s: %s", f->name,
		    f->value) : xasprintf("%s;", f->name);
		if ((next = curl_slist_append(list, line)) == NULL)
			fatalx("%s: curl_slist_append failed", __func__);
		list = next;
		free(line);
	}
	if (x->send_body && !typed)
		type = h->body == NULL ? "Content-Type:" : h->body_base64 ?
		    "Content-Type: application/octet-stream" :
		    "Content-Type: text/plain; charset=utf-8";
	/* No 100-continue round trip: a server that ignores it costs 1 s. */
	if ((type != NULL && (list = curl_slist_append(list, type)) == NULL) ||
	    (!expect && (list = curl_slist_append(list, "Expect:")) == NULL))
		fatalx("%s: curl_slist_append failed", __func__);
	return list;
}

/* Set the options of this hop: its URL, its method and body, its lines. */
static void
http_xfer_hop(struct http_xfer *x)
{
	const struct http_job	*h = x->job;
	CURL			*e = x->h.easy;
	const char		*custom = NULL;
	struct curl_blob	 blob;

	curl_easy_setopt(e, CURLOPT_URL, x->url.text);
	/*
	 * Over TLS, wait for a connection being opened to the origin to say
	 * (by ALPN) whether it multiplexes, rather than open more. Plain
	 * http is HTTP/1.1 here: waiting would only serialise requests.
	 */
	curl_easy_setopt(e, CURLOPT_PIPEWAIT, x->url.https ? 1L : 0L);
	/*
	 * The CA bundle, for https only: libcurl copies a blob into every
	 * transfer's connection config (200 KB for the system's), which cost
	 * plain http a tenth of its time.
	 */
	if (x->url.https && x->state->ca != NULL) {
		blob.data = x->state->ca;
		blob.len = x->state->ca_len;
		blob.flags = CURL_BLOB_NOCOPY;
		curl_easy_setopt(e, CURLOPT_CAINFO_BLOB, &blob);
	} else
		curl_easy_setopt(e, CURLOPT_CAINFO_BLOB, NULL);
	if (x->method != HTTP_GET && x->method != HTTP_POST &&
	    x->method != HTTP_HEAD)
		custom = http_methods[x->method];
	if (x->method == HTTP_HEAD)
		curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
	else if (!x->send_body)
		curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
	else {
		if (x->method == HTTP_GET)
			custom = "GET";
		curl_easy_setopt(e, CURLOPT_POST, 1L);
		curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE,
		    (curl_off_t)h->body_len);
		curl_easy_setopt(e, CURLOPT_COPYPOSTFIELDS,
		    h->body != NULL ? h->body : "");
	}
	curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, custom);
	curl_slist_free_all(x->lines);
	x->lines = http_xfer_lines(x);
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, x->lines);
}

/* The options every hop shares. */
static void
http_xfer_setup(struct http_xfer *x)
{
	CURL		*e = x->h.easy;

	curl_easy_setopt(e, CURLOPT_PRIVATE, x);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	/* Removed during a lookup: leave the resolver thread, never join it. */
	curl_easy_setopt(e, CURLOPT_QUICK_EXIT, 1L);
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(e, CURLOPT_MAXREDIRS, 0L);
	/* No proxy, whatever the environment says. */
	curl_easy_setopt(e, CURLOPT_PROXY, "");
	curl_easy_setopt(e, CURLOPT_NOPROXY, "*");
	curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 2L);
	/* The bundle read with the snapshot (hop by hop): no disk read here. */
	curl_easy_setopt(e, CURLOPT_CAINFO, NULL);
	curl_easy_setopt(e, CURLOPT_CAPATH, NULL);
	curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "");
	if (x->s->user_agent != NULL && *x->s->user_agent != '\0')
		curl_easy_setopt(e, CURLOPT_USERAGENT, x->s->user_agent);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, x->job->connect_ms);
	curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, http_header_cb);
	curl_easy_setopt(e, CURLOPT_HEADERDATA, x);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, http_write_cb);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, x);
	curl_easy_setopt(e, CURLOPT_OPENSOCKETFUNCTION, http_open_cb);
	curl_easy_setopt(e, CURLOPT_OPENSOCKETDATA, x);
	curl_easy_setopt(e, CURLOPT_CLOSESOCKETFUNCTION,
	    http_multi_closesocket);
	curl_easy_setopt(e, CURLOPT_CLOSESOCKETDATA, x->m);
	curl_easy_setopt(e, CURLOPT_PREREQFUNCTION, http_prereq_cb);
	curl_easy_setopt(e, CURLOPT_PREREQDATA, x);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, x->errbuf);
}

/* This hop's turn has come: hand the easy handle (back) to libcurl. */
static void
http_xfer_admitted(struct http_slot *slot)
{
	struct http_xfer	*x = (struct http_xfer *)(void *)slot;

	if (x->h.easy == NULL) {
		x->h.easy = http_multi_easy(x->m);
		http_xfer_setup(x);
	}
	http_xfer_hop(x);
	x->queued = 1;
	x->m->queued++;
	x->tried = 0;
	x->errbuf[0] = '\0';
	x->in_multi = 1;
	http_multi_add(x->m, &x->h);
}

/* Ask for this hop's place among the transfers libcurl has. */
static void
http_xfer_ask(struct http_xfer *x)
{
	char	*key = xasprintf("%s:%u", x->url.host, x->url.port);

	x->slot.admit = http_xfer_admitted;
	http_admit_ask(&x->m->admit, &x->slot, key);
	free(key);
}

/*
 * Take the transfer from libcurl (at once, or from the loop if libcurl
 * is on the stack) and give its place up; then free it.
 */
static void
http_xfer_drop(struct http_xfer *x)
{
	http_xfer_unqueue(x);
	http_admit_leave(&x->m->admit, &x->slot);
	if (!x->in_multi) {
		http_xfer_free(x);
		return;
	}
	x->in_multi = 0;
	http_multi_remove(x->m, &x->h, http_xfer_free, x);
}

/*
 * End the job with code and text (its value, len bytes, if ERR_NONE),
 * the transfer removed and freed first: the job's end may free the job,
 * its batch and the last reference to the snapshot.
 */
static void
http_end(struct http_xfer *x, enum err_code code, char *text, size_t len)
{
	struct http_job	*h = x->job;

	h->xfer = NULL;
	x->job = NULL;
	http_xfer_drop(x);
	job_finish_result(&h->job, code, text, len);
}

/* End the job with an error: "GET URL: " and the message. */
static void
http_end_error(struct http_xfer *x, enum err_code code, const char *msg)
{
	char	*what = http_xfer_what(x);

	http_end(x, code, xasprintf("%s: %s", what, msg), SIZE_MAX);
	free(what);
}

static void
http_encode_free(struct job_work *jw)
{
	struct http_encode	*e = (struct http_encode *)jw;

	http_response_free(&e->resp);
	http_receiving -= e->held;
	free(e->url);
}

/* On a worker: encode the value. */
static void
http_encode_run(struct pool_work *pw)
{
	struct http_encode	*e = (struct http_encode *)pw;

	e->jw.code = http_response_value(&e->resp, &e->info, &e->jw.text,
	    &e->jw.len);
}

/* The value is made: the job has no encoding on a worker now. */
static void
http_encode_detach(struct job *job)
{
	((struct http_job *)job)->encode = NULL;
}

/* The HTTP version of the last response, as the value writes it. */
static const char *
http_xfer_version(const struct http_xfer *x)
{
	long	v = 0;

	curl_easy_getinfo(x->h.easy, CURLINFO_HTTP_VERSION, &v);
	switch (v) {
	case CURL_HTTP_VERSION_1_0:
		return "1.0";
	case CURL_HTTP_VERSION_2_0:
		return "2";
	case CURL_HTTP_VERSION_3:
		return "3";
	default:
		return "1.1";
	}
}

/* The response is whole and final: make the value, or have it made. */
static void
http_xfer_value(struct http_xfer *x, long status)
{
	struct http_job		*h = x->job;
	struct http_value_info	 info;
	struct http_encode	*e;
	char			*text;
	size_t			 len = 0;
	enum err_code		 code;

	memset(&info, 0, sizeof info);
	info.status = status;
	info.base64 = h->base64;
	info.url = x->url.text;
	info.redirects = x->redirects;
	info.version = http_xfer_version(x);
	info.max_bytes = x->snap->cfg.limits.max_result_bytes;
	if (x->resp.len <= HTTP_ENCODE_ON_POOL) {
		code = http_response_value(&x->resp, &info, &text, &len);
		http_end(x, code, text, code == ERR_NONE ? len : SIZE_MAX);
		return;
	}
	/* A large body: a worker encodes it, so the loop goes on. */
	e = xcalloc(1, sizeof *e);
	e->jw.pw.run = http_encode_run;
	e->jw.detach = http_encode_detach;
	e->jw.free = http_encode_free;
	e->resp = x->resp;
	memset(&x->resp, 0, sizeof x->resp);
	e->url = xstrdup(x->url.text);
	e->info = info;
	e->info.url = e->url;
	e->held = x->held;
	x->held = 0;
	h->xfer = NULL;
	h->encode = e;
	x->job = NULL;
	http_xfer_drop(x);
	job_work_submit(&e->jw, &h->job);
}

/* What went wrong, in the spec's words, for a libcurl error. */
static const char *
http_curl_what(CURLcode rc)
{
	switch (rc) {
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
		return "DNS";
	case CURLE_COULDNT_CONNECT:
		return "connect";
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CIPHER:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_ENGINE_NOTFOUND:
	case CURLE_SSL_ENGINE_SETFAILED:
	case CURLE_SSL_ENGINE_INITFAILED:
	case CURLE_SSL_SHUTDOWN_FAILED:
	case CURLE_SSL_CRL_BADFILE:
	case CURLE_SSL_ISSUER_ERROR:
	case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
	case CURLE_SSL_INVALIDCERTSTATUS:
	case CURLE_SSL_CLIENTCERT:
	case CURLE_USE_SSL_FAILED:
		return "TLS";
	default:
		return "protocol";
	}
}

/* The transfer failed: say why, in the job's error. */
static void
http_xfer_failed(struct http_xfer *x, CURLcode rc)
{
	const char	*detail;
	char		*msg;

	if (x->fail != ERR_NONE) {
		http_end_error(x, x->fail, x->why);
		return;
	}
	if (rc == CURLE_COULDNT_CONNECT && x->refusal != NULL && !x->tried) {
		/* Every address of the name was refused: none was tried. */
		http_end_error(x, ERR_FORBIDDEN, x->refusal);
		return;
	}
	detail = x->errbuf[0] != '\0' ? x->errbuf : curl_easy_strerror(rc);
	if (rc == CURLE_OPERATION_TIMEDOUT)
		msg = xasprintf("connect timed out (connect_timeout_ms %ld):"
		    " %s", x->job->connect_ms, detail);
	else if (x->refusal != NULL)
		msg = xasprintf("%s: %s (and %s)", http_curl_what(rc), detail,
		    x->refusal);
	else
		msg = xasprintf("%s: %s", http_curl_what(rc), detail);
	http_end_error(x, ERR_HTTP_ERROR, msg);
	free(msg);
}

/*
 * Where a redirect goes: its Location as written when it is absolute
 * (http_url_parse is then as strict with it as with a request's URL),
 * else resolved against this hop's URL. New memory, or NULL.
 */
static char *
http_xfer_location(const struct http_xfer *x)
{
	CURLU		*h;
	char		*loc, *abs = NULL, *s;
	const char	*p;

	if ((loc = http_response_field(&x->resp, "location")) == NULL)
		return NULL;
	for (p = loc; isalnum((unsigned char)*p) || *p == '+' || *p == '-' ||
	    *p == '.'; p++)
		/* nothing */;
	if (*p == ':' && p > loc && isalpha((unsigned char)*loc))
		return loc;
	if ((h = curl_url()) == NULL)
		fatalx("%s: curl_url failed", __func__);
	if (curl_url_set(h, CURLUPART_URL, x->url.text, 0) == CURLUE_OK &&
	    curl_url_set(h, CURLUPART_URL, loc, 0) == CURLUE_OK &&
	    curl_url_get(h, CURLUPART_URL, &s, 0) == CURLUE_OK) {
		abs = xstrdup(s);
		curl_free(s);
	}
	curl_url_cleanup(h);
	free(loc);
	return abs;
}

/*
 * Follow a redirect: its URL is checked as the request's was, and a new
 * hop starts on the same easy handle.
 */
static void
http_xfer_redirect(struct http_xfer *x, long status, const char *loc)
{
	struct http_url	 next;
	char		*why, *msg;
	int		 rc, exempt;

	if (x->redirects >= x->s->max_redirects) {
		msg = xasprintf("redirects: more than max_redirects (%llu)",
		    (unsigned long long)x->s->max_redirects);
		http_end_error(x, ERR_HTTP_ERROR, msg);
		free(msg);
		return;
	}
	if ((rc = http_url_parse(loc, &next, &why)) != 0 ||
	    http_policy_url(x->state->policy, &next, &exempt, &why) != 0) {
		msg = xasprintf("redirect %u to %.*s: %s", x->redirects + 1,
		    HTTP_URL_QUOTE, loc, why);
		http_end_error(x, rc == HTTP_URL_BAD ? ERR_HTTP_ERROR :
		    ERR_FORBIDDEN, msg);
		free(why);
		free(msg);
		if (rc == 0)
			http_url_free(&next);
		return;
	}
	x->redirects++;
	if ((status == 303 && x->method != HTTP_HEAD) ||
	    ((status == 301 || status == 302) && x->method == HTTP_POST)) {
		x->method = HTTP_GET;
		x->send_body = 0;
	}
	if (!http_url_same_origin(&x->url, &next))
		x->crossed = 1;
	http_url_free(&x->url);
	x->url = next;
	x->exempt = (uint8_t)exempt;
	free(x->refusal);
	x->refusal = NULL;
	x->skip = 0;
	x->skipped = 0;
	http_response_reset(&x->resp);
	/* The next hop waits for its place, perhaps at another origin. */
	x->in_multi = 0;
	http_multi_remove(x->m, &x->h, NULL, NULL);
	http_admit_leave(&x->m->admit, &x->slot);
	http_xfer_ask(x);
}

/*
 * A Retry-After value in milliseconds from now: delta-seconds, or an
 * HTTP-date (0 when past); -1 when it is neither. Past 30 s the engine
 * waits 30 s.
 */
static double
http_retry_after_ms(const char *v, time_t now)
{
	const char	*p;
	double		 secs = 0;
	time_t		 at;

	while (*v == ' ' || *v == '\t')
		v++;
	if (*v >= '0' && *v <= '9') {
		for (p = v; *p >= '0' && *p <= '9'; p++) {
			if (secs < 1e9)
				secs = secs * 10 + (*p - '0');
		}
		while (*p == ' ' || *p == '\t')
			p++;
		return *p == '\0' ? secs * 1000 : -1;
	}
	if ((at = curl_getdate(v, &now)) == -1)
		return -1;
	return at > now ? difftime(at, now) * 1000 : 0;
}

/*
 * A final response with status 429 or 5xx is a success that the job's
 * retry, if it has one, tries again (job_try_transient), after its
 * Retry-After if that is longer than the backoff. Without retry it is a
 * result like any other.
 */
static void
http_xfer_transient(struct http_xfer *x, long status)
{
	char	*after;
	double	 hint = -1;

	if (status != 429 && (status < 500 || status > 599))
		return;
	if ((after = http_response_field(&x->resp, "retry-after")) != NULL) {
		hint = http_retry_after_ms(after, time(NULL));
		free(after);
	}
	job_try_transient(&x->job->job, hint);
}

/* The multi handle says a transfer ended (libcurl is off the stack). */
static void
http_done(CURL *easy, CURLcode rc)
{
	struct http_xfer	*x;
	char			*priv = NULL, *loc;
	long			 status = 0;

	curl_easy_getinfo(easy, CURLINFO_PRIVATE, &priv);
	x = (struct http_xfer *)(void *)priv;
	if (x->job == NULL) {
		http_xfer_drop(x);
		return;
	}
	http_xfer_unqueue(x);
	if (rc != CURLE_OK) {
		http_xfer_failed(x, rc);
		return;
	}
	if (strcmp(http_xfer_version(x), "2") == 0)
		http_admit_multiplexed(&x->m->admit, &x->slot);
	curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
	if (!x->skip) {
		http_xfer_transient(x, status);
		http_xfer_value(x, status);
		return;
	}
	if ((loc = http_xfer_location(x)) == NULL)
		http_end_error(x, ERR_HTTP_ERROR, "redirects: the Location"
		    " header is not a URL");
	else
		http_xfer_redirect(x, status, loc);
	free(loc);
}

/* Start the request: the policy first, then libcurl. */
static void
http_start(struct job *job)
{
	struct http_job			*h = (struct http_job *)job;
	struct snapshot			*snap = job->batch->snap;
	const struct http_settings	*s = http_settings(&snap->cfg);
	const struct http_state		*state;
	struct http_multi		*m;
	struct http_xfer		*x;
	uint64_t			 max_value;
	char				*why;
	int				 exempt;

	state = snapshot_state(snap, job->type);
	if (state == NULL || (m = http_multi_find(s)) == NULL) {
		job_finish_errorf(job, ERR_INTERNAL, "http is not set up");
		return;
	}
	if (http_policy_url(state->policy, &h->url, &exempt, &why) != 0) {
		job_finish_errorf(job, ERR_FORBIDDEN, "%s %s: %s",
		    http_methods[h->method], h->url.text, why);
		free(why);
		return;
	}
	x = xcalloc(1, sizeof *x);
	x->m = m;
	x->job = h;
	x->snap = snapshot_ref(snap);
	x->s = s;
	x->state = state;
	x->url.text = xstrdup(h->url.text);
	x->url.norm = xstrdup(h->url.norm);
	x->url.host = xstrdup(h->url.host);
	x->url.port = h->url.port;
	x->url.https = h->url.https;
	x->exempt = (uint8_t)exempt;
	x->method = h->method;
	x->send_body = h->body != NULL || h->method == HTTP_POST ||
	    h->method == HTTP_PUT || h->method == HTTP_PATCH;
	/* A body that cannot fit max_result_bytes once encoded stops early. */
	max_value = snap->cfg.limits.max_result_bytes;
	if (h->base64)
		max_value = max_value / 4 * 3;
	x->max_body = h->max_bytes < max_value ? h->max_bytes : max_value;
	h->xfer = x;
	http_xfer_ask(x);
}

/*
 * Stop the request now: its easy handle leaves the multi handle (its
 * connection closed if the response was not read whole), or its value
 * is abandoned to the worker encoding it.
 */
static void
http_cancel(struct job *job)
{
	struct http_job		*h = (struct http_job *)job;
	struct http_xfer	*x = h->xfer;

	if (x != NULL) {
		h->xfer = NULL;
		x->job = NULL;
		http_xfer_drop(x);
	}
	if (h->encode != NULL)
		job_work_cancel(&h->encode->jw);
}

/* At start-up, on the loop. */
static void
http_init(struct event_base *base)
{
	CURLcode	rc;

	if ((rc = curl_global_init(CURL_GLOBAL_DEFAULT)) != CURLE_OK)
		fatalx("%s: curl_global_init: %s", __func__,
		    curl_easy_strerror(rc));
	http_base = base;
}

/* At exit: every multi handle left (no job is). */
static void
http_fini(void)
{
	struct http_multi	*m;

	while ((m = TAILQ_FIRST(&http_multis)) != NULL) {
		TAILQ_REMOVE(&http_multis, m, entry);
		m->refs = 1;
		http_multi_unref(m);
	}
	curl_global_cleanup();
	http_base = NULL;
}

/* A snapshot is to be made: a ca_file must be readable (any thread). */
static int
http_check(const struct config *cfg, char **cause)
{
	const struct http_settings	*s = http_settings(cfg);
	unsigned char			*ca;
	size_t				 len;
	char				*why;

	if (!s->enabled || s->ca_file == NULL || *s->ca_file == '\0')
		return 0;
	if (http_ca_read(s->ca_file, &ca, &len, &why) != 0) {
		*cause = xasprintf("[http] ca_file: %s", why);
		free(why);
		return -1;
	}
	free(ca);
	return 0;
}

/* What a snapshot keeps: its policy, its CA bundle read into memory. */
static void *
http_load(const struct config *cfg)
{
	const struct http_settings	*s = http_settings(cfg);
	struct http_state		*state;
	const char			*path = s->ca_file;
	char				*why;

	if (!s->enabled)
		return NULL;
	state = xcalloc(1, sizeof *state);
	state->policy = http_policy_new(&s->allow, &s->deny);
	if (path == NULL || *path == '\0')
		path = http_ca_default();
	if (path == NULL)
		log_warnx("http: libcurl names no CA bundle: https will fail"
		    " (set [http] ca_file)");
	else if (http_ca_read(path, &state->ca, &state->ca_len, &why) != 0) {
		log_warnx("http: CA bundle %s: https will fail", why);
		free(why);
	}
	return state;
}

static void
http_unload(void *arg)
{
	struct http_state	*state = arg;

	http_policy_free(state->policy);
	free(state->ca);
	free(state);
}

/*
 * A snapshot comes into force (attach, +1) or its last batch has gone
 * (detach, -1). Snapshots with the same [http] settings share one multi
 * handle: the first makes it, the last closes it.
 */
static void
http_count(const struct config *cfg, int delta)
{
	const struct http_settings	*s = http_settings(cfg);
	struct http_multi		*m;

	if (!s->enabled)
		return;
	if ((m = http_multi_find(s)) == NULL) {
		if (delta < 0)
			fatalx("%s: no multi handle", __func__);
		m = http_multi_new(http_base, (long)s->max_connections,
		    (long)s->max_host_connections, http_done);
		TAILQ_INSERT_TAIL(&http_multis, m, entry);
	}
	if (delta > 0) {
		m->snaps++;
		return;
	}
	if (--m->snaps > 0)
		return;
	/* Off the list; freed once no call of its own is running either. */
	TAILQ_REMOVE(&http_multis, m, entry);
	http_multi_unref(m);
}

static void
http_attach(const struct config *cfg)
{
	http_count(cfg, 1);
}

static void
http_detach(const struct config *cfg)
{
	http_count(cfg, -1);
}

/*
 * Its descriptors: a socket per connection, and as many again for a
 * second address tried at once (happy eyeballs) and the resolver's.
 */
static uint64_t
http_fds(const struct config *cfg)
{
	const struct http_settings	*s = http_settings(cfg);

	return s->enabled ? 2 * s->max_connections : 0;
}

/* status.http: connections open, requests without one yet. */
static void
http_status(const struct config *cfg, json_t *st)
{
	const struct http_settings	*s = http_settings(cfg);
	struct http_multi		*m;
	json_int_t			 conns = 0, queued = 0, transfers = 0;

	if (!s->enabled)
		return;
	TAILQ_FOREACH(m, &http_multis, entry) {
		conns += m->sockets;
		queued += m->queued + m->admit.waiting;
		transfers += m->transfers + m->admit.waiting;
	}
	json_object_set_new(st, "http", json_pack("{s:I, s:I, s:I, s:I, s:I,"
	    " s:I}", "connections", conns, "queued", queued, "requests",
	    transfers, "receiving_bytes", (json_int_t)http_receiving,
	    "max_connections", (json_int_t)s->max_connections,
	    "max_host_connections", (json_int_t)s->max_host_connections));
}

#define HTTP_KEY(name, type, field, min, max, def) {			\
	name, &type, offsetof(struct http_settings, field), min, max, def, 0 \
}

static const struct config_key http_settings_keys[] = {
	HTTP_KEY("enabled", config_bool, enabled, 0, 0, "true"),
	HTTP_KEY("allow", http_rules_type, allow, 0, 0, NULL),
	HTTP_KEY("deny", http_rules_type, deny, 0, 0, NULL),
	HTTP_KEY("max_response_bytes", config_u64, max_response_bytes, 0,
	    CONFIG_INT_MAX, "16777216"),
	HTTP_KEY("max_connections", config_u64, max_connections, 1, 65536,
	    "256"),
	HTTP_KEY("max_host_connections", config_u64, max_host_connections, 1,
	    65536, "16"),
	HTTP_KEY("max_redirects", config_u64, max_redirects, 0, 100, "5"),
	HTTP_KEY("connect_timeout_ms", config_u64, connect_timeout_ms, 1,
	    (uint64_t)HTTP_CONNECT_MS_MAX, "10000"),
	HTTP_KEY("user_agent", config_text, user_agent, 0, 0,
	    "gatherd/" PACKAGE_VERSION),
	HTTP_KEY("ca_file", config_text, ca_file, 0, 0, NULL),
	{ NULL, NULL, 0, 0, 0, NULL, 0 }
};

const struct config_section http_section = {
	"http", http_settings_keys, sizeof(struct http_settings)
};

const struct job_type job_type_http = {
	JOB_TYPE_COMMON(http),
	JOB_TYPE_SHARED(http),
	.free = http_free,
	.section = &http_section,
	.load = http_load,
	.unload = http_unload,
};
