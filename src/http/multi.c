/*
 * A libcurl multi handle on the loop (multi.h). The traps, and how each
 * is kept out:
 *
 * - libcurl must not be called back into from its own callbacks. The
 *   timer callback only arms a libevent timer (0 ms: the loop's next
 *   turn), and the socket callback only adds and deletes events; libcurl
 *   runs again only from those events.
 * - An easy handle must not be removed from inside a libcurl callback.
 *   Finished transfers are read with curl_multi_info_read after
 *   curl_multi_socket_action has returned, and done() may remove, re-add
 *   (a redirect) or cancel any transfer. A removal asked for while a
 *   libcurl call is on the stack (none is, by construction: no callback
 *   of ours ends a job) is put off to a zero-delay event all the same.
 * - A multi handle must not be cleaned up under its own call: a call
 *   holds a reference, since done() may end the last batch that used it.
 *
 * Transfers are added at the end of the loop's pass, together, and run in
 * one call: libcurl runs a newly added transfer in whichever
 * curl_multi_socket_action comes next, so adding each at once would send
 * the requests one by one between the reading of two responses, and a
 * server that keeps up with them would sleep and be woken for each. Those
 * added from that call itself (transfers that ended at once and let
 * others in) wait until the loop has polled again, so a chain of them
 * cannot hold the loop.
 */

#include <sys/socket.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/event_struct.h>

#include "http/multi.h"
#include "log.h"
#include "xmalloc.h"

/* A socket libcurl asked the loop to watch. */
struct http_sock {
	struct event		 ev;
	struct http_multi	*m;
	short			 events;	/* what ev watches */
};

/* An easy handle to remove once no libcurl call is on the stack. */
struct http_reap {
	struct http_handle	*h;
	void			(*free)(void *);
	void			*arg;
	TAILQ_ENTRY(http_reap)	 entry;
};

static void	http_multi_run(struct http_multi *, curl_socket_t, int);

static void
http_multi_ref(struct http_multi *m)
{
	m->refs++;
}

/* A socket's event fired: let libcurl read or write. */
static void
http_multi_event_cb(evutil_socket_t fd, short what, void *arg)
{
	struct http_multi	*m = arg;
	int			 action = 0;

	if (what & EV_READ)
		action |= CURL_CSELECT_IN;
	if (what & EV_WRITE)
		action |= CURL_CSELECT_OUT;
	http_multi_run(m, fd, action);
}

/* libcurl's timeout has come. */
static void
http_multi_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct http_multi	*m = arg;

	(void)fd;
	(void)what;
	http_multi_run(m, CURL_SOCKET_TIMEOUT, 0);
}

/*
 * CURLMOPT_SOCKETFUNCTION: watch s for what libcurl waits for, or stop.
 * Events only: nothing here calls libcurl.
 */
static int
http_multi_socket_cb(CURL *easy, curl_socket_t s, int what, void *arg,
    void *sockp)
{
	struct http_multi	*m = arg;
	struct http_sock	*hs = sockp;
	short			 events = EV_PERSIST;

	(void)easy;
	if (what == CURL_POLL_REMOVE) {
		if (hs != NULL) {
			event_del(&hs->ev);
			free(hs);
		}
		return 0;
	}
	if (what & CURL_POLL_IN)
		events |= EV_READ;
	if (what & CURL_POLL_OUT)
		events |= EV_WRITE;
	if (hs == NULL) {
		hs = xcalloc(1, sizeof *hs);
		hs->m = m;
		curl_multi_assign(m->multi, s, hs);
	} else if (hs->events == events)
		return 0;	/* as it was: no epoll_ctl */
	else
		event_del(&hs->ev);
	hs->events = events;
	event_assign(&hs->ev, m->base, s, events, http_multi_event_cb, m);
	event_add(&hs->ev, NULL);
	return 0;
}

/*
 * CURLMOPT_TIMERFUNCTION: call libcurl back in timeout_ms (-1: never).
 * Never calls libcurl itself; 0 ms is the loop's next turn.
 */
static int
http_multi_timer_set(CURLM *multi, long timeout_ms, void *arg)
{
	struct http_multi	*m = arg;
	struct timeval		 tv;

	(void)multi;
	if (timeout_ms < 0) {
		evtimer_del(m->timer);
		return 0;
	}
	tv.tv_sec = timeout_ms / 1000;
	tv.tv_usec = (timeout_ms % 1000) * 1000;
	evtimer_add(m->timer, &tv);
	return 0;
}

/* Remove a handle from m (no libcurl call on the stack), then free. */
static void
http_multi_detach(struct http_multi *m, struct http_handle *h,
    void (*fn)(void *), void *arg)
{
	CURLMcode	rc;

	if (h->queued) {
		TAILQ_REMOVE(&m->starts, h, entry);
		h->queued = 0;
	} else if ((rc = curl_multi_remove_handle(m->multi, h->easy)) !=
	    CURLM_OK)
		log_warnx("%s: curl_multi_remove_handle: %s", __func__,
		    curl_multi_strerror(rc));
	m->transfers--;
	if (fn != NULL)
		fn(arg);
}

/* The removals put off while libcurl was on the stack. */
static void
http_multi_reap(struct http_multi *m)
{
	struct http_reap	*r;

	while ((r = TAILQ_FIRST(&m->reaps)) != NULL) {
		TAILQ_REMOVE(&m->reaps, r, entry);
		http_multi_detach(m, r->h, r->free, r->arg);
		free(r);
	}
}

static void
http_multi_reap_cb(evutil_socket_t fd, short what, void *arg)
{
	struct http_multi	*m = arg;

	(void)fd;
	(void)what;
	http_multi_ref(m);
	http_multi_reap(m);
	http_multi_unref(m);
}

/* The loop's pass has read what it had: add the transfers queued in it. */
static void
http_multi_start_cb(evutil_socket_t fd, short what, void *arg)
{
	struct http_multi	*m = arg;
	struct http_handle	*h;
	CURLMcode		 rc;

	(void)fd;
	(void)what;
	if (TAILQ_EMPTY(&m->starts))
		return;		/* cancelled before their turn */
	while ((h = TAILQ_FIRST(&m->starts)) != NULL) {
		TAILQ_REMOVE(&m->starts, h, entry);
		h->queued = 0;
		if ((rc = curl_multi_add_handle(m->multi, h->easy)) != CURLM_OK)
			fatalx("%s: curl_multi_add_handle: %s", __func__,
			    curl_multi_strerror(rc));
	}
	http_multi_ref(m);
	m->starting = 1;
	http_multi_run(m, CURL_SOCKET_TIMEOUT, 0);
	m->starting = 0;
	http_multi_unref(m);
}

/*
 * Let libcurl act on fd (or on its timeout), then hand each finished
 * transfer to done(), which may remove, add or cancel transfers.
 */
static void
http_multi_run(struct http_multi *m, curl_socket_t fd, int action)
{
	CURLMsg		*msg;
	CURLMcode	 rc;
	int		 running, left;

	http_multi_ref(m);
	m->in_curl = 1;
	rc = curl_multi_socket_action(m->multi, fd, action, &running);
	m->in_curl = 0;
	if (rc != CURLM_OK)
		log_warnx("%s: curl_multi_socket_action: %s", __func__,
		    curl_multi_strerror(rc));
	while ((msg = curl_multi_info_read(m->multi, &left)) != NULL) {
		if (msg->msg == CURLMSG_DONE)
			m->done(msg->easy_handle, msg->data.result);
	}
	http_multi_reap(m);
	http_multi_unref(m);
}

/*
 * A multi handle on base with its connection limits, with one reference;
 * done() is told of each finished transfer.
 */
struct http_multi *
http_multi_new(struct event_base *base, long max_total, long max_host,
    void (*done)(CURL *, CURLcode))
{
	struct http_multi	*m;

	m = xcalloc(1, sizeof *m);
	if ((m->multi = curl_multi_init()) == NULL)
		fatalx("%s: curl_multi_init failed", __func__);
	m->base = base;
	m->done = done;
	m->refs = 1;
	m->max_total = max_total;
	m->max_host = max_host;
	/* Transfers in libcurl's hands: room for HTTP/2's, not thousands. */
	http_admit_init(&m->admit, (unsigned)max_total * 4, (unsigned)max_host);
	TAILQ_INIT(&m->reaps);
	TAILQ_INIT(&m->starts);
	m->timer = evtimer_new(base, http_multi_timer_cb, m);
	m->reaper = event_new(base, -1, 0, http_multi_reap_cb, m);
	m->starter = event_new(base, -1, 0, http_multi_start_cb, m);
	if (m->timer == NULL || m->reaper == NULL || m->starter == NULL)
		fatalx("%s: event_new failed", __func__);
	curl_multi_setopt(m->multi, CURLMOPT_SOCKETFUNCTION,
	    http_multi_socket_cb);
	curl_multi_setopt(m->multi, CURLMOPT_SOCKETDATA, m);
	curl_multi_setopt(m->multi, CURLMOPT_TIMERFUNCTION,
	    http_multi_timer_set);
	curl_multi_setopt(m->multi, CURLMOPT_TIMERDATA, m);
	curl_multi_setopt(m->multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, max_total);
	curl_multi_setopt(m->multi, CURLMOPT_MAX_HOST_CONNECTIONS, max_host);
	/* Idle connections kept: no more than may be open. */
	curl_multi_setopt(m->multi, CURLMOPT_MAXCONNECTS, max_total);
	curl_multi_setopt(m->multi, CURLMOPT_PIPELINING,
	    (long)CURLPIPE_MULTIPLEX);
	return m;
}

/*
 * Drop a reference; the last closes every connection and frees m. No
 * transfer may be left (the jobs of every snapshot using m have ended).
 */
void
http_multi_unref(struct http_multi *m)
{
	if (--m->refs > 0)
		return;
	http_multi_reap(m);
	if (m->transfers != 0)
		log_warnx("%s: %u transfers left", __func__, m->transfers);
	curl_multi_cleanup(m->multi);
	while (m->nidle > 0)
		curl_easy_cleanup(m->idle[--m->nidle]);
	http_admit_free(&m->admit);
	event_free(m->timer);
	event_free(m->reaper);
	event_free(m->starter);
	free(m);
}

/* An easy handle with libcurl's defaults: one kept for reuse, or new. */
CURL *
http_multi_easy(struct http_multi *m)
{
	CURL	*easy;

	if (m->nidle > 0)
		return m->idle[--m->nidle];
	if ((easy = curl_easy_init()) == NULL)
		fatalx("%s: curl_easy_init failed", __func__);
	return easy;
}

/*
 * An easy handle out of the multi handle is no longer needed: reset to
 * libcurl's defaults (nothing of a transfer is left for the next, which
 * may be another client's) and kept, or cleaned up.
 */
void
http_multi_easy_done(struct http_multi *m, CURL *easy)
{
	if (m->nidle == HTTP_MULTI_IDLE) {
		curl_easy_cleanup(easy);
		return;
	}
	curl_easy_reset(easy);
	m->idle[m->nidle++] = easy;
}

/*
 * Start a transfer: its handle is added to libcurl once the loop's pass
 * has handled the events it had, with every other transfer started in it.
 */
void
http_multi_add(struct http_multi *m, struct http_handle *h)
{
	static const struct timeval	polled = { 0, 0 };
	int				first = TAILQ_EMPTY(&m->starts);

	TAILQ_INSERT_TAIL(&m->starts, h, entry);
	h->queued = 1;
	m->transfers++;
	if (!first)
		return;		/* the starter is armed */
	if (m->starting)
		evtimer_add(m->starter, &polled);
	else
		event_active(m->starter, EV_TIMEOUT, 1);
}

/*
 * Stop a transfer and remove its easy handle, closing its connection if
 * the response was not read to its end; then fn(arg) (free what libcurl
 * may use until then). At once, or from the loop if a libcurl call is on
 * the stack.
 */
void
http_multi_remove(struct http_multi *m, struct http_handle *h,
    void (*fn)(void *), void *arg)
{
	struct http_reap	*r;

	if (!m->in_curl) {
		http_multi_detach(m, h, fn, arg);
		return;
	}
	r = xcalloc(1, sizeof *r);
	r->h = h;
	r->free = fn;
	r->arg = arg;
	TAILQ_INSERT_TAIL(&m->reaps, r, entry);
	event_active(m->reaper, EV_TIMEOUT, 1);
}

/*
 * Open the socket libcurl asked for (from a CURLOPT_OPENSOCKETFUNCTION),
 * counted as one of m's connections until http_multi_closesocket.
 */
curl_socket_t
http_multi_socket(struct http_multi *m, const struct curl_sockaddr *addr)
{
	int	fd;

	fd = socket(addr->family, addr->socktype | SOCK_CLOEXEC,
	    addr->protocol);
	if (fd == -1) {
		log_debug("%s: socket: %s", __func__, strerror(errno));
		return CURL_SOCKET_BAD;
	}
	m->sockets++;
	return fd;
}

/* CURLOPT_CLOSESOCKETFUNCTION, with the multi handle as its data. */
int
http_multi_closesocket(void *arg, curl_socket_t fd)
{
	struct http_multi	*m = arg;

	m->sockets--;
	return close(fd);
}
