/*
 * A small HTTP server for the http suites and the benchmarks, for what
 * nginx cannot serve: delays, drips, redirect chains, chunked bodies of a
 * given size, echoes, odd headers, and a port that accepts and never
 * speaks (a TLS handshake that never ends). libevent's evhttp, as a
 * process of its own on 127.0.0.1.
 *
 *	http-server LOG
 *
 * binds two free ports and writes "ports HTTP HOLD" as LOG's first line,
 * then one line per event the tests wait for: "request TAG" when a
 * request with ?tag=TAG of a slow path (delay, drip, hang) has come in,
 * "close TAG SENT" when its connection closes (SENT body bytes written
 * to it), "hold accept" and "hold close". Paths (query parameters):
 *
 *	/echo			200, JSON {"method","uri","headers","body_base64"}
 *	/status?code=N&location=URL	that status, that Location if given
 *	/delay?ms=N&to=URL	"ok" after N ms, or a 302 to URL if given
 *	/hang			never answers
 *	/drip?bytes=N&chunk=K&every=MS&length=L
 *				K bytes every MS ms until N (0: for ever),
 *				chunked, or with Content-Length L if given
 *	/chunked?bytes=N	N bytes of 'a', chunked, in 1000-byte pieces
 *	/bytes?n=N		N bytes 0xff (not UTF-8)
 *	/redirect?n=N&code=C&to=URL
 *				C (302) to /redirect?n=N-1..., at 0 to URL
 *				if given, else 200 "done"
 *	/headers		repeated, mixed-case and non-UTF-8 headers
 *	/headers?n=N		N headers of 100 bytes each
 *	/flaky?key=K&fail=N&code=C&retry_after=V
 *				the first N (1) requests of key K answer C
 *				(503), with Retry-After V if given; later
 *				ones 200 "ok"; each logs "flaky K I C"
 *
 * Any request may add tag=TAG (see above). It runs until killed.
 */

#include <sys/queue.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/listener.h>
#include <jansson.h>

#include "base64.h"

static struct event_base	*base;
static FILE			*evlog;

/* A request answered over time (a delay, a drip), or held (a hang). */
struct slow {
	struct evhttp_request	*req;
	struct event		*timer;
	struct event		*watch;		/* the socket, for the client's EOF */
	char			*tag;		/* NULL if untagged */
	long			 left;		/* drip: bytes to send; < 0: for ever */
	long			 chunk;
	long			 every;
	long			 sent;
	int			 closed;	/* the client went away */
	int			 started;	/* a reply was begun */
	int			 code;		/* a delay's status */
};

static void __attribute__((noreturn))
die(const char *what)
{
	fprintf(stderr, "http-server: %s: %s\n", what, strerror(errno));
	exit(1);
}

/* A query parameter as a number, or def. */
static long
param_long(struct evkeyvalq *q, const char *key, long def)
{
	const char	*v = evhttp_find_header(q, key);

	return v != NULL ? strtol(v, NULL, 10) : def;
}

static void
slow_free(struct slow *s)
{
	if (s->watch != NULL)
		event_free(s->watch);
	if (s->timer != NULL)
		event_free(s->timer);
	free(s->tag);
	free(s);
}

/* The connection of a tagged request closed. */
static void
slow_closed(struct evhttp_connection *evcon, void *arg)
{
	struct slow	*s = arg;

	(void)evcon;
	if (s->closed)
		return;
	s->closed = 1;
	fprintf(evlog, "close %s %ld\n", s->tag != NULL ? s->tag : "-",
	    s->sent);
	/* Let the timer free the request, out of evhttp's call. */
	event_active(s->timer, EV_TIMEOUT, 1);
}

/*
 * The socket of a request not answered yet is readable: evhttp reads no
 * more once it has a request, so a client that closes is seen here.
 */
static void
slow_watch(evutil_socket_t fd, short what, void *arg)
{
	struct slow	*s = arg;
	char		 c;
	ssize_t		 n;

	(void)what;
	n = recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return;
	event_del(s->watch);
	if (n > 0)
		return;		/* more requests: evhttp's business */
	slow_closed(evhttp_request_get_connection(s->req), s);
}

static void
slow_drip(evutil_socket_t fd, short what, void *arg)
{
	struct slow			*s = arg;
	struct evhttp_connection	*evcon;
	struct evbuffer			*b;
	struct timeval			 tv;
	long				 n;
	char				*chunk;

	(void)fd;
	(void)what;
	if (s->closed) {
		/* Gone: evhttp frees the connection, and the request with it. */
		if ((evcon = evhttp_request_get_connection(s->req)) != NULL) {
			evhttp_connection_set_closecb(evcon, NULL, NULL);
			evhttp_connection_free(evcon);
		} else
			evhttp_send_reply_end(s->req);
		slow_free(s);
		return;
	}
	if (s->left == 0) {
		if (!s->started)
			evhttp_send_reply(s->req, s->code, "OK", NULL);
		else
			evhttp_send_reply_end(s->req);
		evhttp_connection_set_closecb(evhttp_request_get_connection(
		    s->req), NULL, NULL);
		slow_free(s);
		return;
	}
	n = s->left < 0 || s->chunk < s->left ? s->chunk : s->left;
	if ((chunk = malloc((size_t)n)) == NULL || (b = evbuffer_new()) == NULL)
		die("malloc");
	memset(chunk, 'd', (size_t)n);
	evbuffer_add(b, chunk, (size_t)n);
	free(chunk);
	evhttp_send_reply_chunk(s->req, b);
	evbuffer_free(b);
	s->sent += n;
	if (s->left > 0)
		s->left -= n;
	tv.tv_sec = s->every / 1000;
	tv.tv_usec = s->every % 1000 * 1000;
	evtimer_add(s->timer, &tv);
}

/* A reply given later (delay), dripped (drip), or never (hang). */
static void
slow_new(struct evhttp_request *req, struct evkeyvalq *q, int drip, long ms)
{
	struct slow	*s;
	struct timeval	 tv;
	const char	*tag = evhttp_find_header(q, "tag");
	const char	*length, *to;

	if ((s = calloc(1, sizeof *s)) == NULL)
		die("calloc");
	s->req = req;
	s->tag = tag != NULL ? strdup(tag) : NULL;
	if (tag != NULL)
		fprintf(evlog, "request %s\n", tag);
	s->timer = evtimer_new(base, slow_drip, s);
	evhttp_connection_set_closecb(evhttp_request_get_connection(req),
	    slow_closed, s);
	s->watch = event_new(base, bufferevent_getfd(
	    evhttp_connection_get_bufferevent(evhttp_request_get_connection(
	    req))), EV_READ | EV_PERSIST, slow_watch, s);
	event_add(s->watch, NULL);
	if (drip) {
		s->left = param_long(q, "bytes", 0);
		if (s->left == 0)
			s->left = -1;
		s->chunk = param_long(q, "chunk", 1000);
		s->every = param_long(q, "every", 10);
		if ((length = evhttp_find_header(q, "length")) != NULL)
			evhttp_add_header(evhttp_request_get_output_headers(req),
			    "Content-Length", length);
		evhttp_send_reply_start(req, 200, "OK");
		s->started = 1;
		ms = 0;
	} else {
		s->left = 0;
		if (ms < 0)
			return;		/* a hang: only the close frees it */
		s->code = 200;
		if ((to = evhttp_find_header(q, "to")) != NULL) {
			evhttp_add_header(evhttp_request_get_output_headers(req),
			    "Location", to);
			s->code = 302;
		}
		evbuffer_add_printf(evhttp_request_get_output_buffer(req),
		    "ok");
	}
	tv.tv_sec = ms / 1000;
	tv.tv_usec = ms % 1000 * 1000;
	evtimer_add(s->timer, &tv);
}

static const char *
method_name(enum evhttp_cmd_type cmd)
{
	switch (cmd) {
	case EVHTTP_REQ_GET:
		return "GET";
	case EVHTTP_REQ_POST:
		return "POST";
	case EVHTTP_REQ_HEAD:
		return "HEAD";
	case EVHTTP_REQ_PUT:
		return "PUT";
	case EVHTTP_REQ_DELETE:
		return "DELETE";
	case EVHTTP_REQ_OPTIONS:
		return "OPTIONS";
	case EVHTTP_REQ_PATCH:
		return "PATCH";
	default:
		return "?";
	}
}

/* The request as JSON: method, URI, headers (as sent), body in base64. */
static void
echo(struct evhttp_request *req)
{
	struct evkeyvalq	*in = evhttp_request_get_input_headers(req);
	struct evbuffer		*body = evhttp_request_get_input_buffer(req);
	struct evkeyval		*kv;
	json_t			*o, *h;
	size_t			 len = evbuffer_get_length(body), n;
	char			*text, *b64;

	h = json_array();
	TAILQ_FOREACH(kv, in, next)
		json_array_append_new(h, json_pack("[s,s]", kv->key,
		    kv->value));
	b64 = base64_encode_alloc(evbuffer_pullup(body, -1), len, &n);
	o = json_pack("{s:s, s:s, s:o, s:s, s:I}", "method",
	    method_name(evhttp_request_get_command(req)), "uri",
	    evhttp_request_get_uri(req), "headers", h, "body_base64", b64,
	    "body_len", (json_int_t)len);
	free(b64);
	text = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	evhttp_add_header(evhttp_request_get_output_headers(req),
	    "Content-Type", "application/json");
	evbuffer_add(evhttp_request_get_output_buffer(req), text, strlen(text));
	free(text);
	evhttp_send_reply(req, 200, "OK", NULL);
}

static void
headers(struct evhttp_request *req, struct evkeyvalq *q)
{
	struct evkeyvalq	*out = evhttp_request_get_output_headers(req);
	long			 i, n = param_long(q, "n", 0);
	char			 name[32], value[128];

	if (n > 0) {
		memset(value, 'v', 100);
		value[100] = '\0';
		for (i = 0; i < n; i++) {
			snprintf(name, sizeof name, "X-Many-%ld", i);
			evhttp_add_header(out, name, value);
		}
	} else {
		evhttp_add_header(out, "X-Dup", "one");
		evhttp_add_header(out, "X-Mixed-Case", "Value");
		evhttp_add_header(out, "x-dup", "two");
		evhttp_add_header(out, "Set-Cookie", "a=1");
		evhttp_add_header(out, "Set-Cookie", "b=2");
		evhttp_add_header(out, "X-Latin1", "caf\xe9");
	}
	evbuffer_add_printf(evhttp_request_get_output_buffer(req), "headers");
	evhttp_send_reply(req, 200, "OK", NULL);
}

static void
redirect(struct evhttp_request *req, struct evkeyvalq *q)
{
	long		 n = param_long(q, "n", 0);
	long		 code = param_long(q, "code", 302);
	const char	*to = evhttp_find_header(q, "to");
	char		*loc, *enc;

	if (n > 0) {
		enc = to != NULL ? evhttp_encode_uri(to) : NULL;
		if (asprintf(&loc, "/redirect?n=%ld&code=%ld%s%s", n - 1, code,
		    enc != NULL ? "&to=" : "", enc != NULL ? enc : "") == -1)
			die("asprintf");
		free(enc);
	} else if (to != NULL) {
		loc = strdup(to);
	} else {
		evbuffer_add_printf(evhttp_request_get_output_buffer(req),
		    "done");
		evhttp_send_reply(req, 200, "OK", NULL);
		return;
	}
	evhttp_add_header(evhttp_request_get_output_headers(req), "Location",
	    loc);
	free(loc);
	evbuffer_add_printf(evhttp_request_get_output_buffer(req), "moved");
	evhttp_send_reply(req, (int)code, "Moved", NULL);
}

/*
 * /flaky?key=K&fail=N&code=C&retry_after=V: the first N requests with key
 * K answer C (503) with Retry-After V if given, the next ones 200 "ok";
 * the log gets "flaky K I C" for the I-th request (from 1).
 */
#define FLAKY_KEYS	64

static struct {
	char	key[32];
	long	seen;
}	flaky_keys[FLAKY_KEYS];

static void
flaky(struct evhttp_request *req, struct evkeyvalq *q)
{
	const char	*key = evhttp_find_header(q, "key");
	const char	*after = evhttp_find_header(q, "retry_after");
	long		 fail = param_long(q, "fail", 1);
	long		 code = param_long(q, "code", 503);
	long		*seen = NULL;
	size_t		 i;

	if (key == NULL)
		key = "";
	for (i = 0; i < FLAKY_KEYS && seen == NULL; i++) {
		if (flaky_keys[i].key[0] == '\0')
			snprintf(flaky_keys[i].key, sizeof flaky_keys[i].key,
			    "%s", key);
		if (strncmp(flaky_keys[i].key, key,
		    sizeof flaky_keys[i].key - 1) == 0)
			seen = &flaky_keys[i].seen;
	}
	if (seen == NULL)
		die("flaky: too many keys");
	if (++*seen > fail)
		code = 200;
	else if (after != NULL)
		evhttp_add_header(evhttp_request_get_output_headers(req),
		    "Retry-After", after);
	fprintf(evlog, "flaky %s %ld %ld\n", key, *seen, code);
	evbuffer_add_printf(evhttp_request_get_output_buffer(req), "%s",
	    code == 200 ? "ok" : "try again");
	evhttp_send_reply(req, (int)code, code == 200 ? "OK" : "Not Now",
	    NULL);
}

static void
serve(struct evhttp_request *req, void *arg)
{
	const struct evhttp_uri	*uri = evhttp_request_get_evhttp_uri(req);
	const char		*path = evhttp_uri_get_path(uri);
	const char		*query = evhttp_uri_get_query(uri);
	const char		*loc;
	struct evkeyvalq	 q;
	struct evbuffer		*out = evhttp_request_get_output_buffer(req);
	struct evbuffer		*b;
	long			 n, i;

	(void)arg;
	TAILQ_INIT(&q);
	if (query != NULL)
		evhttp_parse_query_str(query, &q);
	if (path == NULL)
		path = "/";
	if (strcmp(path, "/echo") == 0)
		echo(req);
	else if (strcmp(path, "/status") == 0) {
		if ((loc = evhttp_find_header(&q, "location")) != NULL)
			evhttp_add_header(evhttp_request_get_output_headers(req),
			    "Location", loc);
		evbuffer_add_printf(out, "status");
		evhttp_send_reply(req, (int)param_long(&q, "code", 200), "Set",
		    NULL);
	} else if (strcmp(path, "/delay") == 0)
		slow_new(req, &q, 0, param_long(&q, "ms", 0));
	else if (strcmp(path, "/hang") == 0)
		slow_new(req, &q, 0, -1);
	else if (strcmp(path, "/drip") == 0)
		slow_new(req, &q, 1, 0);
	else if (strcmp(path, "/chunked") == 0) {
		n = param_long(&q, "bytes", 0);
		evhttp_send_reply_start(req, 200, "OK");
		for (i = 0; i < n; i += 1000) {
			if ((b = evbuffer_new()) == NULL)
				die("evbuffer_new");
			while (evbuffer_get_length(b) < 1000 &&
			    i + (long)evbuffer_get_length(b) < n)
				evbuffer_add(b, "a", 1);
			evhttp_send_reply_chunk(req, b);
			evbuffer_free(b);
		}
		evhttp_send_reply_end(req);
	} else if (strcmp(path, "/bytes") == 0) {
		for (n = param_long(&q, "n", 0); n > 0; n--)
			evbuffer_add(out, "\xff", 1);
		evhttp_send_reply(req, 200, "OK", NULL);
	} else if (strcmp(path, "/redirect") == 0)
		redirect(req, &q);
	else if (strcmp(path, "/headers") == 0)
		headers(req, &q);
	else if (strcmp(path, "/flaky") == 0)
		flaky(req, &q);
	else {
		evbuffer_add_printf(out, "not found");
		evhttp_send_reply(req, 404, "Not Found", NULL);
	}
	evhttp_clear_headers(&q);
}

/* The hold port: accept, say nothing, log the close. */
static void
hold_read(evutil_socket_t fd, short what, void *arg)
{
	struct event	*ev = *(struct event **)arg;
	char		 buf[4096];
	ssize_t		 n;

	(void)what;
	n = read(fd, buf, sizeof buf);
	if (n > 0 || (n == -1 && errno == EAGAIN))
		return;
	fprintf(evlog, "hold close\n");
	event_free(ev);
	free(arg);
	close(fd);
}

static void
hold_accept(struct evconnlistener *l, evutil_socket_t fd,
    struct sockaddr *sa, int len, void *arg)
{
	struct event	**evp;

	(void)l;
	(void)sa;
	(void)len;
	(void)arg;
	fprintf(evlog, "hold accept\n");
	if ((evp = malloc(sizeof *evp)) == NULL)
		die("malloc");
	evutil_make_socket_nonblocking(fd);
	*evp = event_new(base, fd, EV_READ | EV_PERSIST, hold_read, evp);
	event_add(*evp, NULL);
}

/* A listener on 127.0.0.1 and a free port, with a long backlog. */
static struct evconnlistener *
listen_any(evconnlistener_cb cb, void *arg, int *port)
{
	struct evconnlistener	*l;
	struct sockaddr_in	 sin;
	socklen_t		 len = sizeof sin;

	memset(&sin, 0, sizeof sin);
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	l = evconnlistener_new_bind(base, cb, arg, LEV_OPT_CLOSE_ON_FREE |
	    LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_EXEC, 4096,
	    (struct sockaddr *)&sin, sizeof sin);
	if (l == NULL)
		die("listen");
	if (getsockname(evconnlistener_get_fd(l), (struct sockaddr *)&sin,
	    &len) == -1)
		die("getsockname");
	*port = ntohs(sin.sin_port);
	return l;
}

int
main(int argc, char **argv)
{
	struct evhttp		*http;
	struct evconnlistener	*l;
	struct rlimit		 rl;
	int			 port, hold;

	if (argc != 2) {
		fprintf(stderr, "usage: http-server LOG\n");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	if ((evlog = fopen(argv[1], "w")) == NULL)
		die(argv[1]);
	setvbuf(evlog, NULL, _IOLBF, 0);
	if ((base = event_base_new()) == NULL)
		die("event_base_new");
	if ((http = evhttp_new(base)) == NULL)
		die("evhttp_new");
	evhttp_set_allowed_methods(http, EVHTTP_REQ_GET | EVHTTP_REQ_POST |
	    EVHTTP_REQ_HEAD | EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE |
	    EVHTTP_REQ_OPTIONS | EVHTTP_REQ_PATCH);
	evhttp_set_timeout(http, 3600);
	evhttp_set_gencb(http, serve, NULL);
	l = listen_any(NULL, NULL, &port);
	if (evhttp_bind_listener(http, l) == NULL)
		die("evhttp_bind_listener");
	listen_any(hold_accept, NULL, &hold);
	fprintf(evlog, "ports %d %d\n", port, hold);
	event_base_dispatch(base);
	return 0;
}
